//! Serving the emulator on a socket: in-process ([`spawn`], used by tests and
//! `endpoint = "embedded"`) or as the `htapsync emulator` command ([`run_command`]).

use super::{AuthMode, Emulator, EmulatorConfig, EmulatorError, app, load_cloud};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running emulator server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    /// `http://ADDR`, the endpoint to give a client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server.
    pub async fn shutdown(self) {
        // The server may already be gone; then there is nothing to stop.
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::warn!("emulator server task ended abnormally: {e}");
        }
    }
}

/// Binds `listen` (port 0 picks a free port) and serves `emu` in a tokio task.
pub async fn spawn(emu: Emulator, listen: SocketAddr) -> Result<Running, EmulatorError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            cause: source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            cause: source,
        })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app(emu)).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = server.await {
            tracing::error!("emulator server failed: {e}");
        }
    });
    Ok(Running { addr, stop, task })
}

/// `htapsync emulator` options.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8780")]
    pub listen: SocketAddr,
    /// Cloud description (TOML): instances and their DDL files.
    #[arg(long, value_name = "FILE")]
    pub cloud: PathBuf,
    /// Persist tasks, jobs and counters here (JSON, written atomically).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) of answering a request with an injected 500.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Probability (0..1) of answering a request with 429 APIGW.0308.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Seed of the fault generator, for reproducible fault sequences.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Requests per second (and burst) per project and credential; more are answered 429 APIGW.0308.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: Option<u32>,
    /// Accept only this X-Auth-Token (default: any non-empty token).
    #[arg(
        long,
        env = "HTAPSYNC_EMULATOR_TOKEN",
        hide_env_values = true,
        conflicts_with = "ak"
    )]
    pub token: Option<String>,
    /// Accept only requests signed with this access key (needs --sk).
    #[arg(long, requires = "sk")]
    pub ak: Option<String>,
    /// Secret key for --ak; prefer the environment variable to keep it out of argv.
    #[arg(long, env = "HTAPSYNC_EMULATOR_SK", hide_env_values = true)]
    pub sk: Option<String>,
    /// Time per lifecycle step after a start (Wait -> Full -> Incremental), in ms.
    #[arg(long, default_value_t = 300)]
    pub stage_ms: u64,
    /// Time a job takes from Pending to Completed, in ms.
    #[arg(long, default_value_t = 200)]
    pub job_ms: u64,
}

impl EmulatorArgs {
    /// The configuration these options describe (reads the cloud file).
    pub fn to_config(&self) -> Result<EmulatorConfig, EmulatorError> {
        let auth = match (&self.token, &self.ak, &self.sk) {
            (Some(t), None, _) => AuthMode::Token(t.clone()),
            (None, Some(ak), Some(sk)) => AuthMode::AkSk {
                ak: ak.clone(),
                sk: sk.clone(),
            },
            (None, None, _) => AuthMode::AnyToken,
            _ => {
                return Err(EmulatorError::Option(
                    "use either --token or --ak with --sk".to_string(),
                ));
            }
        };
        Ok(EmulatorConfig {
            cloud: load_cloud(&self.cloud)?,
            data_path: self.data.clone(),
            latency: Duration::from_millis(self.latency_ms),
            error_rate: self.error_rate,
            throttle_rate: self.throttle_rate,
            seed: self.seed,
            rate_limit: self.rate_limit,
            auth,
            stage_step: Duration::from_millis(self.stage_ms),
            job_duration: Duration::from_millis(self.job_ms),
        })
    }
}

/// Runs the emulator until Ctrl-C or SIGTERM, after printing where it listens.
pub async fn run_command(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let emu = Emulator::new(args.to_config()?)?;
    let running = spawn(emu, args.listen).await?;
    let mut out = std::io::stdout();
    let announce = writeln!(out, "htapsync emulator listening on {}", running.url())
        .and_then(|()| out.flush());
    if let Err(source) = announce {
        running.shutdown().await;
        return Err(EmulatorError::Io {
            path: PathBuf::from("<stdout>"),
            cause: source,
        });
    }
    stop_signal().await;
    running.shutdown().await;
    Ok(())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! Figures 1, 2 and 5: plan (the table-config-check gate) and apply of
//! generated tasks against the emulator over real loopback HTTP, with latency
//! injected before every request. The emulator runs on its own runtime thread;
//! a layer around its router counts requests and the most ever in flight.

use htapsync::api::{Client, ClientConfig, Credentials};
use htapsync::apply::{self, ApplyOptions, Recorder};
use htapsync::emulator::{CloudSpec, Emulator, EmulatorConfig};
use htapsync::model::{DesiredTask, Lifecycle};
use htapsync::plan::Plan;
use htapsync::state::{Backend, LocalBackend, LockGuard, State, StateError, Version};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static MAX_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// One networked run.
#[derive(Debug, Clone, Copy)]
pub struct NetRun {
    pub tasks: usize,
    pub parallelism: usize,
    pub wall: Duration,
    /// Requests the emulator received.
    pub requests: u64,
    pub max_in_flight: usize,
    /// State writes (apply only) and the time spent in them.
    pub state_writes: u64,
    pub state_write_time: Duration,
}

impl NetRun {
    /// ceil(R / C) × L, with C the larger of `--parallelism` and the most
    /// requests ever in flight (a client that overlaps more than C requests
    /// must not get a floor computed for fewer: it would flatter the ratio).
    pub fn floor(&self, latency: Duration) -> Duration {
        let c = self.parallelism.max(self.max_in_flight).max(1) as u64;
        latency * u32::try_from(self.requests.div_ceil(c)).unwrap_or(u32::MAX)
    }

    pub fn ratio(&self, latency: Duration) -> f64 {
        self.wall.as_secs_f64() / self.floor(latency).as_secs_f64()
    }

    pub fn per_task(&self) -> f64 {
        self.requests as f64 / self.tasks.max(1) as f64
    }
}

/// A running emulator on its own single-threaded runtime.
pub struct Server {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts a fresh, memory-only emulator: `latency` before every request, tiny
/// stage and job times so that apply is dominated by request latency.
pub fn server(cloud: &CloudSpec, latency: Duration) -> Result<Server, String> {
    let mut cfg = EmulatorConfig::new(cloud.clone());
    cfg.latency = latency;
    cfg.stage_step = Duration::from_millis(1);
    cfg.job_duration = Duration::from_millis(1);
    let emu = Emulator::new(cfg).map_err(|e| e.to_string())?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = htapsync::emulator::app(emu).layer(axum::middleware::from_fn(track));
    let thread = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return eprintln!("emulator runtime: {e}"),
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return eprintln!("emulator listener could not be registered");
            };
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("emulator: {e}");
            }
        });
    });
    Ok(Server {
        url,
        stop: Some(stop),
        thread: Some(thread),
    })
}

async fn track(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    MAX_IN_FLIGHT.fetch_max(now, Ordering::SeqCst);
    let response = next.run(req).await;
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    response
}

fn reset_counters() {
    REQUESTS.store(0, Ordering::SeqCst);
    MAX_IN_FLIGHT.store(0, Ordering::SeqCst);
}

pub fn client(url: &str) -> Result<Client, String> {
    let token = Credentials::Token(SecretString::from("bench-token"));
    Client::new(ClientConfig::new(url, crate::workspace::PROJECT_ID, token))
        .map_err(|e| e.to_string())
}

/// Figure 1 / 5: the gate over every change of `plan`.
pub async fn gate(url: &str, plan: &Plan, parallelism: usize) -> Result<NetRun, String> {
    let client = client(url)?;
    reset_counters();
    let started = Instant::now();
    let clients = htapsync::api::Clients::single(client);
    let report = htapsync::check::run_gate(&clients, plan, parallelism, |_| {}).await;
    let wall = started.elapsed();
    if !report.passed() || report.verdicts.len() != plan.actionable().count() {
        let first = report.failed().next().map(|v| format!("{v:?}"));
        return Err(format!("the gate did not pass every task: {first:?}"));
    }
    Ok(NetRun {
        tasks: report.verdicts.len(),
        parallelism,
        wall,
        requests: REQUESTS.load(Ordering::SeqCst),
        max_in_flight: MAX_IN_FLIGHT.load(Ordering::SeqCst),
        state_writes: 0,
        state_write_time: Duration::ZERO,
    })
}

/// Figure 2: apply of every change of `plan` (all creates) with the state
/// persisted after every operation, into a fresh local state file.
pub async fn apply(
    url: &str,
    plan: &Plan,
    desired: &BTreeMap<String, DesiredTask>,
    parallelism: usize,
) -> Result<NetRun, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let local = LocalBackend::new(dir.path().join("htapsync.state.json"));
    apply_into(url, plan, desired, parallelism, Arc::new(local)).await
}

/// Figure 2 (and 7): the apply of every change of `plan` into `state`.
pub async fn apply_into(
    url: &str,
    plan: &Plan,
    desired: &BTreeMap<String, DesiredTask>,
    parallelism: usize,
    state: Arc<dyn Backend>,
) -> Result<NetRun, String> {
    let client = client(url)?;
    let backend = Arc::new(Counting {
        inner: state,
        writes: AtomicU64::new(0),
        nanos: AtomicU64::new(0),
    });
    let recorder = Arc::new(Recorder::new(backend.clone(), State::new()));
    let lifecycles: BTreeMap<String, Lifecycle> = desired
        .iter()
        .map(|(k, t)| (k.clone(), t.lifecycle.clone()))
        .collect();
    let opts = ApplyOptions {
        parallelism,
        poll: BTreeMap::from([(
            None,
            htapsync::api::PollSettings {
                interval: htapsync::api::EMULATOR_POLL_INTERVAL,
                timeout: Duration::from_secs(600),
            },
        )]),
        interrupted: Default::default(),
    };
    reset_counters();
    let started = Instant::now();
    let outcome = apply::execute(
        &htapsync::api::Clients::single(client.clone()),
        plan,
        &lifecycles,
        recorder,
        &opts,
        Arc::new(|_| {}),
    )
    .await;
    let wall = started.elapsed();
    if let Some((address, error)) = outcome.errors.first() {
        return Err(format!("apply failed for {address}: {error}"));
    }
    Ok(NetRun {
        tasks: outcome.counts.add,
        parallelism,
        wall,
        requests: REQUESTS.load(Ordering::SeqCst),
        max_in_flight: MAX_IN_FLIGHT.load(Ordering::SeqCst),
        state_writes: backend.writes.load(Ordering::SeqCst),
        state_write_time: Duration::from_nanos(backend.nanos.load(Ordering::SeqCst)),
    })
}

/// A state backend, counting writes and the time they take.
struct Counting {
    inner: Arc<dyn Backend>,
    writes: AtomicU64,
    nanos: AtomicU64,
}

impl Backend for Counting {
    fn read(&self) -> Result<Option<State>, StateError> {
        self.inner.read()
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let started = Instant::now();
        let result = self.inner.write(state);
        self.writes.fetch_add(1, Ordering::SeqCst);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
        result
    }

    fn check_writable(&self) -> Result<(), StateError> {
        self.inner.check_writable()
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        self.inner.lock(operation, timeout)
    }

    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        self.inner.force_unlock(lock_id)
    }

    fn history(&self) -> Result<Vec<Version>, StateError> {
        self.inner.history()
    }

    fn read_version(&self, serial: u64) -> Result<Option<State>, StateError> {
        self.inner.read_version(serial)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

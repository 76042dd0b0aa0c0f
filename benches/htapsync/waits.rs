//! Figure 8 (issue 15): applies whose time is the cloud's waiting, not its
//! latency. 1,000 creates, then 1,000 modifies, then 1,000 deletes through
//! `apply::execute` against the emulator with `--stage-ms 5000 --job-ms 1000`
//! and L = 20 ms, `--parallelism 32`, `poll_interval` 200 ms. Waits hold no
//! slot and share one list read (or one job poll) a round, so the wall should
//! be close to the floor ceil(N / 32) × 2L + job + stage + one poll interval,
//! and the requests per task (from the emulator's own counters) close to the
//! calls an operation must send.

use htapsync::api::PollSettings;
use htapsync::apply::{self, ApplyOptions, Recorder};
use htapsync::emulator::{CloudSpec, Emulator, EmulatorConfig};
use htapsync::model::{DesiredTask, Lifecycle};
use htapsync::plan::Plan;
use htapsync::state::{Backend, LocalBackend, State};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PARALLELISM: usize = 32;
pub const STAGE: Duration = Duration::from_millis(5000);
pub const JOB: Duration = Duration::from_millis(1000);
pub const POLL: Duration = Duration::from_millis(200);

/// One measured apply.
#[derive(Debug)]
pub struct WaitRun {
    pub what: &'static str,
    pub tasks: usize,
    pub wall: Duration,
    /// Requests the emulator counted during the apply.
    pub requests: u64,
}

impl WaitRun {
    /// ceil(N / C) × 2L + job + stage + one poll interval.
    pub fn floor(&self, latency: Duration) -> Duration {
        let waves = u32::try_from(self.tasks.div_ceil(PARALLELISM)).unwrap_or(u32::MAX);
        latency * 2 * waves + JOB + STAGE + POLL
    }

    pub fn ratio(&self, latency: Duration) -> f64 {
        self.wall.as_secs_f64() / self.floor(latency).as_secs_f64()
    }

    pub fn per_task(&self) -> f64 {
        self.requests as f64 / self.tasks.max(1) as f64
    }
}

/// The emulator, served on its own runtime thread, and a handle on its counters.
struct Server {
    url: String,
    emulator: Emulator,
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

fn server(cloud: &CloudSpec, latency: Duration) -> Result<Server, String> {
    let mut cfg = EmulatorConfig::new(cloud.clone());
    cfg.latency = latency;
    cfg.stage_step = STAGE;
    cfg.job_duration = JOB;
    let emulator = Emulator::new(cfg).map_err(|e| e.to_string())?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = htapsync::emulator::app(emulator.clone());
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
        emulator,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// The three applies, in order, each starting from the state the previous one left.
pub fn measure(
    rt: &tokio::runtime::Runtime,
    cloud: &CloudSpec,
    desired: &BTreeMap<String, DesiredTask>,
    latency: Duration,
) -> Result<Vec<WaitRun>, String> {
    let server = server(cloud, latency)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let backend: Arc<dyn Backend> =
        Arc::new(LocalBackend::new(dir.path().join("htapsync.state.json")));
    let lifecycles: BTreeMap<String, Lifecycle> = desired
        .iter()
        .map(|(k, t)| (k.clone(), t.lifecycle.clone()))
        .collect();
    let mut runs = Vec::new();

    let creates =
        htapsync::plan::diff(desired, &BTreeMap::new(), &[]).map_err(|e| e.to_string())?;
    runs.push(run(
        rt,
        &server,
        &creates,
        &lifecycles,
        &backend,
        "creates",
    )?);

    // Every task drops its last table: a modify (E8) and its job.
    let modified: BTreeMap<String, DesiredTask> = desired
        .iter()
        .map(|(k, t)| {
            let mut t = t.clone();
            if let Some(last) = t.spec.tables.pop() {
                t.spec.table_configs.remove(&last);
            }
            (k.clone(), t)
        })
        .collect();
    let prior = recorded(&backend)?;
    let modifies = htapsync::plan::diff(&modified, &prior, &[]).map_err(|e| e.to_string())?;
    runs.push(run(
        rt,
        &server,
        &modifies,
        &lifecycles,
        &backend,
        "modifies",
    )?);

    let prior = recorded(&backend)?;
    let deletes = htapsync::plan::diff(&BTreeMap::new(), &prior, &[]).map_err(|e| e.to_string())?;
    runs.push(run(
        rt,
        &server,
        &deletes,
        &lifecycles,
        &backend,
        "deletes",
    )?);
    Ok(runs)
}

fn recorded(
    backend: &Arc<dyn Backend>,
) -> Result<BTreeMap<String, htapsync::state::TaskRecord>, String> {
    let state = backend
        .read()
        .map_err(|e| e.to_string())?
        .ok_or("no state")?;
    Ok(state.tasks)
}

fn run(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    plan: &Plan,
    lifecycles: &BTreeMap<String, Lifecycle>,
    backend: &Arc<dyn Backend>,
    what: &'static str,
) -> Result<WaitRun, String> {
    let client = crate::e2e::client(&server.url)?;
    let state = backend.read().map_err(|e| e.to_string())?;
    let recorder = Arc::new(Recorder::new(
        backend.clone(),
        state.unwrap_or_else(State::new),
    ));
    let opts = ApplyOptions {
        parallelism: PARALLELISM,
        poll: std::collections::BTreeMap::from([(
            None,
            PollSettings {
                interval: POLL,
                timeout: Duration::from_secs(600),
            },
        )]),
        interrupted: Default::default(),
    };
    let tasks = plan.actionable().count();
    let before = server.emulator.stats().requests;
    let started = Instant::now();
    let outcome = rt.block_on(apply::execute(
        &htapsync::api::Clients::single(client.clone()),
        plan,
        lifecycles,
        recorder,
        &opts,
        Arc::new(|_| {}),
    ));
    let wall = started.elapsed();
    if let Some((address, error)) = outcome.errors.first() {
        return Err(format!("{what}: apply failed for {address}: {error}"));
    }
    let run = WaitRun {
        what,
        tasks,
        wall,
        requests: server.emulator.stats().requests - before,
    };
    eprintln!("waits, {what}: {run:?}");
    Ok(run)
}

//! An in-memory emulator of the HTAP replication API (E1–E15), served with axum,
//! so that htapsync's client can be tested over real HTTP and the quick start
//! needs no cloud account.
//!
//! The cloud's fixed inventory comes from a TOML cloud file ([`load_cloud`]);
//! tasks, jobs and counters live in a [`store::Store`] behind one mutex and are
//! optionally persisted to a `--data` file. Paths, bodies, status codes and
//! error bodies follow the API reference; what the emulator had to decide
//! itself is documented in `docs/emulator.md`.

mod auth;
mod checks;
mod cloud;
mod db_params;
mod delay;
mod error;
mod faults;
mod gateway;
mod handlers;
mod persist;
mod rate_limit;
mod requests;
mod routing;
mod server;
mod sizes;
mod store;

pub use auth::{AuthMode, Authorization, RequestParts, canonical_request, parse_authorization};
pub use cloud::{CloudSpec, Column, Database, HtapInstance, SourceInstance, Table, load_cloud};
pub use server::{EmulatorArgs, Running, run_command, spawn};
pub use store::Stats;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::Store;

/// What can go wrong setting up or running the emulator (not API errors).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot read or write {path}: {cause}")]
    Io {
        path: PathBuf,
        /// Part of the message, so not also exposed as `source()`.
        cause: std::io::Error,
    },
    #[error("invalid cloud file {path}: {msg}")]
    CloudFile { path: PathBuf, msg: String },
    #[error("cannot parse DDL file {path}: {msg}")]
    Ddl { path: PathBuf, msg: String },
    #[error("invalid emulator data file {path}: {msg}")]
    Data { path: PathBuf, msg: String },
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        addr: std::net::SocketAddr,
        /// Part of the message, so not also exposed as `source()`.
        cause: std::io::Error,
    },
    #[error("invalid emulator option: {0}")]
    Option(String),
    #[error("cannot start the emulator's latency clock: {0}")]
    Clock(std::io::Error),
}

/// Everything that shapes an emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub cloud: CloudSpec,
    /// Where the mutable cloud persists; `None` = memory only.
    pub data_path: Option<PathBuf>,
    /// Added before every cloud API request is handled.
    pub latency: Duration,
    /// Probability (0..=1) of an injected 500.
    pub error_rate: f64,
    /// Probability (0..=1) of an injected 429 APIGW.0308.
    pub throttle_rate: f64,
    /// Seeds the fault RNG so that fault sequences are reproducible.
    pub seed: u64,
    /// Requests per second (and burst) per project and credential; `None` = no limit.
    pub rate_limit: Option<u32>,
    pub auth: AuthMode,
    /// Time per lifecycle step after a start: Wait -> Full -> Incremental.
    pub stage_step: Duration,
    /// Time a job takes from Pending to Completed.
    pub job_duration: Duration,
}

impl EmulatorConfig {
    /// A fault-free, any-token configuration with the default timings.
    pub fn new(cloud: CloudSpec) -> Self {
        EmulatorConfig {
            cloud,
            data_path: None,
            latency: Duration::ZERO,
            error_rate: 0.0,
            throttle_rate: 0.0,
            seed: 0,
            rate_limit: None,
            auth: AuthMode::AnyToken,
            stage_step: Duration::from_millis(300),
            job_duration: Duration::from_millis(200),
        }
    }
}

/// The emulated cloud. Cheap to clone: all clones share one state.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

struct Shared {
    cfg: EmulatorConfig,
    store: Mutex<Store>,
    rng: Mutex<SmallRng>,
    /// Faults a test asked for by name (`/_emulator/faults`).
    script: Mutex<faults::Script>,
    /// Keeps the injected latency to what was asked; `None` without latency.
    delays: Option<delay::Delays>,
    limiter: Option<rate_limit::RateLimiter>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("cfg", &self.shared.cfg)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Builds the emulator, loading `data_path` when that file exists.
    pub fn new(cfg: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        for (name, p) in [
            ("error rate", cfg.error_rate),
            ("throttle rate", cfg.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(EmulatorError::Option(format!(
                    "{name} must be between 0 and 1, not {p}"
                )));
            }
        }
        let store = match &cfg.data_path {
            Some(path) => persist::load(path)?,
            None => Store::new(),
        };
        let delays = if cfg.latency.is_zero() {
            None
        } else {
            Some(delay::Delays::start().map_err(EmulatorError::Clock)?)
        };
        Ok(Emulator {
            shared: Arc::new(Shared {
                rng: Mutex::new(SmallRng::seed_from_u64(cfg.seed)),
                script: Mutex::new(faults::Script::default()),
                store: Mutex::new(store),
                delays,
                limiter: cfg.rate_limit.map(rate_limit::RateLimiter::new),
                cfg,
            }),
        })
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.cfg
    }

    /// Waits the configured latency (see [`delay`]).
    /// Waits until `until` when a latency is configured.
    async fn delay_until(&self, until: std::time::Instant) {
        if let Some(delays) = &self.shared.delays {
            delays.sleep_until(until).await;
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.lock_store().stats.clone()
    }

    fn lock_store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-updated
        // in a way that matters to an emulator; keep serving.
        self.shared
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the store after applying due effects; read-only by convention.
    fn read<R>(&self, f: impl FnOnce(&Store, i64) -> R) -> R {
        let now = now_ms();
        let mut store = self.lock_store();
        store.settle(now);
        f(&store, now)
    }

    /// Runs `f` on the store and, when it succeeds, persists the store.
    fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Store, i64) -> Result<R, error::ApiError>,
    ) -> Result<R, error::ApiError> {
        let now = now_ms();
        let mut store = self.lock_store();
        store.settle(now);
        let out = f(&mut store, now)?;
        self.persist(&store)?;
        Ok(out)
    }

    /// Counter updates that are not worth a write of their own.
    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.lock_store().stats);
    }

    fn persist(&self, store: &Store) -> Result<(), error::ApiError> {
        match &self.shared.cfg.data_path {
            Some(path) => persist::save(path, store).map_err(|e| {
                tracing::error!("emulator could not persist its data: {e}");
                error::ApiError::internal(format!("Emulator data could not be saved: {e}"))
            }),
            None => Ok(()),
        }
    }

    /// The scripted faults, which tests change while requests run.
    fn script(&self) -> MutexGuard<'_, faults::Script> {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Draws the fault for one request: both rolls are always drawn so that
    /// the sequence depends only on the seed and the number of requests.
    fn draw_fault(&self) -> Option<gateway::Fault> {
        use rand::Rng;
        let cfg = &self.shared.cfg;
        let mut rng = self
            .shared
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (throttle, error): (f64, f64) = (rng.random(), rng.random());
        if throttle < cfg.throttle_rate {
            Some(gateway::Fault::Throttle)
        } else if error < cfg.error_rate {
            Some(gateway::Fault::Error)
        } else {
            None
        }
    }
}

/// The router serving the whole API plus `/_emulator/*`; usable without a socket.
pub fn app(emu: Emulator) -> axum::Router {
    handlers::router(emu)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

//! Serialises state updates from concurrent operations: each update is applied
//! to the in-memory state and persisted before the operation goes on.
//!
//! Writes are group-committed: a durable write costs several fsyncs (tens of
//! milliseconds on common disks), so with many tasks in flight one write per
//! update would make the state file, not the cloud, the bottleneck. An update
//! that finds a write in progress waits for it and then writes once for every
//! update made meanwhile; no update returns before a write that includes it.

use crate::state::{Backend, State, StateError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The state of a run and the backend it is persisted to.
///
/// Two locks, and group commit needs both: updates must go on while a write
/// is in flight, so the state they change cannot be locked across a write.
pub struct Recorder {
    backend: Arc<dyn Backend>,
    /// The state updates apply to: locked only to apply a change or copy it.
    current: Mutex<Versioned>,
    /// The generation last persisted, locked across each write: writes go one
    /// at a time in order (an older copy never lands after a newer one).
    persisted: Mutex<u64>,
    /// Set when a write failed: no further update is applied or written, so
    /// the state on disk stays what the run reports as recorded. Not a lock:
    /// read before every operation without waiting for a write in flight.
    stopped: AtomicBool,
}

/// The in-memory state and how many updates it has seen.
struct Versioned {
    state: State,
    generation: u64,
}

/// Runs blocking work (waiting for the write lock, fsyncs) so that it does not
/// stall the async worker it is called from: on a multi-thread runtime the
/// worker's other tasks move to another thread meanwhile. Elsewhere (no
/// runtime, or a current-thread one, where that is impossible) it just runs.
// Made always `false`, writes would only block a worker: performance, not
// observable (excluded in .cargo/mutants.toml).
fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recorder {
    pub fn new(backend: Arc<dyn Backend>, state: State) -> Recorder {
        Recorder {
            backend,
            current: Mutex::new(Versioned {
                state,
                generation: 0,
            }),
            persisted: Mutex::new(0),
            stopped: AtomicBool::new(false),
        }
    }

    /// Whether a write has failed: the caller should start no further remote calls.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Applies `change` and persists the result durably before returning.
    /// After a failed write, refuses ([`StateError::WritesStopped`]).
    pub fn update(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        if self.stopped() {
            return Err(StateError::WritesStopped);
        }
        let wanted = {
            let mut current = lock(&self.current);
            change(&mut current.state);
            current.generation += 1;
            current.generation
        };
        off_the_runtime(|| self.persist(wanted))
    }

    /// Applies `change` in memory only: the next write persists it. For
    /// changes a crash may lose (a wait that ended, which the next run sees
    /// again in the cloud); [`Recorder::flush`] persists what is left.
    pub fn update_later(&self, change: impl FnOnce(&mut State)) {
        if self.stopped() {
            return;
        }
        let mut current = lock(&self.current);
        change(&mut current.state);
        current.generation += 1;
    }

    /// Persists the changes [`Recorder::update_later`] left unwritten, if any.
    pub fn flush(&self) -> Result<(), StateError> {
        if self.stopped() {
            return Err(StateError::WritesStopped);
        }
        let wanted = lock(&self.current).generation;
        off_the_runtime(|| self.persist(wanted))
    }

    /// Waits for any write in flight, then writes unless that write covered
    /// generation `wanted`.
    fn persist(&self, wanted: u64) -> Result<(), StateError> {
        let mut persisted = lock(&self.persisted);
        if *persisted >= wanted {
            // A write that started after this change has already covered it.
            return Ok(());
        }
        if self.stopped() {
            // The write that would have covered this change failed.
            return Err(StateError::WritesStopped);
        }
        let (mut snapshot, generation) = {
            let current = lock(&self.current);
            (current.state.clone(), current.generation)
        };
        if let Err(e) = self.backend.write(&mut snapshot) {
            self.stopped.store(true, Ordering::SeqCst);
            return Err(e);
        }
        {
            // The write stamps serial and version; later updates build on them.
            let mut current = lock(&self.current);
            current.state.serial = snapshot.serial;
            current.state.format_version = snapshot.format_version;
            current.state.htapsync_version = snapshot.htapsync_version;
        }
        *persisted = generation;
        Ok(())
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        lock(&self.current).state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LocalBackend;

    /// A library caller on `#[tokio::main(flavor = "current_thread")]`:
    /// writes run in place there (`block_in_place` would panic).
    #[tokio::test(flavor = "current_thread")]
    async fn writes_work_on_a_current_thread_runtime() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path().join("s.json")));
        let recorder = Recorder::new(backend.clone(), State::new());
        recorder
            .update(|s| s.intents.push(intent("a")))
            .expect("update");
        recorder.update_later(|s| s.intents.push(intent("b")));
        recorder.flush().expect("flush");
        let on_disk = backend.read().expect("read").expect("written");
        assert_eq!(on_disk.intents.len(), 2);
    }

    #[test]
    fn concurrent_updates_are_all_persisted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path().join("s.json")));
        let recorder = Arc::new(Recorder::new(backend.clone(), State::new()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        recorder
                            .update(|s| s.intents.push(intent(&format!("t{t}_{i}"))))
                            .expect("update");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let on_disk = backend.read().expect("read").expect("written");
        assert_eq!(on_disk.intents.len(), 80);
        assert_eq!(on_disk, recorder.snapshot());
        // One write per update at most; fewer when writes were shared.
        assert!((1..=80).contains(&on_disk.serial), "{}", on_disk.serial);
    }

    /// After a failed write nothing more is written, even once writing
    /// would work again: the state on disk stays what the run reported.
    #[test]
    fn a_failed_write_stops_all_later_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("later/s.json");
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(path.clone()));
        let recorder = Recorder::new(backend, State::new());
        assert!(recorder.update(|s| s.intents.push(intent("a"))).is_err());
        assert!(recorder.stopped());
        std::fs::create_dir(dir.path().join("later")).expect("dir");
        let again = recorder.update(|s| s.intents.push(intent("b")));
        assert!(matches!(again, Err(StateError::WritesStopped)), "{again:?}");
        assert!(!path.exists());
    }

    fn intent(name: &str) -> crate::state::Intent {
        let spec = crate::model::TaskSpec::sample(name);
        crate::state::Intent {
            id: name.to_string(),
            address: spec.address(),
            operation: crate::state::IntentOp::Create,
            spec,
            started_at: String::new(),
        }
    }
}

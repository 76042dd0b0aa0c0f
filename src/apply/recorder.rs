//! Serialises state updates from concurrent operations: each update is applied
//! to the in-memory state and persisted before the operation goes on.
//!
//! Writes are group-committed: while one write is in flight, the updates that
//! arrive meanwhile are applied in memory and then persisted together by the
//! next single write. Every `update` still returns only once a write that
//! contains its change is durable, so the protocol (intent recorded before the
//! remote call, result recorded before the next step) is unchanged; what is
//! saved is the number of writes when many operations finish at once.

use crate::state::{Backend, State, StateError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The state of a run and the backend it is persisted to.
pub struct Recorder {
    backend: Arc<dyn Backend>,
    inner: Mutex<Inner>,
    /// Signalled whenever a write ends (successfully or not).
    written: Condvar,
}

struct Inner {
    state: State,
    /// Number of updates applied to `state`.
    applied: u64,
    /// Updates `1..=durable` are in a write that completed.
    durable: u64,
    /// A caller is writing a snapshot right now (without holding the lock).
    writing: bool,
}

impl Recorder {
    pub fn new(backend: Arc<dyn Backend>, state: State) -> Recorder {
        Recorder {
            backend,
            inner: Mutex::new(Inner {
                state,
                applied: 0,
                durable: 0,
                writing: false,
            }),
            written: Condvar::new(),
        }
    }

    /// Applies `change` and persists the result durably before returning.
    /// Writes are serialised: at most one is in flight; updates that arrive
    /// during it are persisted together by the next one.
    pub fn update(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        blocking(|| self.update_now(change))
    }

    fn update_now(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut inner = self.lock();
        change(&mut inner.state);
        inner.applied += 1;
        let mine = inner.applied;
        loop {
            if inner.durable >= mine {
                return Ok(());
            }
            if inner.writing {
                inner = self.written.wait(inner).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Become the writer of everything applied so far.
            inner.writing = true;
            let upto = inner.applied;
            let mut snapshot = inner.state.clone();
            drop(inner);
            let result = self.backend.write(&mut snapshot);
            inner = self.lock();
            inner.writing = false;
            self.written.notify_all();
            // A failed write leaves `durable` behind: waiters whose change it
            // carried retry it themselves, this caller reports the error.
            result?;
            inner.durable = upto;
            // The backend bumps the serial (and stamps the version) of what it wrote.
            inner.state.serial = snapshot.serial;
            inner.state.format_version = snapshot.format_version;
            inner.state.htapsync_version = snapshot.htapsync_version;
        }
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        self.lock().state.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs `f`, which blocks on file I/O or on another caller's write, without
/// stalling the async runtime: on a multi-threaded tokio runtime the worker
/// hands its other tasks to another thread first. Elsewhere `f` just runs.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LocalBackend;

    /// Concurrent updates all end up on disk, each returns only once it is
    /// durable, and no more writes happen than updates.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_updates_are_all_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(path.clone()));
        let recorder = Arc::new(Recorder::new(backend.clone(), State::new()));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..40 {
            let recorder = recorder.clone();
            let path = path.clone();
            set.spawn(async move {
                let name = format!("t{i}");
                recorder
                    .update(|s| {
                        s.tasks.insert(name.clone(), record(&name));
                    })
                    .unwrap();
                // Durable on return: the file already holds this task.
                let on_disk = LocalBackend::new(path).read().unwrap().unwrap();
                assert!(on_disk.tasks.contains_key(&name), "{name} not on disk");
            });
        }
        while let Some(joined) = set.join_next().await {
            joined.unwrap();
        }
        let on_disk = backend.read().unwrap().unwrap();
        assert_eq!(on_disk.tasks.len(), 40);
        assert!(on_disk.serial >= 1 && on_disk.serial <= 40);
        assert_eq!(recorder.snapshot().serial, on_disk.serial);
    }

    fn record(name: &str) -> crate::state::TaskRecord {
        crate::state::TaskRecord {
            spec: crate::model::TaskSpec {
                name: name.to_string(),
                ..spec()
            },
            prevent_destroy: false,
            updated_at: String::new(),
        }
    }

    fn spec() -> crate::model::TaskSpec {
        serde_json::from_value(serde_json::json!({
            "name": "x", "instance_id": "i", "source_instance_id": "s",
            "source_database_name": "db", "target_database_name": "db",
            "repl_type": "include_tables", "repl_scope": "all"
        }))
        .unwrap()
    }
}

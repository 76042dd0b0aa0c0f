//! The storage interface every state backend implements.
//!
//! It speaks only in [`State`] values, lock records and ids (no paths or
//! files), so that a shared PostgreSQL backend with advisory locks can be added
//! beside the local file without changing its callers.

use super::{LockGuard, State, StateError};
use serde::Serialize;
use std::time::Duration;

/// One kept version of a workspace's state, as `state history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    pub serial: u64,
    pub lineage: String,
    /// RFC 3339; when the version was written (a file: its modification time).
    pub written_at: String,
    /// `user@host` of the writer, where the backend records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// Number of tasks it records.
    pub tasks: usize,
}

/// Where state lives and how writers are kept apart.
pub trait Backend: Send + Sync {
    /// The current state; `None` when none has been written yet.
    fn read(&self) -> Result<Option<State>, StateError>;

    /// Persists `state` atomically. Bumps `state.serial` by one iff its tasks or
    /// intents differ from what this backend last read or wrote; writes nothing
    /// at all when they do not.
    fn write(&self, state: &mut State) -> Result<(), StateError>;

    /// Fails unless a write could succeed now ([`StateError::NotWritable`]):
    /// called before the first change is sent to the cloud, so that a change
    /// is never made that cannot be recorded.
    fn check_writable(&self) -> Result<(), StateError>;

    /// Takes the exclusive lock for `operation` (a command name), waiting up to
    /// `timeout` (zero: fail at once) while another holder has it.
    fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError>;

    /// Removes a lock left by a holder that is gone; `lock_id` must match the
    /// lock's record. Refuses ([`StateError::LockHeld`]) while the holder still
    /// holds it: only a lock that is provably not held may be removed.
    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError>;

    /// The versions kept for recovery, newest first, the current one included
    /// (the local file keeps one earlier version, its `.backup`).
    fn history(&self) -> Result<Vec<Version>, StateError>;

    /// The state written with `serial`, when it is the current one or a kept
    /// earlier version.
    fn read_version(&self, serial: u64) -> Result<Option<State>, StateError>;

    /// Where the state lives, for messages (a path, a database URL without credentials, ...).
    fn describe(&self) -> String;
}

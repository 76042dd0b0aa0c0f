//! The state file: what htapsync last applied, per task; written atomically,
//! guarded by a lock, behind a small backend interface.
//!
//! - [`decode`]/[`encode`]: the versioned JSON document (pure, fuzzable).
//! - [`Store`]: the workspaces of one configuration; each workspace's state is
//!   a [`Backend`] (read, write, lock, unlock, history). [`LocalStore`] /
//!   [`LocalBackend`] keep local files.
//! - [`write_atomic`]: the temp-file + fsync + rename protocol, also used for saved plans.
//!
//! Test hook for crash tests: with `HTAPSYNC_CRASH_AT` set to
//! `state-after-temp-write`, `state-after-fsync` or `state-after-rename`, a
//! state write calls `std::process::abort()` right after that step. It exists
//! only so tests can prove that a crash leaves the old or the new state, never a
//! torn one (see `tests/state_crash.rs`); it has no use in production.
//! The same variable takes two values handled by `apply`:
//! `apply-after-register` and `apply-after-delete` abort right after a
//! registration (E2) or a delete (E11) returned, before state records it, to
//! prove that intents recover such a run (see `tests/e2e_crash.rs`).

mod atomic;
mod backend;
mod codec;
mod error;
mod fragments;
mod local;
mod lock;
mod postgres;
mod store;

pub use atomic::{create_private_dir_all, write_atomic};
pub use backend::{Backend, Version};
pub use codec::{decode, encode};
pub use error::StateError;
pub use local::LocalBackend;
pub use lock::{LockGuard, LockHandle, LockInfo};
pub use postgres::{CONN_VAR as PG_CONN_VAR, PgSettings, PgStore, SslMode as PgSslMode};
pub use store::{LocalStore, Store};

use crate::model::{Address, TaskSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The newest state format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The whole state document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Version of htapsync that wrote it.
    pub htapsync_version: String,
    /// Random id fixed when the state is first written; a saved plan of another lineage is refused.
    pub lineage: String,
    /// Bumped on every write that changes the content.
    pub serial: u64,
    /// Managed tasks by name.
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskRecord>,
    /// Remote calls that create or delete, recorded before they are made and
    /// cleared once their outcome is recorded. Leftovers are resolved on the next run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<Intent>,
}

impl State {
    /// An empty state of a new lineage, as used before the first write.
    pub fn new() -> State {
        State {
            format_version: FORMAT_VERSION,
            htapsync_version: env!("CARGO_PKG_VERSION").to_string(),
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            tasks: BTreeMap::new(),
            intents: Vec::new(),
        }
    }
}

/// What a write changes in the caller's [`State`] before it persists it (the
/// next serial, this build's format and version), kept so that a failed write
/// can give the caller its state back exactly as it was.
pub(crate) struct Stamped {
    serial: u64,
    format_version: u32,
    htapsync_version: String,
}

impl Stamped {
    /// Stamps `state` for the write that follows.
    pub(crate) fn stamp(state: &mut State) -> Stamped {
        let before = Stamped {
            serial: state.serial,
            format_version: state.format_version,
            htapsync_version: std::mem::replace(
                &mut state.htapsync_version,
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        };
        state.serial += 1;
        state.format_version = FORMAT_VERSION;
        before
    }

    /// Undoes [`Stamped::stamp`] after a failed write.
    pub(crate) fn restore(self, state: &mut State) {
        state.serial = self.serial;
        state.format_version = self.format_version;
        state.htapsync_version = self.htapsync_version;
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// One managed task: its remote identity and the attributes last applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Attributes last applied (or last read back by refresh/import).
    pub spec: TaskSpec,
    /// Kept from the configuration, so that removing the task's block does not
    /// silently lift the protection (terraform#17599).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    /// RFC 3339 time of the last successful change.
    #[serde(default)]
    pub updated_at: String,
}

/// A create or delete about to be sent to the cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub id: String,
    pub address: Address,
    pub operation: IntentOp,
    /// The spec being created (for a create) or the record being deleted.
    pub spec: TaskSpec,
    pub started_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOp {
    Create,
    Delete,
    /// The task was started (or resumed) and is recorded; it has not yet
    /// reached its stage. The next apply resumes the wait instead of starting it again.
    Await,
}

//! The state file: what htapsync last applied, per task; written atomically,
//! guarded by a lock, behind a small backend interface.

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
}

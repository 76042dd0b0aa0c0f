//! The plan: a pure, deterministic diff of the desired tasks against the
//! recorded (optionally refreshed) ones. No I/O happens here.

use crate::model::{Address, TaskSpec};
use serde::{Deserialize, Serialize};

/// What will happen to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    /// Changed in place (E8 modify, E9/E10 pause/resume).
    Update,
    /// Deleted then created again, because a field the cloud cannot modify changed.
    Replace,
    Delete,
}

/// One changed field of a task. Values are JSON so lists and maps diff uniformly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path: `tables`, `db_configs.max_sync_commit_rows`, …
    pub path: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The cloud cannot change this field in place.
    pub forces_replacement: bool,
}

/// The planned change of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub before: Option<TaskSpec>,
    pub after: Option<TaskSpec>,
    pub fields: Vec<FieldChange>,
}

/// How many tasks each kind of change touches, counted as Terraform does
/// (a replace counts once in `add` and once in `destroy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

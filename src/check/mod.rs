//! The table-config-check gate: before anything changes, ask the cloud whether
//! every table (E2, `is_create_task = "false"`) and every db_config (E1) of each
//! task that would be created or changed is acceptable.

use crate::model::Address;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The cloud's verdict on one table of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableVerdict {
    pub table: String,
    /// The table config sent (empty when none is configured).
    pub config: String,
    /// The cloud's `check_result`, verbatim (`success` | `failed`).
    pub result: String,
    pub passed: bool,
    /// htapsync's explanation of a failure: the API gives none, so the gate
    /// looks for the likely cause (a table missing from the source database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The cloud's verdict on one db_config of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamVerdict {
    pub name: String,
    pub value: String,
    /// `source` or `target`: which side of the check reported it.
    pub side: String,
    pub result: String,
    pub passed: bool,
}

/// Everything the gate learned about one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskVerdict {
    pub address: Address,
    pub tables: Vec<TableVerdict>,
    pub params: Vec<ParamVerdict>,
    /// A check call that failed outright (API error), as one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TaskVerdict {
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.tables.iter().all(|t| t.passed)
            && self.params.iter().all(|p| p.passed)
    }
}

/// The gate's verdicts for every task that was checked, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    pub verdicts: BTreeMap<Address, TaskVerdict>,
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.verdicts.values().all(TaskVerdict::passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &TaskVerdict> {
        self.verdicts.values().filter(|v| !v.passed())
    }
}

mod gate;
pub use gate::{run_gate, task_request};

//! The table-config-check gate: before anything changes, ask the cloud whether
//! every table (E2, `is_create_task = "false"`) and every db_config (E1) of each
//! task that would be created or changed is acceptable.

use crate::api::ServiceFailure;
use crate::model::Address;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
    /// looks for the likely cause (a table missing from the source database,
    /// the clause that does not parse, the columns to check).
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

/// Why the gate could not judge anything: the check calls failed for a reason
/// that says nothing about the tables (credentials, throttling, network, server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateUnavailable {
    pub reason: ServiceFailure,
    /// The failed call, as one line.
    pub error: String,
}

impl GateUnavailable {
    /// One line that names the cause, not the tables.
    pub fn headline(&self) -> String {
        format!(
            "The table-config-check gate could not run: {}",
            self.reason.describe()
        )
    }

    /// The failed call and what to do about it.
    pub fn detail(&self) -> String {
        format!(
            "{}. No table was checked; {}.",
            self.error,
            self.reason.advice()
        )
    }
}

/// The gate's verdicts, by address, for every task it had to check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// Every address the gate had to check. The gate passes only when each
    /// has a passing verdict: a task that was never checked is not a pass.
    pub required: BTreeSet<Address>,
    pub verdicts: BTreeMap<Address, TaskVerdict>,
    /// Set when the gate could not run at all; then there are no verdicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<GateUnavailable>,
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.unavailable.is_none()
            && self.unchecked().next().is_none()
            && self.verdicts.values().all(TaskVerdict::passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &TaskVerdict> {
        self.verdicts.values().filter(|v| !v.passed())
    }

    /// Addresses the gate had to check but has no verdict for.
    pub fn unchecked(&self) -> impl Iterator<Item = &Address> {
        self.required
            .iter()
            .filter(|a| !self.verdicts.contains_key(*a))
    }

    /// How many tasks fail the gate: refused, or never checked.
    pub fn failed_count(&self) -> usize {
        self.failed().count() + self.unchecked().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing(name: &str) -> TaskVerdict {
        TaskVerdict {
            address: Address::task(name),
            tables: Vec::new(),
            params: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn a_required_task_without_a_verdict_fails_the_gate_also_after_a_round_trip() {
        let mut report = GateReport {
            required: [Address::task("a"), Address::task("b")].into(),
            ..GateReport::default()
        };
        report.verdicts.insert(Address::task("a"), passing("a"));
        assert!(!report.passed());
        assert_eq!(report.failed_count(), 1);
        assert_eq!(
            report.unchecked().collect::<Vec<_>>(),
            [&Address::task("b")]
        );
        let json = serde_json::to_string(&report).unwrap();
        let back: GateReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        assert!(!back.passed());
        report.verdicts.insert(Address::task("b"), passing("b"));
        assert!(report.passed());
        assert_eq!(report.failed_count(), 0);
    }

    /// The count the summary gives is every refused task plus every unchecked one.
    #[test]
    fn the_failed_count_adds_refused_and_unchecked_tasks() {
        let names = ["a", "b", "c", "d"];
        let mut report = GateReport {
            required: names.into_iter().map(Address::task).collect(),
            ..GateReport::default()
        };
        for name in ["a", "b", "c"] {
            let mut verdict = passing(name);
            if name != "a" {
                verdict.error = Some("refused".into());
            }
            report.verdicts.insert(Address::task(name), verdict);
        }
        assert_eq!(report.failed().count(), 2);
        assert_eq!(report.failed_count(), 3);
    }

    #[test]
    fn a_report_without_its_required_set_does_not_parse() {
        let json = r#"{"verdicts": {}}"#;
        assert!(serde_json::from_str::<GateReport>(json).is_err());
    }

    #[test]
    fn an_unavailable_gate_never_passes() {
        let report = GateReport {
            unavailable: Some(GateUnavailable {
                reason: ServiceFailure::Authentication,
                error: "table-config-check: APIGW.0301 (HTTP 401)".into(),
            }),
            ..GateReport::default()
        };
        assert!(!report.passed());
    }
}

pub mod expand;
mod gate;
pub use crate::api::task_map::task_request;
pub use gate::{addresses_to_check, run_gate};

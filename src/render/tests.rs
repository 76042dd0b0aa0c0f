//! Snapshot tests of the human plan, built from real `diff` results.

use super::*;
use crate::check::{ParamVerdict, TableVerdict, TaskVerdict};
use crate::model::{Address, DesiredTask, Lifecycle, TaskSpec};
use crate::plan::diff;
use crate::state::TaskRecord;
use insta::assert_snapshot;
use std::collections::BTreeMap;

const PLAIN: Style = Style { color: false };

fn spec(name: &str) -> TaskSpec {
    TaskSpec {
        target_database_name: "shop_olap".into(),
        tables: vec!["order_items".into(), "orders".into()],
        db_configs: [
            ("snapshot_with_lock".to_string(), "true".to_string()),
            ("sync_commit_interval_ms".to_string(), "5000".to_string()),
        ]
        .into(),
        table_configs: [("orders".to_string(), "order by id".to_string())].into(),
        ..TaskSpec::sample(name)
    }
}

fn plan_of(desired: &[TaskSpec], prior: &[TaskSpec]) -> Plan {
    let desired: BTreeMap<_, _> = desired
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                DesiredTask {
                    spec: s.clone(),
                    lifecycle: Lifecycle::default(),
                },
            )
        })
        .collect();
    let prior: BTreeMap<_, _> = prior
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                TaskRecord {
                    spec: s.clone(),
                    prevent_destroy: false,
                    updated_at: String::new(),
                },
            )
        })
        .collect();
    diff(&desired, &prior, &[]).unwrap()
}

fn updated(name: &str) -> TaskSpec {
    let mut s = spec(name);
    s.tables = vec!["customers".into(), "order_items".into(), "payments".into()];
    s.db_configs
        .insert("sync_commit_interval_ms".into(), "10000".into());
    s.db_configs
        .insert("max_sync_commit_rows".into(), "600000".into());
    s.table_configs.clear();
    s.paused = true;
    s
}

fn replaced(name: &str) -> TaskSpec {
    let mut s = spec(name);
    s.instance_id = "aaaabbbbccccddddeeeeffff00001111in17".into();
    s.target_database_name = "shop_v2".into();
    s
}

#[test]
fn no_changes() {
    let plan = plan_of(&[spec("orders_sync")], &[spec("orders_sync")]);
    assert_snapshot!(plan_human(&plan, None, &PLAIN));
}

#[test]
fn create() {
    let mut with_node = spec("orders_sync");
    with_node.source_node_id = Some("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6dno07".into());
    assert_snapshot!(plan_human(&plan_of(&[with_node], &[]), None, &PLAIN));
}

#[test]
fn update_scalar_list_and_map() {
    let plan = plan_of(&[updated("orders_sync")], &[spec("orders_sync")]);
    assert_snapshot!(plan_human(&plan, None, &PLAIN));
}

#[test]
fn replace() {
    let plan = plan_of(&[replaced("orders_sync")], &[spec("orders_sync")]);
    assert_snapshot!(plan_human(&plan, None, &PLAIN));
}

#[test]
fn delete() {
    let plan = plan_of(&[], &[spec("orders_sync")]);
    assert_snapshot!(plan_human(&plan, None, &PLAIN));
}

#[test]
fn mix_with_passing_gate() {
    let plan = plan_of(
        &[
            spec("a_new"),
            updated("b_changed"),
            replaced("c_moved"),
            spec("e_same"),
        ],
        &[
            spec("b_changed"),
            spec("c_moved"),
            spec("d_gone"),
            spec("e_same"),
        ],
    );
    let gate = GateReport {
        verdicts: ["a_new", "b_changed", "c_moved"]
            .into_iter()
            .map(|n| {
                (
                    Address::task(n),
                    verdict(n, &[("orders", "order by id", true)], true),
                )
            })
            .collect(),
        ..GateReport::default()
    };
    assert_snapshot!(plan_human(&plan, Some(&gate), &PLAIN));
}

#[test]
fn failed_gate() {
    let plan = plan_of(&[spec("a_ok"), spec("b_bad")], &[]);
    let mut bad = verdict(
        "b_bad",
        &[
            ("order_items", "", true),
            ("orders", "order by nope", false),
            ("refunds", "key columns x", false),
        ],
        false,
    );
    bad.params[0].value = "999".into();
    let mut errored = verdict("c_error", &[], true);
    errored.error = Some("E2 returned 500 Internal Server Error (request 7f3a)".into());
    let gate = GateReport {
        verdicts: [
            (
                Address::task("a_ok"),
                verdict("a_ok", &[("orders", "order by id", true)], true),
            ),
            (Address::task("b_bad"), bad),
            (Address::task("c_error"), errored),
        ]
        .into(),
        ..GateReport::default()
    };
    assert_snapshot!(plan_human(&plan, Some(&gate), &PLAIN));
}

fn verdict(name: &str, tables: &[(&str, &str, bool)], param_passed: bool) -> TaskVerdict {
    TaskVerdict {
        address: Address::task(name),
        tables: tables
            .iter()
            .map(|(table, config, passed)| TableVerdict {
                table: table.to_string(),
                config: config.to_string(),
                result: if *passed { "success" } else { "failed" }.into(),
                passed: *passed,
                hint: None,
            })
            .collect(),
        params: vec![ParamVerdict {
            name: "sync_commit_interval_ms".into(),
            value: "5000".into(),
            side: "target".into(),
            result: if param_passed { "success" } else { "failed" }.into(),
            passed: param_passed,
        }],
        error: None,
    }
}

#[test]
fn colour_only_when_asked() {
    let plan = plan_of(&[updated("t")], &[spec("t")]);
    let coloured = plan_human(&plan, None, &Style { color: true });
    assert!(coloured.contains("\x1b[33m~\x1b[0m"), "yellow ~");
    assert!(coloured.contains("\x1b[32m+\x1b[0m"), "green +");
    assert!(coloured.contains("\x1b[31m-\x1b[0m"), "red -");
    assert!(!plan_human(&plan, None, &PLAIN).contains('\x1b'));
}

#[test]
fn summary_lines() {
    assert_eq!(
        summary_line(Counts::default()),
        "No changes. Your infrastructure matches the configuration."
    );
    assert_eq!(
        summary_line(Counts {
            add: 1,
            change: 2,
            destroy: 1
        }),
        "Plan: 1 to add, 2 to change, 1 to destroy."
    );
}

#[test]
fn terminal_safe_escapes_control_sequences_but_keeps_own_colours() {
    use super::terminal_safe;
    assert_eq!(terminal_safe("plain\ttext\n"), "plain\ttext\n");
    assert_eq!(
        terminal_safe("a\x1b[2J\x1b]0;pwned\x07b\r\u{9b}c\u{7f}"),
        "a\\u001b[2J\\u001b]0;pwned\\u0007b\\u000d\\u009bc\\u007f"
    );
    let coloured = Style { color: true }.paint(Paint::Red, "x");
    assert_eq!(terminal_safe(&coloured), coloured);
}

#[test]
fn tasks_not_started_are_one_line_in_every_format() {
    use crate::apply::ApplyOutcome;
    let outcome = ApplyOutcome {
        not_started: (0..38)
            .map(|i| Address::task(&format!("t_{i:02}")))
            .collect(),
        ..ApplyOutcome::default()
    };
    assert_eq!(
        apply::not_started_line(&outcome).as_deref(),
        Some("38 tasks not started: the run was interrupted")
    );
    assert!(
        apply::outcome_summary(&outcome, Operation::Apply)
            .starts_with("Apply interrupted: 38 task(s) not started.")
    );
    let messages = json::apply_outcome(&outcome, Operation::Apply);
    assert_eq!(messages.len(), 2, "one diagnostic and the summary");
}

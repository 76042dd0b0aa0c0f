//! Unit tests of the human output's pieces: colour, summary lines, escaping
//! and the not-started line. What a whole plan looks like is snapshotted
//! through the binary (tests/cli_plan_output.rs) and in every format through
//! the public API (tests/output_render.rs).

use super::*;
use crate::model::{Address, DesiredTask, Lifecycle, TaskSpec};
use crate::plan::diff;
use crate::state::TaskRecord;
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

#[test]
fn colour_only_when_asked() {
    let plan = plan_of(&[updated("t")], &[spec("t")]);
    let coloured = plan_human(&plan, None, &[], &Style { color: true });
    assert!(coloured.contains("\x1b[33m~\x1b[0m"), "yellow ~");
    assert!(coloured.contains("\x1b[32m+\x1b[0m"), "green +");
    assert!(coloured.contains("\x1b[31m-\x1b[0m"), "red -");
    assert!(!plan_human(&plan, None, &[], &PLAIN).contains('\x1b'));
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

#[test]
fn terminal_safe_escapes_every_control_character_and_nothing_else() {
    use super::terminal_safe;
    for c in (0..=0x10ffff).filter_map(char::from_u32) {
        let text = format!("a{c}b");
        let shown = terminal_safe(&text);
        if c.is_control() && c != '\n' && c != '\t' {
            assert_eq!(shown, format!("a\\u{:04x}b", u32::from(c)), "{c:?}");
        } else {
            assert_eq!(shown, text, "{c:?}");
        }
    }
}

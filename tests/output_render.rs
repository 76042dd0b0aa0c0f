//! Snapshots of every output format (human, JSON stream, Markdown comment)
//! for the same cases: no changes, create, update, replace, delete, a failed
//! check and an apply error, built from real `diff` results. Plus the size
//! limit of the Markdown comment on a plan of 1,000 tasks.

use htapsync::apply::{ApplyOutcome, Event};
use htapsync::check::{GateReport, ParamVerdict, TableVerdict, TaskVerdict};
use htapsync::model::{Address, DesiredTask, Lifecycle, TaskSpec};
use htapsync::plan::{Action, Counts, Plan, diff};
use htapsync::render::json::{self, Message};
use htapsync::render::markdown::{COMMENT_LIMIT, COMMENT_MARKER, plan_markdown};
use htapsync::render::{self, Note, Operation, Style};
use htapsync::state::TaskRecord;
use insta::assert_snapshot;
use std::collections::BTreeMap;
use std::time::Duration;

mod support;

const PLAIN: Style = Style { color: false };
const TIME: &str = "2025-01-01T00:00:00.000000Z";

fn spec(name: &str) -> TaskSpec {
    support::spec(name)
        .target("shop_olap")
        .tables(["order_items", "orders"])
        .db_configs([("sync_commit_interval_ms", "5000")])
        .table_configs([("orders", "order by id")])
        .build()
}

fn updated(name: &str) -> TaskSpec {
    let mut s = spec(name);
    s.tables = vec!["order_items".into(), "payments".into()];
    s.db_configs
        .insert("sync_commit_interval_ms".into(), "10000".into());
    s.paused = true;
    s
}

fn replaced(name: &str) -> TaskSpec {
    let mut s = spec(name);
    s.instance_id = "aaaabbbbccccddddeeeeffff00001111in17".into();
    s
}

fn plan_of(desired: &[TaskSpec], prior: &[TaskSpec]) -> Plan {
    let desired: BTreeMap<_, _> = desired
        .iter()
        .map(|s| {
            let task = DesiredTask {
                spec: s.clone(),
                lifecycle: Lifecycle::default(),
            };
            (s.name.clone(), task)
        })
        .collect();
    let prior: BTreeMap<_, _> = prior
        .iter()
        .map(|s| {
            let record = TaskRecord {
                spec: s.clone(),
                prevent_destroy: false,
                updated_at: String::new(),
            };
            (s.name.clone(), record)
        })
        .collect();
    diff(&desired, &prior, &[]).unwrap()
}

fn passed(name: &str) -> TaskVerdict {
    TaskVerdict {
        address: Address::task(name),
        tables: vec![TableVerdict {
            table: "orders".into(),
            config: "order by id".into(),
            result: "success".into(),
            passed: true,
            hint: None,
        }],
        params: vec![ParamVerdict {
            name: "sync_commit_interval_ms".into(),
            value: "5000".into(),
            side: "target".into(),
            result: "success".into(),
            passed: true,
        }],
        error: None,
    }
}

/// A gate over every checked change of `plan`, all passing.
fn gate_passing(plan: &Plan) -> GateReport {
    let verdicts = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
        .map(|c| (c.address.clone(), passed(c.address.name())))
        .collect();
    GateReport {
        verdicts,
        ..GateReport::default()
    }
}

/// One table and one parameter rejected, and one check call that failed outright.
fn failed_case() -> (Plan, GateReport) {
    let plan = plan_of(&[spec("a_ok"), spec("b_bad"), spec("c_error")], &[]);
    let mut bad = passed("b_bad");
    bad.tables.push(TableVerdict {
        table: "refunds".into(),
        config: "order by placed_at | id".into(),
        result: "failed".into(),
        passed: false,
        hint: Some("no such table in source database shop".into()),
    });
    bad.params[0].value = "999".into();
    bad.params[0].result = "failed".into();
    bad.params[0].passed = false;
    let mut errored = passed("c_error");
    errored.tables.clear();
    errored.params.clear();
    errored.error = Some("E2 returned 500 Internal Server Error (request 7f3a)".into());
    let gate = GateReport {
        verdicts: [
            (Address::task("a_ok"), passed("a_ok")),
            (Address::task("b_bad"), bad),
            (Address::task("c_error"), errored),
        ]
        .into(),
        ..GateReport::default()
    };
    (plan, gate)
}

fn stream(messages: &[Message]) -> String {
    messages.iter().map(|m| m.line(TIME) + "\n").collect()
}

/// The JSON stream of a plan, with the version line, as `plan --json` prints it.
fn plan_stream(plan: &Plan, gate: Option<&GateReport>, notes: &[Note]) -> String {
    let mut messages = vec![json::version()];
    messages.extend(json::plan_messages(plan, gate, notes, &[]));
    let text = stream(&messages);
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        assert_eq!(value["@module"], "htapsync.ui");
    }
    text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

fn markdown(plan: &Plan, gate: Option<&GateReport>, notes: &[Note]) -> String {
    let text = plan_markdown(plan, gate, notes, &[]);
    assert!(text.starts_with(COMMENT_MARKER));
    assert!(!text.contains('\x1b'), "no ANSI codes");
    text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

/// Every format of one plan case, snapshotted under `name`.
fn all_formats(name: &str, plan: &Plan, gate: Option<&GateReport>, notes: &[Note]) {
    let human = render::notes_human(notes) + &render::plan_human(plan, gate, &[], &PLAIN);
    assert_snapshot!(format!("{name}_human"), human);
    assert_snapshot!(format!("{name}_json"), plan_stream(plan, gate, notes));
    assert_snapshot!(format!("{name}_markdown"), markdown(plan, gate, notes));
}

#[test]
fn no_changes() {
    let plan = plan_of(&[spec("orders_sync")], &[spec("orders_sync")]);
    all_formats("no_changes", &plan, Some(&GateReport::default()), &[]);
}

#[test]
fn create() {
    let mut created = spec("orders_sync");
    created.source_node_id = Some("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6dno07".into());
    let plan = plan_of(&[created], &[]);
    all_formats("create", &plan, Some(&gate_passing(&plan)), &[]);
}

#[test]
fn update_with_drift() {
    let plan = plan_of(&[updated("orders_sync")], &[spec("orders_sync")]);
    let notes = [
        Note::Drift("task.orders_sync changed outside htapsync: paused".into()),
        Note::Warning(
            "task.orders_sync is reported abnormal by the cloud (status No, stage full)".into(),
        ),
    ];
    all_formats("update", &plan, Some(&gate_passing(&plan)), &notes);
}

#[test]
fn replace() {
    let plan = plan_of(&[replaced("orders_sync")], &[spec("orders_sync")]);
    all_formats("replace", &plan, Some(&gate_passing(&plan)), &[]);
}

#[test]
fn delete() {
    let plan = plan_of(&[], &[spec("orders_sync")]);
    all_formats("delete", &plan, Some(&GateReport::default()), &[]);
}

#[test]
fn failed_check() {
    let (plan, gate) = failed_case();
    all_formats("failed_check", &plan, Some(&gate), &[]);
    let md = plan_markdown(&plan, Some(&gate), &[], &[]);
    let failed = md
        .find("### Failed checks")
        .expect("a failed-checks section");
    assert!(
        failed < md.find("### Changes").unwrap(),
        "failures come first"
    );
    assert!(
        md.contains("order by placed\\_at &#124; id"),
        "a `|` in a config must not break the table: {md}"
    );
}

/// An apply where one task is created and another fails.
fn apply_error_case() -> (Vec<Event>, ApplyOutcome) {
    let (ok, bad) = (Address::task("a_ok"), Address::task("b_bad"));
    let events = vec![
        Event::Started {
            address: ok.clone(),
            action: Action::Create,
        },
        Event::Started {
            address: bad.clone(),
            action: Action::Update,
        },
        Event::Step {
            address: ok.clone(),
            message: "registering".into(),
        },
        Event::Completed {
            address: ok,
            action: Action::Create,
            elapsed: Duration::from_millis(1500),
        },
        Event::Failed {
            address: bad.clone(),
            action: Action::Update,
            error: "E8 returned 409 Conflict: the task is being modified".into(),
        },
    ];
    let outcome = ApplyOutcome {
        counts: Counts {
            add: 1,
            change: 0,
            destroy: 0,
        },
        errors: vec![(
            bad,
            "E8 returned 409 Conflict: the task is being modified".into(),
        )],
        ..Default::default()
    };
    (events, outcome)
}

#[test]
fn apply_error() {
    let (events, outcome) = apply_error_case();
    let mut human: String = events
        .iter()
        .map(|e| render::apply::event_line(e) + "\n")
        .collect();
    human.push_str(&render::apply::outcome_summary(&outcome, Operation::Apply));
    assert_snapshot!("apply_error_human", human);

    let mut messages: Vec<Message> = events.iter().map(json::apply_event).collect();
    messages.extend(json::apply_outcome(&outcome, Operation::Apply));
    let text = stream(&messages);
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "\"apply_start\"",
            "\"apply_start\"",
            "\"apply_progress\"",
            "\"apply_complete\"",
            "\"apply_errored\"",
            "\"diagnostic\"",
            "\"change_summary\""
        ]
    );
    assert_snapshot!("apply_error_json", text);
}

#[test]
fn destroy_summary_says_destroy() {
    let outcome = ApplyOutcome {
        counts: Counts {
            add: 0,
            change: 0,
            destroy: 2,
        },
        ..Default::default()
    };
    assert_eq!(
        render::apply::outcome_summary(&outcome, Operation::Destroy),
        "Destroy complete! Resources: 2 destroyed."
    );
    let summary = json::apply_outcome(&outcome, Operation::Destroy);
    let line: serde_json::Value = serde_json::from_str(&summary[0].line(TIME)).unwrap();
    assert_eq!(line["changes"]["operation"], "destroy");
    assert_eq!(line["changes"]["remove"], 2);
}

#[test]
fn thousand_tasks_fit_in_one_comment() {
    let desired: Vec<TaskSpec> = (0..1000)
        .map(|i| {
            let mut s = spec(&format!("task_{i:04}"));
            s.tables = (0..20).map(|t| format!("table_{t:02}")).collect();
            s
        })
        .collect();
    let plan = plan_of(&desired, &[]);
    let mut gate = gate_passing(&plan);
    // Every task rejects one table: the failed checks alone exceed the limit.
    for verdict in gate.verdicts.values_mut() {
        verdict.tables[0].passed = false;
        verdict.tables[0].result = "failed".into();
    }
    let md = plan_markdown(&plan, Some(&gate), &[], &[]);
    assert!(
        md.chars().count() <= COMMENT_LIMIT && md.len() <= COMMENT_LIMIT,
        "{} bytes",
        md.len()
    );
    assert!(md.starts_with(COMMENT_MARKER));
    assert!(md.contains("**Plan: 1000 to add, 0 to change, 0 to destroy.**"));
    assert!(md.contains("table-config-check failed** for 1000 of 1000 checked tasks"));
    assert!(md.contains("**Truncated:**"), "a truncation note");
    assert!(md.contains("more failed check rows"));
    assert!(md.contains("of 1000 changed tasks"));
    // All-passing: failed checks take no room, and many task sections fit.
    let md = plan_markdown(&plan, Some(&gate_passing(&plan)), &[], &[]);
    assert!(md.len() <= COMMENT_LIMIT);
    let shown = md.matches("<details>").count();
    assert!(shown > 10, "only {shown} task sections shown");
    let note = format!("the diffs of {} of 1000 changed tasks", 1000 - shown);
    assert!(md.contains(&note), "{note:?} missing");
}

#[test]
fn small_plans_are_not_truncated() {
    let (plan, gate) = failed_case();
    let md = plan_markdown(&plan, Some(&gate), &[], &[]);
    assert!(!md.contains("Truncated"));
    assert_eq!(md.matches("<details>").count(), 3);
}

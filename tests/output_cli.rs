//! The output formats through the real binary, on copies of the examples:
//! every line of `plan --json` and `apply --json` is JSON and its summary
//! counts match the human output; the Markdown comment of a failing plan
//! (from `plan` and from `show PLANFILE`); no ANSI or progress bars when not
//! on a terminal.

mod support;

use insta::assert_snapshot;
use serde_json::Value;
use support::Workspace;

/// Parses every line of a `--json` stream; panics on the first that is not JSON.
fn parse_stream(out: &str) -> Vec<Value> {
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines[0]["type"], "version", "the stream opens with version");
    assert_eq!(lines[0]["ui"], "1.0");
    for line in &lines {
        for key in ["@level", "@message", "@module", "@timestamp", "type"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    lines
}

fn summaries<'a>(lines: &'a [Value], operation: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "change_summary" && l["changes"]["operation"] == operation)
        .collect()
}

fn counts(summary: &Value) -> (u64, u64, u64) {
    let c = &summary["changes"];
    let n = |k: &str| c[k].as_u64().unwrap();
    (n("add"), n("change"), n("remove"))
}

#[test]
fn json_plan_and_apply_agree_with_the_human_output() {
    let machine = Workspace::example("quickstart");
    let human = Workspace::example("quickstart");

    let (code, out, err) = machine.run(&["plan", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains('\x1b'), "no progress bar or colour on stderr");
    let lines = parse_stream(&out);
    let plan = summaries(&lines, "plan");
    assert_eq!(plan.len(), 1);
    assert_eq!(counts(plan[0]), (2, 0, 0));
    let human_plan = human.run_ok(&["plan"], 0);
    assert!(human_plan.contains("Plan: 2 to add, 0 to change, 0 to destroy."));
    assert_eq!(
        plan[0]["@message"],
        "Plan: 2 to add, 0 to change, 0 to destroy."
    );
    let planned = lines
        .iter()
        .filter(|l| l["type"] == "planned_change")
        .count();
    let checks = lines.iter().filter(|l| l["type"] == "check_result").count();
    assert_eq!((planned, checks), (2, 2));

    let out = machine.run_ok(&["apply", "--json", "--auto-approve"], 0);
    let lines = parse_stream(&out);
    let applied = summaries(&lines, "apply");
    assert_eq!(applied.len(), 1, "one apply summary");
    let human_apply = human.run_ok(&["apply", "--auto-approve"], 0);
    let summary_line = "Apply complete! Resources: 2 added, 0 changed, 0 destroyed.";
    assert!(human_apply.contains(summary_line), "{human_apply}");
    assert_eq!(applied[0]["@message"], summary_line);
    assert_eq!(counts(applied[0]), (2, 0, 0));
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    for kind in ["apply_start", "apply_progress", "apply_complete"] {
        assert!(
            kinds.iter().filter(|k| **k == kind).count() >= 2,
            "{kind} in {kinds:?}"
        );
    }
    assert_eq!(kinds.last(), Some(&"change_summary"));

    // Nothing left to do: both formats agree on that too.
    let lines = parse_stream(&machine.run_ok(&["plan", "--json"], 0));
    assert_eq!(counts(summaries(&lines, "plan")[0]), (0, 0, 0));
    assert!(human.run_ok(&["plan"], 0).contains("No changes."));
}

#[test]
fn markdown_comment_of_a_failing_plan() {
    let ws = Workspace::example("failing-check");
    let plan = ws.path("p.plan");
    let plan = plan.to_str().unwrap();
    let (code, out, err) = ws.run(&["plan", "--format", "markdown", "-out", plan]);
    assert_eq!(code, 1, "a failed gate fails the run: {err}");
    assert!(!out.contains('\x1b') && !err.contains('\x1b'));
    assert!(!out.contains("Saved the plan"), "only Markdown on stdout");
    let shown = ws.run_ok(&["show", "--format", "markdown", plan], 0);
    assert_eq!(shown, out, "show renders the saved plan the same way");
    assert_snapshot!(out.replace(env!("CARGO_PKG_VERSION"), "[VERSION]"));
}

#[test]
fn show_and_state_json_are_versioned_documents() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let doc: Value = serde_json::from_str(&ws.run_ok(&["show", "--json"], 0)).unwrap();
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["tasks"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["tasks"][0]["address"], "task.catalog_sync");
    let list: Value = serde_json::from_str(&ws.run_ok(&["state", "list", "--json"], 0)).unwrap();
    assert_eq!(list["tasks"], doc["tasks"]);
    let one: Value =
        serde_json::from_str(&ws.run_ok(&["state", "show", "--json", "task.orders_sync"], 0))
            .unwrap();
    assert_eq!(one["attributes"]["target_database_name"], "shop_olap");

    let plan = ws.path("p.plan");
    let plan = plan.to_str().unwrap();
    ws.run_ok(&["plan", "-out", plan], 0);
    let saved: Value = serde_json::from_str(&ws.run_ok(&["show", "--json", plan], 0)).unwrap();
    assert_eq!(saved["format_version"], "1.0");
    assert_eq!(saved["gate_passed"], true);
    assert_eq!(saved["summary"]["add"], 0);
}

#[test]
fn markdown_is_refused_where_it_means_nothing() {
    let ws = Workspace::example("quickstart");
    let (code, _, err) = ws.run(&["apply", "--format", "markdown", "--auto-approve"]);
    assert_eq!(code, 1);
    assert!(err.contains("--format markdown is for `plan`"), "{err}");
    let (code, _, err) = ws.run(&["show", "--format", "markdown"]);
    assert_eq!(code, 1);
    assert!(err.contains("give the PLANFILE"), "{err}");
}

//! Every command that accepts `--json` prints nothing but JSON lines on
//! stdout, the first carrying `format_version` (issue 11), walked through
//! the real binary on a copy of examples/quickstart against the embedded
//! emulator. The list of commands is checked against the command line's own
//! definition, so a new command with `--json` cannot be left out.

mod support;

use clap::CommandFactory;
use serde_json::Value;
use std::collections::BTreeSet;
use support::Workspace;

/// Runs `args` (which include `--json`), expects `code`, and parses stdout:
/// every line JSON, the first with `format_version`; a stream (opened by
/// `version`) has the envelope on every line.
#[track_caller]
fn json_lines(ws: &Workspace, args: &[&str], code: i32) -> Vec<Value> {
    let (got, out, err) = ws.run(args);
    assert_eq!(got, code, "{args:?}\n--- stdout\n{out}\n--- stderr\n{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {l}"))
        })
        .collect();
    assert!(!lines.is_empty(), "{args:?} printed nothing\n{err}");
    assert_eq!(lines[0]["format_version"], "1.0", "{args:?}: {}", lines[0]);
    if lines[0]["type"] == "version" {
        for line in &lines {
            for key in ["@level", "@message", "@module", "@timestamp", "type"] {
                assert!(line.get(key).is_some(), "{args:?}: {key} missing in {line}");
            }
        }
    } else {
        assert_eq!(lines.len(), 1, "{args:?}: a document is one line");
    }
    lines
}

/// The last message of a stream, which must be of type `kind`.
#[track_caller]
fn last_of<'a>(lines: &'a [Value], kind: &str) -> &'a Value {
    let last = lines.last().expect("a message");
    assert_eq!(last["type"], kind, "{lines:#?}");
    last
}

/// Every (sub)command path of the CLI that has a `--json` flag.
fn commands_with_json() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut BTreeSet<String>) {
        let path = format!("{prefix}{}", cmd.get_name());
        if cmd.get_arguments().any(|a| a.get_long() == Some("json")) {
            out.insert(path.clone());
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} "), out);
        }
    }
    let mut out = BTreeSet::new();
    for sub in htapsync::cli::Cli::command().get_subcommands() {
        walk(sub, "", &mut out);
    }
    out
}

#[test]
fn every_command_with_json_prints_only_versioned_json_lines() {
    let ws = Workspace::example("quickstart");
    let plan = ws.path("p.plan");
    let plan = plan.to_str().unwrap();
    let mut walked = BTreeSet::new();
    let mut run = |name: &str, args: &[&str], code: i32| {
        walked.insert(name.to_string());
        json_lines(&ws, args, code)
    };

    let doc = run("validate", &["validate", "--json"], 0);
    assert_eq!(doc[0]["valid"], true);
    let planned = run("plan", &["plan", "--json", "-out", plan], 0);
    assert_eq!(last_of(&planned, "change_summary")["changes"]["add"], 2);
    let shown = run("show", &["show", "--json", plan], 0);
    assert_eq!(shown[0]["gate_passed"], true);
    let applied = run("apply", &["apply", "--json", plan], 0);
    assert_eq!(
        last_of(&applied, "change_summary")["changes"]["operation"],
        "apply"
    );
    let refreshed = run("refresh", &["refresh", "--json"], 0);
    assert_eq!(last_of(&refreshed, "refresh_summary")["refresh"]["read"], 2);
    let status = run("status", &["status", "--json"], 0);
    assert_eq!(status[0]["healthy"], true);
    let drift = run("drift", &["drift", "--json"], 0);
    assert_eq!(drift[0]["drifted"], false);
    let state = run("show", &["show", "--json"], 0);
    assert_eq!(state[0]["tasks"].as_array().map(Vec::len), Some(2));
    let list = run("state list", &["state", "list", "--json"], 0);
    assert_eq!(list[0]["tasks"], state[0]["tasks"]);
    let one = run(
        "state show",
        &["state", "show", "--json", "task.orders_sync"],
        0,
    );
    assert_eq!(one[0]["address"], "task.orders_sync");

    let args = ["state", "rm", "--json", "--dry-run", "task.orders_sync"];
    let dry = run("state rm", &args, 0);
    assert_eq!(last_of(&dry, "state_removed")["removed"]["dry_run"], true);
    let removed = run(
        "state rm",
        &["state", "rm", "--json", "task.orders_sync"],
        0,
    );
    assert_eq!(
        last_of(&removed, "state_removed")["removed"]["dry_run"],
        false
    );
    let imported = run("import", &["import", "--json", "task.orders_sync"], 0);
    assert_eq!(last_of(&imported, "import_summary")["import"]["count"], 1);
    let args = [
        "state",
        "mv",
        "--json",
        "task.orders_sync",
        "task.orders_moved",
    ];
    let moved = run("state mv", &args, 0);
    assert_eq!(
        last_of(&moved, "state_moved")["moved"]["to"],
        "task.orders_moved"
    );
    let args = [
        "state",
        "mv",
        "--json",
        "task.orders_moved",
        "task.orders_sync",
    ];
    run("state mv", &args, 0);

    // What a holder that died leaves: its lock record, and no lock on the file.
    ws.write(
        ".htapsync/htapsync.state.json.lock",
        r#"{"id":"dead-1","operation":"apply","who":"x@y","pid":1,"version":"0","created":"c","path":"p"}"#,
    );
    let unlocked = run("force-unlock", &["force-unlock", "--json", "dead-1"], 0);
    assert_eq!(
        last_of(&unlocked, "unlocked")["unlocked"]["lock_id"],
        "dead-1"
    );

    let history = run("state history", &["state", "history", "--json"], 0);
    assert!(!history[0]["versions"].as_array().unwrap().is_empty());
    let pulled = ws.run_ok(&["state", "pull"], 0);
    ws.write("pulled.json", &pulled);
    let pushed = run("state push", &["state", "push", "--json", "pulled.json"], 0);
    assert_eq!(
        last_of(&pushed, "state_pushed")["pushed"]["written_serial"],
        Value::Null
    );
    ws.run_ok(&["--workspace", "dev", "state", "push", "pulled.json"], 0);
    let listed = run("workspace list", &["workspace", "list", "--json"], 0);
    assert_eq!(listed[0]["workspaces"][1]["name"], "dev");
    let args = ["--workspace", "dev", "workspace", "show", "--json"];
    assert_eq!(run("workspace show", &args, 0)[0]["workspace"], "dev");
    let args = ["workspace", "delete", "--json", "--force", "dev"];
    let deleted = run("workspace delete", &args, 0);
    assert_eq!(
        last_of(&deleted, "workspace_deleted")["workspace_deleted"]["workspace"],
        "dev"
    );

    let destroyed = run("destroy", &["destroy", "--json", "--auto-approve"], 0);
    assert_eq!(
        last_of(&destroyed, "change_summary")["changes"]["remove"],
        2
    );
    let refreshed = run("refresh", &["refresh", "--json"], 0);
    assert_eq!(last_of(&refreshed, "refresh_summary")["refresh"]["read"], 0);

    // Needs a PostgreSQL server: walked by tests/state_postgres_cli.rs.
    walked.insert("state migrate".to_string());
    assert_eq!(
        walked,
        commands_with_json(),
        "commands with --json not walked"
    );
}

#[test]
fn refresh_without_state_and_a_failing_status_are_json_too() {
    let ws = Workspace::example("quickstart");
    let none = json_lines(&ws, &["refresh", "--json"], 0);
    assert_eq!(last_of(&none, "refresh_summary")["refresh"]["read"], 0);
    let status = json_lines(&ws, &["status", "--json"], 0);
    assert_eq!(status[0]["tasks"], serde_json::json!([]));
    ws.edit("htapsync.toml", "[state]", "[stat]");
    let (code, out, err) = ws.run(&["validate", "--json"]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(out.trim_end()).expect("one JSON line");
    assert_eq!(doc["format_version"], "1.0");
}

#[test]
fn json_commands_end_quietly_when_stdout_is_closed() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    // A recorded attribute the cloud does not have: refresh has something to record.
    ws.edit(
        ".htapsync/htapsync.state.json",
        "\"shop_olap\"",
        "\"stale_olap\"",
    );
    let serial = ws.state()["serial"].as_u64();
    for args in [
        &["refresh", "--json"][..],
        &["status", "--json"],
        &["show", "--json"],
        &["state", "list", "--json"],
        &["validate", "--json"],
    ] {
        let mut child = ws
            .std_cmd(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("htapsync starts");
        // The reader goes away before htapsync writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("htapsync ends");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
    // What refresh learned was recorded although nobody read its output.
    assert!(
        ws.state()["serial"].as_u64() > serial,
        "refresh wrote state"
    );
    assert!(
        !ws.read(".htapsync/htapsync.state.json")
            .contains("stale_olap")
    );
}

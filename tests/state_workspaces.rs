//! Workspaces, state history, pull and push on the local backend, through
//! the real binary (the PostgreSQL backend's are in tests/state_postgres_cli.rs).

mod support;
use support::Workspace;

const DEFAULT_STATE: &str = ".htapsync/htapsync.state.json";
const STAGING_STATE: &str = ".htapsync/htapsync.state.d/staging/htapsync.state.json";

#[test]
fn each_workspace_has_its_own_state() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    // The same configuration in another workspace starts from an empty state.
    let out = ws.run_ok(
        &["--workspace", "staging", "plan", "--detailed-exitcode"],
        2,
    );
    assert!(out.contains("2 to add"), "{out}");
    let mut cmd = ws.std_cmd(&["plan", "--detailed-exitcode"]);
    cmd.env("HTAPSYNC_WORKSPACE", "staging");
    let (code, out, _) = support::process::output(&mut cmd);
    assert_eq!(code, 2, "HTAPSYNC_WORKSPACE selects it too: {out}");
    assert!(!ws.path(STAGING_STATE).exists(), "plan writes no state");

    let list = ws.run_ok(&["workspace", "list"], 0);
    assert_eq!(list, "* default\n");
    let list = ws.run_ok(&["--workspace", "staging", "workspace", "list"], 0);
    assert_eq!(list, "  default\n* staging\n");
    let shown = ws.run_ok(&["--workspace", "staging", "workspace", "show"], 0);
    assert_eq!(shown, "staging\n");

    // [state] workspace is the default when no flag or variable names one.
    ws.edit(
        "htapsync.toml",
        "path = \".htapsync/htapsync.state.json\"",
        "path = \".htapsync/htapsync.state.json\"\nworkspace = \"staging\"",
    );
    assert_eq!(ws.run_ok(&["workspace", "show"], 0), "staging\n");
    ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    ws.run_ok(
        &["--workspace", "default", "plan", "--detailed-exitcode"],
        0,
    );
}

#[test]
fn an_invalid_workspace_name_is_refused_before_anything_runs() {
    let ws = Workspace::example("quickstart");
    let (code, _, err) = ws.run(&["--workspace", "../etc", "plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("workspace names are 1 to 64"), "{err}");
    assert!(!ws.path(".htapsync/htapsync.state.d").exists());
}

#[test]
fn a_saved_plan_is_refused_in_another_workspace() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["--workspace", "staging", "plan", "-out", "p.plan"], 0);
    let shown = ws.run_ok(&["show", "--json", "p.plan"], 0);
    let doc: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(doc["workspace"], "staging");
    let (code, out, err) = ws.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("made in workspace \"staging\", not \"default\""),
        "{err}"
    );
    assert!(!ws.path(DEFAULT_STATE).exists(), "nothing applied");
    ws.run_ok(&["--workspace", "staging", "apply", "p.plan"], 0);
    assert!(ws.path(STAGING_STATE).exists());
    assert!(!ws.path(DEFAULT_STATE).exists());
}

#[test]
fn history_pull_and_push_recover_an_earlier_version() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let first = ws.run_ok(&["state", "pull"], 0);
    let first_doc: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first_doc, ws.state(), "pull prints the state document");
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);

    let history = ws.run_ok(&["state", "history", "--json"], 0);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let serials: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["serial"].as_u64().unwrap())
        .collect();
    let current = ws.state()["serial"].as_u64().unwrap();
    let earlier = first_doc["serial"].as_u64().unwrap();
    assert_eq!(serials, [current, earlier]);
    let human = ws.run_ok(&["state", "history"], 0);
    assert!(human.starts_with("SERIAL"), "{human}");
    assert!(human.contains("(current)"), "{human}");

    let old = ws.run_ok(&["state", "pull", "--serial", &earlier.to_string()], 0);
    assert_eq!(old, first);
    let (code, _, err) = ws.run(&["state", "pull", "--serial", "999"]);
    assert_eq!(code, 1);
    assert!(err.contains("no version with serial 999"), "{err}");

    // Pushing the older version back is refused, then forced.
    ws.write("old.json", &old);
    let (code, _, err) = ws.run(&["state", "push", "old.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("older than the workspace's"), "{err}");
    assert_eq!(ws.state()["serial"].as_u64().unwrap(), current, "unchanged");
    let out = ws.run_ok(&["state", "push", "--force", "old.json"], 0);
    assert!(
        out.contains(&format!("written as serial {}", current + 1)),
        "{out}"
    );
    let state = ws.state();
    assert_eq!(state["tasks"], first_doc["tasks"]);
    assert_eq!(state["lineage"], first_doc["lineage"]);
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn push_refuses_another_lineage_and_a_changed_state() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let pulled = ws.run_ok(&["state", "pull"], 0);
    let mut other: serde_json::Value = serde_json::from_str(&pulled).unwrap();
    other["lineage"] = "00000000-0000-4000-8000-000000000000".into();
    ws.write("other.json", &other.to_string());
    let (code, _, err) = ws.run(&["state", "push", "other.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("lineage"), "{err}");

    // Same serial, other content: someone wrote since the pull.
    let mut edited: serde_json::Value = serde_json::from_str(&pulled).unwrap();
    edited["tasks"]
        .as_object_mut()
        .unwrap()
        .remove("catalog_sync");
    ws.write("edited.json", &edited.to_string());
    let (code, _, err) = ws.run(&["state", "push", "edited.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("changed since it was pulled"), "{err}");
    let before = ws.read(DEFAULT_STATE);

    // An edit pushed with a higher serial is accepted.
    edited["serial"] = (edited["serial"].as_u64().unwrap() + 1).into();
    ws.write("edited.json", &edited.to_string());
    let out = ws.run_ok(&["state", "push", "--json", "edited.json"], 0);
    let line: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(line["type"], "state_pushed", "{out}");
    assert_ne!(ws.read(DEFAULT_STATE), before);
    assert!(ws.state()["tasks"].get("catalog_sync").is_none());
}

#[test]
fn workspace_delete_refuses_one_that_manages_tasks() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let pulled = ws.run_ok(&["state", "pull"], 0);
    ws.write("s.json", &pulled);
    ws.run_ok(&["--workspace", "scratch", "state", "push", "s.json"], 0);
    assert_eq!(
        ws.run_ok(&["workspace", "list"], 0),
        "* default\n  scratch\n"
    );

    let (code, _, err) = ws.run(&["workspace", "delete", "scratch"]);
    assert_eq!(code, 1);
    assert!(err.contains("still manages 2 task(s)"), "{err}");
    ws.run_ok(&["workspace", "delete", "--force", "scratch"], 0);
    assert_eq!(ws.run_ok(&["workspace", "list"], 0), "* default\n");
    let (code, _, err) = ws.run(&["workspace", "delete", "default"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot be deleted"), "{err}");
    let (code, _, err) = ws.run(&["workspace", "delete", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_state_file_flag_is_refused_with_the_postgres_backend() {
    let ws = Workspace::example("quickstart");
    ws.edit(
        "htapsync.toml",
        "[state]\n",
        "[state]\nbackend = \"postgres\"\n",
    );
    let (code, _, err) = ws.run(&["--state", "elsewhere.json", "plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--state names a local file, but [state] backend = \"postgres\""),
        "{err}"
    );
    assert!(!ws.path("elsewhere.json").exists());
}

//! Issue 13, unsetting an inherited value: `unset = [...]` in a task drops
//! what it would inherit from `[defaults]` (a key, all of `db_configs`, or
//! one parameter), so that the task gets the documented default; bad entries
//! are errors at file:line:column, and the JSON Schema knows the spelling.
//! Run by the real binary on the quick start (embedded emulator).

mod support;

use serde_json::Value;
use support::Workspace;

const CONFIG: &str = "htapsync.toml";
const UNSET_INTERVAL: &str = "unset = [\"db_configs.sync_commit_interval_ms\"]\n";

/// The quick start with `[defaults.db_configs] sync_commit_interval_ms = 8000`, applied.
fn applied() -> Workspace {
    let ws = Workspace::example("quickstart");
    ws.edit(
        CONFIG,
        "sync_commit_interval_ms = 5000",
        "sync_commit_interval_ms = 8000",
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws
}

/// `validate`'s error output after inserting `line` into catalog_sync.
fn refused(ws: &Workspace, line: &str) -> String {
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\n",
        &format!("[task.catalog_sync]\n{line}"),
    );
    let (code, out, err) = ws.run(&["validate"]);
    ws.edit(
        CONFIG,
        &format!("[task.catalog_sync]\n{line}"),
        "[task.catalog_sync]\n",
    );
    assert_eq!(code, 1, "{line}: {out}\n{err}");
    err
}

#[test]
fn an_unset_db_config_returns_one_task_to_the_documented_default() {
    let ws = applied();
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\n",
        &format!("[task.catalog_sync]\n{UNSET_INTERVAL}"),
    );
    let out = ws.run_ok(&["plan", "--json"], 0);
    let changes: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["type"] == "planned_change")
        .map(|m| m["change"].clone())
        .collect();
    assert_eq!(changes.len(), 1, "only catalog_sync changes: {out}");
    assert_eq!(changes[0]["address"], "task.catalog_sync");
    assert_eq!(changes[0]["action"], "update");
    let field = &changes[0]["fields"][0];
    assert_eq!(field["path"], "db_configs.sync_commit_interval_ms");
    assert_eq!(
        (&field["before"], &field["after"]),
        (&"8000".into(), &"5000".into())
    );

    ws.run_ok(&["apply", "--auto-approve"], 0);
    let state: Value = serde_json::from_str(&ws.read(".htapsync/htapsync.state.json")).unwrap();
    let configs = |task: &str| state["tasks"][task]["spec"]["db_configs"].clone();
    assert_eq!(configs("orders_sync")["sync_commit_interval_ms"], "8000");
    assert!(
        configs("catalog_sync")
            .get("sync_commit_interval_ms")
            .is_none()
    );
    ws.run_ok(&["plan", "-detailed-exitcode"], 0);
}

#[test]
fn bad_unset_entries_are_errors_at_their_position() {
    let ws = Workspace::example("quickstart");
    let err = refused(&ws, "unset = [\"db_configs.nope\"]\n");
    assert!(
        err.contains(
            "`unset` of [task.catalog_sync] names \"db_configs.nope\", which a task cannot unset"
        ),
        "{err}"
    );
    assert!(err.contains("htapsync.toml:"), "{err}");
    assert!(
        err.contains("`db_configs.sync_commit_interval_ms`"),
        "lists what is allowed: {err}"
    );
    let err = refused(&ws, "unset = [\"instance_id\"]\n");
    assert!(
        err.contains("which a task cannot unset"),
        "a required key: {err}"
    );
    let err = refused(&ws, "unset = [\"repl_scope\", \"repl_scope\"]\n");
    assert!(err.contains("listed twice"), "{err}");
    let err = refused(&ws, "unset = [\"repl_scope\"]\n");
    assert!(err.contains("both sets and unsets \"repl_scope\""), "{err}");
    let err = refused(&ws, "unset = \"db_configs\"\n");
    assert!(err.contains("expected an array of strings"), "{err}");

    ws.edit(
        CONFIG,
        "[defaults]\n",
        &format!("[defaults]\n{UNSET_INTERVAL}"),
    );
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`unset` cannot be inherited"), "{err}");
    ws.edit(
        CONFIG,
        &format!("[defaults]\n{UNSET_INTERVAL}"),
        "[defaults]\n",
    );

    // Nothing inherited to drop: a warning, not an error.
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\n",
        "[task.catalog_sync]\nunset = [\"source_node_id\"]\n",
    );
    let (code, out, err) = ws.run(&["validate"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("which [defaults] does not set"),
        "{out}\n{err}"
    );
}

#[test]
fn the_schema_knows_the_unset_spelling() {
    let out = Workspace::empty().run_ok(&["schema"], 0);
    let schema: Value = serde_json::from_str(&out).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc =
        |text: &str| serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap();
    let good = doc(&format!("[task.orders_sync]\n{UNSET_INTERVAL}"));
    assert!(validator.is_valid(&good));
    for bad in [
        "[task.orders_sync]\nunset = [\"db_configs.nope\"]\n",
        "[task.orders_sync]\nunset = [\"instance_id\"]\n",
        "[defaults]\nunset = [\"paused\"]\n",
        "[[moved]]\nfrom = \"orders\"\nto = \"task.orders_eu\"\n",
        "[[import]]\nto = \"task.orders\"\n",
    ] {
        assert!(!validator.is_valid(&doc(bad)), "accepted {bad}");
    }
    let blocks = "[[moved]]\nfrom = \"task.orders\"\nto = \"task.orders_eu\"\n\n\
                  [[import]]\nto = \"task.orders_eu\"\nid = \"orders\"\n";
    assert!(validator.is_valid(&doc(blocks)));
}

#[test]
fn two_tasks_cannot_name_the_same_cloud_task() {
    let ws = Workspace::example("quickstart");
    let err = refused(&ws, "name = \"orders_sync\"\n");
    assert!(
        err.contains(
            "[task.orders_sync] and [task.catalog_sync] are the same cloud task \"orders_sync\""
        ) || err.contains(
            "[task.catalog_sync] and [task.orders_sync] are the same cloud task \"orders_sync\""
        ),
        "{err}"
    );
    assert!(err.contains("htapsync.toml:"), "{err}");
}

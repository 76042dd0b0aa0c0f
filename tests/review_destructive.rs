//! Issue 13, destructive changes need an explicit yes: `apply` of a plan that
//! stops replication or fully re-syncs a task refuses (exit 1, naming them,
//! nothing changed in the cloud or the state) unless `--allow-destructive` is
//! given or the prompt names them and gets `yes`; `[policy] destructive`
//! (`require-flag`, the default; `allow`; `deny`, which refuses even with the
//! flag) sets the rule per directory; `apply PLANFILE` follows it; `destroy`
//! keeps its own confirmation. Run by the real binary against the embedded
//! emulator of the quick start.

mod support;

use support::Workspace;

const CONFIG: &str = "htapsync.toml";
const STATE: &str = ".htapsync/htapsync.state.json";
/// Where the embedded emulator keeps its tasks between runs.
const CLOUD: &str = ".htapsync/cloud.json";

/// The quick start with its two tasks applied.
fn applied() -> Workspace {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws
}

/// The quick start applied, then catalog_sync's block removed: a plan that
/// stops replication of customers and products.
fn deleting() -> Workspace {
    let ws = applied();
    let config = ws.read(CONFIG);
    let start = config.find("# The catalogue").expect("catalog_sync block");
    ws.write(CONFIG, &config[..start]);
    ws
}

/// The quick start applied on two HTAP instances, then orders_sync moved to
/// the second one: a plan that replaces (fully re-syncs) it.
fn replacing() -> Workspace {
    let ws = Workspace::example("quickstart");
    let cloud = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cli/two-htap/cloud.toml"
    );
    ws.write("cloud/cloud.toml", &std::fs::read_to_string(cloud).unwrap());
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(
        CONFIG,
        "[task.orders_sync]\n",
        "[task.orders_sync]\ninstance_id = \"7e2b1d7f5a2c5f1a0d3b8c4e6f9a2b3cin17\"\n",
    );
    ws
}

fn set_policy(ws: &Workspace, value: &str) {
    ws.write(
        "policy.toml",
        &format!("[policy]\ndestructive = \"{value}\"\n"),
    );
}

/// The state file and the emulator's task store, byte for byte.
fn snapshot(ws: &Workspace) -> (Vec<u8>, Vec<u8>) {
    let read = |rel| std::fs::read(ws.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (read(STATE), read(CLOUD))
}

/// The names of the tasks the emulated cloud holds and is not deleting
/// (a delete takes effect when the emulator next settles its jobs), sorted.
fn cloud_tasks(ws: &Workspace) -> Vec<String> {
    let cloud: serde_json::Value = serde_json::from_str(&ws.read(CLOUD)).expect("cloud JSON");
    let mut names: Vec<String> = cloud["tasks"]
        .as_array()
        .expect("a task list")
        .iter()
        .filter(|t| t["pending"]["effect"] != "delete")
        .map(|t| t["task_name"].as_str().expect("task_name").to_string())
        .collect();
    names.sort();
    names
}

/// Runs `args`, asserts that it refused with exit 1 naming `names`, and that
/// neither the state nor the cloud changed. Returns stderr.
#[track_caller]
fn assert_refused(ws: &Workspace, args: &[&str], names: &[&str]) -> String {
    let before = snapshot(ws);
    let (code, out, err) = ws.run(args);
    assert_eq!(code, 1, "{args:?}\n--- stdout\n{out}\n--- stderr\n{err}");
    assert!(err.contains("refusing to apply"), "{err}");
    for name in names {
        assert!(err.contains(name), "{name} not named:\n{err}");
    }
    assert!(
        before == snapshot(ws),
        "{args:?} changed the state or the cloud"
    );
    err
}

#[test]
fn by_default_a_delete_is_refused_without_the_flag_and_changes_nothing() {
    let ws = deleting();
    let err = assert_refused(
        &ws,
        &["apply", "--auto-approve"],
        &["task.catalog_sync: stops replication of 2 tables (customers, products)"],
    );
    assert!(err.contains("--allow-destructive"), "{err}");
    assert_eq!(cloud_tasks(&ws), ["catalog_sync", "orders_sync"]);
    let out = ws.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(out.contains("0 added, 0 changed, 1 destroyed"), "{out}");
    assert_eq!(cloud_tasks(&ws), ["orders_sync"]);
}

#[test]
fn a_table_leaving_the_include_list_is_refused_too() {
    let ws = applied();
    ws.edit(
        CONFIG,
        r#"tables = ["orders", "order_items"]"#,
        r#"tables = ["orders"]"#,
    );
    ws.edit(CONFIG, "order_items = \"order by order_id,id\"\n", "");
    assert_refused(
        &ws,
        &["apply", "--auto-approve"],
        &["task.orders_sync: stops replication of 1 table (order_items)"],
    );
    ws.run_ok(&["apply", "--auto-approve", "-allow-destructive"], 0);
    ws.run_ok(&["plan", "-detailed-exitcode"], 0);
}

#[test]
fn a_full_resync_is_refused_without_the_flag() {
    let ws = replacing();
    assert_refused(
        &ws,
        &["apply", "--auto-approve"],
        &[
            "task.orders_sync: full resync of 2 tables (order_items, orders) (instance_id forces a new task)",
        ],
    );
    let out = ws.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(out.contains("1 added, 0 changed, 1 destroyed"), "{out}");
}

#[test]
fn table_rebuilds_and_in_place_changes_need_no_flag() {
    let ws = applied();
    ws.edit(
        CONFIG,
        r#"orders = "order by id""#,
        r#"orders = "order by customer_id,id""#,
    );
    ws.edit(
        CONFIG,
        "max_sync_commit_rows = 500000",
        "max_sync_commit_rows = 600000",
    );
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("This plan may rebuild 1 table."), "{out}");
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
}

#[test]
fn json_apply_refuses_with_an_error_diagnostic_in_the_stream() {
    let ws = deleting();
    let before = snapshot(&ws);
    let (code, out, err) = ws.run(&["apply", "--json", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let messages: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines only"))
        .collect();
    let refusal = messages
        .iter()
        .find(|m| m["type"] == "diagnostic" && m["@level"] == "error")
        .expect("an error diagnostic");
    assert!(
        refusal["diagnostic"]["detail"]
            .as_str()
            .unwrap()
            .contains("task.catalog_sync: stops replication"),
        "{refusal}"
    );
    assert!(!messages.iter().any(|m| m["type"] == "apply_start"));
    assert!(
        before == snapshot(&ws),
        "the refused apply changed something"
    );
}

#[test]
fn the_prompt_names_the_destructive_changes_and_applies_on_yes() {
    let ws = deleting();
    let before = snapshot(&ws);
    let no = ws
        .cmd(&["apply"])
        .write_stdin("no\n")
        .output()
        .expect("runs");
    let shown = String::from_utf8_lossy(&no.stdout);
    assert_eq!(no.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("These changes stop replication or fully re-sync a task")
            && shown.contains(
                "    task.catalog_sync: stops replication of 2 tables (customers, products)"
            ),
        "{shown}"
    );
    assert!(shown.contains("Apply cancelled."), "{shown}");
    assert_eq!(cloud_tasks(&ws), ["catalog_sync", "orders_sync"]);
    assert_eq!(before.1, snapshot(&ws).1, "the cloud changed");
    let yes = ws
        .cmd(&["apply"])
        .write_stdin("yes\n")
        .output()
        .expect("runs");
    let shown = String::from_utf8_lossy(&yes.stdout);
    assert_eq!(yes.status.code(), Some(0), "{shown}");
    assert!(shown.contains("1 destroyed"), "{shown}");
    assert_eq!(cloud_tasks(&ws), ["orders_sync"]);
}

#[test]
fn policy_allow_applies_destructive_changes_like_any_other() {
    let ws = deleting();
    set_policy(&ws, "allow");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(cloud_tasks(&ws), ["orders_sync"]);
}

#[test]
fn policy_require_flag_written_out_is_the_default() {
    let ws = replacing();
    set_policy(&ws, "require-flag");
    assert_refused(&ws, &["apply", "--auto-approve"], &["task.orders_sync"]);
    ws.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
}

#[test]
fn policy_deny_refuses_even_with_the_flag_and_at_the_prompt() {
    let ws = deleting();
    set_policy(&ws, "deny");
    let err = assert_refused(
        &ws,
        &["apply", "--auto-approve", "--allow-destructive"],
        &["task.catalog_sync"],
    );
    assert!(err.contains("[policy] destructive = \"deny\""), "{err}");
    // No prompt is offered: the answer could not change the outcome.
    let before = snapshot(&ws);
    let run = ws
        .cmd(&["apply"])
        .write_stdin("yes\n")
        .output()
        .expect("runs");
    assert_eq!(run.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&run.stdout).contains("Enter a value"));
    assert!(before == snapshot(&ws), "deny let something through");
    // Changes that are not destructive still apply under deny.
    ws.write(CONFIG, &Workspace::example("quickstart").read(CONFIG));
    ws.edit(
        CONFIG,
        "max_sync_commit_rows = 500000",
        "max_sync_commit_rows = 600000",
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);
}

#[test]
fn a_saved_plan_follows_the_same_rule() {
    let ws = deleting();
    ws.run_ok(&["plan", "-out", "p.plan"], 0);
    assert_refused(&ws, &["apply", "p.plan"], &["task.catalog_sync"]);
    set_policy(&ws, "deny");
    // The policy is part of the configuration: plan again under it.
    ws.run_ok(&["plan", "-out", "p.plan"], 0);
    assert_refused(
        &ws,
        &["apply", "--allow-destructive", "p.plan"],
        &["task.catalog_sync"],
    );
    std::fs::remove_file(ws.path("policy.toml")).unwrap();
    ws.run_ok(&["plan", "-out", "p.plan"], 0);
    ws.run_ok(&["apply", "--allow-destructive", "p.plan"], 0);
    assert_eq!(cloud_tasks(&ws), ["orders_sync"]);
}

#[test]
fn destroy_keeps_its_own_confirmation_whatever_the_policy() {
    let ws = applied();
    set_policy(&ws, "deny");
    let out = ws.run_ok(&["destroy", "--auto-approve"], 0);
    assert!(out.contains("2 destroyed"), "{out}");
    assert!(cloud_tasks(&ws).is_empty());
}

#[test]
fn policy_errors_name_the_place_and_the_allowed_values() {
    let ws = Workspace::example("quickstart");
    ws.write(
        "policy.toml",
        "[policy]\ndestructive = \"sometimes\"\nforce = true\n",
    );
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("invalid destructive \"sometimes\" in [policy]"),
        "{err}"
    );
    assert!(err.contains("policy.toml:2:15"), "{err}");
    assert!(
        err.contains("Allowed values: `require-flag`, `allow`, `deny`"),
        "{err}"
    );
    assert!(err.contains("policy.toml:3:1"), "{err}");
    ws.write("policy.toml", "[policy]\ndestructive = \"allow\"\n");
    ws.write("more.toml", "[policy]\ndestructive = \"deny\"\n");
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("duplicate [policy] table"), "{err}");
}

#[test]
fn the_schema_knows_the_policy() {
    let ws = Workspace::empty();
    let schema: serde_json::Value =
        serde_json::from_str(&ws.run_ok(&["schema"], 0)).expect("schema is JSON");
    let text = schema.to_string();
    assert!(text.contains("\"require-flag\""), "{text}");
    let policy = &schema["properties"]["policy"];
    assert!(!policy.is_null(), "{text}");
}

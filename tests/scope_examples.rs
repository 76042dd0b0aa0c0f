//! Table patterns and instance-level sync through the real binary with the
//! embedded emulator: the sharded example end to end, import round trips,
//! the plan's pattern lines and warnings, the gate over the expanded set,
//! and the loader's rules (`validate`, with file and line).

mod support;

use support::Workspace;

const CONFIG: &str = "htapsync.toml";

#[test]
fn the_sharded_example_shows_its_pattern_applies_and_converges() {
    let ws = Workspace::example("sharded");
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains(
            "task.orders_shards: pattern \"orders_*\" matches 256 tables of shop: \
             orders_000, orders_001, orders_002, orders_003, … orders_255"
        ),
        "{out}"
    );
    assert!(
        out.contains("+ sync_level           = \"instance\""),
        "{out}"
    );
    assert!(
        out.contains("task.orders_shards: table-config-check passed (256 tables"),
        "{out}"
    );
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("Apply complete! Resources: 2 added"), "{out}");
    let state = ws.state();
    assert_eq!(
        state["tasks"]["orders_shards"]["spec"]["table_patterns"],
        true
    );
    assert_eq!(
        state["tasks"]["whole_instance"]["spec"]["sync_level"],
        "instance"
    );
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
}

/// The example without its task blocks: import must write them back.
fn without_tasks(ws: &Workspace) {
    let text = ws.read(CONFIG);
    let head = &text[..text.find("# Every shard").expect("the example's tasks")];
    ws.write(CONFIG, head);
}

#[test]
fn import_generates_patterns_and_instance_level_tasks_that_plan_no_change() {
    let ws = Workspace::example("sharded");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    std::fs::remove_file(ws.path(".htapsync/htapsync.state.json")).unwrap();
    without_tasks(&ws);
    ws.run_ok(
        &["import", "--all", "--generate-config", "imported.toml"],
        0,
    );
    let generated = ws.read("imported.toml");
    assert!(generated.contains("table_patterns = true"), "{generated}");
    assert!(generated.contains("tables = [\"orders_*\"]"), "{generated}");
    assert!(
        generated.contains("\"orders_*\" = \"order by id\""),
        "{generated}"
    );
    assert!(
        generated.contains("sync_level = \"instance\""),
        "{generated}"
    );
    assert!(
        !generated.contains("\"ALL\""),
        "ALL is the default: {generated}"
    );
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");

    // A partial instance scope round-trips too.
    ws.edit(
        "imported.toml",
        "sync_level = \"instance\"\n",
        "sync_level = \"instance\"\ndatabase_scope = \"part\"\nsource_database_name = \"shop,billing\"\n",
    );
    ws.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    std::fs::remove_file(ws.path(".htapsync/htapsync.state.json")).unwrap();
    std::fs::remove_file(ws.path("imported.toml")).unwrap();
    ws.run_ok(&["import", "--all", "--generate-config", "again.toml"], 0);
    let generated = ws.read("again.toml");
    assert!(
        generated.contains("database_scope = \"part\""),
        "{generated}"
    );
    assert!(
        generated.contains("source_database_name = \"shop,billing\""),
        "{generated}"
    );
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn a_pattern_that_matches_nothing_is_a_warning_not_an_error() {
    let ws = Workspace::example("sharded");
    ws.edit(
        CONFIG,
        "tables = [\"orders_*\"]",
        "tables = [\"orders_*\", \"refunds_*\"]",
    );
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains(
            "Warning: task.orders_shards: pattern \"refunds_*\" matches no table of shop today"
        ),
        "{out}"
    );
    assert!(out.contains("table-config-check passed"), "{out}");
}

#[test]
fn the_gate_judges_every_table_a_pattern_matches() {
    let ws = Workspace::example("sharded");
    // One shard lacks the column the pattern's table config sorts by.
    let ddl = ws.read("cloud/ddl/shop.sql").replace(
        "CREATE TABLE orders_007 (id BIGINT NOT NULL, customer_id BIGINT NOT NULL, total DECIMAL(12,2) NOT NULL, placed_at DATETIME NOT NULL,",
        "CREATE TABLE orders_007 (id BIGINT NOT NULL, customer_id BIGINT NOT NULL, total DECIMAL(12,2) NOT NULL,",
    );
    ws.write("cloud/ddl/shop.sql", &ddl);
    ws.edit(
        CONFIG,
        "\"orders_*\" = \"order by id\"",
        "\"orders_*\" = \"order by placed_at\"",
    );
    let (code, out, err) = ws.run(&["plan"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("orders_007"), "{out}");
    assert!(
        !out.contains("orders_008"),
        "only the shard without the column fails: {out}"
    );
}

/// Runs `validate` on the example with `from` replaced by `to`; returns its output.
fn refused(from: &str, to: &str) -> String {
    let ws = Workspace::example("sharded");
    ws.edit(CONFIG, from, to);
    let (code, out, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{out}{err}");
    format!("{out}{err}")
}

#[test]
fn the_loader_refuses_scopes_it_cannot_send() {
    let out = refused("table_patterns = true\n", "");
    assert!(
        out.contains("\"orders_*\" in [task.orders_shards] is a wildcard pattern"),
        "{out}"
    );
    assert!(out.contains("set table_patterns = true"), "{out}");
    assert!(
        out.contains("htapsync.toml:"),
        "names the file and line: {out}"
    );

    let out = refused(
        "table_patterns = true\n",
        "table_patterns = true\ndatabase_scope = \"all\"\n",
    );
    assert!(
        out.contains("`database_scope` needs sync_level = \"instance\""),
        "{out}"
    );

    let out = refused(
        "sync_level = \"instance\"\n",
        "sync_level = \"instance\"\ndatabase_scope = \"part\"\nsource_database_name = \"shop\"\n",
    );
    assert!(out.contains("needs at least two databases"), "{out}");

    let out = refused(
        "sync_level = \"instance\"\n",
        "sync_level = \"instance\"\nsource_database_name = \"shop\"\n",
    );
    assert!(
        out.contains("contradicts the instance-level scope \"all\""),
        "{out}"
    );

    let out = refused(
        "sync_level = \"instance\"\n",
        "sync_level = \"everything\"\n",
    );
    assert!(out.contains("invalid sync_level \"everything\""), "{out}");
}

#[test]
fn the_schema_knows_the_new_keys_per_task_only() {
    let ws = Workspace::example("sharded");
    let out = ws.run_ok(&["schema"], 0);
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    let task = &schema["definitions"]["Task"]["properties"];
    assert_eq!(
        task["sync_level"]["enum"],
        serde_json::json!(["database", "instance"])
    );
    assert_eq!(
        task["database_scope"]["enum"],
        serde_json::json!(["all", "part"])
    );
    assert_eq!(task["table_patterns"]["type"], "boolean");
    let defaults = &schema["definitions"]["Defaults"]["properties"];
    for key in ["sync_level", "database_scope", "table_patterns"] {
        assert!(defaults.get(key).is_none(), "{key} is per task");
    }
}

//! The field registry seen through the binary: every task key it lists is in
//! the schema `htapsync schema` prints, is read by the loader, and is shown by
//! `htapsync plan`.

mod support;

use htapsync::model::fields::{TASK_FIELDS, TaskField};
use htapsync::model::{ReplScope, ReplType, TaskDefaults, TaskSpec};
use serde_json::Value;
use support::Workspace;

/// A task of the quick start's cloud that sets every attribute.
fn full_spec() -> TaskSpec {
    TaskSpec {
        name: "orders_sync".into(),
        cloud_name: Some("orders_cloud".into()),
        provider: Some("main".into()),
        instance_id: "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17".into(),
        source_instance_id: "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07".into(),
        source_node_id: Some("9f8e7d6c5b4a39281706f5e4d3c2b1a0no07".into()),
        sync_level: htapsync::model::SyncLevel::Instance,
        database_scope: Some(ReplScope::All),
        table_patterns: true,
        source_database_name: htapsync::model::ALL_DATABASES.into(),
        target_database_name: "shop_olap".into(),
        repl_type: ReplType::IncludeTables,
        repl_scope: ReplScope::Part,
        tables: vec!["shop.order_item?".into(), "shop.orders".into()],
        db_configs: [("max_sync_commit_rows".to_string(), "600000".to_string())].into(),
        table_configs: [("shop.orders".to_string(), "order by id".to_string())].into(),
        paused: true,
    }
}

/// `key = value` for one registry field of `spec` (a map as an inline
/// table); nothing for a key without a value (TOML has no null).
fn line(field: &TaskField, spec: &TaskSpec) -> String {
    let value = field.value.map_or(Value::from(false), |value| value(spec));
    let value = match value {
        Value::Null => return String::new(),
        Value::Object(map) => {
            // Keys quoted: an instance-level table name (`shop.orders`) is not a bare key.
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {v}", Value::from(k.as_str())))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        other => other.to_string(),
    };
    format!("{} = {value}\n", field.key)
}

#[test]
fn the_schema_lists_every_task_key_and_the_inheritable_ones_in_defaults() {
    let out = Workspace::empty().run_ok(&["schema"], 0);
    let schema: Value = serde_json::from_str(&out).expect("schema is JSON");
    for field in TASK_FIELDS {
        let in_task = &schema["definitions"]["Task"]["properties"][field.key];
        let in_defaults = &schema["definitions"]["Defaults"]["properties"][field.key];
        assert!(!in_task.is_null(), "{} missing from [task.NAME]", field.key);
        assert_eq!(
            !in_defaults.is_null(),
            field.inheritable,
            "{} in [defaults]",
            field.key
        );
    }
}

/// The quick start with its tasks replaced by one that writes every key of
/// `spec`, and a second provider `main` on the same emulated cloud.
fn workspace_with_every_key(spec: &TaskSpec) -> Workspace {
    let ws = Workspace::example("quickstart");
    let config = ws.read("htapsync.toml");
    let head = &config[..config
        .find("[defaults]")
        .expect("quick start has [defaults]")];
    let start = config
        .find("[provider]")
        .expect("quick start has [provider]");
    let end = config.find("[state]").expect("quick start has [state]");
    let main = config[start..end].replace("[provider]", "[provider.main]");
    let task: String = TASK_FIELDS.iter().map(|f| line(f, spec)).collect();
    ws.write(
        "htapsync.toml",
        &format!("{head}{main}[task.orders_sync]\n{task}"),
    );
    ws
}

#[test]
fn a_task_that_writes_every_key_validates_and_plans_every_attribute() {
    let ws = workspace_with_every_key(&full_spec());
    ws.run_ok(&["validate"], 0);
    let (_, plan, _) = ws.run(&["plan", "--no-color"]);
    assert!(plan.contains("task.orders_sync will be created"), "{plan}");
    for field in TASK_FIELDS.iter().filter(|f| f.value.is_some()) {
        assert!(
            plan.contains(&format!(" {} ", field.key)),
            "{} not shown:\n{plan}",
            field.key
        );
    }
}

/// Every attribute survives the way out and back through the emulated
/// cloud: applied, forgotten, imported (with its block, then generating one
/// that writes exactly the keys whose value is not what the task would
/// inherit), the next plan has nothing to do. (Running: a task applied
/// paused sits in stage Wait, which says nothing about its run state. The
/// cloud name is the key: `import task.NAME` looks the task up by its name.)
#[test]
fn every_attribute_import_reads_comes_back_unchanged() {
    let spec = TaskSpec {
        paused: false,
        cloud_name: None,
        ..full_spec()
    };
    let ws = workspace_with_every_key(&spec);
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);
    ws.run_ok(&["import", "task.orders_sync"], 0);
    let plan = ws.run_ok(&["plan", "--no-color"], 0);
    assert!(plan.contains("No changes"), "{plan}");

    let config = ws.read("htapsync.toml");
    let head = &config[..config.find("[task.orders_sync]").unwrap()];
    ws.write("htapsync.toml", head);
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);
    let generated = ws.path("generated.toml");
    let generated = generated.to_str().unwrap();
    ws.run_ok(
        &[
            "import",
            "task.orders_sync",
            "--instance",
            &full_spec().instance_id,
            "--provider",
            "main",
            "--generate-config",
            generated,
        ],
        0,
    );
    let block = ws.read("generated.toml");
    for field in TASK_FIELDS.iter().filter(|f| f.importable) {
        let value = field.value.expect("a spec field")(&spec);
        let written = value != (field.unwritten)(&spec, &TaskDefaults::default());
        let generated = block.lines().any(|l| {
            l.starts_with(&format!("{} =", field.key)) || l.ends_with(&format!(".{}]", field.key))
        });
        assert_eq!(generated, written, "{}:\n{block}", field.key);
    }
    ws.write("htapsync.toml", &format!("{head}{block}"));
    std::fs::remove_file(ws.path("generated.toml")).unwrap();
    let plan = ws.run_ok(&["plan", "--no-color"], 0);
    assert!(plan.contains("No changes"), "{plan}");
}

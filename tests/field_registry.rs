//! The field registry seen through the binary: every task key it lists is in
//! the schema `htapsync schema` prints, is read by the loader, and is shown by
//! `htapsync plan`.

mod common;

use common::Workspace;
use htapsync::model::fields::{TASK_FIELDS, TaskField};
use htapsync::model::{ReplScope, ReplType, TaskSpec};
use serde_json::Value;

/// A task of the quick start's cloud that sets every attribute.
fn full_spec() -> TaskSpec {
    TaskSpec {
        name: "orders_sync".into(),
        instance_id: "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17".into(),
        source_instance_id: "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07".into(),
        source_node_id: Some("5e7a9b1d2f4a6c8e0b2d4f6a8c0e1a3cno07".into()),
        source_database_name: "shop".into(),
        target_database_name: "shop_olap".into(),
        repl_type: ReplType::IncludeTables,
        repl_scope: ReplScope::Part,
        tables: vec!["order_items".into(), "orders".into()],
        db_configs: [("max_sync_commit_rows".to_string(), "600000".to_string())].into(),
        table_configs: [("orders".to_string(), "order by id".to_string())].into(),
        paused: true,
    }
}

/// `key = value` for one registry field of `spec` (a map as an inline table).
fn line(field: &TaskField, spec: &TaskSpec) -> String {
    let value = field.value.map_or(Value::from(false), |value| value(spec));
    let value = match value {
        Value::Object(map) => {
            let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k} = {v}")).collect();
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

#[test]
fn a_task_that_writes_every_key_validates_and_plans_every_attribute() {
    let ws = Workspace::example("quickstart");
    let config = ws.read("htapsync.toml");
    let head = &config[..config
        .find("[defaults]")
        .expect("quick start has [defaults]")];
    let spec = full_spec();
    let task: String = TASK_FIELDS.iter().map(|f| line(f, &spec)).collect();
    ws.write(
        "htapsync.toml",
        &format!("{head}[task.orders_sync]\n{task}"),
    );
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

//! The registry against every place that reads or must agree with it: the
//! loader (keys and inheritance), the JSON Schema, the diff, the plan
//! renderer and docs/configuration.md.

use super::*;
use crate::model::{DesiredTask, Lifecycle};
use crate::plan::{Action, diff};
use crate::state::TaskRecord;
use std::collections::BTreeMap;

/// A task that sets every attribute, with values the loader accepts.
fn full_spec() -> TaskSpec {
    TaskSpec {
        source_node_id: Some("5e7a9b1d2f4a6c8e0b2d4f6a8c0e1a3cno07".into()),
        target_database_name: "shop_olap".into(),
        tables: vec!["order_items".into(), "orders".into()],
        db_configs: [("max_sync_commit_rows".to_string(), "600000".to_string())].into(),
        table_configs: [("orders".to_string(), "order by id".to_string())].into(),
        paused: true,
        table_patterns: true,
        sync_level: crate::model::SyncLevel::Instance,
        database_scope: Some(ReplScope::All),
        source_database_name: crate::model::ALL_DATABASES.into(),
        cloud_name: Some("orders_cloud".into()),
        provider: Some("eu".into()),
        ..TaskSpec::sample("orders_sync")
    }
}

/// `spec` with `key` changed to another valid value. A new field needs a line here.
fn changed(spec: &TaskSpec, key: &str) -> TaskSpec {
    let mut s = spec.clone();
    match key {
        "name" => s.cloud_name = Some("orders_cloud2".into()),
        "provider" => s.provider = Some("apac".into()),
        "instance_id" => s.instance_id = "7e2b1d7f5a2c5f1a0d3b8c4e6f9a2b3cin17".into(),
        "source_instance_id" => {
            s.source_instance_id = "4d6f8a0c2e3a5b7d9f1c3e5a7b9d1f2bin07".into()
        }
        "source_node_id" => s.source_node_id = None,
        "source_database_name" => s.source_database_name = "shop2".into(),
        "target_database_name" => s.target_database_name = "olap2".into(),
        "repl_type" => s.repl_type = ReplType::ExcludeTables,
        "repl_scope" => s.repl_scope = ReplScope::All,
        "tables" => s.tables.push("payments".into()),
        "db_configs" => {
            s.db_configs
                .insert("max_rows_per_chunk".into(), "10".into());
        }
        "table_configs" => {
            s.table_configs
                .insert("order_items".into(), "order by id".into());
        }
        "paused" => s.paused = !s.paused,
        "table_patterns" => s.table_patterns = !s.table_patterns,
        "sync_level" => {
            s.sync_level = crate::model::SyncLevel::Database;
            s.database_scope = None;
            s.source_database_name = "shop".into();
        }
        "database_scope" => {
            s.database_scope = Some(ReplScope::Part);
            s.source_database_name = "shop,billing".into();
        }
        other => panic!("give `changed` a way to change the new field `{other}`"),
    }
    s
}

/// A registry value as a TOML value (JSON's strings, booleans and string
/// arrays are TOML too; a map becomes an inline table).
fn toml_value(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("{{ {} }}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

const PROVIDER: &str = "[provider]\nproject_id = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n\
    endpoint = \"https://gaussdb-mysql.ap-southeast-1.myhuaweicloud.com\"\nregion = \"ap-southeast-1\"\n\
    [provider.eu]\nproject_id = \"1f1e2d3c4b5a69788796a5b4c3d2e1f0\"\nregion = \"cn-north-4\"\n\
    [provider.apac]\nproject_id = \"2f1e2d3c4b5a69788796a5b4c3d2e1f0\"\nregion = \"ap-southeast-1\"\n";

/// Loads `toml` (after the provider) as the only file of a configuration directory.
fn load(toml: &str) -> crate::config::Loaded {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("htapsync.toml"),
        format!("{PROVIDER}{toml}"),
    )
    .unwrap();
    crate::config::load_dir(dir.path()).unwrap_or_else(|e| panic!("{toml}\nis refused: {e:?}"))
}

/// `key = value` lines for the fields `pick` selects, from `spec`.
fn lines(spec: &TaskSpec, pick: impl Fn(&TaskField) -> bool) -> String {
    TASK_FIELDS
        .iter()
        .filter(|f| pick(f))
        .map(|f| {
            let value = f.value.map_or(Value::from(true), |value| value(spec));
            format!("{} = {}\n", f.key, toml_value(&value))
        })
        .collect()
}

#[test]
fn keys_are_unique_and_values_fit_their_shape() {
    let mut seen = std::collections::BTreeSet::new();
    for field in TASK_FIELDS {
        assert!(seen.insert(field.key), "{} listed twice", field.key);
        if let Some(value) = field.value {
            let shown = value(&full_spec());
            let fits = match field.shape {
                Shape::Text => shown.is_string(),
                Shape::Choice(allowed) => shown.as_str().is_some_and(|s| allowed.contains(&s)),
                Shape::Bool => shown.is_boolean(),
                Shape::List => shown.is_array(),
                Shape::Map => shown.is_object(),
            };
            assert!(fits, "{}: {shown} is not a {:?}", field.key, field.shape);
        }
    }
}

#[test]
fn the_loader_reads_every_key_in_a_task() {
    let spec = full_spec();
    let loaded = load(&format!("[task.orders_sync]\n{}", lines(&spec, |_| true)));
    let task = &loaded.desired.tasks["orders_sync"];
    assert_eq!(task.spec, spec);
    assert!(task.lifecycle.prevent_destroy);
}

#[test]
fn the_loader_hands_down_every_inheritable_key_as_the_registry_says() {
    let spec = full_spec();
    let task_own = lines(&spec, |f| !f.inheritable);
    let loaded = load(&format!(
        "[defaults]\n{}\n[task.orders_sync]\n{task_own}",
        lines(&spec, |f| f.inheritable)
    ));
    let task = &loaded.desired.tasks["orders_sync"];
    assert_eq!(task.spec, spec);
    assert!(task.lifecycle.prevent_destroy);
    for field in spec_fields().filter(|f| f.inheritable) {
        let value = field.value.expect("spec field");
        assert_eq!(
            (field.unwritten)(&task.spec, &loaded.defaults),
            value(&task.spec),
            "{}: a task that does not write it inherits [defaults]",
            field.key
        );
    }
}

#[test]
fn defaults_refuse_the_keys_that_are_per_task() {
    for field in TASK_FIELDS.iter().filter(|f| !f.inheritable) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{PROVIDER}[defaults]\n{}",
            lines(&full_spec(), |f| f.key == field.key)
        );
        std::fs::write(dir.path().join("htapsync.toml"), text).unwrap();
        let errors = crate::config::load_dir(dir.path()).expect_err(field.key);
        let said = format!("{errors:?}");
        assert!(
            said.contains("cannot be inherited"),
            "{}: {said}",
            field.key
        );
    }
}

#[test]
fn a_task_that_writes_nothing_optional_ends_with_the_unwritten_values() {
    let spec = full_spec();
    let loaded = load(&format!(
        "[task.orders_sync]\n{}",
        lines(&spec, |f| f.required)
    ));
    let task = &loaded.desired.tasks["orders_sync"];
    for field in spec_fields().filter(|f| !f.required) {
        let value = field.value.expect("spec field");
        let unwritten = (field.unwritten)(&task.spec, &loaded.defaults);
        let loaded_value = value(&task.spec);
        // An optional key without a default (`source_node_id`) stays absent.
        assert_eq!(loaded_value, unwritten, "{}", field.key);
    }
}

fn plan(before: Option<&TaskSpec>, after: Option<&TaskSpec>) -> crate::plan::Plan {
    let desired: BTreeMap<String, DesiredTask> = after
        .map(|s| {
            let task = DesiredTask {
                spec: s.clone(),
                lifecycle: Lifecycle::default(),
            };
            (s.name.clone(), task)
        })
        .into_iter()
        .collect();
    let prior: BTreeMap<String, TaskRecord> = before
        .map(|s| {
            let record = TaskRecord {
                spec: s.clone(),
                prevent_destroy: false,
                updated_at: String::new(),
            };
            (s.name.clone(), record)
        })
        .into_iter()
        .collect();
    diff(&desired, &prior, &[]).unwrap()
}

fn shown(plan: &crate::plan::Plan) -> String {
    crate::render::plan_human(plan, None, &[], &crate::render::Style { color: false })
}

#[test]
fn a_new_task_shows_every_attribute() {
    let text = shown(&plan(None, Some(&full_spec())));
    for field in spec_fields() {
        assert!(
            text.contains(&format!(" {} ", field.key)),
            "{}:\n{text}",
            field.key
        );
    }
}

#[test]
fn a_change_of_each_attribute_is_shown_and_replaces_exactly_when_the_registry_says() {
    let before = full_spec();
    for field in spec_fields() {
        let after = changed(&before, field.key);
        let plan = plan(Some(&before), Some(&after));
        let change = &plan.changes[0];
        let expected = if field.forces_replacement() {
            Action::Replace
        } else {
            Action::Update
        };
        assert_eq!(change.action, expected, "{}", field.key);
        let text = shown(&plan);
        let line = text
            .lines()
            .find(|l| l.contains(&format!(" {} ", field.key)))
            .unwrap_or_else(|| panic!("{} not shown:\n{text}", field.key));
        assert_eq!(
            line.contains("# forces replacement"),
            field.forces_replacement() && field.shape != Shape::Map,
            "{line}"
        );
    }
}

const DOCS: &str = include_str!("../../../docs/configuration.md");

#[test]
fn docs_describe_every_key_and_which_ones_defaults_may_set() {
    let task_table = &DOCS[DOCS.find("## `[task.NAME]`").unwrap()..];
    for field in TASK_FIELDS {
        assert!(
            task_table.contains(&format!("\n| `{}` |", field.key)),
            "docs/configuration.md: no row for `{}` in the [task.NAME] table",
            field.key
        );
    }
    let section = &DOCS[DOCS.find("## `[defaults]`").unwrap()..];
    let listed = &section[..section.find("are per task").unwrap()];
    for field in TASK_FIELDS {
        let named = listed.contains(&format!("`{}`", field.key));
        assert!(
            named,
            "docs/configuration.md [defaults] does not name `{}`",
            field.key
        );
        let before_per_task = listed.find(&format!("`{}`", field.key)).unwrap()
            < listed
                .find("`tables` and `table_configs`")
                .unwrap_or(listed.len());
        assert_eq!(
            before_per_task, field.inheritable,
            "docs/configuration.md [defaults]: `{}` inheritable?",
            field.key
        );
    }
}

#[test]
fn docs_list_how_every_key_is_applied() {
    let docs = DOCS;
    let table = replacement_table();
    assert!(
        docs.contains(&table),
        "docs/configuration.md must contain the table generated from the registry:\n{table}"
    );
}

//! A task spec seen as a flat list of attributes, and the field-level diff of two specs.
//!
//! Maps are flattened per key (`db_configs.max_sync_commit_rows`) so that one
//! changed parameter is one change; `tables` stays one list-valued attribute so
//! that renderers can diff it element by element.

use super::FieldChange;
use crate::model::TaskSpec;
use crate::model::fields::{field, spec_fields};
use serde_json::Value;

/// Every attribute that has a value, as `(path, value)` in display order
/// (the registry's, [`crate::model::fields::TASK_FIELDS`]).
pub fn flatten(spec: &TaskSpec) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for field in spec_fields() {
        let Some(value) = field.value else { continue };
        match value(spec) {
            Value::Null => {}
            Value::Object(map) => out.extend(
                map.into_iter()
                    .map(|(key, v)| (format!("{}.{key}", field.key), v)),
            ),
            value => out.push((field.key.to_string(), value)),
        }
    }
    out
}

/// The top-level attribute a field path belongs to: `db_configs.x` -> `db_configs`.
pub fn attribute_of(path: &str) -> &str {
    path.split_once('.').map_or(path, |(head, _)| head)
}

/// Whether a change of this path replaces the task (the registry says which attributes do).
fn forces_replacement(path: &str) -> bool {
    field(attribute_of(path)).is_some_and(|f| f.forces_replacement())
}

/// Fields that differ between `before` and `after`, in display order.
///
/// A db_config that only one side writes is compared with its documented
/// default on the other side ([`TaskSpec::db_configs_against`]).
pub fn diff_fields(before: &TaskSpec, after: &TaskSpec) -> Vec<FieldChange> {
    let old = flatten(&TaskSpec {
        db_configs: before.db_configs_against(after),
        ..before.clone()
    });
    let new = flatten(&TaskSpec {
        db_configs: after.db_configs_against(before),
        ..after.clone()
    });
    let mut paths: Vec<&String> = old.iter().chain(new.iter()).map(|(p, _)| p).collect();
    paths.sort_by_key(|p| (position(p), p.as_str()));
    paths.dedup();
    let lookup = |list: &[(String, Value)], path: &str| {
        list.iter().find(|(p, _)| p == path).map(|(_, v)| v.clone())
    };
    paths
        .into_iter()
        .filter_map(|path| {
            let (b, a) = (lookup(&old, path), lookup(&new, path));
            (b != a).then(|| FieldChange {
                forces_replacement: forces_replacement(path),
                path: path.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}

/// Every attribute of `spec` as appearing (`created`) or disappearing.
pub fn all_fields(spec: &TaskSpec, created: bool) -> Vec<FieldChange> {
    flatten(spec)
        .into_iter()
        .map(|(path, value)| FieldChange {
            path,
            before: (!created).then(|| value.clone()),
            after: created.then_some(value),
            forces_replacement: false,
        })
        .collect()
}

fn position(path: &str) -> usize {
    let attribute = attribute_of(path);
    spec_fields()
        .position(|f| f.key == attribute)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ReplScope, ReplType};

    fn spec() -> TaskSpec {
        TaskSpec {
            name: "t".into(),
            cloud_name: None,
            provider: None,
            instance_id: "i".into(),
            source_instance_id: "s".into(),
            source_node_id: None,
            sync_level: Default::default(),
            database_scope: None,
            table_patterns: false,
            source_database_name: "db".into(),
            target_database_name: "db".into(),
            repl_type: ReplType::IncludeTables,
            repl_scope: ReplScope::Part,
            tables: vec!["a".into()],
            db_configs: [("x".to_string(), "1".to_string())].into(),
            table_configs: Default::default(),
            paused: false,
        }
    }

    #[test]
    fn maps_diff_per_key_in_display_order() {
        let before = spec();
        let mut after = spec();
        after.paused = true;
        after.db_configs.insert("y".into(), "2".into());
        after.db_configs.insert("x".into(), "3".into());
        after.source_node_id = Some("n".into());
        let paths: Vec<_> = diff_fields(&before, &after)
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(
            paths,
            ["source_node_id", "db_configs.x", "db_configs.y", "paused"]
        );
    }

    #[test]
    fn an_unwritten_db_config_means_its_default() {
        let mut before = spec();
        before
            .db_configs
            .insert("max_sync_commit_rows".into(), "600000".into());
        let after = spec();
        let fields = diff_fields(&before, &after);
        let shown: Vec<_> = fields
            .iter()
            .map(|f| (f.path.as_str(), f.before.clone(), f.after.clone()))
            .collect();
        assert_eq!(
            shown,
            [(
                "db_configs.max_sync_commit_rows",
                Some(Value::from("600000")),
                Some(Value::from("500000"))
            )]
        );
        before
            .db_configs
            .insert("max_sync_commit_rows".into(), "500000".into());
        assert!(diff_fields(&before, &after).is_empty());
        assert!(diff_fields(&after, &before).is_empty());
    }

    #[test]
    fn only_instance_ids_force_replacement() {
        let before = spec();
        let mut after = spec();
        after.instance_id = "j".into();
        after.source_database_name = "other".into();
        let fields = diff_fields(&before, &after);
        let forced: Vec<_> = fields
            .iter()
            .map(|f| (f.path.as_str(), f.forces_replacement))
            .collect();
        assert_eq!(
            forced,
            [("instance_id", true), ("source_database_name", false)]
        );
    }
}

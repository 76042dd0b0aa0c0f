//! Proptest generators of task specs and the desired/prior maps `plan::diff`
//! takes, shared by the property tests.

use super::spec;
use htapsync::model::{DesiredTask, Lifecycle, ReplScope, ReplType, TaskSpec};
use htapsync::state::TaskRecord;
use proptest::prelude::*;
use std::collections::BTreeMap;

pub fn arb_spec(name: String) -> impl Strategy<Value = TaskSpec> {
    (
        prop::sample::select(vec!["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaain17", "bin17"]),
        prop::sample::select(vec!["ccccccccccccccccccccccccccccccccin07", "din07"]),
        prop::option::of("[a-z0-9]{4}no07"),
        prop::sample::select(vec!["shop", "crm"]),
        prop::collection::btree_set("[a-d]{1,2}", 0..4),
        prop::collection::btree_map("[a-z_]{3,8}", "\\PC{0,6}", 0..3),
        prop::collection::btree_map("[a-d]{1,2}", "order by [a-z]{1,3}", 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(instance, source, node, db, tables, db_configs, table_configs, paused, ex)| {
                spec(&name)
                    .instance(instance)
                    .source_instance(source)
                    .source_node(node.as_deref())
                    .source_database(db)
                    .target(&format!("{db}_olap"))
                    .repl_type(if ex {
                        ReplType::ExcludeTables
                    } else {
                        ReplType::IncludeTables
                    })
                    .scope(if tables.is_empty() {
                        ReplScope::All
                    } else {
                        ReplScope::Part
                    })
                    .tables(tables)
                    .db_configs(db_configs)
                    .table_configs(table_configs)
                    .paused(paused)
                    .build()
            },
        )
}

pub fn arb_tasks() -> impl Strategy<Value = BTreeMap<String, TaskSpec>> {
    prop::collection::btree_set("t[a-f]", 0..6).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|n| arb_spec(n.clone()).prop_map(move |s| (n.clone(), s)))
            .collect::<Vec<_>>()
            .prop_map(|pairs| pairs.into_iter().collect())
    })
}

pub fn desired(specs: &BTreeMap<String, TaskSpec>) -> BTreeMap<String, DesiredTask> {
    specs
        .iter()
        .map(|(n, s)| {
            let task = DesiredTask {
                spec: s.clone(),
                lifecycle: Lifecycle::default(),
            };
            (n.clone(), task)
        })
        .collect()
}

pub fn record(spec: &TaskSpec) -> TaskRecord {
    TaskRecord {
        spec: spec.clone(),
        prevent_destroy: false,
        updated_at: "2026-01-01T00:00:00+00:00".into(),
    }
}

pub fn prior(specs: &BTreeMap<String, TaskSpec>) -> BTreeMap<String, TaskRecord> {
    specs.iter().map(|(n, s)| (n.clone(), record(s))).collect()
}

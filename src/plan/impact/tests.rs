//! Unit tests of the impact classes: one per way a change can cost replication.

use super::*;
use crate::model::{DesiredTask, Lifecycle};
use crate::state::TaskRecord;
use std::collections::BTreeMap;

fn spec(tables: &[&str]) -> TaskSpec {
    let mut spec = TaskSpec::sample("t");
    spec.tables = tables.iter().map(|t| t.to_string()).collect();
    spec
}

/// The plan from `before` (in state) to `after` (configured); `None`: absent.
fn plan(before: Option<TaskSpec>, after: Option<TaskSpec>) -> Plan {
    let desired: BTreeMap<String, DesiredTask> = after
        .into_iter()
        .map(|spec| {
            let task = DesiredTask {
                spec,
                lifecycle: Lifecycle::default(),
            };
            ("t".to_string(), task)
        })
        .collect();
    let prior: BTreeMap<String, TaskRecord> = before
        .into_iter()
        .map(|spec| {
            let record = TaskRecord {
                spec,
                prevent_destroy: false,
                updated_at: String::new(),
            };
            ("t".to_string(), record)
        })
        .collect();
    super::super::diff(&desired, &prior, &[]).expect("plan")
}

fn impact(before: Option<TaskSpec>, after: Option<TaskSpec>) -> Impact {
    let plan = plan(before, after);
    let (_, impact) = plan.impacts().next().expect("one change");
    impact
}

fn set(tables: &[&str]) -> BTreeSet<String> {
    tables.iter().map(|t| t.to_string()).collect()
}

#[test]
fn a_delete_stops_replication_of_every_table_of_the_task() {
    let impact = impact(Some(spec(&["orders", "items"])), None);
    assert_eq!(impact.class, ImpactClass::StopsReplication);
    assert_eq!(
        impact.describe(),
        "stops replication of 2 tables (items, orders)"
    );
}

#[test]
fn a_table_removed_from_an_include_list_stops_replication() {
    let impact = impact(Some(spec(&["orders", "items"])), Some(spec(&["orders"])));
    assert_eq!(impact.class, ImpactClass::StopsReplication);
    assert_eq!(
        impact.stops_replication,
        Some(Tables::Listed {
            tables: set(&["items"])
        })
    );
}

#[test]
fn a_table_added_to_an_exclusion_list_stops_replication() {
    let mut before = spec(&["audit"]);
    before.repl_type = ReplType::ExcludeTables;
    let mut after = spec(&["audit", "orders"]);
    after.repl_type = ReplType::ExcludeTables;
    let added = impact(Some(before.clone()), Some(after));
    assert_eq!(added.class, ImpactClass::StopsReplication);
    assert_eq!(added.describe(), "stops replication of 1 table (orders)");
    // Taking a table off the exclusion list only starts replicating it.
    let mut fewer = spec(&[]);
    fewer.repl_type = ReplType::ExcludeTables;
    fewer.repl_scope = ReplScope::All;
    assert_eq!(
        impact(Some(before), Some(fewer)).class,
        ImpactClass::InPlace
    );
}

#[test]
fn narrowing_all_tables_to_a_list_stops_every_other_table_of_the_database() {
    let mut before = spec(&[]);
    before.repl_scope = ReplScope::All;
    let impact = impact(Some(before), Some(spec(&["orders"])));
    assert_eq!(impact.class, ImpactClass::StopsReplication);
    assert_eq!(
        impact.describe(),
        "stops replication of every table of shop except orders"
    );
}

#[test]
fn switching_an_include_list_to_an_exclusion_list_stops_the_listed_tables() {
    let mut after = spec(&["orders"]);
    after.repl_type = ReplType::ExcludeTables;
    let impact = impact(Some(spec(&["orders", "items"])), Some(after));
    assert_eq!(
        impact.stops_replication,
        Some(Tables::Listed {
            tables: set(&["orders"])
        })
    );
}

#[test]
fn another_source_database_stops_every_table_replicated_before() {
    let mut after = spec(&["orders"]);
    after.source_database_name = "shop2".into();
    let impact = impact(Some(spec(&["orders"])), Some(after));
    assert_eq!(impact.describe(), "stops replication of 1 table (orders)");
}

#[test]
fn a_replace_fully_resyncs_and_names_the_attributes_that_force_it() {
    let mut after = spec(&["orders", "items"]);
    after.instance_id = "7e2b1d7f5a2c4f1a0d3b8c4e6f9a2b3cin17".into();
    after.source_instance_id = "ffffffffffffffffffffffffffffffffin07".into();
    after
        .db_configs
        .insert("max_sync_commit_rows".into(), "600000".into());
    let impact = impact(Some(spec(&["orders", "items"])), Some(after));
    assert_eq!(impact.class, ImpactClass::FullResync);
    let resync = impact.full_resync.as_ref().expect("resync");
    assert_eq!(resync.attributes, ["instance_id", "source_instance_id"]);
    assert_eq!(
        impact.describe(),
        "full resync of 2 tables (items, orders) (instance_id, source_instance_id force a new task)"
    );
}

#[test]
fn a_replace_that_also_drops_a_table_stops_its_replication() {
    let mut after = spec(&["orders"]);
    after.instance_id = "7e2b1d7f5a2c4f1a0d3b8c4e6f9a2b3cin17".into();
    let impact = impact(Some(spec(&["orders", "items"])), Some(after));
    assert_eq!(impact.class, ImpactClass::StopsReplication);
    assert!(impact.full_resync.is_some());
}

#[test]
fn a_new_table_config_on_a_replicated_table_may_rebuild_it() {
    let mut before = spec(&["orders", "items"]);
    before
        .table_configs
        .insert("orders".into(), "order by id".into());
    let mut after = before.clone();
    after
        .table_configs
        .insert("orders".into(), "order by id,customer_id".into());
    after
        .table_configs
        .insert("items".into(), "order by id".into());
    let impact = impact(Some(before), Some(after));
    assert_eq!(impact.class, ImpactClass::TableRebuild);
    assert_eq!(impact.table_rebuild, set(&["items", "orders"]));
    let text = impact.describe();
    assert!(
        text.starts_with(
            "may rebuild 2 tables (items, orders) (table config changed; the API does not say"
        ),
        "{text}"
    );
}

#[test]
fn a_table_config_of_a_table_that_starts_replicating_is_in_place() {
    let mut after = spec(&["orders", "items"]);
    after
        .table_configs
        .insert("items".into(), "order by id".into());
    let impact = impact(Some(spec(&["orders"])), Some(after));
    assert_eq!(impact.class, ImpactClass::InPlace);
    assert_eq!(impact.describe(), "in place");
}

#[test]
fn creates_and_other_updates_are_in_place() {
    assert_eq!(
        impact(None, Some(spec(&["orders"]))).class,
        ImpactClass::InPlace
    );
    let mut after = spec(&["orders"]);
    after.paused = true;
    after
        .db_configs
        .insert("max_sync_commit_rows".into(), "600000".into());
    after.target_database_name = "other".into();
    assert_eq!(
        impact(Some(spec(&["orders"])), Some(after)).class,
        ImpactClass::InPlace
    );
}

#[test]
fn only_stopping_and_resyncing_are_destructive() {
    let destructive: Vec<ImpactClass> = ImpactClass::ALL
        .into_iter()
        .filter(|c| c.is_destructive())
        .collect();
    assert_eq!(
        destructive,
        [ImpactClass::FullResync, ImpactClass::StopsReplication]
    );
}

#[test]
fn the_banner_sums_tables_and_tasks() {
    let mut replaced = spec(&["a", "b", "c"]);
    replaced.name = "r".into();
    let mut moved = replaced.clone();
    moved.instance_id = "7e2b1d7f5a2c4f1a0d3b8c4e6f9a2b3cin17".into();
    let mut shrunk = spec(&["a", "b", "c"]);
    shrunk.name = "s".into();
    let mut kept = shrunk.clone();
    kept.tables = vec!["a".into()];
    let mut deleted = spec(&["x"]);
    deleted.name = "d".into();
    let record = |spec: &TaskSpec| TaskRecord {
        spec: spec.clone(),
        prevent_destroy: false,
        updated_at: String::new(),
    };
    let task = |spec: &TaskSpec| DesiredTask {
        spec: spec.clone(),
        lifecycle: Lifecycle::default(),
    };
    let prior: BTreeMap<String, TaskRecord> = [&replaced, &shrunk, &deleted]
        .into_iter()
        .map(|s| (s.name.clone(), record(s)))
        .collect();
    let desired: BTreeMap<String, DesiredTask> = [&moved, &kept]
        .into_iter()
        .map(|s| (s.name.clone(), task(s)))
        .collect();
    let plan = super::super::diff(&desired, &prior, &[]).expect("plan");
    let impact = plan.impact();
    assert_eq!(impact.class, Some(ImpactClass::StopsReplication));
    assert_eq!(
        impact.banner().as_deref(),
        Some("This plan stops replication of 3 tables and fully re-syncs 1 task (3 tables).")
    );
    assert_eq!(impact.by_class[&ImpactClass::StopsReplication], 2);
    assert_eq!(impact.by_class[&ImpactClass::FullResync], 1);
    let named: Vec<String> = plan
        .destructive()
        .iter()
        .map(|d| d.address.to_string())
        .collect();
    assert_eq!(named, ["task.d", "task.r", "task.s"]);
}

#[test]
fn a_plan_in_place_has_no_banner() {
    let plan = plan(None, Some(spec(&["orders"])));
    assert_eq!(plan.impact().banner(), None);
    assert!(plan.destructive().is_empty());
    assert_eq!(Plan::default().impact().class, None);
}

//! Property tests of the plan diff: determinism, idempotence, counts, scope.

use htapsync::model::{DesiredTask, Lifecycle, ReplScope, ReplType, TaskSpec};
use htapsync::plan::{Action, Counts, diff};
use htapsync::state::TaskRecord;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn arb_spec(name: String) -> impl Strategy<Value = TaskSpec> {
    (
        prop::sample::select(vec![
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaain17",
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbin17",
        ]),
        prop::sample::select(vec![
            "ccccccccccccccccccccccccccccccccin07",
            "ddddddddddddddddddddddddddddddddin07",
        ]),
        prop::option::of(Just("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeno07".to_string())),
        prop::sample::select(vec!["shop", "crm"]),
        prop::collection::btree_set("[a-d]{1,2}", 0..4),
        prop::collection::btree_map(
            prop::sample::select(vec!["max_sync_commit_rows", "snapshot_with_lock"]),
            "[0-9]{1,2}",
            0..3,
        ),
        prop::collection::btree_map(
            "[a-d]{1,2}",
            prop::sample::select(vec!["order by id", "order by x"]),
            0..3,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(
                instance,
                source,
                node,
                db,
                tables,
                db_configs,
                table_configs,
                paused,
                exclude,
            )| TaskSpec {
                name: name.clone(),
                instance_id: instance.to_string(),
                source_instance_id: source.to_string(),
                source_node_id: node,
                source_database_name: db.to_string(),
                target_database_name: db.to_string(),
                repl_type: if exclude {
                    ReplType::ExcludeTables
                } else {
                    ReplType::IncludeTables
                },
                repl_scope: if tables.is_empty() {
                    ReplScope::All
                } else {
                    ReplScope::Part
                },
                tables: tables.into_iter().collect(),
                db_configs: db_configs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                table_configs: table_configs
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect(),
                paused,
            },
        )
}

fn arb_tasks() -> impl Strategy<Value = BTreeMap<String, TaskSpec>> {
    prop::collection::btree_set("t[a-e]", 0..5).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|n| arb_spec(n.clone()).prop_map(move |s| (n.clone(), s)))
            .collect::<Vec<_>>()
            .prop_map(|pairs| pairs.into_iter().collect())
    })
}

fn as_desired(specs: &BTreeMap<String, TaskSpec>) -> BTreeMap<String, DesiredTask> {
    specs
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                DesiredTask {
                    spec: s.clone(),
                    lifecycle: Lifecycle::default(),
                },
            )
        })
        .collect()
}

fn as_prior(specs: &BTreeMap<String, TaskSpec>) -> BTreeMap<String, TaskRecord> {
    specs
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                TaskRecord {
                    spec: s.clone(),
                    prevent_destroy: false,
                    updated_at: String::new(),
                },
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn diff_is_deterministic(want in arb_tasks(), have in arb_tasks()) {
        let first = diff(&as_desired(&want), &as_prior(&have), &[]).unwrap();
        let second = diff(&as_desired(&want), &as_prior(&have), &[]).unwrap();
        prop_assert_eq!(
            serde_json::to_string(&first).unwrap(),
            serde_json::to_string(&second).unwrap()
        );
    }

    #[test]
    fn desired_against_itself_has_no_changes(tasks in arb_tasks()) {
        let plan = diff(&as_desired(&tasks), &as_prior(&tasks), &[]).unwrap();
        prop_assert!(!plan.has_changes());
        prop_assert_eq!(plan.counts(), Counts::default());
        prop_assert_eq!(plan.changes.len(), tasks.len());
    }

    #[test]
    fn counts_match_actions_and_every_address_appears_once_sorted(want in arb_tasks(), have in arb_tasks()) {
        let plan = diff(&as_desired(&want), &as_prior(&have), &[]).unwrap();
        let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
        let counts = plan.counts();
        prop_assert_eq!(counts.add, count(Action::Create) + count(Action::Replace));
        prop_assert_eq!(counts.change, count(Action::Update));
        prop_assert_eq!(counts.destroy, count(Action::Delete) + count(Action::Replace));
        let addresses: Vec<_> = plan.changes.iter().map(|c| c.address.to_string()).collect();
        let mut expected: Vec<_> = want.keys().chain(have.keys()).map(|n| format!("task.{n}")).collect();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(addresses, expected);
    }

    #[test]
    fn replace_exactly_when_an_instance_id_changes(want in arb_tasks(), have in arb_tasks()) {
        let plan = diff(&as_desired(&want), &as_prior(&have), &[]).unwrap();
        for change in &plan.changes {
            if let (Some(b), Some(a)) = (&change.before, &change.after) {
                let moved = b.instance_id != a.instance_id || b.source_instance_id != a.source_instance_id;
                prop_assert_eq!(change.action == Action::Replace, moved);
                prop_assert_eq!(change.action == Action::NoOp, a == b);
            }
        }
    }
}

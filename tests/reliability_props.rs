//! Properties behind "nothing lost": the plan is a pure function of its
//! inputs; applying a plan leaves nothing to plan; a state written and read
//! back is equal; the diff from A to B is the inverse of the diff from B to A.
//! Apply is modelled at the library level as "prior := desired for every
//! actionable change", which is what the recorder writes after each operation.

use htapsync::model::{Address, DesiredTask, Lifecycle, ReplScope, ReplType, TaskSpec};
use htapsync::plan::{Action, Plan, diff};
use htapsync::state::{Intent, IntentOp, State, TaskRecord, decode, encode};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

fn arb_spec(name: String) -> impl Strategy<Value = TaskSpec> {
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
                TaskSpec {
                    name: name.clone(),
                    instance_id: instance.to_string(),
                    source_instance_id: source.to_string(),
                    source_node_id: node,
                    source_database_name: db.to_string(),
                    target_database_name: format!("{db}_olap"),
                    repl_type: if ex {
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
                    db_configs,
                    table_configs,
                    paused,
                }
            },
        )
}

fn arb_tasks() -> impl Strategy<Value = BTreeMap<String, TaskSpec>> {
    prop::collection::btree_set("t[a-f]", 0..6).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|n| arb_spec(n.clone()).prop_map(move |s| (n.clone(), s)))
            .collect::<Vec<_>>()
            .prop_map(|pairs| pairs.into_iter().collect())
    })
}

fn desired(specs: &BTreeMap<String, TaskSpec>) -> BTreeMap<String, DesiredTask> {
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

fn record(spec: &TaskSpec) -> TaskRecord {
    TaskRecord {
        spec: spec.clone(),
        prevent_destroy: false,
        updated_at: "2026-01-01T00:00:00+00:00".into(),
    }
}

fn prior(specs: &BTreeMap<String, TaskSpec>) -> BTreeMap<String, TaskRecord> {
    specs.iter().map(|(n, s)| (n.clone(), record(s))).collect()
}

/// What the recorder leaves in state once every change of `plan` succeeded.
fn apply(plan: &Plan, mut state: BTreeMap<String, TaskRecord>) -> BTreeMap<String, TaskRecord> {
    for change in plan.actionable() {
        let name = change.address.name().to_string();
        match (&change.action, &change.after) {
            (Action::Delete, _) => {
                state.remove(&name);
            }
            (_, Some(after)) => {
                state.insert(name, record(after));
            }
            (action, None) => panic!("{action:?} of {name} has no after"),
        }
    }
    state
}

fn arb_state() -> impl Strategy<Value = State> {
    (
        arb_tasks(),
        arb_tasks(),
        any::<u64>(),
        "[a-f0-9-]{0,36}",
        any::<bool>(),
    )
        .prop_map(|(tasks, pending, serial, lineage, create)| State {
            serial,
            lineage,
            tasks: prior(&tasks),
            intents: pending
                .values()
                .map(|spec| Intent {
                    id: format!("id-{}", spec.name),
                    address: Address::task(&spec.name),
                    operation: if create {
                        IntentOp::Create
                    } else {
                        IntentOp::Delete
                    },
                    spec: spec.clone(),
                    started_at: "2026-01-01T00:00:00Z".into(),
                })
                .collect(),
            ..State::new()
        })
}

fn inverse(action: Action) -> Action {
    match action {
        Action::Create => Action::Delete,
        Action::Delete => Action::Create,
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plan_is_deterministic(want in arb_tasks(), have in arb_tasks()) {
        let a = diff(&desired(&want), &prior(&have), &[]).unwrap();
        let b = diff(&desired(&want), &prior(&have), &[]).unwrap();
        prop_assert_eq!(serde_json::to_vec(&a).unwrap(), serde_json::to_vec(&b).unwrap());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn applying_a_plan_then_planning_again_changes_nothing(want in arb_tasks(), have in arb_tasks()) {
        let plan = diff(&desired(&want), &prior(&have), &[]).unwrap();
        let after = apply(&plan, prior(&have));
        let again = diff(&desired(&want), &after, &[]).unwrap();
        prop_assert!(!again.has_changes(), "left over: {:?}", again.actionable().collect::<Vec<_>>());
        prop_assert_eq!(after.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    }

    #[test]
    fn state_written_then_read_is_equal(state in arb_state()) {
        let bytes = encode(&state);
        let back = decode(&bytes, Path::new("prop.json")).unwrap();
        prop_assert_eq!(&back, &state);
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn diff_a_to_b_is_the_inverse_of_b_to_a(a in arb_tasks(), b in arb_tasks()) {
        let forward = diff(&desired(&b), &prior(&a), &[]).unwrap();
        let backward = diff(&desired(&a), &prior(&b), &[]).unwrap();
        prop_assert_eq!(forward.changes.len(), backward.changes.len());
        for (f, r) in forward.changes.iter().zip(&backward.changes) {
            prop_assert_eq!(&f.address, &r.address);
            prop_assert_eq!(inverse(f.action), r.action);
            prop_assert_eq!(&f.before, &r.after);
            prop_assert_eq!(&f.after, &r.before);
            if matches!(f.action, Action::Update | Action::Replace) {
                let swapped: Vec<_> = r
                    .fields
                    .iter()
                    .map(|c| (c.path.clone(), c.after.clone(), c.before.clone(), c.forces_replacement))
                    .collect();
                let fields: Vec<_> = f
                    .fields
                    .iter()
                    .map(|c| (c.path.clone(), c.before.clone(), c.after.clone(), c.forces_replacement))
                    .collect();
                prop_assert_eq!(fields, swapped);
            }
        }
    }
}

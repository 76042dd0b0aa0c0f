//! Properties behind "nothing lost" (that the plan is a pure function of its
//! inputs is tests/plan_props.rs): applying a plan leaves nothing to plan; a state written and read
//! back is equal; the diff from A to B is the inverse of the diff from B to A.
//! Apply is modelled at the library level as "prior := desired for every
//! actionable change", which is what the recorder writes after each operation.

use htapsync::model::Address;
use htapsync::plan::{Action, Plan, diff};
use htapsync::state::{Intent, IntentOp, State, TaskRecord, decode, encode};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

mod support;
use support::arb::{arb_tasks, desired, prior, record};

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

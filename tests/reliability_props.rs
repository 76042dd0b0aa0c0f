//! Properties behind "nothing lost": a state written and read back is equal,
//! and the diff from A to B is the inverse of the diff from B to A. (That
//! applying a plan leaves nothing to plan is tested through the real binary
//! against the emulator: `plan --detailed-exitcode` after every apply in
//! tests/reliability_crash.rs and tests/e2e_process.rs.)

use htapsync::model::Address;
use htapsync::plan::{Action, diff};
use htapsync::state::{Intent, IntentOp, State, decode, encode};
use proptest::prelude::*;
use std::path::Path;

mod support;
use support::arb::{arb_tasks, desired, prior};

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

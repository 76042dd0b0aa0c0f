//! Property tests of the plan diff: a configuration against its own state
//! has no changes, counts and addresses match the changes, and a replacement
//! happens exactly when an instance moves.

use htapsync::plan::{Action, Counts, diff};
use proptest::prelude::*;

mod support;
use support::arb::{arb_tasks, desired as as_desired, prior as as_prior};

proptest! {
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

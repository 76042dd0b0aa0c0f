//! Unit tests of `diff`: one per rule of the brief.

use super::*;
use crate::model::Lifecycle;

fn spec(name: &str) -> TaskSpec {
    TaskSpec::sample(name)
}

fn desired(specs: &[TaskSpec], protect: bool) -> BTreeMap<String, DesiredTask> {
    specs
        .iter()
        .map(|s| {
            let lifecycle = Lifecycle {
                prevent_destroy: protect,
            };
            (
                s.name.clone(),
                DesiredTask {
                    spec: s.clone(),
                    lifecycle,
                },
            )
        })
        .collect()
}

fn prior(specs: &[TaskSpec], protect: bool) -> BTreeMap<String, TaskRecord> {
    specs
        .iter()
        .map(|s| {
            let record = TaskRecord {
                spec: s.clone(),
                prevent_destroy: protect,
                updated_at: String::new(),
            };
            (s.name.clone(), record)
        })
        .collect()
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

#[test]
fn classifies_create_update_replace_delete_and_noop() {
    let mut updated = spec("b_update");
    updated.tables.push("order_items".into());
    let mut replaced = spec("c_replace");
    replaced.source_instance_id = "ffffffffffffffffffffffffffffffffin07".into();
    replaced.paused = true;
    let want = desired(
        &[spec("a_create"), updated, replaced, spec("e_same")],
        false,
    );
    let have = prior(
        &[
            spec("b_update"),
            spec("c_replace"),
            spec("d_delete"),
            spec("e_same"),
        ],
        false,
    );
    let plan = diff(&want, &have, &[]).unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("task.a_create".into(), Action::Create),
            ("task.b_update".into(), Action::Update),
            ("task.c_replace".into(), Action::Replace),
            ("task.d_delete".into(), Action::Delete),
            ("task.e_same".into(), Action::NoOp),
        ]
    );
    assert_eq!(
        plan.counts(),
        Counts {
            add: 2,
            change: 1,
            destroy: 2
        }
    );
    assert_eq!(plan.actionable().count(), 4);
    let replace = &plan.changes[2];
    let forced: Vec<_> = replace
        .fields
        .iter()
        .map(|f| (f.path.as_str(), f.forces_replacement))
        .collect();
    assert_eq!(forced, [("source_instance_id", true), ("paused", false)]);
    let update = &plan.changes[1];
    assert_eq!(
        update.fields[0].after,
        Some(serde_json::json!(["orders", "order_items"]))
    );
    assert!(
        plan.changes[0]
            .fields
            .iter()
            .all(|f| f.before.is_none() && f.after.is_some())
    );
    assert!(
        plan.changes[3]
            .fields
            .iter()
            .all(|f| f.before.is_some() && f.after.is_none())
    );
}

#[test]
fn no_changes_when_desired_matches_state() {
    let plan = diff(
        &desired(&[spec("a")], false),
        &prior(&[spec("a")], false),
        &[],
    )
    .unwrap();
    assert!(!plan.has_changes());
    assert_eq!(plan.changes.len(), 1);
}

#[test]
fn prevent_destroy_from_config_blocks_replace_and_from_state_blocks_delete() {
    let mut moved = spec("a");
    moved.instance_id = "00000000000000000000000000000000in17".into();
    let want = desired(&[moved], true);
    let have = prior(&[spec("a"), spec("b")], false);
    let mut protected_have = have.clone();
    protected_have.get_mut("b").unwrap().prevent_destroy = true;
    let errors = diff(&want, &protected_have, &[]).unwrap_err();
    assert_eq!(
        errors.0,
        [
            PlanError::PreventDestroy {
                address: Address::task("a"),
                action: Action::Replace
            },
            PlanError::PreventDestroy {
                address: Address::task("b"),
                action: Action::Delete
            },
        ]
    );
    let text = errors.to_string();
    assert!(
        text.starts_with("task.a cannot be destroyed: it has prevent_destroy set ("),
        "{text}"
    );
    assert!(text.contains("\ntask.b cannot be destroyed"), "{text}");
    // Unprotected, the same diff is fine; protected updates are fine too.
    assert!(diff(&desired(&[spec("a")], true), &have, &[]).is_ok_and(|p| p.counts().destroy == 1));
}

#[test]
fn targets_limit_the_plan_and_unknown_targets_are_errors() {
    let want = desired(&[spec("a"), spec("b")], false);
    let have = prior(&[spec("c")], false);
    let plan = diff(&want, &have, &[Address::task("b"), Address::task("c")]).unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("task.b".into(), Action::Create),
            ("task.c".into(), Action::Delete)
        ]
    );
    let errors = diff(&want, &have, &[Address::task("zz"), Address::task("a")]).unwrap_err();
    assert_eq!(errors.0, [PlanError::UnknownTarget(Address::task("zz"))]);
    assert!(errors.to_string().starts_with("task.zz: no such task"));
}

#[test]
fn plan_round_trips_through_json() {
    let plan = diff(&desired(&[spec("a")], false), &BTreeMap::new(), &[]).unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}

#[test]
fn exclusion_leaves_tasks_out_and_an_unknown_exclusion_is_an_error() {
    let want = desired(&[spec("a"), spec("b"), spec("c")], false);
    let selection = Selection {
        targets: Vec::new(),
        excludes: vec![Address::task("b")],
    };
    let plan = diff_selected(&want, &BTreeMap::new(), &selection).unwrap();
    let addresses: Vec<&str> = plan.changes.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(addresses, ["task.a", "task.c"]);
    let selection = Selection {
        targets: vec![Address::task("a"), Address::task("b")],
        excludes: vec![Address::task("b"), Address::task("zz")],
    };
    let errors = diff_selected(&want, &BTreeMap::new(), &selection).unwrap_err();
    assert_eq!(errors.0, [PlanError::UnknownExclude(Address::task("zz"))]);
}

#[test]
fn replace_forces_a_replacement_of_a_configured_and_recorded_task_only() {
    let mut updated = spec("b_update");
    updated.tables.push("order_items".into());
    let want = desired(&[spec("a_same"), updated, spec("c_new")], false);
    let have = prior(&[spec("a_same"), spec("b_update")], false);
    let scope = Scope {
        replace: vec![Address::task("a_same"), Address::task("b_update")],
        ..Scope::default()
    };
    let plan = diff_scoped(&want, &have, &scope).unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("task.a_same".to_string(), Action::Replace),
            ("task.b_update".to_string(), Action::Replace),
            ("task.c_new".to_string(), Action::Create),
        ]
    );
    assert!(plan.changes[0].replace_requested && plan.changes[0].fields.is_empty());
    for missing in ["c_new", "nowhere"] {
        let scope = Scope {
            replace: vec![Address::task(missing)],
            ..Scope::default()
        };
        let err = diff_scoped(&want, &have, &scope).unwrap_err();
        assert_eq!(err.0, [PlanError::CannotReplace(Address::task(missing))]);
    }
}

#[test]
fn moves_and_imports_are_changes_that_touch_only_the_state() {
    let want = desired(&[spec("b_moved"), spec("c_imported")], false);
    let have = prior(&[spec("b_moved"), spec("c_imported")], false);
    let scope = Scope {
        moved: vec![moved::Moved {
            from: Address::task("a_old"),
            to: Address::task("b_moved"),
        }],
        imported: vec![Address::task("c_imported")],
        ..Scope::default()
    };
    let plan = diff_scoped(&want, &have, &scope).unwrap();
    assert!(plan.has_changes() && plan.actionable().next().is_none());
    assert_eq!(plan.counts(), Counts::default());
    let remarks: Vec<String> = plan.changes.iter().flat_map(Change::remarks).collect();
    assert_eq!(
        remarks,
        [
            "task.a_old has moved to task.b_moved",
            "task.c_imported will be imported"
        ]
    );
}

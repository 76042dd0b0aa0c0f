//! The plan: a pure, deterministic diff of the desired tasks against the
//! recorded (optionally refreshed) ones. No I/O happens here.

pub mod fields;
pub mod impact;
pub mod moved;

use crate::model::{Address, DesiredTask, TaskSpec};
use crate::state::TaskRecord;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What will happen to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    /// Changed in place (E8 modify, E9/E10 pause/resume).
    Update,
    /// Deleted then created again, because a field the cloud cannot modify changed.
    Replace,
    Delete,
}

impl Action {
    /// Whether the task is destroyed (alone or before its replacement is created).
    pub fn destroys(self) -> bool {
        matches!(self, Action::Replace | Action::Delete)
    }
}

/// One changed field of a task. Values are JSON so lists and maps diff uniformly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path: `tables`, `db_configs.max_sync_commit_rows`, …
    pub path: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The cloud cannot change this field in place.
    pub forces_replacement: bool,
}

/// The planned change of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub before: Option<TaskSpec>,
    pub after: Option<TaskSpec>,
    /// Changed fields for an update or replace; every attribute for a create or delete.
    pub fields: Vec<FieldChange>,
    /// `-replace` asked for this replacement (no field may force it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace_requested: bool,
    /// The task was recorded at this address before a `[[moved]]` block re-addressed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Address>,
    /// An `[[import]]` block adopts the task: it is recorded, never written to the cloud.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

impl Change {
    /// Whether applying it changes the cloud (moves and imports change only the state).
    pub fn is_remote(&self) -> bool {
        self.action != Action::NoOp
    }

    /// What happens besides the action, as plans say it: "task.a has moved
    /// to task.b", "task.x will be imported", "task.x will be replaced, as requested".
    pub fn remarks(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(from) = &self.moved_from {
            out.push(format!("{from} has moved to {}", self.address));
        }
        if self.imported {
            out.push(format!("{} will be imported", self.address));
        }
        if self.replace_requested {
            out.push(format!("{} will be replaced, as requested", self.address));
        }
        out
    }
}

/// How many tasks a plan moves and imports (state only, no remote call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub moved: usize,
    pub imported: usize,
}

/// How many tasks each kind of change touches, counted as Terraform does
/// (a replace counts once in `add` and once in `destroy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// Every task of the (targeted) configuration and state, with what will happen to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Sorted by address; no-ops included so that `show` can list everything.
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for change in &self.changes {
            match change.action {
                Action::NoOp => {}
                Action::Create => counts.add += 1,
                Action::Update => counts.change += 1,
                Action::Replace => {
                    counts.add += 1;
                    counts.destroy += 1;
                }
                Action::Delete => counts.destroy += 1,
            }
        }
        counts
    }

    /// Whether applying it changes anything: the cloud, or only the state
    /// (a move or an import).
    pub fn has_changes(&self) -> bool {
        self.actionable().next().is_some() || self.state_only().next().is_some()
    }

    /// The changes that do something to the cloud.
    pub fn actionable(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_remote())
    }

    /// How many tasks move and are imported.
    pub fn state_counts(&self) -> StateCounts {
        StateCounts {
            moved: self
                .changes
                .iter()
                .filter(|c| c.moved_from.is_some())
                .count(),
            imported: self.changes.iter().filter(|c| c.imported).count(),
        }
    }

    /// Moves and imports: the state records them, the cloud is not asked.
    pub fn state_only(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.moved_from.is_some() || c.imported)
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The plan would delete or replace a task protected by `prevent_destroy`.
    #[error("{}", prevent_destroy_message(address, *action))]
    PreventDestroy { address: Address, action: Action },
    /// `-target` named a task that is neither configured nor in the state.
    #[error("{0}: no such task in the configuration or the state; check the -target address")]
    UnknownTarget(Address),
    /// `-replace` named a task that is not both configured and recorded.
    #[error(
        "-replace {0}: only a task that is both in the configuration and in the state can be \
         replaced; check the address (`htapsync state list` shows the recorded ones)"
    )]
    CannotReplace(Address),
    /// `-exclude` named a task that is neither configured nor in the state:
    /// a typo there would let the task it meant change.
    #[error("{0}: no such task in the configuration or the state; check the -exclude address")]
    UnknownExclude(Address),
}

/// Which tasks a run looks at: `-target` (empty: every task) minus `-exclude`,
/// as OpenTofu's targeting and exclusion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub targets: Vec<Address>,
    pub excludes: Vec<Address>,
}

impl Selection {
    /// Every task.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Whether the task `name` is selected.
    pub fn includes(&self, name: &str) -> bool {
        (self.targets.is_empty() || self.targets.iter().any(|t| t.name() == name))
            && !self.excludes.iter().any(|e| e.name() == name)
    }

    /// Whether targeting or exclusion limits the run.
    pub fn is_limited(&self) -> bool {
        !self.targets.is_empty() || !self.excludes.is_empty()
    }

    /// Every address that names no task `known` knows.
    pub fn unknown(&self, known: impl Fn(&str) -> bool) -> Vec<PlanError> {
        let targets = self.targets.iter().filter(|a| !known(a.name()));
        let excludes = self.excludes.iter().filter(|a| !known(a.name()));
        targets
            .map(|a| PlanError::UnknownTarget(a.clone()))
            .chain(excludes.map(|a| PlanError::UnknownExclude(a.clone())))
            .collect()
    }
}

fn prevent_destroy_message(address: &Address, action: Action) -> String {
    let why = if action == Action::Replace {
        "the plan must replace it because a field that cannot change in place changed; \
         set lifecycle prevent_destroy = false to allow this, or revert that field"
    } else {
        "its configuration was removed, but the protection recorded in the state still applies; \
         restore the task with prevent_destroy = false and apply, or run `htapsync state rm` to stop managing it"
    };
    format!("{address} cannot be destroyed: it has prevent_destroy set ({why})")
}

/// Every reason a plan failed; all offenders are reported at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct PlanErrors(pub Vec<PlanError>);

/// What a plan takes into account besides the configuration and the state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `-target` and `-exclude`.
    pub selection: Selection,
    /// `-replace`: planned as replacements even though no field forces one.
    pub replace: Vec<Address>,
    /// Moves already made in `prior` ([`moved::apply_moves`]), shown on their targets.
    pub moved: Vec<moved::Moved>,
    /// Addresses that `[[import]]` blocks recorded in `prior` for this plan.
    pub imported: Vec<Address>,
}

/// Diffs `desired` against `prior` (both keyed by task name). Non-empty
/// `targets` limit the plan to those addresses.
pub fn diff(
    desired: &BTreeMap<String, DesiredTask>,
    prior: &BTreeMap<String, TaskRecord>,
    targets: &[Address],
) -> Result<Plan, PlanErrors> {
    let scope = Scope {
        selection: Selection {
            targets: targets.to_vec(),
            excludes: Vec::new(),
        },
        ..Scope::default()
    };
    diff_scoped(desired, prior, &scope)
}

/// [`diff`] of the tasks `selection` includes.
pub fn diff_selected(
    desired: &BTreeMap<String, DesiredTask>,
    prior: &BTreeMap<String, TaskRecord>,
    selection: &Selection,
) -> Result<Plan, PlanErrors> {
    let scope = Scope {
        selection: selection.clone(),
        ..Scope::default()
    };
    diff_scoped(desired, prior, &scope)
}

/// [`diff`] with everything a [`Scope`] says.
pub fn diff_scoped(
    desired: &BTreeMap<String, DesiredTask>,
    prior: &BTreeMap<String, TaskRecord>,
    scope: &Scope,
) -> Result<Plan, PlanErrors> {
    let selection = &scope.selection;
    let mut errors =
        selection.unknown(|name| desired.contains_key(name) || prior.contains_key(name));
    let names: BTreeSet<&String> = desired.keys().chain(prior.keys()).collect();
    for address in &scope.replace {
        let name = address.name();
        if !(desired.contains_key(name) && prior.contains_key(name)) {
            errors.push(PlanError::CannotReplace(address.clone()));
        }
    }
    let changes: Vec<Change> = names
        .into_iter()
        .filter(|name| selection.includes(name))
        .map(|name| {
            let mut change = plan_task(name, desired.get(name), prior.get(name));
            let address = &change.address;
            if scope.replace.contains(address) && change.before.is_some() && change.after.is_some()
            {
                change.action = Action::Replace;
                change.replace_requested = true;
            }
            change.moved_from = scope
                .moved
                .iter()
                .find(|m| &m.to == address)
                .map(|m| m.from.clone());
            change.imported = scope.imported.contains(address);
            change
        })
        .collect();
    for change in &changes {
        let name = change.address.name();
        let protected = desired
            .get(name)
            .is_some_and(|d| d.lifecycle.prevent_destroy)
            || prior.get(name).is_some_and(|r| r.prevent_destroy);
        if protected && change.action.destroys() {
            errors.push(PlanError::PreventDestroy {
                address: change.address.clone(),
                action: change.action,
            });
        }
    }
    if errors.is_empty() {
        Ok(Plan { changes })
    } else {
        Err(PlanErrors(errors))
    }
}

fn plan_task(name: &str, desired: Option<&DesiredTask>, prior: Option<&TaskRecord>) -> Change {
    let after = desired.map(|d| d.spec.clone());
    let before = prior.map(|r| r.spec.clone());
    let (action, fields) = match (&before, &after) {
        (None, Some(a)) => (Action::Create, fields::all_fields(a, true)),
        (Some(b), None) => (Action::Delete, fields::all_fields(b, false)),
        (Some(b), Some(a)) => {
            let changed = fields::diff_fields(b, a);
            let action = if changed.iter().any(|f| f.forces_replacement) {
                Action::Replace
            } else if changed.is_empty() {
                Action::NoOp
            } else {
                Action::Update
            };
            (action, changed)
        }
        (None, None) => (Action::NoOp, Vec::new()),
    };
    Change {
        address: Address::task(name),
        action,
        before,
        after,
        fields,
        replace_requested: false,
        moved_from: None,
        imported: false,
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        })
    }
}

#[cfg(test)]
mod tests;

//! `plan`: resolve interrupted intents, refresh, diff, run the gate; and the
//! pieces `apply` and `destroy` share with it.

use super::Note;
use super::select::SelectOptions;
use super::{Error, Phase, Progress, Result, Workspace};
use crate::api::Clients;
use crate::apply;
use crate::check::{self, GateReport};
use crate::model::{Address, DesiredTask, TaskSpec};
use crate::plan::{self, Plan, Scope, Selection};
use crate::planfile::{PLAN_FORMAT_VERSION, PlannedProvider, SavedPlan};
use crate::refresh::{self, Problem, TaskStatus};
use crate::state::{State, TaskRecord};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How a plan is made; a saved plan records them so that apply can make it again.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Read the cloud before diffing.
    pub refresh: bool,
    /// `-target`, `-exclude` and their files: the tasks planned (and refreshed).
    pub select: SelectOptions,
    /// Only read the cloud and show what changed outside htapsync, planning
    /// no change (Terraform's `-refresh-only`).
    pub refresh_only: bool,
    /// `-replace` addresses as typed: replaced although no field forces it.
    pub replace: Vec<String>,
    /// Plan the deletion of every task in state.
    pub destroy: bool,
    /// Remote calls in flight at once.
    pub parallelism: usize,
    /// How long to wait for the state lock.
    pub lock_timeout: Duration,
}

/// What a plan run produced.
#[derive(Debug)]
pub struct Planned {
    /// The state with interrupted intents resolved and, with refresh, live attributes.
    pub state: State,
    pub plan: Plan,
    pub gate: GateReport,
    /// What the run learned besides the plan (resolved intents, drift, warnings).
    pub notes: Vec<Note>,
    /// Identity of the state planned against (`None`, 0 when there was none).
    pub lineage: Option<String>,
    pub serial: u64,
    /// The tasks planned: `-target` minus `-exclude`.
    pub selection: Selection,
    /// What the cloud says of each selected recorded task, when it was read
    /// (refresh, or a plan that changes recorded tasks).
    pub health: Vec<TaskStatus>,
    /// The parsed `-replace` addresses.
    pub replace: Vec<Address>,
    pub refreshed: bool,
    pub destroy: bool,
}

/// `plan`: diffs the configuration against the (refreshed) state under the
/// state lock and runs the table-config-check gate. Changes nothing.
pub async fn plan(
    ws: &Workspace,
    opts: &PlanOptions,
    progress: Arc<dyn Progress>,
) -> Result<Planned> {
    let backend = ws.backend()?;
    let _lock = backend.lock("plan", opts.lock_timeout)?;
    let prior = backend.read()?;
    let (clients, _emulators) = ws.connect().await?;
    make_plan(ws, &clients, prior, opts, &progress).await
}

impl Planned {
    /// Writes the plan to `path` (0600) for `apply PATH`, with what apply
    /// needs to refuse it once the world moved on.
    pub fn save(&self, ws: &Workspace, path: &Path) -> Result<()> {
        let mut saved = SavedPlan {
            format_version: PLAN_FORMAT_VERSION,
            htapsync_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: chrono::Utc::now().to_rfc3339(),
            config_digest: ws.loaded.digest.clone(),
            state_lineage: self.lineage.clone(),
            state_serial: self.serial,
            workspace: ws.workspace.clone(),
            providers: PlannedProvider::of(&ws.loaded.desired.providers),
            refreshed: self.refreshed,
            targets: self.selection.targets.clone(),
            excludes: self.selection.excludes.clone(),
            replace: self.replace.clone(),
            destroy: self.destroy,
            plan: self.plan.clone(),
            gate: self.gate.clone(),
            desired: specs(&ws.loaded.desired.tasks),
            prior: self.state.tasks.clone(),
            digest: String::new(),
        };
        Ok(saved.write(path)?)
    }
}

/// Every task recorded, or left in an intent, names a provider the
/// configuration defines: refreshing or deleting it needs its endpoint and
/// project, as Terraform needs the provider of a resource it destroys.
fn check_providers(ws: &Workspace, state: &State) -> Result<()> {
    let providers = &ws.loaded.desired.providers;
    let recorded = state.tasks.values().map(|r| &r.spec);
    let pending = state.intents.iter().map(|i| &i.spec);
    let missing = recorded
        .chain(pending)
        .find(|spec| providers.get(spec.provider.as_deref()).is_none());
    match missing {
        None => Ok(()),
        Some(spec) => {
            let label = crate::model::provider_label(spec.provider.as_deref());
            Err(Error::Refused(format!(
                "{} is recorded through {label}, which the configuration does not define: \
                 define {label} again until the task is deleted, or forget the task with \
                 `htapsync state rm {}`",
                spec.address(),
                spec.address()
            )))
        }
    }
}

/// Resolves intents, refreshes, diffs and runs the gate on `prior`.
pub(super) async fn make_plan(
    ws: &Workspace,
    clients: &Clients,
    prior: Option<State>,
    opts: &PlanOptions,
    progress: &Arc<dyn Progress>,
) -> Result<Planned> {
    let (lineage, serial) = prior
        .as_ref()
        .map_or((None, 0), |s| (Some(s.lineage.clone()), s.serial));
    let selection = opts.select.resolve()?;
    let replace = parse_addresses("-replace", &opts.replace)?;
    let mut state = prior.unwrap_or_default();
    super::refresh::check_known(ws, &state, &selection)?;
    check_providers(ws, &state)?;
    let mut notes = resolve_intents(clients, &mut state).await?;
    notes.extend(super::select::warning(&selection));
    let mut health = Vec::new();
    // Imports first: a moved block whose target an import block adopts is done.
    let imported = if opts.destroy {
        Vec::new()
    } else {
        import_blocks(ws, clients, &mut state).await?
    };
    let moved = plan::moved::apply_moves(&mut state.tasks, &ws.loaded.desired.moved)?;
    if opts.refresh && !state.tasks.is_empty() {
        progress.start(Phase::Refreshing, None);
        let selected = selected(&state.tasks, &selection);
        let refreshed = refresh::refresh_all(clients, &selected, opts.parallelism).await;
        progress.finish();
        let refreshed = refreshed?;
        refreshed.all_read().map_err(|unread| {
            super::refresh::unknown_tasks(unread, "nothing was planned or changed")
        })?;
        notes.extend(refreshed.drift.iter().map(|d| Note::Drift(d.describe())));
        state.tasks.retain(|name, _| !selected.contains_key(name));
        state.tasks.extend(refreshed.records);
        health = refreshed.health;
    }
    if opts.refresh_only {
        notes.push(Note::Log(
            "This is a refresh-only plan: htapsync will not undo what changed outside it; \
             `htapsync refresh` (or `apply -refresh-only`) records the cloud's values in state."
                .into(),
        ));
    }
    // Protection follows the configuration while the task is in it, and is
    // remembered in state once its block is removed.
    for (name, record) in state.tasks.iter_mut() {
        if let Some(task) = ws.loaded.desired.tasks.get(name) {
            record.prevent_destroy = task.lifecycle.prevent_destroy;
        }
    }
    let scope = Scope {
        selection,
        replace,
        moved,
        imported,
    };
    let plan = if opts.refresh_only {
        Plan::default()
    } else {
        diff(ws, &state.tasks, opts.destroy, &scope)?
    };
    if !opts.refresh_only && !opts.destroy {
        notes.extend(pattern_notes(ws, clients, &scope.selection).await);
    }
    if health.is_empty() {
        // Without refresh, the task lists alone say which changing task needs repair.
        let changing = plan
            .actionable()
            .filter_map(|c| state.tasks.get(c.address.name()))
            .map(|r| &r.spec);
        let changing: Vec<&TaskSpec> = changing.collect();
        if !changing.is_empty() {
            health = refresh::listed_health(clients, changing).await?;
        }
    }
    notes.extend(health_notes(&health));
    let gate = run_gate(clients, &plan, opts.parallelism, progress).await;
    Ok(Planned {
        state,
        plan,
        gate,
        notes,
        lineage,
        serial,
        selection: scope.selection,
        health,
        replace: scope.replace,
        refreshed: opts.refresh,
        destroy: opts.destroy,
    })
}

/// What each table pattern of the selected configured tasks matches among
/// the source tables today, a line per pattern; a pattern that matches
/// nothing, or a listing the cloud refused, is a warning (the gate still
/// checks what the cloud makes of the patterns).
async fn pattern_notes(ws: &Workspace, clients: &Clients, selection: &Selection) -> Vec<Note> {
    let specs: Vec<&TaskSpec> = ws
        .loaded
        .desired
        .tasks
        .iter()
        .filter(|(name, task)| selection.includes(name) && task.spec.table_patterns)
        .map(|(_, task)| &task.spec)
        .collect();
    if specs.is_empty() {
        return Vec::new();
    }
    match check::expand::expand(clients, &specs).await {
        Ok(expansions) => expansions
            .iter()
            .map(|e| match e.nothing_matched() {
                Some(warning) => Note::Warning(warning),
                None => Note::Log(e.describe()),
            })
            .collect(),
        Err(e) => vec![Note::Warning(format!(
            "the source tables could not be listed to show what the table patterns match: {e}"
        ))],
    }
}

/// The records `selection` includes.
pub(super) fn selected(
    records: &BTreeMap<String, TaskRecord>,
    selection: &Selection,
) -> BTreeMap<String, TaskRecord> {
    records
        .iter()
        .filter(|(name, _)| selection.includes(name))
        .map(|(name, record)| (name.clone(), record.clone()))
        .collect()
}

/// A warning per task the cloud reports unhealthy: needing repair (which
/// apply refuses to change), abnormal, or with a failed table change.
pub(super) fn health_notes(health: &[TaskStatus]) -> Vec<Note> {
    let mut notes = Vec::new();
    for task in health {
        let Some(progress) = task.progress() else {
            continue;
        };
        for problem in task.problems() {
            let text = match problem {
                Problem::NeedsRepair => format!(
                    "{} needs repair ({progress}): apply refuses to change it without --allow-unhealthy, \
                     because changing a broken task compounds the damage; repair it in the console first",
                    task.address
                ),
                Problem::Abnormal => format!(
                    "{} is reported abnormal by the cloud ({progress})",
                    task.address
                ),
                Problem::AlterFailed => format!(
                    "{}: the cloud's last table change failed: {}",
                    task.address, task.alter_error
                ),
                Problem::Missing => continue,
            };
            notes.push(Note::Warning(text));
        }
    }
    notes
}

/// Looks up the tasks whose operation an earlier run left unfinished.
pub(super) async fn resolve_intents(clients: &Clients, state: &mut State) -> Result<Vec<Note>> {
    Ok(apply::resolve_intents(clients, state)
        .await?
        .into_iter()
        .map(Note::Log)
        .collect())
}

/// The addresses given to `flag` (`-target`, `-replace`).
fn parse_addresses(flag: &str, typed: &[String]) -> Result<Vec<Address>> {
    typed
        .iter()
        .map(|t| {
            Address::parse(t).ok_or_else(|| {
                Error::Refused(format!(
                    "invalid {flag} {t:?}: expected an address like task.NAME"
                ))
            })
        })
        .collect()
}

/// Records the cloud task of every `[[import]]` block whose target is not
/// recorded yet, as read from the cloud (no remote write); returns their
/// addresses. A block whose target is recorded is done and does nothing.
pub(super) async fn import_blocks(
    ws: &Workspace,
    clients: &Clients,
    state: &mut State,
) -> Result<Vec<Address>> {
    let mut imported = Vec::new();
    for block in &ws.loaded.desired.imports {
        let key = block.to.name();
        if state.tasks.contains_key(key) {
            continue;
        }
        if let Some(other) = state
            .tasks
            .values()
            .find(|r| r.spec.task_name() == block.id && r.spec.instance_id == block.instance_id)
        {
            return Err(Error::Refused(format!(
                "import block to {}: the cloud task {} is already managed as {}; remove the block, \
                 or move that address with a [[moved]] block instead",
                block.to,
                block.id,
                other.spec.address()
            )));
        }
        let configured = ws.loaded.desired.tasks.get(key).map(|t| &t.spec);
        let spec =
            super::import::read_task(ws, clients, None, &block.instance_id, &block.id, configured)
                .await?
                .with_cloud_name(block.id.clone());
        state.tasks.insert(
            key.to_string(),
            TaskRecord {
                spec,
                prevent_destroy: false,
                updated_at: chrono::Utc::now().to_rfc3339(),
            },
        );
        imported.push(block.to.clone());
    }
    Ok(imported)
}

/// The changes from `prior` to the configuration (to nothing, for destroy).
pub(super) fn diff(
    ws: &Workspace,
    prior: &BTreeMap<String, TaskRecord>,
    destroy: bool,
    scope: &Scope,
) -> Result<Plan> {
    let empty = BTreeMap::new();
    let desired: &BTreeMap<String, DesiredTask> = if destroy {
        &empty
    } else {
        &ws.loaded.desired.tasks
    };
    Ok(plan::diff_scoped(desired, prior, scope)?)
}

/// The table-config-check gate on `plan`, one progress step per checked task.
pub(super) async fn run_gate(
    clients: &Clients,
    plan: &Plan,
    parallelism: usize,
    progress: &Arc<dyn Progress>,
) -> GateReport {
    let len = check::addresses_to_check(plan).len();
    progress.start(Phase::Checking, Some(len));
    let tick = progress.clone();
    let gate = check::run_gate(clients, plan, parallelism, move |_| tick.step()).await;
    progress.finish();
    gate
}

fn specs(tasks: &BTreeMap<String, DesiredTask>) -> BTreeMap<String, TaskSpec> {
    tasks
        .iter()
        .map(|(k, t)| (k.clone(), t.spec.clone()))
        .collect()
}

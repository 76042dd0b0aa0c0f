//! `apply`, `destroy` and `apply PLANFILE`: a [`Pending`] change is prepared
//! under the state lock (planned, or a saved plan checked against the present),
//! shown and approved by the front end, then executed.

use super::plan::{PlanOptions, diff, make_plan, resolve_intents, run_gate};
use super::{Error, Note, Operation, Phase, Progress, Result, Workspace};
use crate::api::{
    CLOUD_POLL_INTERVAL, Clients, DEFAULT_WAIT_TIMEOUT, EMULATOR_POLL_INTERVAL, PollSettings,
};
use crate::apply::{self, ApplyOptions, ApplyOutcome, Event, Recorder};
use crate::check::GateReport;
use crate::emulator::Running;
use crate::model::{Address, DestructivePolicy, Lifecycle, TaskSpec, provider_label};
use crate::plan::impact::Destructive;
use crate::plan::{Plan, Scope, Selection};
use crate::planfile::{PlannedProvider, SavedPlan};
use crate::refresh::{TaskStatus, listed_health};
use crate::state::{Backend, LockGuard, State};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How a saved plan is applied.
#[derive(Debug, Clone)]
pub struct SavedApplyOptions {
    /// Remote calls in flight at once.
    pub parallelism: usize,
    /// How long to wait for the state lock.
    pub lock_timeout: Duration,
    /// `--allow-destructive` (a saved plan is applied without a prompt).
    pub allow_destructive: bool,
    /// `--allow-unhealthy`: change tasks the cloud says need repair.
    pub allow_unhealthy: bool,
}

/// What the person running `apply` said about destructive changes (those
/// that stop replication or fully re-sync a task, [`Destructive`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consent {
    /// `--allow-destructive` was given.
    pub allow_destructive: bool,
    /// A confirmation prompt follows, which can name the destructive changes.
    pub prompt: bool,
    /// `--allow-unhealthy` was given: tasks that need repair may be changed.
    pub allow_unhealthy: bool,
}

/// `apply` refuses to change tasks the cloud says need repair: changing a
/// broken task compounds the damage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to apply: {} need{} repair according to the cloud (is_need_repair), and the plan changes {}: {}\n\
     Nothing was changed; repair {} first, or apply again with --allow-unhealthy.",
    plural(.tasks.len()), if .tasks.len() == 1 { "s" } else { "" },
    if .tasks.len() == 1 { "it" } else { "them" },
    .tasks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    if .tasks.len() == 1 { "it" } else { "them" }
)]
pub struct UnhealthyRefused {
    pub tasks: Vec<Address>,
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 task".to_string()
    } else {
        format!("{n} tasks")
    }
}

/// The refusal, unless `allowed`, of the changes `plan` makes to tasks that
/// need repair according to `health`.
pub fn check_health(plan: &Plan, health: &[TaskStatus], allowed: bool) -> Option<UnhealthyRefused> {
    let broken = |address: &Address| {
        health
            .iter()
            .any(|h| &h.address == address && h.needs_repair())
    };
    let tasks: Vec<Address> = plan
        .actionable()
        .map(|c| &c.address)
        .filter(|a| broken(a))
        .cloned()
        .collect();
    (!allowed && !tasks.is_empty()).then_some(UnhealthyRefused { tasks })
}

/// Whether the destructive changes of a pending apply may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// There are none, or the policy or `--allow-destructive` allows them.
    Granted,
    /// The prompt must name them, and the front end calls
    /// [`Pending::confirm_destructive`] once the user typed `yes`.
    NameAtPrompt(Vec<Destructive>),
    /// Refused: nothing was changed (the state is not even rewritten).
    Refused(DestructiveRefused),
}

/// `apply` refuses destructive changes: which, and what would allow them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", refusal_message(.policy, .changes))]
pub struct DestructiveRefused {
    pub policy: DestructivePolicy,
    pub changes: Vec<Destructive>,
}

fn refusal_message(policy: &DestructivePolicy, changes: &[Destructive]) -> String {
    let n = changes.len();
    let what = if n == 1 {
        "1 change stops replication or fully re-syncs a task".to_string()
    } else {
        format!("{n} changes stop replication or fully re-sync a task")
    };
    let list: String = changes.iter().map(|c| format!("\n  {c}")).collect();
    let remedy = match policy {
        DestructivePolicy::Deny => {
            "[policy] destructive = \"deny\" refuses them, even with --allow-destructive; \
             change the configuration so that the plan has none, or the policy"
        }
        _ => "review them and apply again with --allow-destructive",
    };
    format!("refusing to apply: {what}:{list}\nNothing was changed; {remedy}.")
}

/// The approval the destructive changes of `plan` get under `policy`.
pub fn approve(plan: &Plan, policy: DestructivePolicy, consent: Consent) -> Approval {
    let changes = plan.destructive();
    if changes.is_empty() || policy == DestructivePolicy::Allow {
        return Approval::Granted;
    }
    match policy {
        DestructivePolicy::Deny => Approval::Refused(DestructiveRefused { policy, changes }),
        _ if consent.allow_destructive => Approval::Granted,
        _ if consent.prompt => Approval::NameAtPrompt(changes),
        _ => Approval::Refused(DestructiveRefused { policy, changes }),
    }
}

/// Where an apply reports each event as it happens (from concurrent tasks).
pub trait Reporter: Send + Sync {
    /// Shows `event`; an error means nobody sees the run any more.
    fn event(&self, event: &Event) -> std::io::Result<()>;
    /// Called once, after the first failed [`Reporter::event`]: the run
    /// then finishes what is in flight and starts nothing new.
    fn output_lost(&self, error: &std::io::Error);
}

/// A change ready to execute, holding the state lock until it is executed
/// or dropped.
pub struct Pending {
    /// What will be done, as shown to the user.
    pub plan: Plan,
    /// The table-config-check verdicts, asked of the cloud in this run.
    pub gate: GateReport,
    pub notes: Vec<Note>,
    /// What the cloud said of the tasks it was asked about.
    pub health: Vec<TaskStatus>,
    pub operation: Operation,
    /// Whether the destructive changes may run; [`Pending::execute`] checks it.
    pub approval: Approval,
    /// The plan changes tasks that need repair, without `--allow-unhealthy`:
    /// [`Pending::execute`] refuses.
    pub unhealthy: Option<UnhealthyRefused>,
    /// How waits poll, per provider: its `poll_interval` and `wait_timeout`;
    /// the front end may override the intervals (`--poll-interval`).
    pub poll: BTreeMap<Option<String>, PollSettings>,
    backend: Arc<dyn Backend>,
    recorder: Arc<Recorder>,
    clients: Clients,
    lifecycles: BTreeMap<String, Lifecycle>,
    parallelism: usize,
    _lock: LockGuard,
    _emulators: Vec<Running>,
}

/// `apply` (or, with `opts.destroy`, `destroy`): plans under the lock and
/// persists resolved intents and refreshed attributes even when nothing
/// changes, unless `[policy] destructive` and `consent` refuse the plan or
/// it moves or imports tasks (then they are persisted once it is approved).
/// `destroy` has its own confirmation and is not subject to the policy.
pub async fn prepare(
    ws: &Workspace,
    opts: &PlanOptions,
    consent: Consent,
    progress: Arc<dyn Progress>,
) -> Result<Pending> {
    let operation = if opts.destroy {
        Operation::Destroy
    } else {
        Operation::Apply
    };
    let backend = ws.backend()?;
    let lock = backend.lock(operation.as_str(), opts.lock_timeout)?;
    let prior = backend.read()?;
    // Checked before any remote call, and again before the first change.
    backend.check_writable()?;
    let (clients, emulators) = ws.connect().await?;
    let planned = make_plan(ws, &clients, prior, opts, &progress).await?;
    let approval = if opts.destroy {
        Approval::Granted
    } else {
        approve(&planned.plan, ws.loaded.desired.policy.destructive, consent)
    };
    // `destroy` is how a broken task is removed: only apply is held back.
    let unhealthy = if opts.destroy {
        None
    } else {
        check_health(&planned.plan, &planned.health, consent.allow_unhealthy)
    };
    let recorder = Arc::new(Recorder::new(backend.clone(), planned.state));
    // Moves and imports are changes: recorded only once approved ([`Pending::execute`]).
    if !matches!(approval, Approval::Refused(_))
        && unhealthy.is_none()
        && planned.plan.state_only().next().is_none()
    {
        recorder.update(|_| {})?;
    }
    Ok(Pending {
        plan: planned.plan,
        gate: planned.gate,
        notes: planned.notes,
        health: planned.health,
        operation,
        approval,
        unhealthy,
        poll: poll_settings(ws),
        backend,
        recorder,
        clients,
        lifecycles: lifecycles(ws),
        parallelism: opts.parallelism,
        _lock: lock,
        _emulators: emulators,
    })
}

/// `apply PLANFILE`: the saved plan, refused unless it is fresh, made for
/// this endpoint, passed its gate, and is exactly what the configuration and
/// the state give now; the gate is asked again. There is no prompt, so its
/// destructive changes need `--allow-destructive` (or `[policy]` allow).
pub async fn prepare_saved(
    ws: &Workspace,
    file: &Path,
    opts: &SavedApplyOptions,
    progress: Arc<dyn Progress>,
) -> Result<Pending> {
    let saved = SavedPlan::read(file)?;
    if saved.workspace != ws.workspace {
        return Err(Error::Refused(format!(
            "the saved plan was made in workspace {:?}, not {:?}; select it with --workspace {} or plan again",
            saved.workspace, ws.workspace, saved.workspace
        )));
    }
    let backend = ws.backend()?;
    let lock = backend.lock("apply", opts.lock_timeout)?;
    let current = backend.read()?;
    backend.check_writable()?;
    let (lineage, serial) = current
        .as_ref()
        .map_or((None, 0), |s| (Some(s.lineage.as_str()), s.serial));
    saved.check_fresh(lineage, serial, &ws.loaded.digest)?;
    check_usable(ws, &saved)?;
    let (clients, emulators) = ws.connect().await?;
    // Apply exactly what was shown: the plan's prior tasks must be the ones
    // in state, and diffing the configuration against them must give the
    // saved changes. The cloud may have moved since; apply converges it to
    // what was reviewed, as Terraform does.
    let mut state = current.unwrap_or_else(State::new);
    let notes = resolve_intents(&clients, &mut state).await?;
    // The moves and imports of the configuration, as the plan made them:
    // moves again (they need no remote call), imports as the plan read them.
    let mut imported = Vec::new();
    for block in &ws.loaded.desired.imports {
        let key = block.to.name();
        if let (false, Some(record)) = (state.tasks.contains_key(key), saved.prior.get(key)) {
            state.tasks.insert(key.to_string(), record.clone());
            imported.push(block.to.clone());
        }
    }
    let moved = crate::plan::moved::apply_moves(&mut state.tasks, &ws.loaded.desired.moved)?;
    saved.check_prior(&state.tasks)?;
    state.tasks = saved.prior.clone();
    let scope = Scope {
        selection: Selection {
            targets: saved.targets.clone(),
            excludes: saved.excludes.clone(),
        },
        replace: saved.replace.clone(),
        moved,
        imported,
    };
    let derived = diff(ws, &state.tasks, saved.destroy, &scope)?;
    saved.check_matches(&derived)?;
    // Health is asked of the cloud now (the task lists), as the gate is.
    let changing: Vec<&TaskSpec> = derived
        .actionable()
        .filter_map(|c| state.tasks.get(c.address.name()))
        .map(|r| &r.spec)
        .collect();
    let health = if changing.is_empty() {
        Vec::new()
    } else {
        listed_health(&clients, changing).await?
    };
    let unhealthy = if saved.destroy {
        None
    } else {
        check_health(&derived, &health, opts.allow_unhealthy)
    };
    // The stored verdicts are what was shown, not proof: ask the cloud again.
    let gate = run_gate(&clients, &derived, opts.parallelism, &progress).await;
    let consent = Consent {
        allow_destructive: opts.allow_destructive,
        prompt: false,
        allow_unhealthy: opts.allow_unhealthy,
    };
    let approval = approve(&saved.plan, ws.loaded.desired.policy.destructive, consent);
    Ok(Pending {
        plan: saved.plan,
        gate,
        notes,
        health,
        operation: Operation::Apply,
        approval,
        unhealthy,
        poll: poll_settings(ws),
        recorder: Arc::new(Recorder::new(backend.clone(), state)),
        backend,
        clients,
        lifecycles: lifecycles(ws),
        parallelism: opts.parallelism,
        _lock: lock,
        _emulators: emulators,
    })
}

/// A saved plan made for another endpoint, or whose gate did not pass, is refused.
fn check_usable(ws: &Workspace, saved: &SavedPlan) -> Result<()> {
    let configured = PlannedProvider::of(&ws.loaded.desired.providers);
    if saved.providers != configured {
        let show = |providers: &[PlannedProvider]| {
            let each = providers.iter().map(|p| {
                let endpoint = crate::api::trust::redact_userinfo(&p.endpoint);
                format!(
                    "{} {endpoint} / project {}",
                    provider_label(p.name.as_deref()),
                    p.project_id
                )
            });
            each.collect::<Vec<_>>().join(", ")
        };
        return Err(Error::Refused(format!(
            "the saved plan was made for {}, not the configured {}",
            show(&saved.providers),
            show(&configured)
        )));
    }
    if let Some(unavailable) = &saved.gate.unavailable {
        return Err(Error::Refused(format!(
            "the saved plan was made when the table-config-check gate could not run ({}); plan again",
            unavailable.reason.describe()
        )));
    }
    if !saved.gate.passed() {
        return Err(Error::Refused(format!(
            "the saved plan failed the table-config-check gate for {} task(s); fix the configuration and plan again",
            saved.gate.failed_count()
        )));
    }
    Ok(())
}

impl Pending {
    /// The user typed `yes` at a prompt that named the destructive changes.
    pub fn confirm_destructive(&mut self) {
        if let Approval::NameAtPrompt(_) = self.approval {
            self.approval = Approval::Granted;
        }
    }

    /// Whether [`Pending::execute`] resumes waits of a killed run (tasks it
    /// started that had not reached their stage yet).
    pub fn resumes_waits(&self) -> bool {
        self.recorder
            .snapshot()
            .intents
            .iter()
            .any(|i| i.operation == crate::state::IntentOp::Await)
    }

    /// Makes the changes. `interrupted` (Ctrl-C, or output that can no longer
    /// be written) lets what is in flight finish and be recorded, and starts
    /// nothing new. The state lock is released when this returns.
    pub async fn execute(
        self,
        reporter: Arc<dyn Reporter>,
        interrupted: Arc<AtomicBool>,
        progress: Arc<dyn Progress>,
    ) -> Result<ApplyOutcome> {
        match &self.approval {
            Approval::Granted => {}
            Approval::NameAtPrompt(_) => {
                return Err(Error::Refused(
                    "the destructive changes were not confirmed; nothing was changed".into(),
                ));
            }
            Approval::Refused(refused) => return Err(Error::Refused(refused.to_string())),
        }
        if let Some(refused) = &self.unhealthy {
            return Err(Error::Refused(refused.to_string()));
        }
        // The state may have become unwritable while the plan was read or shown.
        self.backend.check_writable()?;
        if self.plan.state_only().next().is_some() {
            // The moved and imported records, before any remote change.
            self.recorder.update(|_| {})?;
        }
        let opts = ApplyOptions {
            parallelism: self.parallelism,
            poll: self.poll.clone(),
            interrupted: interrupted.clone(),
        };
        progress.start(Phase::Applying, Some(self.plan.actionable().count()));
        let output_failed = AtomicBool::new(false);
        let step = progress.clone();
        let waiting = Mutex::new(apply::Waiting::default());
        let on_event: Arc<dyn Fn(Event) + Send + Sync> = Arc::new(move |e: Event| {
            if matches!(e, Event::Completed { .. } | Event::Failed { .. }) {
                step.step();
            }
            let line = waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .observe(&e);
            if let Some(line) = line {
                step.waiting(&line);
            }
            if let Err(error) = reporter.event(&e)
                && !output_failed.swap(true, Ordering::SeqCst)
            {
                interrupted.store(true, Ordering::SeqCst);
                reporter.output_lost(&error);
            }
        });
        let outcome = apply::execute(
            &self.clients,
            &self.plan,
            &self.lifecycles,
            self.recorder.clone(),
            &opts,
            on_event,
        )
        .await;
        progress.finish();
        Ok(outcome)
    }
}

/// Each provider's `poll_interval` and `wait_timeout`, or their defaults:
/// the API's guidance for the cloud, a short interval for the emulator (an
/// `http://` endpoint is only allowed to loopback).
fn poll_settings(ws: &Workspace) -> BTreeMap<Option<String>, PollSettings> {
    let settings = |provider: &crate::model::Provider| {
        let emulator = provider.endpoint == "embedded" || provider.endpoint.starts_with("http://");
        let default_interval = if emulator {
            EMULATOR_POLL_INTERVAL
        } else {
            CLOUD_POLL_INTERVAL
        };
        PollSettings {
            interval: provider.poll_interval.unwrap_or(default_interval),
            timeout: provider.wait_timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT),
        }
    };
    let providers = ws.loaded.desired.providers.iter();
    providers
        .map(|(name, p)| (name.map(str::to_string), settings(p)))
        .collect()
}

fn lifecycles(ws: &Workspace) -> BTreeMap<String, Lifecycle> {
    ws.loaded
        .desired
        .tasks
        .iter()
        .map(|(k, t)| (k.clone(), t.lifecycle.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DesiredTask;
    use crate::state::TaskRecord;

    /// A plan deleting one task (destructive) and creating another (not).
    fn plan() -> Plan {
        let record = TaskRecord {
            spec: TaskSpec::sample("gone"),
            prevent_destroy: false,
            updated_at: String::new(),
        };
        let prior = [("gone".to_string(), record)].into();
        let task = DesiredTask {
            spec: TaskSpec::sample("new"),
            lifecycle: Lifecycle::default(),
        };
        let desired = [("new".to_string(), task)].into();
        crate::plan::diff(&desired, &prior, &[]).expect("plan")
    }

    fn consent(allow_destructive: bool, prompt: bool) -> Consent {
        Consent {
            allow_destructive,
            prompt,
            allow_unhealthy: false,
        }
    }

    #[test]
    fn each_policy_and_consent_gets_its_approval() {
        use DestructivePolicy::{Allow, Deny, RequireFlag};
        let plan = plan();
        let kind = |policy, allow, prompt| match approve(&plan, policy, consent(allow, prompt)) {
            Approval::Granted => "granted",
            Approval::NameAtPrompt(_) => "prompt",
            Approval::Refused(_) => "refused",
        };
        assert_eq!(kind(RequireFlag, false, false), "refused");
        assert_eq!(kind(RequireFlag, true, false), "granted");
        assert_eq!(kind(RequireFlag, false, true), "prompt");
        assert_eq!(kind(Allow, false, false), "granted");
        assert_eq!(kind(Deny, true, true), "refused");
    }

    #[test]
    fn a_plan_without_destructive_changes_is_granted_even_under_deny() {
        let mut plan = plan();
        plan.changes
            .retain(|c| c.action != crate::plan::Action::Delete);
        let approval = approve(&plan, DestructivePolicy::Deny, Consent::default());
        assert_eq!(approval, Approval::Granted);
    }

    #[test]
    fn the_refusal_names_each_change_and_the_remedy() {
        let Approval::Refused(refused) =
            approve(&plan(), DestructivePolicy::RequireFlag, Consent::default())
        else {
            panic!("not refused")
        };
        assert_eq!(
            refused.to_string(),
            "refusing to apply: 1 change stops replication or fully re-syncs a task:\n  \
             task.gone: stops replication of 1 table (orders)\n\
             Nothing was changed; review them and apply again with --allow-destructive."
        );
    }
}

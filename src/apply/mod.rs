//! Executes a plan against the cloud with bounded concurrency, recording in
//! state the intent of every create and delete *before* the call and the
//! result after every completed operation, so a run that dies half way loses
//! nothing and creates nothing twice.

mod ahead;
mod intents;
mod ops;
mod recorder;

pub use intents::resolve_intents;
pub use recorder::Recorder;

use crate::api::{ApiError, Clients, PollSettings, Watcher};
use crate::model::{Address, Lifecycle};
use crate::plan::{Action, Counts, Plan};
use crate::state::{IntentOp, StateError};
use ahead::IntentsAhead;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Remote calls in flight at once per provider (`--parallelism`); waits hold none.
    pub parallelism: usize,
    /// How waits poll, and how long one task may take to reach its goal
    /// (stage, job, deletion), by provider (default: [`PollSettings::default`]).
    pub poll: BTreeMap<Option<String>, PollSettings>,
    /// Set on Ctrl-C: operations not yet started are skipped, those in flight finish.
    pub interrupted: Arc<AtomicBool>,
}

/// What happened to one task, for progress display and machine output.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        address: Address,
        action: Action,
    },
    Step {
        address: Address,
        message: String,
    },
    /// A task being waited for was seen in a new stage (or its job in a new status).
    Stage {
        address: Address,
        stage: String,
    },
    Completed {
        address: Address,
        action: Action,
        elapsed: Duration,
    },
    Failed {
        address: Address,
        action: Action,
        error: String,
    },
}

/// How a change that reached the cloud but not the state gets recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The intent written before the call is still in state: the next plan
    /// or apply looks the task up in the cloud and records what it finds.
    Intent,
    /// No intent covers it: `htapsync refresh` records what the cloud has.
    Refresh,
}

/// Why one task's operation failed. Like every error of this crate, its
/// message already includes its cause, so the cause is not also exposed as
/// `source()` (which `{:#}` would print a second time).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Api(Box<ApiError>),
    /// Writing state failed before the next remote call of this task, which was not sent.
    #[error("recording state failed, so nothing more was sent to the cloud for it: {0}")]
    State(StateError),
    /// The change was made in the cloud, but writing it to state failed.
    #[error("the change was made in the cloud, but recording it in state failed: {error}")]
    Unrecorded {
        recovery: Recovery,
        error: StateError,
    },
    /// A task of that name exists in the cloud but not in state.
    #[error(
        "a task of this name already exists in the cloud but is not in state ({cause}).\n\
         To manage that task, run `htapsync import {address}`; to create another, give it a new name."
    )]
    AlreadyExists { address: Address, cause: String },
    #[error("table-config-check rejected {task}: {details}")]
    Rejected { task: String, details: String },
    #[error("{0}")]
    Other(String),
    /// The run was interrupted before this task's turn came.
    #[error("not started: the run was interrupted")]
    NotStarted,
}

impl From<StateError> for ApplyError {
    fn from(e: StateError) -> Self {
        ApplyError::State(e)
    }
}

impl From<ApiError> for ApplyError {
    fn from(e: ApiError) -> Self {
        ApplyError::Api(Box::new(e))
    }
}

/// The outcome of a whole apply.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub counts: Counts,
    pub errors: Vec<(Address, String)>,
    /// Changes made in the cloud that state does not record (also in `errors`).
    pub unrecorded: Vec<(Address, Recovery)>,
    /// Tasks skipped because the run was interrupted: reported as one line,
    /// not as one error each.
    pub not_started: Vec<Address>,
}

impl ApplyOutcome {
    /// Every actionable change was made.
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty() && self.not_started.is_empty()
    }
}

/// Applies every actionable change of `plan`. Independent tasks run
/// concurrently; an error in one task does not stop the others.
///
/// Each provider has its own client, `--parallelism` slots and watcher.
pub async fn execute(
    clients: &Clients,
    plan: &Plan,
    lifecycles: &BTreeMap<String, Lifecycle>,
    recorder: Arc<Recorder>,
    opts: &ApplyOptions,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
) -> ApplyOutcome {
    let lanes: ops::Lanes = clients
        .iter()
        .map(|(name, client)| {
            let name = name.map(str::to_string);
            let poll = opts.poll.get(&name).copied().unwrap_or_default();
            let slots = Arc::new(Semaphore::new(opts.parallelism.max(1)));
            let lane = ops::Lane {
                client: client.clone(),
                poll,
                watcher: Watcher::new(client.clone(), poll, slots.clone()),
                slots,
            };
            (name, lane)
        })
        .collect();
    let lanes = Arc::new(lanes);
    let intents = ops::planned_intents(plan.actionable());
    let mut planned: BTreeMap<Address, ops::PlannedIntents> = BTreeMap::new();
    for (address, intent) in &intents {
        let ids = planned.entry(address.clone()).or_default();
        match intent.operation {
            IntentOp::Create => ids.create = Some(intent.id.clone()),
            _ => ids.delete = Some(intent.id.clone()),
        }
    }
    // Two waves of tasks per batch: the next batch is written while this one's calls go.
    // Performance only (mutants.toml skips it): any size is correct; bench figure 7 measures it.
    let batch = 2 * opts.parallelism.max(1);
    let (ahead, batch_of) =
        IntentsAhead::new(recorder.clone(), intents, batch, opts.interrupted.clone());
    let context = |address: &Address| ops::OpContext {
        lanes: lanes.clone(),
        recorder: recorder.clone(),
        on_event: on_event.clone(),
        prevent_destroy: lifecycles
            .get(address.name())
            .is_some_and(|l| l.prevent_destroy),
        slot: std::sync::Mutex::new(None),
        intents: planned.get(address).cloned().unwrap_or_default(),
    };
    let mut set = JoinSet::new();
    // Waits a killed run left: resumed, unless this plan changes the task
    // (its operation then clears the wait).
    let awaiting = recorder.snapshot().intents.into_iter().filter(|i| {
        i.operation == IntentOp::Await && !plan.actionable().any(|c| c.address == i.address)
    });
    for intent in awaiting {
        let ctx = context(&intent.address);
        set.spawn(async move {
            let result = ops::resume_wait(&ctx, &intent).await;
            if let Err(e) = &result {
                (ctx.on_event)(Event::Failed {
                    address: intent.address.clone(),
                    action: Action::NoOp,
                    error: e.to_string(),
                });
            }
            (intent.address, Action::NoOp, result)
        });
    }
    for change in plan.actionable().cloned() {
        let ctx = context(&change.address);
        let interrupted = opts.interrupted.clone();
        let (ahead, batch) = (ahead.clone(), batch_of.get(&change.address).copied());
        set.spawn(async move {
            // The first call is the delete of a replaced task, through its recorded provider.
            if let Some(first) = change.before.as_ref().or(change.after.as_ref()) {
                ctx.acquire_slot(first).await;
            }
            let recorded = match batch {
                Some(k) => ahead.ensure(k).await,
                None => true,
            };
            if interrupted.load(Ordering::SeqCst) {
                // Its intents were never acted on: the final write drops them.
                let ids = [&ctx.intents.create, &ctx.intents.delete];
                let ids: Vec<String> = ids.into_iter().flatten().cloned().collect();
                ctx.recorder
                    .update_later(|s| s.intents.retain(|i| !ids.contains(&i.id)));
                return (change.address, change.action, Err(ApplyError::NotStarted));
            }
            if ctx.recorder.stopped() || !recorded {
                // Anything changed now could not be recorded either.
                let error = ApplyError::Other("not started: an earlier state write failed".into());
                return (change.address, change.action, Err(error));
            }
            let started = std::time::Instant::now();
            (ctx.on_event)(Event::Started {
                address: change.address.clone(),
                action: change.action,
            });
            let result = ops::apply_change(&ctx, &change).await;
            match &result {
                Ok(()) => (ctx.on_event)(Event::Completed {
                    address: change.address.clone(),
                    action: change.action,
                    elapsed: started.elapsed(),
                }),
                Err(e) => (ctx.on_event)(Event::Failed {
                    address: change.address.clone(),
                    action: change.action,
                    error: e.to_string(),
                }),
            }
            (change.address, change.action, result)
        });
    }
    let mut outcome = ApplyOutcome::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((_, action, Ok(()))) => match action {
                Action::Create => outcome.counts.add += 1,
                Action::Update => outcome.counts.change += 1,
                Action::Replace => {
                    outcome.counts.add += 1;
                    outcome.counts.destroy += 1
                }
                Action::Delete => outcome.counts.destroy += 1,
                Action::NoOp => {}
            },
            Ok((address, _, Err(ApplyError::NotStarted))) => outcome.not_started.push(address),
            Ok((address, _, Err(e))) => {
                if let ApplyError::Unrecorded { recovery, .. } = &e {
                    outcome.unrecorded.push((address.clone(), *recovery));
                }
                outcome.errors.push((address, e.to_string()))
            }
            Err(e) => outcome
                .errors
                .push((Address::task("?"), format!("internal error: {e}"))),
        }
    }
    // Ended waits are written with the next write; the last ones here. A
    // failure loses nothing: the next run finds those tasks at their stage.
    if let Err(e) = recorder.flush()
        && !matches!(e, StateError::WritesStopped)
    {
        tracing::warn!(error = %e, "cannot record the waits that ended");
    }
    outcome.errors.sort();
    outcome.unrecorded.sort_by(|a, b| a.0.cmp(&b.0));
    outcome.not_started.sort();
    outcome
}

/// The tasks an apply is waiting for, by the stage each was last seen in,
/// for the progress line ("37 waiting: 20 Wait, 17 Full"). Fed every event.
#[derive(Debug, Default)]
pub struct Waiting(BTreeMap<Address, String>);

impl Waiting {
    /// Takes `event` into account; returns the new line when it changed.
    pub fn observe(&mut self, event: &Event) -> Option<String> {
        let changed = match event {
            Event::Stage { address, stage } => {
                self.0.insert(address.clone(), stage.clone()).as_ref() != Some(stage)
            }
            Event::Completed { address, .. } | Event::Failed { address, .. } => {
                self.0.remove(address).is_some()
            }
            Event::Started { .. } | Event::Step { .. } => false,
        };
        changed.then(|| self.line())
    }

    /// `N waiting: n1 STAGE1, n2 STAGE2`, most common stage first; empty when none.
    pub fn line(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for stage in self.0.values() {
            *counts.entry(stage.as_str()).or_default() += 1;
        }
        let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        format!("{} waiting: {}", self.0.len(), parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, stage: &str) -> Event {
        Event::Stage {
            address: Address::task(name),
            stage: stage.to_string(),
        }
    }

    #[test]
    fn waiting_counts_tasks_per_stage_until_they_complete() {
        let mut w = Waiting::default();
        assert_eq!(
            w.observe(&stage("a", "Wait")).as_deref(),
            Some("1 waiting: 1 Wait")
        );
        w.observe(&stage("b", "Wait"));
        assert_eq!(
            w.observe(&stage("b", "Wait")),
            None,
            "no change, no new line"
        );
        let line = w.observe(&stage("c", "Full"));
        assert_eq!(line.as_deref(), Some("3 waiting: 2 Wait, 1 Full"));
        let done = Event::Completed {
            address: Address::task("a"),
            action: Action::Create,
            elapsed: Duration::ZERO,
        };
        assert_eq!(
            w.observe(&done).as_deref(),
            Some("2 waiting: 1 Full, 1 Wait")
        );
    }
}

//! The cloud calls behind each action, following the lifecycle the API
//! documents (§5): register → start → wait running; modify → wait job;
//! pause/resume → wait stage; delete → wait until gone.
//!
//! An operation holds a `--parallelism` slot only for its calls: it gives it
//! back before each wait, which the shared [`Watcher`] serves without one.

use super::{ApplyError, Event, Recorder, Recovery};
use crate::api::retry::Transience;
use crate::api::task_map::task_request;
use crate::api::wire::{ReplicationInfo, Stage, StartRequest};
use crate::api::{ApiError, Client, OnStage, Poll, PollSettings, Watcher};
use crate::model::{Address, TaskSpec};
use crate::plan::{Action, Change};
use crate::refresh::paused_by_cloud;
use crate::state::{Intent, IntentOp, State, TaskRecord};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What the operations on one provider's tasks share: its client, its
/// `--parallelism` slots, and the watcher that serves its waits.
pub(super) struct Lane {
    pub client: Client,
    pub poll: PollSettings,
    pub watcher: Arc<Watcher>,
    /// `--parallelism` bounds remote calls, not local state writes: an
    /// operation holds a slot while it talks to the cloud and gives it back
    /// before its final state write, so that write overlaps the next task's calls.
    pub slots: Arc<Semaphore>,
}

/// The lanes by provider name (`None`: the unnamed `[provider]`).
pub(super) type Lanes = BTreeMap<Option<String>, Lane>;

pub(super) struct OpContext {
    pub lanes: Arc<Lanes>,
    pub recorder: Arc<Recorder>,
    pub on_event: Arc<dyn Fn(Event) + Send + Sync>,
    pub prevent_destroy: bool,
    /// The slot held, and the provider it belongs to.
    pub slot: Mutex<Option<(Option<String>, OwnedSemaphorePermit)>>,
    /// The ids of this change's create and delete intents, recorded ahead
    /// of its calls (see [`planned_intents`]).
    pub intents: PlannedIntents,
}

/// The intents of one change recorded ahead of the run.
#[derive(Debug, Clone, Default)]
pub(super) struct PlannedIntents {
    pub create: Option<String>,
    pub delete: Option<String>,
}

/// The create and delete intents of every change of a run, in the order the
/// changes take slots: recorded ahead of their calls in batches (see
/// `super::ahead`), so that no operation holds a slot while its intent is
/// written. Still recorded before the remote call, as recovery needs: an
/// intent whose call was never sent is dropped by the next run's lookup (or
/// cleared at once when the run skips it).
pub(super) fn planned_intents<'c>(
    changes: impl Iterator<Item = &'c Change>,
) -> Vec<(Address, Intent)> {
    let mut out = Vec::new();
    for change in changes {
        let (deletes, creates) = match change.action {
            Action::Create => (false, true),
            Action::Delete => (true, false),
            Action::Replace => (true, true),
            Action::Update | Action::NoOp => (false, false),
        };
        if let (true, Some(before)) = (deletes, &change.before) {
            out.push((change.address.clone(), intent(before, IntentOp::Delete)));
        }
        if let (true, Some(after)) = (creates, &change.after) {
            out.push((change.address.clone(), intent(after, IntentOp::Create)));
        }
    }
    out
}

impl OpContext {
    /// The id of this change's intent of `operation`, recorded ahead of its
    /// calls; without one, no call may be sent.
    fn recorded_intent(&self, spec: &TaskSpec, operation: IntentOp) -> Result<String, ApplyError> {
        let planned = match operation {
            IntentOp::Create => &self.intents.create,
            IntentOp::Delete => &self.intents.delete,
            IntentOp::Await => &None,
        };
        planned.clone().ok_or_else(|| {
            ApplyError::Other(format!(
                "{}: no {operation:?} intent was recorded ahead; nothing was sent",
                spec.address()
            ))
        })
    }

    /// The lane of the provider `spec` names.
    fn lane(&self, spec: &TaskSpec) -> Result<&Lane, ApplyError> {
        self.lanes.get(&spec.provider).ok_or_else(|| {
            ApplyError::Other(format!(
                "{}: {} is not defined in the configuration",
                spec.address(),
                crate::model::provider_label(spec.provider.as_deref())
            ))
        })
    }

    /// The client of the provider `spec` names.
    fn client(&self, spec: &TaskSpec) -> Result<&Client, ApplyError> {
        Ok(&self.lane(spec)?.client)
    }

    /// Waits for a slot of `spec`'s provider for remote calls, unless this
    /// operation holds one there (a slot of another provider is given back).
    pub async fn acquire_slot(&self, spec: &TaskSpec) {
        {
            let mut held = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            match held.as_ref() {
                Some((provider, _)) if *provider == spec.provider => return,
                Some(_) => *held = None,
                None => {}
            }
        }
        let Ok(lane) = self.lane(spec) else {
            return; // its calls fail, naming the provider
        };
        if let Ok(permit) = lane.slots.clone().acquire_owned().await {
            *self.slot.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((spec.provider.clone(), permit));
        }
    }

    /// Gives the slot back once the calls of an operation (or of its part
    /// before a wait) are done. Not only for speed: the shared [`Watcher`]
    /// reads with these slots, so a wait holding one deadlocks `--parallelism 1`.
    fn release_slot(&self) {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn step(&self, spec: &TaskSpec, message: impl Into<String>) {
        (self.on_event)(Event::Step {
            address: spec.address(),
            message: message.into(),
        });
    }

    /// Records `spec` after a change without an intent (modify, pause, resume).
    fn record(&self, spec: &TaskSpec) -> Result<(), ApplyError> {
        let record = self.task_record(spec);
        self.record_done(Recovery::Refresh, |s| {
            s.tasks.insert(spec.name.clone(), record);
        })
    }

    fn task_record(&self, spec: &TaskSpec) -> TaskRecord {
        TaskRecord {
            spec: spec.clone(),
            prevent_destroy: self.prevent_destroy,
            updated_at: chrono::Utc::now().to_rfc3339(),
        }
    }

    /// Tells the progress display which stage (or job status) a waited-for task is in.
    fn on_stage(&self, spec: &TaskSpec) -> OnStage {
        let (on_event, address) = (self.on_event.clone(), spec.address());
        Box::new(move |stage: &str| {
            on_event(Event::Stage {
                address: address.clone(),
                stage: stage.to_string(),
            })
        })
    }

    /// Records the outcome of a change already made in the cloud; a failure
    /// says how the change will be recovered.
    fn record_done(
        &self,
        recovery: Recovery,
        change: impl FnOnce(&mut crate::state::State),
    ) -> Result<(), ApplyError> {
        self.recorder
            .update(change)
            .map_err(|error| ApplyError::Unrecorded { recovery, error })
    }
}

/// Forgets the wait of an earlier run for `spec`'s task: the outcome of an
/// operation on it is being recorded.
fn clear_await(state: &mut State, spec: &TaskSpec) {
    let address = spec.address();
    state
        .intents
        .retain(|i| !(i.operation == IntentOp::Await && i.address == address));
}

pub(super) async fn apply_change(ctx: &OpContext, change: &Change) -> Result<(), ApplyError> {
    let missing = || ApplyError::Other(format!("{}: plan entry is incomplete", change.address));
    match change.action {
        Action::NoOp => Ok(()),
        Action::Create => create(ctx, change.after.as_ref().ok_or_else(missing)?).await,
        Action::Delete => delete(ctx, change.before.as_ref().ok_or_else(missing)?).await,
        Action::Replace => {
            delete(ctx, change.before.as_ref().ok_or_else(missing)?).await?;
            create(ctx, change.after.as_ref().ok_or_else(missing)?).await
        }
        Action::Update => {
            let before = change.before.as_ref().ok_or_else(missing)?;
            update(ctx, before, change.after.as_ref().ok_or_else(missing)?).await
        }
    }
}

/// Test hook for crash tests, sharing `HTAPSYNC_CRASH_AT` with the state
/// writer's hooks: `apply-after-register` aborts the process right after a
/// registration (E2 with `is_create_task = "true"`) returned, and
/// `apply-after-delete` right after a delete (E11) returned, before the state
/// records either, as a `kill -9` at the worst moment would. It exists only so
/// tests can prove that intents recover such a run; it has no production use.
fn crash_point(name: &str) {
    if std::env::var("HTAPSYNC_CRASH_AT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

fn intent(spec: &TaskSpec, operation: IntentOp) -> Intent {
    Intent {
        id: uuid::Uuid::new_v4().to_string(),
        address: spec.address(),
        operation,
        spec: spec.clone(),
        started_at: chrono::Utc::now().to_rfc3339(),
    }
}

/// Register (E2 with `is_create_task = "true"`), start (E3) and wait until
/// replicating unless the configuration wants the task paused, then record.
async fn create(ctx: &OpContext, spec: &TaskSpec) -> Result<(), ApplyError> {
    let client = ctx.client(spec)?;
    ctx.acquire_slot(spec).await;
    let intent_id = ctx.recorded_intent(spec, IntentOp::Create)?;

    ctx.step(spec, "registering");
    let mut req = task_request(spec);
    req.is_create_task = Some("true".to_string());
    // `None`: the cloud registered the task although its answer was lost.
    let registered = lookup_then_retry(
        ctx,
        spec,
        |_| true,
        || client.check_tables(&spec.instance_id, &req),
    )
    .await;
    let resp = match registered {
        Ok(resp) => resp.unwrap_or_default(),
        Err(e) => return Err(registration_failed(ctx, spec, &intent_id, e).await),
    };
    crash_point("apply-after-register");
    let failed: Vec<String> = resp
        .tbl_config_check_results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{} ({:?}: {})",
                r.table_name, r.table_config, r.check_result
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(ApplyError::Rejected {
            task: spec.name.clone(),
            details: failed.join(", "),
        });
    }
    // Registered: the task exists remotely from here on. The intent stays in
    // state until the task is recorded, so a run that dies in between adopts
    // the task on the next run (as paused when it was never started): one
    // durable write fewer per create than recording the registration apart.
    // A task created paused is registered but not started: not replicating,
    // exactly as wanted. Unpausing it later starts it (E3).
    if spec.paused {
        ctx.release_slot();
        let record = ctx.task_record(spec);
        return ctx.record_done(Recovery::Intent, |s| {
            s.intents.retain(|i| i.id != intent_id);
            s.tasks.insert(spec.name.clone(), record);
        });
    }
    send_start(ctx, spec).await?;
    ctx.release_slot();
    // Started: recorded with the wait still to come, so that a run killed
    // while waiting resumes the wait instead of starting the task again.
    let record = ctx.task_record(spec);
    let waiting = await_intent(spec);
    ctx.record_done(Recovery::Intent, |s| {
        s.intents.retain(|i| i.id != intent_id);
        s.intents.push(waiting);
        s.tasks.insert(spec.name.clone(), record);
    })?;
    wait_stage(ctx, spec, "replicating", Stage::is_running).await?;
    // Written with the next write: a run that dies first finds the task
    // replicating and drops the wait then.
    ctx.recorder.update_later(|s| clear_await(s, spec));
    Ok(())
}

/// The wait of a started task, as recorded: the task's identity only (its
/// record in `tasks` holds the rest), since a large apply has one per task in
/// the state it rewrites until the waits end.
fn await_intent(spec: &TaskSpec) -> Intent {
    let identity = TaskSpec {
        tables: Vec::new(),
        db_configs: Default::default(),
        table_configs: Default::default(),
        ..spec.clone()
    };
    intent(&identity, IntentOp::Await)
}

/// The wait of a create a killed run had started: until the task replicates
/// (or is paused, if it was created paused), then the wait is cleared.
pub(super) async fn resume_wait(ctx: &OpContext, intent: &Intent) -> Result<(), ApplyError> {
    let spec = &intent.spec;
    ctx.step(spec, "waiting for the start of an interrupted run");
    // Not observable (mutants.toml skips it): `create` records no wait for a task created paused.
    if spec.paused {
        wait_stage(ctx, spec, "paused", |s| s == Stage::Paused).await?;
    } else {
        wait_stage(ctx, spec, "replicating", Stage::is_running).await?;
    }
    ctx.step(spec, "started");
    ctx.recorder.update_later(|s| clear_await(s, spec));
    Ok(())
}

/// A registration the cloud refused (4xx: it took no effect) must leave no
/// intent behind, or the next run would adopt whatever task holds that name.
/// When the name is taken, typically after `state rm`, the way out is import.
async fn registration_failed(
    ctx: &OpContext,
    spec: &TaskSpec,
    intent_id: &str,
    err: ApplyError,
) -> ApplyError {
    let refused =
        matches!(&err, ApplyError::Api(e) if e.status.is_some_and(|s| (400..500).contains(&s)));
    if !refused {
        return err;
    }
    if let Err(e) = ctx
        .recorder
        .update(|s| s.intents.retain(|i| i.id != intent_id))
    {
        tracing::warn!(task = %spec.name, error = %e, "cannot clear the intent of a refused create");
        return err;
    }
    let found = match ctx.client(spec) {
        Ok(client) => client.find_task(&spec.instance_id, spec.task_name()).await,
        Err(_) => return err,
    };
    match found {
        Ok(Some(_)) => ApplyError::AlreadyExists {
            address: spec.address(),
            cause: err.to_string(),
        },
        _ => err,
    }
}

/// Sends E3; the caller waits for the stage.
async fn send_start(ctx: &OpContext, spec: &TaskSpec) -> Result<(), ApplyError> {
    ctx.step(spec, "starting");
    let req = StartRequest {
        source_instance_id: spec.source_instance_id.clone(),
        source_node_id: spec.source_node_id.clone(),
        source_database: spec.source_database_name.clone(),
        target_database: spec.target_database_name.clone(),
        task_name: spec.task_name().to_string(),
    };
    // A start that the cloud took although its answer was lost shows as a
    // stage past Wait, or, while the task is still in Wait, by the cloud
    // refusing the next start as one of a started task.
    let started = |row: &ReplicationInfo| Stage::parse(&row.stage) != Some(Stage::Wait);
    let client = ctx.client(spec)?;
    let sent =
        lookup_then_retry(ctx, spec, started, || client.start(&spec.instance_id, &req)).await;
    match sent {
        Err(ApplyError::Api(e)) if e.is_already_started() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// A failed send of a call that may create or start a task.
struct CreatingFailure {
    error: ApiError,
    /// A lookup after the failure showed that the call took no effect, so
    /// sending it again cannot act twice.
    took_no_effect: bool,
}

impl std::borrow::Borrow<ApiError> for CreatingFailure {
    fn borrow(&self) -> &ApiError {
        &self.error
    }
}

/// Sends a call that may create or start a task, which the client does not
/// retry once it may have reached the backend (a retry could act twice).
/// After such a failure ([`Transience::MaybeDelivered`]: a 5xx, a timeout) the
/// task is looked up: if `done` holds for its row the call took effect and
/// `Ok(None)` is returned; otherwise nothing happened and the call is sent
/// again, with the client's retry policy. Other failures are returned as they are.
async fn lookup_then_retry<T, F, Fut>(
    ctx: &OpContext,
    spec: &TaskSpec,
    done: impl Fn(&ReplicationInfo) -> bool,
    call: F,
) -> Result<Option<T>, ApplyError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let client = ctx.client(spec)?;
    let (call, done) = (&call, &done);
    let send_once = move |_attempt| async move {
        let error = match call().await {
            Ok(v) => return Ok(Some(v)),
            Err(e) => e,
        };
        if error.transience() != Transience::MaybeDelivered {
            return Err(CreatingFailure {
                error,
                took_no_effect: false,
            });
        }
        match client.find_task(&spec.instance_id, spec.task_name()).await {
            Ok(row) if row.as_ref().is_some_and(done) => Ok(None),
            Ok(_) => Err(CreatingFailure {
                error,
                took_no_effect: true,
            }),
            // The call's own failure is the error: the lookup's (a 4xx,
            // say) must not pass for the cloud refusing the call, which
            // would drop the intent of a task that may exist.
            Err(lookup) => Err(CreatingFailure {
                error: error.with_detail(format!(
                    "whether it took effect is unknown: the lookup failed: {lookup}"
                )),
                took_no_effect: false,
            }),
        }
    };
    client
        .retry_policy()
        .run(
            send_once,
            |failed| failed.took_no_effect,
            |failed, _| ctx.step(spec, format!("retrying after: {}", failed.error)),
        )
        .await
        .map_err(|failed| failed.error.into())
}

/// Makes the task paused (E9) or replicating (E10, or E3 for a task that was
/// never started). When the cloud is already there — someone paused or
/// resumed it after the plan was made — nothing is sent and the caller records
/// it; a call refused because the task got there meanwhile counts as done.
async fn set_paused(ctx: &OpContext, spec: &TaskSpec, paused: bool) -> Result<(), ApplyError> {
    let live = live_row(ctx, spec).await?;
    if live.as_ref().and_then(paused_by_cloud) == Some(paused) {
        ctx.step(
            spec,
            if paused {
                "already paused"
            } else {
                "already replicating"
            },
        );
        return Ok(());
    }
    if !paused && live.and_then(|r| Stage::parse(&r.stage)) == Some(Stage::Wait) {
        send_start(ctx, spec).await?;
        ctx.release_slot();
        return wait_stage(ctx, spec, "replicating", Stage::is_running).await;
    }
    ctx.step(spec, if paused { "pausing" } else { "resuming" });
    let client = ctx.client(spec)?;
    let sent = if paused {
        client.pause(&spec.instance_id, spec.task_name()).await
    } else {
        client.resume(&spec.instance_id, spec.task_name()).await
    };
    if let Err(e) = sent {
        let now = client
            .find_task(&spec.instance_id, spec.task_name())
            .await?;
        if now.as_ref().and_then(paused_by_cloud) != Some(paused) {
            return Err(e.into());
        }
    }
    ctx.release_slot();
    if paused {
        wait_stage(ctx, spec, "paused", |s| s == Stage::Paused).await
    } else {
        wait_stage(ctx, spec, "replicating", Stage::is_running).await
    }
}

async fn live_row(ctx: &OpContext, spec: &TaskSpec) -> Result<Option<ReplicationInfo>, ApplyError> {
    Ok(ctx
        .client(spec)?
        .find_task(&spec.instance_id, spec.task_name())
        .await?)
}

/// Waits, holding no slot, until the task's stage satisfies `done`.
async fn wait_stage(
    ctx: &OpContext,
    spec: &TaskSpec,
    goal: &str,
    done: impl Fn(Stage) -> bool + Send + Sync + 'static,
) -> Result<(), ApplyError> {
    ctx.release_slot();
    let row = ctx
        .lane(spec)?
        .watcher
        .task(
            &spec.instance_id,
            spec.task_name(),
            move |row| row.and_then(|r| Stage::parse(&r.stage)).is_some_and(&done),
            ctx.on_stage(spec),
        )
        .await?;
    match row {
        Some(_) => Ok(()),
        None => Err(ApplyError::Other(format!(
            "{} disappeared while waiting for it to be {goal}",
            spec.address()
        ))),
    }
}

/// Modify (E8) what changed, then pause or resume as the configuration wants.
async fn update(ctx: &OpContext, before: &TaskSpec, after: &TaskSpec) -> Result<(), ApplyError> {
    let config_changed = TaskSpec {
        paused: after.paused,
        ..before.clone()
    } != *after;
    if config_changed {
        ctx.step(after, "modifying");
        // A parameter removed from the configuration is sent at its default.
        let sent = TaskSpec {
            db_configs: after.db_configs_against(before),
            ..after.clone()
        };
        let resp = ctx
            .client(after)?
            .modify(&after.instance_id, &task_request(&sent))
            .await?;
        let failed: Vec<String> = resp
            .tbl_config_check_results
            .iter()
            .filter(|r| !r.passed())
            .map(|r| format!("{} ({:?})", r.table_name, r.table_config))
            .collect();
        if !failed.is_empty() || resp.job_id.is_empty() {
            return Err(ApplyError::Rejected {
                task: after.name.clone(),
                details: failed.join(", "),
            });
        }
        ctx.release_slot();
        let watcher = &ctx.lane(after)?.watcher;
        watcher.job(&resp.job_id, ctx.on_stage(after)).await?;
        if before.paused != after.paused {
            // Recorded before the pause or resume, which may fail.
            ctx.record(&TaskSpec {
                paused: before.paused,
                ..after.clone()
            })?;
        }
    }
    if before.paused != after.paused {
        ctx.acquire_slot(after).await;
        set_paused(ctx, after, after.paused).await?;
    }
    ctx.release_slot();
    let record = ctx.task_record(after);
    ctx.record_done(Recovery::Refresh, |s| {
        clear_await(s, after);
        s.tasks.insert(after.name.clone(), record);
    })
}

/// Sends E11. While another job of the task is running — typically the delete
/// of a run that died right after sending it — polls (see [`Poll`]) and sends
/// again, until the call is accepted or the task is gone (not found counts as
/// deleted). Transient failures are retried by the client.
async fn send_delete(ctx: &OpContext, spec: &TaskSpec) -> Result<(), ApplyError> {
    let lane = ctx.lane(spec)?;
    let mut poll = Poll::new(lane.poll.timeout);
    loop {
        match lane
            .client
            .delete(&spec.instance_id, spec.task_name())
            .await
        {
            Ok(_) => {
                crash_point("apply-after-delete");
                return Ok(());
            }
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_busy() => {
                ctx.step(spec, "another operation is in progress; waiting to delete");
                if !poll.next().await {
                    return Err(e.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Delete (E11) and wait until the task is no longer listed.
async fn delete(ctx: &OpContext, spec: &TaskSpec) -> Result<(), ApplyError> {
    let lane = ctx.lane(spec)?;
    ctx.acquire_slot(spec).await;
    let intent_id = ctx.recorded_intent(spec, IntentOp::Delete)?;
    ctx.step(spec, "deleting");
    send_delete(ctx, spec).await?;
    ctx.release_slot();
    lane.watcher
        .task(
            &spec.instance_id,
            spec.task_name(),
            |row| row.is_none(),
            ctx.on_stage(spec),
        )
        .await?;
    ctx.record_done(Recovery::Intent, |s| {
        s.intents.retain(|i| i.id != intent_id);
        clear_await(s, spec);
        s.tasks.remove(&spec.name);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(name: &str, operation: IntentOp) -> Intent {
        let spec = TaskSpec::sample(name);
        Intent {
            id: format!("{name}-{operation:?}"),
            address: spec.address(),
            operation,
            spec,
            started_at: String::new(),
        }
    }

    #[test]
    fn clear_await_forgets_only_the_wait_of_that_task() {
        let mut state = State::new();
        state.intents = vec![
            intent("a", IntentOp::Await),
            intent("a", IntentOp::Delete),
            intent("b", IntentOp::Await),
        ];
        clear_await(&mut state, &TaskSpec::sample("a"));
        let left: Vec<&str> = state.intents.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(left, ["a-Delete", "b-Await"]);
    }

    /// Lanes of one slot each for `providers`, with a client nothing is sent through.
    fn lanes(providers: &[Option<&str>]) -> Arc<Lanes> {
        lanes_at("http://127.0.0.1:9", PollSettings::default(), providers)
    }

    /// Lanes of one slot each for `providers`, all with a client of `endpoint`.
    fn lanes_at(endpoint: &str, poll: PollSettings, providers: &[Option<&str>]) -> Arc<Lanes> {
        let creds = crate::api::Credentials::Token(secrecy::SecretString::from("t"));
        // The project of the quick start's cloud.
        let config =
            crate::api::ClientConfig::new(endpoint, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", creds);
        let client = Client::new(config).expect("client");
        let lanes = providers.iter().map(|provider| {
            let slots = Arc::new(Semaphore::new(1));
            let lane = Lane {
                watcher: Watcher::new(client.clone(), poll, slots.clone()),
                client: client.clone(),
                poll,
                slots,
            };
            (provider.map(str::to_string), lane)
        });
        Arc::new(lanes.collect())
    }

    /// An operation's context on `lanes`, recording into a state file in `dir`.
    fn context(lanes: Arc<Lanes>, dir: &std::path::Path, intents: PlannedIntents) -> OpContext {
        let backend = Arc::new(crate::state::LocalBackend::new(dir.join("s.json")));
        OpContext {
            lanes,
            recorder: Arc::new(Recorder::new(backend, State::new())),
            on_event: Arc::new(|_| {}),
            prevent_destroy: false,
            slot: Mutex::new(None),
            intents,
        }
    }

    #[tokio::test]
    async fn a_slot_of_another_provider_is_given_back_for_one_of_this_provider() {
        let lanes = lanes(&[None, Some("eu")]);
        let dir = tempfile::tempdir().expect("temp dir");
        let ctx = context(lanes.clone(), dir.path(), PlannedIntents::default());
        let free = |provider: Option<&str>| {
            lanes[&provider.map(str::to_string)]
                .slots
                .available_permits()
        };
        let home = TaskSpec::sample("a");
        let moved = TaskSpec {
            provider: Some("eu".into()),
            ..home.clone()
        };
        ctx.acquire_slot(&home).await;
        ctx.acquire_slot(&home).await; // held already: no second slot
        assert_eq!((free(None), free(Some("eu"))), (0, 1));
        ctx.acquire_slot(&moved).await;
        assert_eq!(
            (free(None), free(Some("eu"))),
            (1, 0),
            "the slot of its own provider"
        );
        ctx.release_slot();
        assert_eq!((free(None), free(Some("eu"))), (1, 1));
    }

    /// A create registers and starts its task once and returns when the task
    /// replicates; a delete removes it. Against the emulator of the quick
    /// start with stages of 20 ms and waits of 5 s at most, so a register,
    /// start or delete that is never sent fails here in seconds, before the
    /// slower integration tests run (cargo-mutants then need not time out).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_create_sends_each_call_once_and_a_delete_removes_the_task() {
        use crate::emulator::{Emulator, EmulatorConfig, load_cloud, spawn};
        use std::time::Duration;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let cloud = load_cloud(&root.join("examples/quickstart/cloud/cloud.toml")).expect("cloud");
        let mut config = EmulatorConfig::new(cloud);
        config.stage_step = Duration::from_millis(20);
        let emu = Emulator::new(config).expect("emulator");
        let running = spawn(emu.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("serve");
        let poll = PollSettings {
            interval: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
        };
        let lanes = lanes_at(&running.url(), poll, &[None]);
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = TaskSpec::sample("orders_sync");
        let client = &lanes[&None].client;
        let stage = || async {
            let row = client.find_task(&spec.instance_id, spec.task_name()).await;
            row.expect("read").and_then(|r| Stage::parse(&r.stage))
        };

        let creating = PlannedIntents {
            create: Some("create".into()),
            delete: None,
        };
        let ctx = context(lanes.clone(), dir.path(), creating);
        create(&ctx, &spec).await.expect("created");
        let stats = emu.stats();
        assert_eq!(stats.creates_per_task.get(spec.task_name()), Some(&1));
        assert_eq!(stats.starts, 1);
        assert!(stage().await.is_some_and(Stage::is_running));

        let deleting = PlannedIntents {
            create: None,
            delete: Some("delete".into()),
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let ctx = context(lanes.clone(), dir.path(), deleting);
        delete(&ctx, &spec).await.expect("deleted");
        assert_eq!(emu.stats().deletes, 1);
        assert_eq!(stage().await, None);
        running.shutdown().await;
    }
}

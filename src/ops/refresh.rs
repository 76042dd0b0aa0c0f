//! `refresh` (record what the cloud has) and `status` (what the cloud says
//! of every managed task).

use super::plan::resolve_intents;
use super::{Note, Result, Workspace};
use crate::api::wire::ReplicationInfo;
use crate::model::Address;
use crate::refresh;
use crate::state::State;
use std::time::Duration;

/// How a refresh runs.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Remote calls in flight at once.
    pub parallelism: usize,
    /// How long to wait for the state lock.
    pub lock_timeout: Duration,
}

/// What a refresh learned and recorded.
#[derive(Debug)]
pub enum Refreshed {
    /// There is no state: nothing to refresh.
    NoState,
    /// The state now records what the cloud has.
    Done {
        /// Resolved intents, then one drift note per task changed outside htapsync.
        notes: Vec<Note>,
        /// Tasks read.
        read: usize,
        /// Tasks changed (or deleted) outside htapsync.
        drifted: usize,
    },
}

/// `refresh`: resolves interrupted intents and records the live attributes
/// of every task in state, changing nothing remote. What was learned is
/// written before anything is shown, so output that fails cannot keep it
/// out of state.
pub async fn refresh(ws: &Workspace, opts: &RefreshOptions) -> Result<Refreshed> {
    let backend = ws.backend()?;
    let _lock = backend.lock("refresh", opts.lock_timeout)?;
    let Some(mut state) = backend.read()? else {
        return Ok(Refreshed::NoState);
    };
    let (client, _emulator) = ws.connect().await?;
    let mut notes = resolve_intents(&client, &mut state).await?;
    let refreshed = refresh::refresh_all(&client, &state.tasks, opts.parallelism).await?;
    let read = state.tasks.len();
    let drifted = refreshed.drift.len();
    notes.extend(refreshed.drift.into_iter().map(Note::Drift));
    state.tasks = refreshed.records;
    backend.write(&mut state)?;
    Ok(Refreshed::Done {
        notes,
        read,
        drifted,
    })
}

/// The live status of every managed task.
#[derive(Debug, Default)]
pub struct Status {
    /// By address.
    pub tasks: Vec<TaskStatus>,
}

/// What the cloud says of one managed task.
#[derive(Debug)]
pub struct TaskStatus {
    pub address: Address,
    /// Its row of the task list; `None` when the cloud does not have it.
    pub live: Option<ReplicationInfo>,
}

/// Why a managed task is not running as it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// In state but not in the cloud.
    Missing,
    /// The cloud reports it abnormal ([`refresh::is_abnormal`]).
    Abnormal,
}

impl Problem {
    /// The `problem` text of `status --json`.
    pub fn describe(self) -> &'static str {
        match self {
            Problem::Missing => "missing: in state but not in the cloud",
            Problem::Abnormal => "abnormal: the cloud reports its status",
        }
    }
}

impl TaskStatus {
    /// Why the task is not running as it should, if it is not.
    pub fn problem(&self) -> Option<Problem> {
        match &self.live {
            None => Some(Problem::Missing),
            Some(live) if refresh::is_abnormal(live) => Some(Problem::Abnormal),
            Some(_) => None,
        }
    }
}

impl Status {
    /// How many tasks have a problem.
    pub fn problems(&self) -> usize {
        self.tasks.iter().filter(|t| t.problem().is_some()).count()
    }
}

/// `status`: lists each instance of the state once and reports every task.
pub async fn status(ws: &Workspace) -> Result<Status> {
    let state = ws.backend()?.read()?.unwrap_or_else(State::new);
    let (client, _emulator) = ws.connect().await?;
    let lists = refresh::list_instances(
        &client,
        state.tasks.values().map(|r| r.spec.instance_id.as_str()),
    )
    .await?;
    let tasks = state
        .tasks
        .values()
        .map(|r| TaskStatus {
            address: r.spec.address(),
            live: lists
                .get(&r.spec.instance_id)
                .and_then(|l| l.get(r.spec.task_name()))
                .cloned(),
        })
        .collect();
    Ok(Status { tasks })
}

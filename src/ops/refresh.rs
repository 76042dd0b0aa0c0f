//! `refresh` (record what the cloud has) and `status` (what the cloud says
//! of every managed task).

use super::plan::{health_notes, resolve_intents, selected};
use super::select::SelectOptions;
use super::{Note, Result, Workspace};
use crate::model::Address;
use crate::plan::{PlanErrors, Selection};
use crate::refresh;
pub use crate::refresh::{Problem, TaskStatus};
use crate::state::State;
use std::time::Duration;

/// How a refresh runs.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Remote calls in flight at once.
    pub parallelism: usize,
    /// How long to wait for the state lock.
    pub lock_timeout: Duration,
    /// `-target`, `-exclude` and their files: the tasks refreshed.
    pub select: SelectOptions,
}

/// What a refresh learned and recorded.
#[derive(Debug)]
pub enum Refreshed {
    /// There is no state: nothing to refresh.
    NoState,
    /// The state now records what the cloud has.
    Done {
        /// Resolved intents, the targeting warning, one drift note per task
        /// changed outside htapsync, and the health warnings.
        notes: Vec<Note>,
        /// Tasks read.
        read: usize,
        /// Tasks changed (or deleted) outside htapsync.
        drifted: usize,
    },
}

/// `refresh`: resolves interrupted intents and records the live attributes
/// of every selected task in state, changing nothing remote. What was
/// learned is written before anything is shown, so output that fails cannot
/// keep it out of state.
pub async fn refresh(ws: &Workspace, opts: &RefreshOptions) -> Result<Refreshed> {
    let selection = opts.select.resolve()?;
    let backend = ws.backend()?;
    let _lock = backend.lock("refresh", opts.lock_timeout)?;
    let Some(mut state) = backend.read()? else {
        return Ok(Refreshed::NoState);
    };
    check_known(ws, &state, &selection)?;
    let (clients, _emulators) = ws.connect().await?;
    let mut notes = resolve_intents(&clients, &mut state).await?;
    notes.extend(super::select::warning(&selection));
    let records = selected(&state.tasks, &selection);
    let refreshed = refresh::refresh_all(&clients, &records, opts.parallelism).await?;
    let read = records.len();
    let drifted = refreshed.drift.len();
    notes.extend(refreshed.drift.iter().map(|d| Note::Drift(d.describe())));
    notes.extend(health_notes(&refreshed.health));
    let all_read = refreshed.all_read();
    state.tasks.retain(|name, _| !records.contains_key(name));
    state.tasks.extend(refreshed.records);
    // What was read is recorded; the tasks not read keep their records.
    backend.write(&mut state)?;
    all_read.map_err(|unread| unknown_tasks(unread, "the others were recorded in state"))?;
    Ok(Refreshed::Done {
        notes,
        read,
        drifted,
    })
}

/// The error of a run that could not read some tasks from the cloud: it
/// names each, and says what was done (`done`) and how to go on without them.
pub(super) fn unknown_tasks(unread: refresh::Unread, done: &str) -> super::Error {
    let headline = format!(
        "could not read {} task(s) from the cloud after retrying, so their state is unknown; {done}. \
         Run again later, or leave them out with {}",
        unread.tasks.len(),
        unread.excludes()
    );
    super::Error::context(headline, unread)
}

/// Every `-target` and `-exclude` address must name a task of the
/// configuration or the state: a typo must not silently widen or empty the run.
pub(super) fn check_known(ws: &Workspace, state: &State, selection: &Selection) -> Result<()> {
    let unknown = selection.unknown(|name| {
        state.tasks.contains_key(name) || ws.loaded.desired.tasks.contains_key(name)
    });
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(PlanErrors(unknown).into())
    }
}

/// The live status of every managed task.
#[derive(Debug, Default)]
pub struct Status {
    /// By address.
    pub tasks: Vec<TaskStatus>,
    /// Tasks whose last table change (E5) could not be read after the
    /// call's retries, with the error: their row has only the task list's view.
    pub unread: Vec<(Address, String)>,
}

impl Status {
    /// How many tasks have a problem.
    pub fn problems(&self) -> usize {
        self.tasks.iter().filter(|t| t.problem().is_some()).count()
    }

    /// Every task was read and none has a problem.
    pub fn healthy(&self) -> bool {
        self.problems() == 0 && self.unread.is_empty()
    }
}

/// `status`: lists each instance of the state once (E4) and reads each
/// listed task's last table change (E5), `parallelism` at a time. A task
/// whose E5 read fails is kept with what the task list says and reported in
/// `unread`; only a failed task list fails the whole command.
pub async fn status(ws: &Workspace, parallelism: usize) -> Result<Status> {
    let state = ws.backend()?.read()?.unwrap_or_else(State::new);
    let (clients, _emulators) = ws.connect().await?;
    let specs = state.tasks.values().map(|r| &r.spec);
    let listed = refresh::listed_health(&clients, specs).await?;
    let clients = &clients;
    let read: Vec<(TaskStatus, Option<String>)> = refresh::in_parallel(
        listed.into_iter().zip(state.tasks.values()),
        parallelism,
        |(mut task, record)| async move {
            if task.live.is_none() {
                return (task, None);
            }
            let spec = &record.spec;
            let config = match clients.of(spec) {
                Ok(client) => {
                    client
                        .task_config(&spec.instance_id, spec.task_name())
                        .await
                }
                Err(e) => Err(e),
            };
            match config {
                Ok(cfg) => task.alter_error = cfg.last_error_of_alter_table,
                Err(e) if e.is_not_found() => task.live = None,
                Err(e) => return (task, Some(e.to_string())),
            }
            (task, None)
        },
    )
    .await;
    let mut status = Status::default();
    for (task, error) in read {
        if let Some(error) = error {
            status.unread.push((task.address.clone(), error));
        }
        status.tasks.push(task);
    }
    Ok(status)
}

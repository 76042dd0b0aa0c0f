//! `drift`: what changed in the cloud behind the state's back, and how each
//! task is doing. Read-only: no lock, no state write, no remote change, so a
//! scheduled job can run it at any time, even during an apply.

use super::plan::selected;
use super::refresh::check_known;
use super::select::SelectOptions;
use super::{Note, Result, Workspace};
use crate::plan::Selection;
use crate::refresh::{self, Drift, TaskStatus};

/// How a drift check runs.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// Remote calls in flight at once.
    pub parallelism: usize,
    /// `-target`, `-exclude` and their files: the tasks compared.
    pub select: SelectOptions,
}

/// What the cloud has that the state does not record.
#[derive(Debug, Default)]
pub struct Drifted {
    /// Tasks compared.
    pub read: usize,
    /// Every task that changed (or was deleted) outside htapsync.
    pub drift: Vec<Drift>,
    /// The health of every compared task.
    pub health: Vec<TaskStatus>,
    /// The targeting warning and the health warnings.
    pub notes: Vec<Note>,
    pub selection: Selection,
}

impl Drifted {
    /// Whether anything drifted.
    pub fn has_drift(&self) -> bool {
        !self.drift.is_empty()
    }
}

/// `drift`: compares every selected task in state with the cloud (E4, E5).
pub async fn drift(ws: &Workspace, opts: &DriftOptions) -> Result<Drifted> {
    let selection = opts.select.resolve()?;
    let Some(state) = ws.backend()?.read()? else {
        check_known(ws, &Default::default(), &selection)?;
        return Ok(Drifted {
            selection,
            ..Drifted::default()
        });
    };
    check_known(ws, &state, &selection)?;
    let records = selected(&state.tasks, &selection);
    let (clients, _emulators) = ws.connect().await?;
    let refreshed = refresh::refresh_all(&clients, &records, opts.parallelism).await?;
    refreshed
        .all_read()
        .map_err(|unread| super::refresh::unknown_tasks(unread, "no drift is reported"))?;
    let mut notes: Vec<Note> = super::select::warning(&selection).into_iter().collect();
    notes.extend(super::plan::health_notes(&refreshed.health));
    Ok(Drifted {
        read: records.len(),
        drift: refreshed.drift,
        health: refreshed.health,
        notes,
        selection,
    })
}

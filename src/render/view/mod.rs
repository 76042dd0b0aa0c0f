//! One view per command, as Terraform's `internal/command/views`: a trait per
//! command says what it shows, and [`Human`], [`Json`] and (for plans)
//! [`Markdown`] are its implementations. The CLI chooses one from the output
//! format, once, and hands it the outcomes of [`crate::ops`].
//!
//! Views write to [`Sink`]s that return errors, never `println!`: a reader
//! that went away (`htapsync plan | head -1`) is an `Err` the caller maps to
//! an exit code. In JSON every command writes JSON lines only, and the first
//! line always carries `format_version`: a message stream (opened by the
//! `version` message) for commands that report steps, one document line for
//! those that show a snapshot.

mod human;
mod json;

pub use human::Human;
pub use json::Json;

use super::Style;
use crate::apply::{ApplyOutcome, Event};
use crate::check::GateReport;
use crate::config::{Diagnostics, Loaded};
use crate::model::{Address, Moved};
use crate::ops::apply::{DestructiveRefused, UnhealthyRefused};
use crate::ops::state::{Migrated, Pushed, WorkspaceEntry};
use crate::ops::{Drifted, Imported, Note, Operation, Refreshed, Status, TaskStatus};
use crate::plan::Plan;
use crate::planfile::SavedPlan;
use crate::state::{State, TaskRecord, Version};
use std::io::{self, Write};
use std::path::Path;

/// Where a view writes: stdout or stderr of the process, or a buffer in tests.
pub type Sink = Box<dyn Write + Send>;

/// The two streams of a view, and how each may be coloured.
pub struct Streams {
    pub out: Sink,
    pub err: Sink,
    /// Colour of stdout.
    pub style: Style,
    /// Colour of stderr (error prefixes).
    pub err_style: Style,
}

/// `plan`: the plan, and where it was saved.
pub trait PlanView: Send {
    /// The plan with its gate verdicts, notes, and what the cloud said of
    /// the tasks it was asked about; in JSON this opens the stream.
    fn plan(
        &mut self,
        plan: &Plan,
        gate: Option<&GateReport>,
        notes: &[Note],
        health: &[TaskStatus],
    ) -> io::Result<()>;
    /// After `plan -out`: where the plan is and the command that applies it.
    fn saved(&mut self, path: &Path, apply_command: &str) -> io::Result<()>;
}

/// `apply` and `destroy`: the plan, then how it went.
pub trait ApplyView: PlanView {
    /// The gate did not pass: nothing was changed.
    fn gate_refused(&mut self, gate: &GateReport);
    /// `[policy] destructive` refused the plan's destructive changes: nothing was changed.
    fn destructive_refused(&mut self, refused: &DestructiveRefused);
    /// The plan changes tasks that need repair, without `--allow-unhealthy`: nothing was changed.
    fn unhealthy_refused(&mut self, refused: &UnhealthyRefused);
    /// The plan could not be shown, or approval asked: nothing was changed.
    fn not_started(&mut self, what: &str, error: &dyn std::fmt::Display);
    /// The user did not approve.
    fn cancelled(&mut self) -> io::Result<()>;
    /// One event of the apply, as it happens.
    fn event(&mut self, event: &Event) -> io::Result<()>;
    /// Output failed in the middle of the apply: it finishes what is in flight.
    fn output_lost(&mut self, error: &io::Error);
    /// How the apply ended.
    fn outcome(&mut self, outcome: &ApplyOutcome, operation: Operation) -> io::Result<()>;
}

/// `refresh`.
pub trait RefreshView: Send {
    fn refreshed(&mut self, refreshed: &Refreshed) -> io::Result<()>;
}

/// `drift`.
pub trait DriftView: Send {
    fn drift(&mut self, drifted: &Drifted) -> io::Result<()>;
}

/// `import`.
pub trait ImportView: Send {
    fn imported(&mut self, imported: &Imported) -> io::Result<()>;
}

/// `status`.
pub trait StatusView: Send {
    fn status(&mut self, status: &Status) -> io::Result<()>;
}

/// `show`: the state, or a saved plan.
pub trait ShowView: Send {
    fn state(&mut self, state: Option<&State>) -> io::Result<()>;
    fn saved_plan(&mut self, saved: &SavedPlan) -> io::Result<()>;
}

/// `state list|show|rm|history|push|migrate` and `force-unlock`.
pub trait StateView: Send {
    fn list(&mut self, state: Option<&State>) -> io::Result<()>;
    fn task(&mut self, record: &TaskRecord) -> io::Result<()>;
    fn removed(&mut self, address: &Address, dry_run: bool) -> io::Result<()>;
    /// `state mv`: the record moved (or, with `dry_run`, would move).
    fn moved(&mut self, moved: &Moved, dry_run: bool) -> io::Result<()>;
    fn unlocked(&mut self, lock_id: &str) -> io::Result<()>;
    fn history(&mut self, workspace: &str, versions: &[Version]) -> io::Result<()>;
    fn pushed(&mut self, workspace: &str, pushed: &Pushed) -> io::Result<()>;
    fn migrated(&mut self, to: &str, migrated: &[Migrated]) -> io::Result<()>;
}

/// `workspace list|show|delete`.
pub trait WorkspaceView: Send {
    fn list(&mut self, workspaces: &[WorkspaceEntry]) -> io::Result<()>;
    fn show(&mut self, workspace: &str) -> io::Result<()>;
    fn deleted(&mut self, workspace: &str) -> io::Result<()>;
}

/// `validate`.
pub trait ValidateView: Send {
    /// The configuration, valid (with warnings) or not (every diagnostic).
    fn validated(&mut self, result: &Result<Loaded, Diagnostics>) -> io::Result<()>;
}

/// The pull request comment: plans only (`plan`, `show PLANFILE`).
pub struct Markdown {
    out: Sink,
}

impl Markdown {
    pub fn new(out: Sink) -> Markdown {
        Markdown { out }
    }
}

impl PlanView for Markdown {
    fn plan(
        &mut self,
        plan: &Plan,
        gate: Option<&GateReport>,
        notes: &[Note],
        health: &[TaskStatus],
    ) -> io::Result<()> {
        let text = super::markdown::plan_markdown(plan, gate, notes, health);
        self.out.write_all(text.as_bytes())
    }

    /// The comment stays the only thing on stdout.
    fn saved(&mut self, _path: &Path, _apply_command: &str) -> io::Result<()> {
        Ok(())
    }
}

impl ShowView for Markdown {
    fn state(&mut self, _state: Option<&State>) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--format markdown shows a saved plan: give the PLANFILE",
        ))
    }

    fn saved_plan(&mut self, saved: &SavedPlan) -> io::Result<()> {
        self.plan(&saved.plan, Some(&saved.gate), &[], &[])
    }
}

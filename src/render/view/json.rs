//! The JSON implementation of every command's view. Commands that report
//! steps write the message stream of `docs/output-formats.md` (opened by the
//! `version` message); those that show a snapshot write one document line.
//! Either way the first line carries `format_version`.

use super::{
    ApplyView, DriftView, ImportView, PlanView, RefreshView, ShowView, Sink, StateView, StatusView,
    Streams, ValidateView, WorkspaceView,
};
use crate::apply::{ApplyOutcome, Event};
use crate::check::GateReport;
use crate::config::{self, Diagnostics, Loaded};
use crate::model::{Address, Moved};
use crate::ops::apply::{DestructiveRefused, UnhealthyRefused};
use crate::ops::state::{Migrated, Pushed, WorkspaceEntry};
use crate::ops::{Drifted, Imported, Note, Operation, Refreshed, Status, TaskStatus};
use crate::plan::Plan;
use crate::planfile::SavedPlan;
use crate::render::json::{self, Message};
use crate::render::{self, Paint, Style};
use crate::state::{State, TaskRecord, Version};
use serde_json::Value;
use std::io::{self, Write};
use std::path::Path;

/// JSON lines on stdout; errors that end the run still go to stderr.
pub struct Json {
    out: Sink,
    err: Sink,
    err_style: Style,
    /// The `version` message was written: the stream is open.
    opened: bool,
}

impl Json {
    pub fn new(streams: Streams) -> Json {
        Json {
            out: streams.out,
            err: streams.err,
            err_style: streams.err_style,
            opened: false,
        }
    }

    /// Writes one message of the stream, stamped with the current time,
    /// after the `version` message that opens every stream.
    fn emit(&mut self, message: &Message) -> io::Result<()> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        if !self.opened {
            self.opened = true;
            writeln!(self.out, "{}", json::version().line(&now))?;
        }
        writeln!(self.out, "{}", message.line(&now))
    }

    fn emit_all(&mut self, messages: &[Message]) -> io::Result<()> {
        messages.iter().try_for_each(|m| self.emit(m))
    }

    /// Writes a whole document as one line.
    fn document(&mut self, doc: &Value) -> io::Result<()> {
        writeln!(self.out, "{doc}")
    }

    fn error(&mut self, text: &str) {
        let prefix = self.err_style.paint(Paint::BoldRed, "error:");
        let _ = writeln!(self.err, "{prefix} {text}");
    }

    /// A refusal of apply: an error diagnostic in the stream (for the CI
    /// log), and the whole text on stderr.
    fn refused(&mut self, text: &str) {
        let (summary, detail) = text.split_once('\n').unwrap_or((text, ""));
        let summary = summary.trim_end_matches(':');
        let _ = self.emit(&json::diagnostic(json::Level::Error, summary, detail));
        self.error(text);
    }
}

impl PlanView for Json {
    fn plan(
        &mut self,
        plan: &Plan,
        gate: Option<&GateReport>,
        notes: &[Note],
        health: &[TaskStatus],
    ) -> io::Result<()> {
        self.emit_all(&json::plan_messages(plan, gate, notes, health))
    }

    /// The stream says nothing of files: the caller gave the path.
    fn saved(&mut self, _path: &Path, _apply_command: &str) -> io::Result<()> {
        Ok(())
    }
}

impl ApplyView for Json {
    fn gate_refused(&mut self, gate: &GateReport) {
        self.error(&render::gate::refusal_line(gate));
    }

    /// In the stream as an error diagnostic (for the CI log), and on stderr.
    fn destructive_refused(&mut self, refused: &DestructiveRefused) {
        self.refused(&refused.to_string());
    }

    fn unhealthy_refused(&mut self, refused: &UnhealthyRefused) {
        self.refused(&refused.to_string());
    }

    fn not_started(&mut self, what: &str, error: &dyn std::fmt::Display) {
        self.error(&format!(
            "cannot {what} ({error}); nothing was changed in the cloud."
        ));
    }

    /// There is no prompt in JSON mode.
    fn cancelled(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.emit(&json::apply_event(event))
    }

    fn output_lost(&mut self, error: &io::Error) {
        let _ = writeln!(self.err, "{}", render::apply::output_lost_line(error));
    }

    fn outcome(&mut self, outcome: &ApplyOutcome, operation: Operation) -> io::Result<()> {
        self.emit_all(&json::apply_outcome(outcome, operation))
    }
}

impl RefreshView for Json {
    fn refreshed(&mut self, refreshed: &Refreshed) -> io::Result<()> {
        self.emit_all(&json::refresh_messages(refreshed))
    }
}

impl ImportView for Json {
    fn imported(&mut self, imported: &Imported) -> io::Result<()> {
        self.emit_all(&json::import_messages(imported))
    }
}

impl StatusView for Json {
    fn status(&mut self, status: &Status) -> io::Result<()> {
        self.document(&json::status_document(status))
    }
}

impl DriftView for Json {
    fn drift(&mut self, drifted: &Drifted) -> io::Result<()> {
        self.document(&json::drift_document(drifted))
    }
}

impl ShowView for Json {
    fn state(&mut self, state: Option<&State>) -> io::Result<()> {
        self.document(&json::state_document(state))
    }

    fn saved_plan(&mut self, saved: &SavedPlan) -> io::Result<()> {
        self.document(&json::saved_plan_document(saved))
    }
}

impl StateView for Json {
    fn list(&mut self, state: Option<&State>) -> io::Result<()> {
        self.document(&json::state_document(state))
    }

    fn task(&mut self, record: &TaskRecord) -> io::Result<()> {
        self.document(&json::task_show_document(record))
    }

    fn removed(&mut self, address: &Address, dry_run: bool) -> io::Result<()> {
        self.emit(&json::state_removed(address, dry_run))
    }

    fn moved(&mut self, moved: &Moved, dry_run: bool) -> io::Result<()> {
        self.emit(&json::state_moved(moved, dry_run))
    }

    fn unlocked(&mut self, lock_id: &str) -> io::Result<()> {
        self.emit(&json::unlocked(lock_id))
    }

    fn history(&mut self, workspace: &str, versions: &[Version]) -> io::Result<()> {
        self.document(&serde_json::json!({
            "format_version": json::DOCUMENT_VERSION,
            "workspace": workspace,
            "versions": versions,
        }))
    }

    fn pushed(&mut self, workspace: &str, pushed: &Pushed) -> io::Result<()> {
        self.emit(&json::pushed(workspace, pushed))
    }

    fn migrated(&mut self, to: &str, migrated: &[Migrated]) -> io::Result<()> {
        self.emit(&json::migrated(to, migrated))
    }
}

impl WorkspaceView for Json {
    fn list(&mut self, workspaces: &[WorkspaceEntry]) -> io::Result<()> {
        self.document(&serde_json::json!({
            "format_version": json::DOCUMENT_VERSION,
            "workspaces": workspaces,
        }))
    }

    fn show(&mut self, workspace: &str) -> io::Result<()> {
        self.document(&serde_json::json!({
            "format_version": json::DOCUMENT_VERSION,
            "workspace": workspace,
        }))
    }

    fn deleted(&mut self, workspace: &str) -> io::Result<()> {
        self.emit(&json::workspace_deleted(workspace))
    }
}

impl ValidateView for Json {
    fn validated(&mut self, result: &Result<Loaded, Diagnostics>) -> io::Result<()> {
        self.document(&config::validate_json(result))
    }
}

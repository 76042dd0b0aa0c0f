//! The human implementation of every command's view: terminal text on
//! stdout, errors and warnings on stderr.

use super::{
    ApplyView, DriftView, ImportView, PlanView, RefreshView, ShowView, Sink, StateView, StatusView,
    Streams, ValidateView, WorkspaceView,
};
use crate::apply::{ApplyOutcome, Event};
use crate::check::GateReport;
use crate::config::{Diagnostics, Loaded};
use crate::model::{Address, Moved};
use crate::ops::apply::{DestructiveRefused, UnhealthyRefused};
use crate::ops::state::{Migrated, Pushed, WorkspaceEntry};
use crate::ops::{Drifted, Imported, Note, Operation, Refreshed, Status, TaskStatus};
use crate::plan::Plan;
use crate::planfile::SavedPlan;
use crate::render::{self, Paint, Style};
use crate::state::{State, TaskRecord, Version};
use std::io::{self, Write};
use std::path::Path;

/// Terminal text, coloured where the stream allows it.
pub struct Human {
    out: Sink,
    err: Sink,
    style: Style,
    err_style: Style,
}

impl Human {
    pub fn new(streams: Streams) -> Human {
        Human {
            out: streams.out,
            err: streams.err,
            style: streams.style,
            err_style: streams.err_style,
        }
    }

    /// `error: TEXT` on stderr; a failure there has nowhere to be reported.
    fn error(&mut self, text: &str) {
        let prefix = self.err_style.paint(Paint::BoldRed, "error:");
        let _ = writeln!(self.err, "{prefix} {text}");
    }

    fn record(&mut self, record: &TaskRecord) -> io::Result<()> {
        writeln!(self.out, "# {}:", record.spec.address())?;
        let value = serde_json::to_value(&record.spec).unwrap_or_default();
        if let serde_json::Value::Object(map) = value {
            let width = map.keys().map(String::len).max().unwrap_or(0);
            for (k, v) in map {
                writeln!(self.out, "    {k:<width$} = {v}")?;
            }
        }
        writeln!(self.out)
    }
}

impl PlanView for Human {
    fn plan(
        &mut self,
        plan: &Plan,
        gate: Option<&GateReport>,
        notes: &[Note],
        health: &[TaskStatus],
    ) -> io::Result<()> {
        if !notes.is_empty() {
            writeln!(self.out, "{}", render::notes_human(notes))?;
        }
        let text = render::plan_human(plan, gate, health, &self.style);
        self.out.write_all(text.as_bytes())
    }

    fn saved(&mut self, path: &Path, apply_command: &str) -> io::Result<()> {
        writeln!(self.out, "\nSaved the plan to: {}", path.display())?;
        writeln!(
            self.out,
            "To perform exactly these actions, run: {apply_command}"
        )
    }
}

impl ApplyView for Human {
    fn gate_refused(&mut self, gate: &GateReport) {
        self.error(&render::gate::refusal_line(gate));
    }

    fn destructive_refused(&mut self, refused: &DestructiveRefused) {
        self.error(&render::terminal_safe(&refused.to_string()));
    }

    fn unhealthy_refused(&mut self, refused: &UnhealthyRefused) {
        self.error(&render::terminal_safe(&refused.to_string()));
    }

    fn not_started(&mut self, what: &str, error: &dyn std::fmt::Display) {
        self.error(&format!(
            "cannot {what} ({error}); nothing was changed in the cloud."
        ));
    }

    fn cancelled(&mut self) -> io::Result<()> {
        writeln!(self.out, "Apply cancelled.")
    }

    fn event(&mut self, event: &Event) -> io::Result<()> {
        writeln!(self.out, "{}", render::apply::event_line(event))
    }

    fn output_lost(&mut self, error: &io::Error) {
        let _ = writeln!(self.err, "{}", render::apply::output_lost_line(error));
    }

    fn outcome(&mut self, outcome: &ApplyOutcome, operation: Operation) -> io::Result<()> {
        for (address, error) in &outcome.errors {
            self.error(&format!("{address}: {error}"));
        }
        if let Some(line) = render::apply::not_started_line(outcome) {
            self.error(&line);
        }
        let summary = render::apply::outcome_summary(outcome, operation);
        writeln!(self.out, "\n{summary}")
    }
}

impl RefreshView for Human {
    fn refreshed(&mut self, refreshed: &Refreshed) -> io::Result<()> {
        let Refreshed::Done {
            notes,
            read,
            drifted,
        } = refreshed
        else {
            return writeln!(self.out, "No state yet: nothing to refresh.");
        };
        for note in notes {
            writeln!(self.out, "{}", note.text())?;
        }
        writeln!(
            self.out,
            "Refresh complete: {read} task(s) read, {drifted} changed outside htapsync."
        )
    }
}

impl ImportView for Human {
    fn imported(&mut self, imported: &Imported) -> io::Result<()> {
        for spec in &imported.skipped {
            let _ = writeln!(self.err, "{}", render::import::skipped_line(spec));
        }
        for address in &imported.review {
            let _ = writeln!(
                self.err,
                "warning: {}",
                render::import::review_line(address)
            );
        }
        if let Some((path, written)) = &imported.generated {
            writeln!(
                self.out,
                "{}",
                render::import::generated_line(path, *written)
            )?;
        }
        for address in &imported.imported {
            writeln!(self.out, "{address}: imported")?;
        }
        writeln!(self.out, "{}", render::import::summary_line(imported))
    }
}

impl StatusView for Human {
    fn status(&mut self, status: &Status) -> io::Result<()> {
        if status.tasks.is_empty() {
            return writeln!(self.out, "No managed tasks.");
        }
        self.out
            .write_all(render::status::table(&status.tasks, &status.unread).as_bytes())
    }
}

impl DriftView for Human {
    fn drift(&mut self, drifted: &Drifted) -> io::Result<()> {
        self.out.write_all(render::drift_human(drifted).as_bytes())
    }
}

impl ShowView for Human {
    fn state(&mut self, state: Option<&State>) -> io::Result<()> {
        let Some(state) = state else {
            return writeln!(self.out, "No state.");
        };
        state.tasks.values().try_for_each(|r| self.record(r))
    }

    fn saved_plan(&mut self, saved: &SavedPlan) -> io::Result<()> {
        let text = render::plan_human(&saved.plan, Some(&saved.gate), &[], &self.style);
        self.out.write_all(text.as_bytes())
    }
}

impl StateView for Human {
    fn list(&mut self, state: Option<&State>) -> io::Result<()> {
        for r in state.iter().flat_map(|s| s.tasks.values()) {
            writeln!(self.out, "{}", r.spec.address())?;
        }
        Ok(())
    }

    fn task(&mut self, record: &TaskRecord) -> io::Result<()> {
        self.record(record)
    }

    fn removed(&mut self, address: &Address, dry_run: bool) -> io::Result<()> {
        if dry_run {
            writeln!(self.out, "Would remove {address}")
        } else {
            writeln!(
                self.out,
                "Removed {address} (the task still exists in the cloud)"
            )
        }
    }

    fn moved(&mut self, moved: &Moved, dry_run: bool) -> io::Result<()> {
        writeln!(
            self.out,
            "{}",
            render::state_ops::moved_line(moved, dry_run)
        )
    }

    fn unlocked(&mut self, _lock_id: &str) -> io::Result<()> {
        writeln!(self.out, "{}", render::UNLOCKED)
    }

    fn history(&mut self, workspace: &str, versions: &[Version]) -> io::Result<()> {
        if versions.is_empty() {
            return writeln!(self.out, "No state in workspace {workspace:?} yet.");
        }
        self.out
            .write_all(render::state_ops::history_table(versions).as_bytes())
    }

    fn pushed(&mut self, workspace: &str, pushed: &Pushed) -> io::Result<()> {
        writeln!(
            self.out,
            "{}",
            render::state_ops::pushed_line(workspace, pushed)
        )
    }

    fn migrated(&mut self, to: &str, migrated: &[Migrated]) -> io::Result<()> {
        for m in migrated {
            writeln!(self.out, "{}", render::state_ops::migrated_line(m))?;
        }
        writeln!(self.out, "{}", render::state_ops::migrate_next_step(to))
    }
}

impl WorkspaceView for Human {
    fn list(&mut self, workspaces: &[WorkspaceEntry]) -> io::Result<()> {
        for w in workspaces {
            let mark = if w.current { "*" } else { " " };
            writeln!(self.out, "{mark} {}", w.name)?;
        }
        Ok(())
    }

    fn show(&mut self, workspace: &str) -> io::Result<()> {
        writeln!(self.out, "{workspace}")
    }

    fn deleted(&mut self, workspace: &str) -> io::Result<()> {
        writeln!(self.out, "Deleted workspace {workspace:?}.")
    }
}

impl ValidateView for Human {
    fn validated(&mut self, result: &Result<Loaded, Diagnostics>) -> io::Result<()> {
        match result {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    let _ = writeln!(self.err, "{w}");
                }
                writeln!(self.out, "{}", render::valid_line(loaded))
            }
            Err(d) => {
                let _ = writeln!(self.err, "{d}");
                Ok(())
            }
        }
    }
}

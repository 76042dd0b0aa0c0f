//! Human lines of an apply: one per event (Terraform's `task.x: Creating...`)
//! and the closing summary. The JSON stream reuses them as `@message`.

use super::Operation;
use crate::apply::{ApplyOutcome, Event, Recovery};
use crate::model::Address;
use crate::plan::Action;

/// The line printed when `event` happens.
pub fn event_line(event: &Event) -> String {
    match event {
        Event::Started { address, action } => format!("{address}: {}...", verb(*action)),
        Event::Step { address, message } => format!("{address}: {message}"),
        Event::Completed {
            address,
            action,
            elapsed,
        } => format!(
            "{address}: {} complete after {:.1}s",
            noun(*action),
            elapsed.as_secs_f64()
        ),
        Event::Failed { address, error, .. } => format!("{address}: failed: {error}"),
    }
}

/// The closing line of an apply or destroy; its wording is what scripts grep for.
pub fn outcome_summary(outcome: &ApplyOutcome, operation: Operation) -> String {
    let c = outcome.counts;
    if !outcome.unrecorded.is_empty() {
        format!(
            "Apply failed for {} task(s). Completed: {} added, {} changed, {} destroyed.\n\
             State could not be written: it does not record {} change(s) made in the cloud.\n\
             Make the state writable, then:\n{}",
            outcome.errors.len(),
            c.add,
            c.change,
            c.destroy,
            outcome.unrecorded.len(),
            recovery_lines(&outcome.unrecorded)
        )
    } else if !outcome.errors.is_empty() {
        format!(
            "Apply failed for {} task(s). Completed: {} added, {} changed, {} destroyed. \
             State records what was done; run plan to see what is left.",
            outcome.errors.len(),
            c.add,
            c.change,
            c.destroy
        )
    } else if operation == Operation::Destroy {
        format!("Destroy complete! Resources: {} destroyed.", c.destroy)
    } else {
        format!(
            "Apply complete! Resources: {} added, {} changed, {} destroyed.",
            c.add, c.change, c.destroy
        )
    }
}

/// One line per unrecorded change: how it gets into state.
fn recovery_lines(unrecorded: &[(Address, Recovery)]) -> String {
    unrecorded
        .iter()
        .map(|(address, recovery)| match recovery {
            Recovery::Intent => format!(
                "  {address}: state holds its intent; the next plan or apply looks it up in the cloud and records it"
            ),
            Recovery::Refresh => format!(
                "  {address}: run `htapsync refresh` to record it (until then plan reports it as changed outside htapsync)"
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "Creating",
        Action::Update => "Modifying",
        Action::Replace => "Replacing",
        Action::Delete => "Destroying",
        Action::NoOp => "Reading",
    }
}

fn noun(a: Action) -> &'static str {
    match a {
        Action::Create => "Creation",
        Action::Update => "Modifications",
        Action::Replace => "Replacement",
        Action::Delete => "Destruction",
        Action::NoOp => "Read",
    }
}

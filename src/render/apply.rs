//! Human lines of an apply: one per event (Terraform's `task.x: Creating...`)
//! and the closing summary. The JSON stream reuses them as `@message`.

use super::Operation;
use crate::apply::{ApplyOutcome, Event, Recovery};
use crate::model::Address;
use crate::plan::Action;
use std::path::Path;

/// The line printed when `event` happens.
pub fn event_line(event: &Event) -> String {
    match event {
        Event::Started { address, action } => format!("{address}: {}...", verb(*action)),
        Event::Step { address, message } => format!("{address}: {message}"),
        // A job's status comes as `job Running`; a task's stage bare.
        Event::Stage { address, stage } if stage.starts_with("job ") => {
            format!("{address}: {stage}")
        }
        Event::Stage { address, stage } => format!("{address}: in stage {stage}"),
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
    if !outcome.succeeded() {
        let what = match (outcome.errors.len(), outcome.not_started.len()) {
            (failed, 0) => format!("Apply failed for {failed} task(s)."),
            (0, skipped) => format!("Apply interrupted: {skipped} task(s) not started."),
            (failed, skipped) => {
                format!("Apply failed for {failed} task(s); {skipped} task(s) not started.")
            }
        };
        let done = format!(
            "{what} Completed: {} added, {} changed, {} destroyed.",
            c.add, c.change, c.destroy
        );
        if outcome.unrecorded.is_empty() {
            format!("{done} State records what was done; run plan to see what is left.")
        } else {
            format!(
                "{done}\nState could not be written: it does not record {} change(s) made in the cloud.\n\
                 Make the state writable, then:\n{}",
                outcome.unrecorded.len(),
                recovery_lines(&outcome.unrecorded)
            )
        }
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

/// One line for every task an interrupted run did not start (there may be
/// hundreds), or `None` when there is none.
pub fn not_started_line(outcome: &ApplyOutcome) -> Option<String> {
    match outcome.not_started.len() {
        0 => None,
        1 => Some(format!(
            "{} not started: the run was interrupted",
            outcome.not_started[0]
        )),
        n => Some(format!("{n} tasks not started: the run was interrupted")),
    }
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

/// Output failed in the middle of an apply: what happens next.
pub fn output_lost_line(error: &std::io::Error) -> String {
    format!(
        "Cannot write the output ({error}): finishing the operations in flight, starting no new ones."
    )
}

/// The command that applies the plan saved at `out`, as it must be typed from
/// the current directory: with `-C DIR`, paths on the command line are
/// relative to DIR (`out` and `state` were already resolved against it).
pub fn apply_command(chdir: Option<&Path>, state: Option<&Path>, out: &Path) -> String {
    let as_typed = |p: &Path| {
        let relative = chdir.and_then(|dir| p.strip_prefix(dir).ok());
        shell_word(&relative.unwrap_or(p).display().to_string())
    };
    let mut words = vec!["htapsync".to_string()];
    if let Some(dir) = chdir {
        words.extend(["-C".to_string(), shell_word(&dir.display().to_string())]);
    }
    if let Some(state) = state {
        words.extend(["--state".to_string(), as_typed(state)]);
    }
    words.extend(["apply".to_string(), as_typed(out)]);
    words.join(" ")
}

/// `word` quoted for a POSIX shell when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod stage_tests {
    use super::*;

    #[test]
    fn stage_lines_say_whether_a_stage_or_a_job_moved() {
        let line = |stage: &str| {
            event_line(&Event::Stage {
                address: Address::task("orders"),
                stage: stage.to_string(),
            })
        };
        assert_eq!(line("Full"), "task.orders: in stage Full");
        assert_eq!(line("job Running"), "task.orders: job Running");
    }
}

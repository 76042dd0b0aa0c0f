//! Every output format. The human one here is modelled on Terraform's plan
//! rendering: a legend of the symbols used, one block per changed task with
//! per-attribute markers, the table-config-check verdicts, and the summary
//! line. [`json`] is the machine stream and documents, [`markdown`] the pull
//! request comment, [`apply`] the human lines of an apply, [`import`] and
//! [`status`] those of their commands. [`view`] puts them together: one view
//! trait per command, implemented by a human, a JSON and (for plans) a
//! Markdown view, which the CLI chooses once from the output format.
//!
//! All formatting (and redaction) lives here so that `plan`, `check` and
//! `state` stay pure data; colour is decided by the caller (`--no-color`,
//! `NO_COLOR`, not a tty). The layouts are documented in
//! `docs/output-formats.md`.

pub mod apply;
mod block;
mod gate;
pub mod import;
pub mod json;
pub mod markdown;
pub mod state_ops;
pub mod status;
#[cfg(test)]
mod tests;
pub mod view;

use crate::check::GateReport;
pub use crate::ops::{Note, Operation};
use crate::plan::{Action, Change, Counts, Plan, StateCounts};
use crate::refresh::TaskStatus;
use std::collections::HashMap;

/// How to draw: only colour for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Emit ANSI colours (green `+`, yellow `~`, red `-`).
    pub color: bool,
}

/// ANSI colours used by the renderers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paint {
    Green,
    Yellow,
    Red,
    Bold,
    BoldRed,
}

impl Paint {
    const ALL: [Paint; 5] = [
        Paint::Green,
        Paint::Yellow,
        Paint::Red,
        Paint::Bold,
        Paint::BoldRed,
    ];

    fn sgr(self) -> &'static str {
        match self {
            Paint::Green => "\x1b[32m",
            Paint::Yellow => "\x1b[33m",
            Paint::Red => "\x1b[31m",
            Paint::Bold => "\x1b[1m",
            Paint::BoldRed => "\x1b[1;31m",
        }
    }
}

/// Ends every painted text.
const SGR_RESET: &str = "\x1b[0m";

impl Style {
    /// `text` wrapped in the colour's escape codes when colour is on.
    pub(crate) fn paint(&self, paint: Paint, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        format!("{}{text}{SGR_RESET}", paint.sgr())
    }

    /// The action's symbol, right-aligned to three columns and coloured.
    pub(crate) fn symbol(&self, action: Action) -> String {
        match action {
            Action::Create => format!("  {}", self.paint(Paint::Green, "+")),
            Action::Update => format!("  {}", self.paint(Paint::Yellow, "~")),
            Action::Delete => format!("  {}", self.paint(Paint::Red, "-")),
            Action::Replace => format!(
                "{}/{}",
                self.paint(Paint::Red, "-"),
                self.paint(Paint::Green, "+")
            ),
            Action::NoOp => "   ".to_string(),
        }
    }
}

/// Human lines of the notes, as printed before the plan.
pub fn notes_human(notes: &[Note]) -> String {
    let mut out = String::new();
    let mut drift_header = false;
    for note in notes {
        match note {
            Note::Drift(text) => {
                if !drift_header {
                    out.push_str("Objects have changed outside of htapsync:\n");
                    drift_header = true;
                }
                out.push_str(&format!("  - {text}\n"));
            }
            Note::Warning(text) => out.push_str(&format!("Warning: {text}\n")),
            Note::Log(text) => out.push_str(&format!("{text}\n")),
        }
    }
    out
}

/// The human output of `drift`: each drifted task with every attribute's
/// recorded and live values, the health table of the compared tasks, the
/// warnings, and a summary line.
pub fn drift_human(drifted: &crate::ops::Drifted) -> String {
    let shown = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or("(unset)".to_string(), serde_json::Value::to_string)
    };
    let mut out = String::new();
    for drift in &drifted.drift {
        if drift.deleted {
            out.push_str(&format!("{} was deleted outside htapsync\n", drift.address));
            continue;
        }
        out.push_str(&format!("{} changed outside htapsync:\n", drift.address));
        for field in &drift.fields {
            out.push_str(&format!(
                "  ~ {}: recorded {} -> live {}\n",
                field.path,
                shown(&field.before),
                shown(&field.after)
            ));
        }
    }
    if !drifted.health.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&status::table(&drifted.health, &[]));
    }
    for note in &drifted.notes {
        out.push_str(&format!("Warning: {}\n", note.text()));
    }
    let read = drifted.read;
    out.push_str(&match drifted.drift.len() {
        0 => format!("\nNo drift: the cloud matches the state ({read} task(s) compared).\n"),
        n => format!(
            "\nDrift: {n} of {read} task(s) changed outside htapsync. `htapsync plan` shows how to undo it, `htapsync refresh` records it.\n"
        ),
    });
    terminal_safe(&out).into_owned()
}

/// What `force-unlock` says once the lock is gone (Terraform's wording).
pub const UNLOCKED: &str = "htapsync state has been successfully unlocked!";

/// `fmt --diff`: the change formatting makes to the file at `path`.
pub fn unified_diff(path: &std::path::Path, before: &str, after: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .header(&name, &name)
        .to_string()
}

/// What `validate` says of a valid configuration.
pub fn valid_line(loaded: &crate::config::Loaded) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let (tasks, files) = (loaded.desired.tasks.len(), loaded.files.len());
    format!(
        "Success! The configuration is valid ({tasks} task{} in {files} file{}).",
        plural(tasks),
        plural(files)
    )
}

/// `text` safe to write to a terminal: every control character (C0 but
/// newline and tab, DEL, C1, and so every escape sequence) is shown as
/// `\u001b`-style text, except htapsync's own colour codes ([`Paint`]). Names
/// and messages come from the configuration and the server; raw, they could
/// clear the screen, retitle the window or hide lines. The `\u00XX` form is
/// also a valid JSON escape of the same character, so JSON stays valid.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    // Every control character starts with one of these bytes in UTF-8 (C1
    // ones with 0xC2): a byte scan clears a whole plan (1 MB and more)
    // without decoding it char by char; a hit is then checked per char.
    let may_start_one = |b: u8| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f || b == 0xc2;
    if !text.bytes().any(may_start_one) || !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let own = |rest: &str| {
        Paint::ALL
            .iter()
            .map(|p| p.sgr())
            .chain([SGR_RESET])
            .find(|sgr| rest.starts_with(sgr))
    };
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(sgr) = own(rest) {
            out.push_str(sgr);
            rest = &rest[sgr.len()..];
            continue;
        }
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// `url` without any `user:password@` part, for output that may be shared.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// A plan's summary line: Terraform's, with its "N to import" and "N to move"
/// when the plan imports or moves tasks (then it is never "No changes").
pub fn plan_summary_line(plan: &Plan) -> String {
    let counts = plan.counts();
    let StateCounts { moved, imported } = plan.state_counts();
    if moved == 0 && imported == 0 {
        return summary_line(counts);
    }
    let mut parts = Vec::new();
    if imported > 0 {
        parts.push(format!("{imported} to import"));
    }
    parts.push(format!(
        "{} to add, {} to change, {} to destroy",
        counts.add, counts.change, counts.destroy
    ));
    if moved > 0 {
        parts.push(format!("{moved} to move"));
    }
    format!("Plan: {}.", parts.join(", "))
}

/// Terraform's summary line; its exact wording is what CI scripts grep for.
pub fn summary_line(counts: Counts) -> String {
    if counts == Counts::default() {
        "No changes. Your infrastructure matches the configuration.".to_string()
    } else {
        format!(
            "Plan: {} to add, {} to change, {} to destroy.",
            counts.add, counts.change, counts.destroy
        )
    }
}

/// The whole human-readable plan, ending with a newline. `health` is what
/// the cloud said of the tasks it read: each changing task's block shows it.
pub fn plan_human(
    plan: &Plan,
    gate: Option<&GateReport>,
    health: &[TaskStatus],
    style: &Style,
) -> String {
    let mut out = String::new();
    if plan.has_changes() {
        out.push_str(&legend(plan, style));
        out.push_str("\nhtapsync will perform the following actions:\n\n");
        let health = HealthIndex::new(health);
        for change in plan.actionable() {
            block::task_block(change, health.of(change), style, &mut out);
            out.push('\n');
        }
        for change in plan.state_only().filter(|c| !c.is_remote()) {
            for remark in change.remarks() {
                out.push_str(&format!(
                    "  {}\n",
                    style.paint(Paint::Bold, &format!("# {remark}"))
                ));
            }
            out.push('\n');
        }
    }
    let judged = |g: &&GateReport| g.unavailable.is_none() && !g.required.is_empty();
    if let Some(report) = gate.filter(|g| judged(g) || !g.verdicts.is_empty()) {
        out.push_str(&gate::gate_section(report, style));
        out.push('\n');
    }
    out.push_str(&impact_banner(plan, style));
    out.push_str(&plan_summary_line(plan));
    out.push('\n');
    if let Some(unavailable) = gate.and_then(|g| g.unavailable.as_ref()) {
        let headline = format!("{}. Apply will refuse this plan.", unavailable.headline());
        out.push_str(&style.paint(Paint::Red, &headline));
        out.push_str(&format!("\n  {}\n", unavailable.detail()));
    } else if let Some(report) = gate {
        let failed = report.failed_count();
        if failed > 0 {
            let tasks = if failed == 1 { "task" } else { "tasks" };
            out.push_str(&style.paint(
                Paint::Red,
                &format!("The table-config-check gate failed for {failed} {tasks}: apply will refuse this plan."),
            ));
            out.push('\n');
        }
    }
    out
}

/// What the cloud said of each task it was asked about, by address.
pub(crate) struct HealthIndex<'a>(HashMap<&'a str, &'a TaskStatus>);

impl<'a> HealthIndex<'a> {
    pub(crate) fn new(health: &'a [TaskStatus]) -> HealthIndex<'a> {
        HealthIndex(health.iter().map(|t| (t.address.as_str(), t)).collect())
    }

    /// The health of the task `change` changes, when it was read.
    pub(crate) fn of(&self, change: &Change) -> Option<&'a TaskStatus> {
        self.0.get(change.address.as_str()).copied()
    }
}

/// The plan's impact over the summary, when a change is not in place: red
/// when apply will need an explicit yes, yellow when tables may be rebuilt.
fn impact_banner(plan: &Plan, style: &Style) -> String {
    let impact = plan.impact();
    let Some(banner) = impact.banner() else {
        return String::new();
    };
    let paint = if impact.class.is_some_and(|c| c.is_destructive()) {
        Paint::BoldRed
    } else {
        Paint::Yellow
    };
    format!("{}\n", style.paint(paint, &banner))
}

/// The symbols this plan uses, and only those, in Terraform's wording.
fn legend(plan: &Plan, style: &Style) -> String {
    let mut out = String::from("Resource actions are indicated with the following symbols:\n");
    for (action, meaning) in [
        (Action::Create, "create"),
        (Action::Update, "update in-place"),
        (Action::Replace, "destroy and then create replacement"),
        (Action::Delete, "destroy"),
    ] {
        if plan.changes.iter().any(|c| c.action == action) {
            out.push_str(&format!("{} {meaning}\n", style.symbol(action)));
        }
    }
    out
}

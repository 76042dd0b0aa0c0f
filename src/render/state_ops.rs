//! The text of `state history|push|migrate`: shared by the human view and
//! the `message` of their JSON lines.

use crate::ops::state::{Migrated, Pushed};
use crate::state::Version;
use std::fmt::Write;

/// `state history`: one row per kept version, newest first.
pub fn history_table(versions: &[Version]) -> String {
    let by = |v: &Version| v.written_by.clone().unwrap_or_else(|| "-".to_string());
    let width = versions
        .iter()
        .map(|v| by(v).len())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = format!(
        "{:<8}{:<22}{:<w$}  TASKS\n",
        "SERIAL",
        "WRITTEN",
        "BY",
        w = width
    );
    for (i, v) in versions.iter().enumerate() {
        let current = if i == 0 { "  (current)" } else { "" };
        let _ = writeln!(
            out,
            "{:<8}{:<22}{:<w$}  {}{current}",
            v.serial,
            v.written_at,
            by(v),
            v.tasks,
            w = width
        );
    }
    out
}

/// `state push`: what was written.
pub fn pushed_line(workspace: &str, pushed: &Pushed) -> String {
    match pushed.written_serial {
        Some(serial) => format!(
            "Pushed the state (serial {}) to workspace {workspace:?}: written as serial {serial}.",
            pushed.from_serial
        ),
        None => format!(
            "The state of workspace {workspace:?} already is this document: nothing written."
        ),
    }
}

/// `state migrate`: one workspace copied.
pub fn migrated_line(m: &Migrated) -> String {
    let how = if m.already_there {
        "already there"
    } else {
        "copied and verified"
    };
    format!(
        "workspace {:?}: serial {}, {} task(s): {how}",
        m.workspace, m.serial, m.tasks
    )
}

/// `state migrate`: what the user does next.
pub fn migrate_next_step(to: &str) -> String {
    format!(
        "Set `[state] backend = \"{to}\"` in the configuration to use the copy; the source was left unchanged."
    )
}

/// What `state mv` did (or, with `dry_run`, would do).
pub fn moved_line(moved: &crate::model::Moved, dry_run: bool) -> String {
    let (from, to) = (&moved.from, &moved.to);
    if dry_run {
        format!("Would move {from} to {to}")
    } else {
        format!("Moved {from} to {to} (the cloud task is unchanged)")
    }
}

//! The table of `status` (and `drift`): one row per managed task, with what
//! the cloud says, then the last failed table change of each task that has one.

use crate::ops::TaskStatus;

/// The column values of one task: `missing` / `-` where the cloud has nothing.
pub(crate) fn columns(task: &TaskStatus) -> [&str; 5] {
    match &task.live {
        None => ["missing", "-", "-", "-", "-"],
        Some(l) => [
            &l.status,
            &l.stage,
            &l.percentage,
            &l.catchup_stage,
            &l.catchup_percentage,
        ],
    }
}

/// `yes`, `no`, or `-` when the cloud does not have the task.
pub(crate) fn repair_column(task: &TaskStatus) -> &'static str {
    match (&task.live, task.needs_repair()) {
        (None, _) => "-",
        (Some(_), true) => "yes",
        (Some(_), false) => "no",
    }
}

/// The table with its header, ending with a newline, then a line per task
/// whose last table change could not be read.
pub fn table(tasks: &[TaskStatus], unread: &[(crate::model::Address, String)]) -> String {
    let row = |cells: [&str; 7]| {
        format!(
            "{:<40} {:<8} {:<12} {:>8}  {:<12} {:>8}  {}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        )
    };
    let mut out = row([
        "ADDRESS",
        "STATUS",
        "STAGE",
        "PROGRESS",
        "CATCH-UP",
        "PROGRESS",
        "NEEDS REPAIR",
    ]);
    for task in tasks {
        let address = task.address.to_string();
        let [s, st, p, cs, cp] = columns(task);
        out.push_str(&row([&address, s, st, p, cs, cp, repair_column(task)]));
    }
    for task in tasks.iter().filter(|t| !t.alter_error.is_empty()) {
        out.push_str(&format!(
            "{}: last table change failed: {}\n",
            task.address, task.alter_error
        ));
    }
    for (address, error) in unread {
        out.push_str(&format!(
            "{address}: its last table change could not be read: {error}\n"
        ));
    }
    super::terminal_safe(&out).into_owned()
}

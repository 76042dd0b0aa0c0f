//! The table of `status`: one row per managed task, with what the cloud says.

use crate::ops::{Status, TaskStatus};

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

/// The table with its header, ending with a newline.
pub fn table(status: &Status) -> String {
    let row = |cells: [&str; 6]| {
        format!(
            "{:<40} {:<8} {:<12} {:>8}  {:<12} {:>8}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        )
    };
    let mut out = row([
        "ADDRESS", "STATUS", "STAGE", "PROGRESS", "CATCH-UP", "PROGRESS",
    ]);
    for task in &status.tasks {
        let address = task.address.to_string();
        let [s, st, p, cs, cp] = columns(task);
        out.push_str(&row([&address, s, st, p, cs, cp]));
    }
    out
}

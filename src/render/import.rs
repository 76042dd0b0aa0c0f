//! The lines of `import`, shared by the human view and the `@message` of
//! the JSON stream.

use crate::model::{Address, TaskSpec};
use crate::ops::Imported;
use std::path::Path;

/// A task found but not imported, because the next plan would delete it.
pub fn skipped_line(spec: &TaskSpec) -> String {
    format!(
        "{}: not imported: no [task.{}] block in the configuration \
         (add one, or pass --generate-config FILE to write it)",
        spec.address(),
        spec.name
    )
}

/// A generated block whose inherited `source_node_id` is not what the task has.
pub fn review_line(address: &Address) -> String {
    format!(
        "{address} reads from the primary node, but its generated block \
         inherits source_node_id from [defaults]: review it"
    )
}

/// What `--generate-config` wrote (`written` blocks; 0: nothing).
pub fn generated_line(path: &Path, written: usize) -> String {
    if written == 0 {
        format!(
            "Every imported task already has a block in the configuration: {} not written",
            path.display()
        )
    } else {
        format!(
            "Wrote configuration for {written} task(s) to {}",
            path.display()
        )
    }
}

/// The last line of an import.
pub fn summary_line(imported: &Imported) -> String {
    format!(
        "Import successful: {} task(s) are now managed by htapsync.",
        imported.imported.len()
    )
}

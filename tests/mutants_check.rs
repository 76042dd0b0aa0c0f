//! Issue 18: what `cargo mutants` found no test for in `src/check/`, pinned
//! through the real binary against `htapsync emulator` and its call counters.

mod support;

use support::{EmulatorProcess, Project, header, task};

/// The gate checks what the plan would send to the cloud, and nothing else:
/// not a task the plan leaves alone, not one it deletes.
#[test]
fn the_gate_checks_only_the_tasks_the_plan_creates_or_changes() {
    let emu = EmulatorProcess::start();
    let names = ["t_same", "t_changed", "t_deleted"];
    let config = names.iter().fold(header(&emu.url), |c, name| {
        c + &task(name, &format!("{name}_olap"), &["orders"])
    });
    let p = Project::new(&config);
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.calls("check"), 3);

    p.write_config(&config.replace(&task("t_deleted", "t_deleted_olap", &["orders"]), ""));
    p.edit(
        "[task.t_changed]\n",
        "[task.t_changed]\ndb_configs = { max_sync_commit_rows = \"600000\" }\n",
    );
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("1 to change, 1 to destroy"), "{out}");
    assert_eq!(emu.calls("check"), 4, "one check, of t_changed: {out}");
}

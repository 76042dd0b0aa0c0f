//! Pause and resume are idempotent: when the cloud is already in the run
//! state a saved plan wants (someone paused or resumed the task by hand
//! between `plan -out` and `apply`), apply records it and goes on.

mod support;
use std::time::Duration;
use support::{EmulatorProcess, HTAP, Project, header, task};

const NAME: &str = "orders_sync";

fn project(emu: &EmulatorProcess) -> Project {
    Project::new(&format!(
        "{}{}",
        header(&emu.url),
        task(NAME, "shop_olap", &["orders"])
    ))
}

/// Waits until the task's stage satisfies `done` (E4 polls, no fixed sleep).
fn wait_stage(emu: &EmulatorProcess, done: impl Fn(&str) -> bool) {
    let row = emu
        .block_on(emu.client().wait_task(
            HTAP,
            NAME,
            |r| r.is_some_and(|r| done(&r.stage)),
            Duration::from_secs(30),
        ))
        .expect("the task reaches the stage");
    assert!(row.is_some());
}

fn running(stage: &str) -> bool {
    stage == "Full" || stage == "Incremental"
}

#[test]
fn a_saved_resume_of_a_task_resumed_by_hand_is_recorded() {
    let emu = EmulatorProcess::start();
    let project = project(&emu);
    project.run_ok(&["apply", "--auto-approve"], 0);
    project.edit(
        "[task.orders_sync]\n",
        "[task.orders_sync]\npaused = true\n",
    );
    project.run_ok(&["apply", "--auto-approve"], 0);
    wait_stage(&emu, |s| s == "Paused");

    project.edit("paused = true\n", "");
    project.run_ok(&["plan", "-out", "resume.plan"], 0);
    emu.block_on(emu.client().resume(HTAP, NAME))
        .expect("out-of-band resume");
    wait_stage(&emu, running);

    let out = project.run_ok(&["apply", "resume.plan"], 0);
    assert!(out.contains("1 changed"), "{out}");
    assert_eq!(project.state()["tasks"][NAME]["spec"]["paused"], false);
    assert_eq!(emu.stats()["resumes"], 1, "only the out-of-band resume");
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_saved_pause_of_a_task_paused_by_hand_is_recorded() {
    let emu = EmulatorProcess::start();
    let project = project(&emu);
    project.run_ok(&["apply", "--auto-approve"], 0);
    wait_stage(&emu, running);

    project.edit(
        "[task.orders_sync]\n",
        "[task.orders_sync]\npaused = true\n",
    );
    project.run_ok(&["plan", "-out", "pause.plan"], 0);
    emu.block_on(emu.client().pause(HTAP, NAME))
        .expect("out-of-band pause");
    wait_stage(&emu, |s| s == "Paused");

    let out = project.run_ok(&["apply", "pause.plan"], 0);
    assert!(out.contains("1 changed"), "{out}");
    assert_eq!(project.state()["tasks"][NAME]["spec"]["paused"], true);
    assert_eq!(emu.stats()["pauses"], 1, "only the out-of-band pause");
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

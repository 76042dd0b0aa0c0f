//! A saved plan made with refresh is applied only while the live tasks are
//! what it was planned against: `apply PLANFILE` refreshes again and refuses
//! the plan when the changes it gives differ, naming the task.

mod reliability_support;

use reliability_support::{Config, EmulatorProcess, HTAP, TOKEN, client, runtime, tasks};
use std::time::Duration;

#[test]
fn a_task_changed_in_the_cloud_since_a_refreshed_plan_stops_the_apply() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::start(work.path(), &[], &[("HTAPSYNC_EMULATOR_TOKEN", TOKEN)]);
    let cfg = Config::new(&emu.url, &tasks(2));
    cfg.run_ok(&["apply", "--auto-approve"], 0);
    let mut changed = tasks(2);
    changed[0].tables = vec!["orders"];
    cfg.write(&emu.url, &changed);
    cfg.run_ok(&["plan", "-out", "p.plan"], 0);
    let serial = cfg.state().unwrap().serial;
    // Someone pauses t001 between the review and the apply.
    runtime().block_on(async {
        let api = client(&emu.url);
        let job = api.pause(HTAP, "t001").await.unwrap();
        api.wait_job(&job, Duration::from_secs(60)).await.unwrap();
    });

    let (code, out, err) = cfg.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "task.t001: the saved plan says no-op, the configuration and state now say update"
        ),
        "{err}"
    );
    assert_eq!(cfg.state().unwrap().serial, serial, "nothing was recorded");
    let again = cfg.run_ok(&["plan", "-detailed-exitcode"], 2);
    assert!(
        again.contains("task.t000 will be updated"),
        "t000 was modified: {again}"
    );
}

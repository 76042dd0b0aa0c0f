//! A saved plan made with refresh carries the live records it was diffed
//! against: `apply PLANFILE` applies exactly the reviewed changes even when
//! the cloud moved since (as Terraform does), and the next plan shows the drift.

mod support;

use support::fleet::{client, runtime};
use support::{Config, EmulatorProcess, HTAP, TOKEN, tasks};
use std::time::Duration;

#[test]
fn a_refreshed_plan_applies_what_was_reviewed_even_when_the_cloud_moved_since() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[("HTAPSYNC_EMULATOR_TOKEN", TOKEN)]);
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

    let out = cfg.run_ok(&["apply", "p.plan"], 0);
    assert!(
        out.contains("task.t000"),
        "t000 is updated as reviewed: {out}"
    );
    assert!(!out.contains("task.t001:"), "t001 was a no-op: {out}");
    assert!(
        cfg.state().unwrap().serial > serial,
        "the update was recorded"
    );
    let again = cfg.run_ok(&["plan", "-detailed-exitcode"], 2);
    assert!(
        again.contains("task.t001 will be updated") && !again.contains("task.t000 will be"),
        "only the pause made after the review shows, as drift to undo: {again}"
    );
}

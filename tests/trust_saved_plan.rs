//! `apply PLANFILE` executes exactly what was planned and shown: a plan file
//! edited after it was written is refused by its digest, one edited
//! consistently (digest recomputed) is refused because its changes are not
//! what the configuration and state give, a forged gate verdict does not let
//! a rejected configuration through, and the hint printed after `plan -out`
//! is a command that works as shown, also with `-C`. A saved plan made with
//! refresh carries the live records it was diffed against: it applies exactly
//! the reviewed changes even when the cloud moved since (as Terraform does),
//! and the next plan shows the drift.

mod support;

use htapsync::planfile::SavedPlan;
use std::path::Path;
use std::time::Duration;
use support::fleet::{client, runtime};
use support::{Config, EmulatorProcess, HTAP, TOKEN, Workspace, tasks};

fn plan_to(ws: &Workspace, file: &str, code: i32) -> SavedPlan {
    ws.run_ok(&["plan", "-out", file], code);
    SavedPlan::read(&ws.path(file)).expect("plan -out writes a readable plan")
}

/// Nothing reached the cloud: no state was recorded and no task exists.
#[track_caller]
fn assert_nothing_applied(ws: &Workspace) {
    assert!(
        !ws.path(".htapsync/htapsync.state.json").exists(),
        "state was written"
    );
    // The embedded emulator persists the cloud's tasks there.
    let cloud = std::fs::read_to_string(ws.path(".htapsync/cloud.json")).unwrap_or_default();
    assert!(
        !cloud.contains("orders_sync"),
        "a task was created: {cloud}"
    );
}

#[test]
fn an_untouched_saved_plan_applies() {
    let ws = Workspace::example("quickstart");
    plan_to(&ws, "p.plan", 0);
    let out = ws.run_ok(&["apply", "p.plan"], 0);
    assert!(out.contains("Apply complete! Resources: 2 added"), "{out}");
    // Day 2, with refresh (the default): a change planned against live tasks applies too.
    ws.edit(
        "htapsync.toml",
        "orders = \"order by id\"",
        "orders = \"order by id,customer_id\"",
    );
    let saved = plan_to(&ws, "day2.plan", 0);
    assert!(saved.refreshed);
    let out = ws.run_ok(&["apply", "day2.plan"], 0);
    assert!(out.contains("1 changed"), "{out}");
    ws.run_ok(&["plan", "-detailed-exitcode"], 0);
}

#[test]
fn a_plan_file_edited_after_it_was_written_is_refused() {
    let ws = Workspace::example("quickstart");
    plan_to(&ws, "p.plan", 0);
    ws.edit("p.plan", "\"order by id\"", "\"order by customer_id\"");
    let (code, out, err) = ws.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("p.plan: the saved plan was modified after it was written"),
        "{err}"
    );
    let (code, _, err) = ws.run(&["show", "p.plan"]);
    assert_eq!(code, 1, "show refuses it too: {err}");
    assert_nothing_applied(&ws);
}

#[test]
fn a_consistent_edit_is_refused_because_config_and_state_give_other_changes() {
    let ws = Workspace::example("quickstart");
    let mut saved = plan_to(&ws, "p.plan", 0);
    // An editor who also recomputes the digest: change what would be sent.
    let change = saved
        .plan
        .changes
        .iter_mut()
        .find(|c| c.address.name() == "orders_sync")
        .unwrap();
    let after = change.after.as_mut().unwrap();
    after
        .table_configs
        .insert("orders".into(), "order by customer_id".into());
    for field in &mut change.fields {
        if field.path == "table_configs.orders" {
            field.after = Some("order by customer_id".into());
        }
    }
    saved.write(&ws.path("p.plan")).unwrap();
    assert!(
        SavedPlan::read(&ws.path("p.plan")).is_ok(),
        "the file is consistent"
    );

    let (code, out, err) = ws.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("does not match what the configuration and the state give now"),
        "{err}"
    );
    assert!(
        err.contains("task.orders_sync: the saved plan differs from the configuration and state in table_configs.orders"),
        "names what differs: {err}"
    );
    assert_nothing_applied(&ws);
}

#[test]
fn a_forged_prior_state_is_refused_before_anything_is_sent() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let mut saved = plan_to(&ws, "p.plan", 0);
    // A consistent edit of what the plan was diffed against: forget a
    // recorded task, so that the diff would create it a second time.
    saved
        .prior
        .remove("orders_sync")
        .expect("the plan carries its prior records");
    saved.write(&ws.path("p.plan")).unwrap();

    let (code, out, err) = ws.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("task.orders_sync: recorded in state but missing from the plan's prior state"),
        "{err}"
    );
}

#[test]
fn a_forged_passing_verdict_does_not_let_a_rejected_config_through() {
    let ws = Workspace::example("failing-check");
    let mut saved = plan_to(&ws, "p.plan", 1);
    assert!(!saved.gate.passed());
    for verdict in saved.gate.verdicts.values_mut() {
        for table in &mut verdict.tables {
            table.passed = true;
            table.result = "success".into();
        }
    }
    assert!(saved.gate.passed());
    saved.write(&ws.path("p.plan")).unwrap();

    let (code, out, err) = ws.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("the table-config-check gate failed; nothing was changed"),
        "{err}"
    );
    assert!(out.contains("table-config-check failed"), "{out}");
    assert_nothing_applied(&ws);
}

#[test]
fn the_saved_plan_hint_works_as_shown_with_chdir() {
    let parent = tempfile::tempdir().unwrap();
    let ws = Workspace::example("quickstart");
    let cfg = parent.path().join("cfg");
    std::fs::rename(ws.dir.path(), &cfg).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = support::clean_cmd();
        cmd.current_dir(parent.path()).args(args);
        let out = cmd.output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = run(&["-C", "cfg", "plan", "-out", "x.plan"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(cfg.join("x.plan").exists());
    let hint = out
        .lines()
        .find_map(|l| l.strip_prefix("To perform exactly these actions, run: "))
        .unwrap_or_else(|| panic!("no hint in\n{out}"));
    assert_eq!(hint, "htapsync -C cfg apply x.plan");
    let words: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let (code, out, err) = run(&words);
    assert_eq!(code, Some(0), "{hint}\n{out}\n{err}");
    assert!(out.contains("Apply complete! Resources: 2 added"), "{out}");
    assert!(Path::new(&cfg.join(".htapsync/htapsync.state.json")).exists());
}

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

    // t000 loses a table: destructive, so allowed explicitly.
    let out = cfg.run_ok(&["apply", "--allow-destructive", "p.plan"], 0);
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

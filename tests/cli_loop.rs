//! End-to-end: the real binary against the embedded emulator, through the
//! whole plan → check → apply → state loop of the quick start.

mod support;
use support::Workspace;

const CONFIG: &str = "htapsync.toml";

#[test]
fn quickstart_applies_then_reports_no_changes() {
    let ws = Workspace::example("quickstart");
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(
        out.contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let state = ws.state();
    assert_eq!(state["serial"].as_u64().map(|s| s > 0), Some(true));
    assert!(state["tasks"]["orders_sync"].is_object());
    assert!(state["tasks"]["catalog_sync"].is_object());
    assert_eq!(
        state["intents"],
        serde_json::Value::Null,
        "no intent left behind"
    );

    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_plan_changes_nothing() {
    let ws = Workspace::example("quickstart");
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.orders_sync will be created"), "{out}");
    assert!(out.contains("table-config-check passed"), "{out}");
    // Still nothing managed: plan never writes state.
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("Plan: 2 to add"), "{out}");
}

#[test]
fn update_in_place_then_converges() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(
        CONFIG,
        r#"orders = "order by id""#,
        r#"orders = "order by customer_id,id""#,
    );
    ws.edit(
        CONFIG,
        "max_sync_commit_rows = 500000",
        "max_sync_commit_rows = 600000",
    );
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains("task.orders_sync will be updated in-place"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(
        out.contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{out}"
    );
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    let state = ws.state();
    assert_eq!(
        state["tasks"]["orders_sync"]["spec"]["table_configs"]["orders"],
        "order by customer_id,id"
    );
    assert_eq!(
        state["tasks"]["orders_sync"]["spec"]["db_configs"]["max_sync_commit_rows"],
        "600000"
    );
}

#[test]
fn pause_and_resume() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\n",
        "[task.catalog_sync]\npaused = true\n",
    );
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("1 changed"), "{out}");
    let status = ws.run_ok(&["status"], 0);
    assert!(
        status
            .lines()
            .any(|l| l.contains("task.catalog_sync") && l.contains("Paused")),
        "{status}"
    );
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    ws.edit(CONFIG, "paused = true\n", "");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let status = ws.run_ok(&["status"], 0);
    assert!(!status.contains("Paused"), "{status}");
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn removing_a_task_destroys_it_and_target_limits_the_run() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(
        &["apply", "--auto-approve", "-target", "task.orders_sync"],
        0,
    );
    let state = ws.state();
    assert!(
        state["tasks"]["catalog_sync"].is_null(),
        "target limited the apply"
    );
    let out = ws.run_ok(&["plan"], 0);
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);

    let cfg = ws.read(CONFIG);
    let cut = cfg.find("# The catalogue").unwrap();
    ws.write(CONFIG, &cfg[..cut]);
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.catalog_sync will be destroyed"), "{out}");
    let out = ws.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(out.contains("0 added, 0 changed, 1 destroyed."), "{out}");
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn destroy_respects_prevent_destroy() {
    let ws = Workspace::example("quickstart");
    ws.edit(
        CONFIG,
        "[task.orders_sync]\n",
        "[task.orders_sync]\nprevent_destroy = true\n",
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let (code, out, err) = ws.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("prevent_destroy"), "{err}");
    let out = ws.run_ok(
        &["destroy", "--auto-approve", "-target", "task.catalog_sync"],
        0,
    );
    assert!(
        out.contains("Destroy complete! Resources: 1 destroyed."),
        "{out}"
    );
    // The protection is remembered in state: removing the block does not lift it.
    let cfg = ws.read(CONFIG);
    let start = cfg.find("# Orders and their lines").unwrap();
    let end = cfg.find("# The catalogue").unwrap();
    ws.write(CONFIG, &format!("{}{}", &cfg[..start], &cfg[end..]));
    let (code, out, err) = ws.run(&["plan"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("task.orders_sync") && err.contains("prevent_destroy"),
        "{err}"
    );
}

#[test]
fn failing_gate_refuses_and_changes_nothing() {
    let ws = Workspace::example("failing-check");
    let (code, out, _) = ws.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("placed_at"),
        "the failed config is shown: {out}"
    );
    assert!(out.contains("refunds"), "{out}");
    assert!(out.contains("audit_log"), "{out}");
    assert!(out.contains("gate failed"), "{out}");
    let (code, out, err) = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(!out.contains("Creating"), "{out}");
    // The cloud holds no task: an import of everything finds nothing.
    let out = ws.run_ok(
        &[
            "import",
            "--all",
            "--instance",
            "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17",
        ],
        0,
    );
    assert!(out.contains("0 task(s)"), "{out}");
}

#[test]
fn saved_plan_is_applied_exactly_and_refused_when_stale() {
    let ws = Workspace::example("quickstart");
    let plan = ws.path("tasks.plan");
    let plan = plan.to_str().unwrap();
    ws.run_ok(&["plan", "-out", plan], 0);
    ws.run_ok(&["plan", "-out", plan], 0);
    let out = ws.run_ok(&["apply", plan], 0);
    assert!(out.contains("2 added"), "{out}");
    // Applying it again: the state moved on since.
    let (code, _, err) = ws.run(&["apply", plan]);
    assert_eq!(code, 1);
    assert!(err.contains("stale"), "{err}");

    ws.edit(
        CONFIG,
        r#"orders = "order by id""#,
        r#"orders = "order by status,id""#,
    );
    ws.run_ok(&["plan", "-out", plan], 0);
    ws.edit(
        CONFIG,
        r#"orders = "order by status,id""#,
        r#"orders = "order by id""#,
    );
    let (code, _, err) = ws.run(&["apply", plan]);
    assert_eq!(code, 1);
    assert!(err.contains("configuration changed"), "{err}");
}

#[test]
fn failed_saved_plan_is_refused() {
    let ws = Workspace::example("failing-check");
    let plan = ws.path("bad.plan");
    let plan = plan.to_str().unwrap();
    ws.run_ok(&["plan", "-out", plan], 1);
    let (code, _, err) = ws.run(&["apply", plan]);
    assert_eq!(code, 1);
    assert!(err.contains("table-config-check"), "{err}");
}

#[test]
fn import_adopts_and_generates_config() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);
    let out = ws.run_ok(&["state", "list"], 0);
    assert_eq!(out.trim(), "task.catalog_sync");
    let generated_path = ws.path("generated/imported.toml");
    std::fs::create_dir_all(generated_path.parent().unwrap()).unwrap();
    let out = ws.run_ok(
        &[
            "import",
            "--all",
            "--generate-config",
            generated_path.to_str().unwrap(),
        ],
        0,
    );
    assert!(out.contains("task.orders_sync: imported"), "{out}");
    // Its block exists already: a second one would define the task twice.
    assert!(out.contains("already has a block"), "{out}");
    assert!(!generated_path.exists());
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn apply_asks_for_yes() {
    let ws = Workspace::example("quickstart");
    let out = ws.cmd(&["apply"]).write_stdin("no\n").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Only 'yes' will be accepted"), "{stdout}");
    assert!(stdout.contains("Apply cancelled."), "{stdout}");
    ws.run_ok(&["plan", "--detailed-exitcode"], 2);

    let out = ws.cmd(&["apply"]).write_stdin("yes\n").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Apply complete! Resources: 2 added"),
        "{stdout}"
    );
}

#[test]
fn a_task_created_paused_is_registered_not_started_then_started_on_unpause() {
    let ws = Workspace::example("quickstart");
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\n",
        "[task.catalog_sync]\npaused = true\n",
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let status = ws.run_ok(&["status"], 0);
    assert!(
        status
            .lines()
            .any(|l| l.contains("task.catalog_sync") && l.contains("Wait")),
        "{status}"
    );
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    ws.edit(CONFIG, "paused = true\n", "");
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("0 added, 1 changed"), "{out}");
    let status = ws.run_ok(&["status"], 0);
    assert!(!status.contains("Wait"), "{status}");
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn relative_paths_are_relative_to_the_chdir() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["plan", "-out", "relative.plan"], 0);
    assert!(ws.path("relative.plan").exists(), "written inside -C DIR");
    let out = ws.run_ok(&["apply", "relative.plan"], 0);
    assert!(out.contains("2 added"), "{out}");
    let out = ws.run_ok(&["show", "relative.plan"], 0);
    assert!(out.contains("task.orders_sync will be created"), "{out}");
}

//! One rule for db_configs: a parameter the configuration does not write
//! means its documented default. Removing one shows the change to the
//! default and apply sends the default explicitly, so a cloud that keeps
//! values and a cloud that resets them both end where the plan said, and no
//! plan afterwards shows a difference, with or without refresh.

mod support;
use support::{EmulatorProcess, HTAP, Project, header, task};

const NAME: &str = "orders_sync";

fn project(emu: &EmulatorProcess, params: &str) -> Project {
    Project::new(&format!(
        "{}{}\n[task.{NAME}.db_configs]\n{params}",
        header(&emu.url),
        task(NAME, "shop_olap", &["orders"])
    ))
}

/// The value the cloud reports (E5) for a parameter, if any.
fn cloud_value(emu: &EmulatorProcess, param: &str) -> Option<String> {
    let cfg = emu
        .block_on(emu.client().task_config(HTAP, NAME))
        .expect("task config");
    cfg.database_info
        .db_config_check_results
        .into_iter()
        .find(|r| r.param_name == param)
        .map(|r| r.value)
}

#[test]
fn removing_a_parameter_sets_its_default_and_then_plans_no_changes() {
    let emu = EmulatorProcess::start();
    let project = project(
        &emu,
        "max_sync_commit_rows = 600000\nsync_commit_interval_ms = 6000\n",
    );
    project.run_ok(&["apply", "--auto-approve"], 0);
    project.edit("max_sync_commit_rows = 600000\n", "");

    let out = project.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains(r#""600000" -> "500000""#),
        "the plan shows the default the parameter returns to:\n{out}"
    );
    assert!(!out.contains("null"), "{out}");
    let out = project.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("1 changed"), "{out}");
    assert_eq!(
        cloud_value(&emu, "max_sync_commit_rows").as_deref(),
        Some("500000"),
        "the default was sent, not left to the cloud"
    );
    assert_eq!(
        cloud_value(&emu, "sync_commit_interval_ms").as_deref(),
        Some("6000")
    );
    let out = project.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
    project.run_ok(&["plan", "--detailed-exitcode", "-refresh=false"], 0);
}

#[test]
fn writing_a_parameter_at_its_default_is_no_change() {
    let emu = EmulatorProcess::start();
    let project = project(&emu, "sync_commit_interval_ms = 6000\n");
    project.run_ok(&["apply", "--auto-approve"], 0);
    project.edit(
        "sync_commit_interval_ms = 6000\n",
        "sync_commit_interval_ms = 6000\nmax_sync_commit_rows = 500000\n",
    );
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
    project.run_ok(&["plan", "--detailed-exitcode", "-refresh=false"], 0);
}

#[test]
fn an_unwritten_parameter_changed_outside_is_drift_back_to_its_default() {
    let emu = EmulatorProcess::start();
    let project = project(&emu, "sync_commit_interval_ms = 6000\n");
    project.run_ok(&["apply", "--auto-approve"], 0);
    // Someone sets a parameter the configuration does not write.
    let mut req = htapsync::api::wire::TaskConfigRequest {
        task_name: Some(NAME.to_string()),
        ..Default::default()
    };
    req.db_configs = Some(vec![
        htapsync::api::wire::DbConfig {
            param_name: "sync_commit_interval_ms".into(),
            value: "6000".into(),
        },
        htapsync::api::wire::DbConfig {
            param_name: "binlog_expire_logs_seconds".into(),
            value: "3600".into(),
        },
    ]);
    let resp = emu
        .block_on(emu.client().modify(HTAP, &req))
        .expect("out-of-band modify");
    emu.block_on(
        emu.client()
            .wait_job(&resp.job_id, std::time::Duration::from_secs(30)),
    )
    .expect("job completes");

    let out = project.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains(r#""3600" -> "86400""#), "{out}");
    assert!(
        out.contains("task.orders_sync changed outside htapsync: db_configs."),
        "{out}"
    );
    project.run_ok(&["apply", "--auto-approve"], 0);
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

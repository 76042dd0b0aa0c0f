//! `import` adopts what the cloud really runs, and nothing it would then
//! undo: a started task is never imported as paused, a task without a
//! configuration block is refused (its next plan would delete it), generated
//! configuration leaves out what `[defaults]` already says, and `--instance`
//! is checked like the configuration's `instance_id`.

mod support;
use htapsync::api::wire::StartRequest;
use htapsync::model::TaskSpec;
use support::{EmulatorProcess, HTAP, Project, header, task};

/// A task replicating `shop.orders` into `target` with these db_configs.
fn spec(name: &str, target: &str, db_configs: &[(&str, &str)]) -> TaskSpec {
    support::spec(name)
        .target(target)
        .db_configs(db_configs.iter().copied())
        .build()
}

/// Registers (E2 with `is_create_task`) and starts (E3) a task out of band,
/// as a console user or another tool would.
fn create_by_api(emu: &EmulatorProcess, spec: &TaskSpec) {
    let mut req = htapsync::check::task_request(spec);
    req.is_create_task = Some("true".to_string());
    emu.block_on(emu.client().check_tables(HTAP, &req))
        .expect("register");
    let start = StartRequest {
        source_instance_id: spec.source_instance_id.clone(),
        source_node_id: None,
        source_database: spec.source_database_name.clone(),
        target_database: spec.target_database_name.clone(),
        task_name: spec.name.clone(),
    };
    emu.block_on(emu.client().start(HTAP, &start))
        .expect("start");
}

#[test]
fn a_started_task_still_in_wait_is_imported_running() {
    // A lifecycle step of ten minutes: the started task stays in stage Wait
    // for the whole test, as a real task does while its full copy is queued.
    let emu = EmulatorProcess::start_timed(600_000, 40);
    create_by_api(&emu, &spec("live_orders", "live_olap", &[]));
    assert_eq!(emu.list(HTAP)[0].stage, "Wait");
    let project = Project::new(&header(&emu.url));
    let args = [
        "import",
        "--all",
        "--instance",
        HTAP,
        "--generate-config",
        "gen.toml",
    ];
    project.run_ok(&args, 0);
    let generated = std::fs::read_to_string(project.path("gen.toml")).unwrap();
    assert!(!generated.contains("paused"), "{generated}");
    assert_eq!(
        project.state()["tasks"]["live_orders"]["spec"]["paused"],
        false
    );
    let out = project.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn importing_an_address_without_a_configuration_block_is_refused() {
    let emu = EmulatorProcess::start();
    create_by_api(&emu, &spec("orphan_sync", "orphan_olap", &[]));
    let project = Project::new(&header(&emu.url));
    let (code, out, err) = project.run(&["import", "task.orphan_sync", "--instance", HTAP]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no [task.orphan_sync] block"), "{err}");
    assert!(err.contains("--generate-config"), "{err}");
    assert!(
        !project.path("state.json").exists() || project.state()["tasks"]["orphan_sync"].is_null(),
        "nothing was imported"
    );

    // With a block, the import is accepted and the next plan changes nothing.
    project.write_config(&format!(
        "{}{}",
        header(&emu.url),
        task("orphan_sync", "orphan_olap", &["orders"])
    ));
    project.run_ok(&["import", "task.orphan_sync"], 0);
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn importing_an_address_with_generate_config_writes_its_block() {
    // No --instance: the instance of [defaults] is where the task is looked for.
    let emu = EmulatorProcess::start();
    create_by_api(&emu, &spec("orphan_sync", "orphan_olap", &[]));
    let project = Project::new(&header(&emu.url));
    project.run_ok(
        &[
            "import",
            "task.orphan_sync",
            "--generate-config",
            "orphan.toml",
        ],
        0,
    );
    let generated = std::fs::read_to_string(project.path("orphan.toml")).unwrap();
    assert!(generated.contains("[task.orphan_sync]"), "{generated}");
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn import_all_without_generate_config_skips_tasks_without_a_block() {
    let emu = EmulatorProcess::start();
    create_by_api(&emu, &spec("kept_sync", "kept_olap", &[]));
    create_by_api(&emu, &spec("orphan_sync", "orphan_olap", &[]));
    let project = Project::new(&format!(
        "{}{}",
        header(&emu.url),
        task("kept_sync", "kept_olap", &["orders"])
    ));
    let (code, out, err) = project.run(&["import", "--all"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("task.kept_sync: imported"), "{out}");
    assert!(err.contains("task.orphan_sync"), "{err}");
    assert!(project.state()["tasks"]["orphan_sync"].is_null());
    let out = project.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(!out.contains("destroy"), "{out}");
}

#[test]
fn generated_configuration_inherits_from_defaults_and_plans_no_changes() {
    let emu = EmulatorProcess::start();
    // The directory's defaults: the instances, the database, a target and two parameters.
    let config = format!(
        "{}target_database_name = \"shop_olap\"\n\n[defaults.db_configs]\n\
         sync_commit_interval_ms = 6000\nmax_sync_commit_rows = 600000\n",
        header(&emu.url)
    );
    // One task exactly as the defaults say, one overriding them, one that
    // leaves a defaulted parameter at the cloud's own default.
    create_by_api(
        &emu,
        &spec(
            "as_defaults",
            "shop_olap",
            &[
                ("sync_commit_interval_ms", "6000"),
                ("max_sync_commit_rows", "600000"),
            ],
        ),
    );
    create_by_api(
        &emu,
        &spec(
            "overrides",
            "other_olap",
            &[
                ("sync_commit_interval_ms", "7000"),
                ("max_sync_commit_rows", "600000"),
                ("binlog_expire_logs_seconds", "3600"),
            ],
        ),
    );
    create_by_api(
        &emu,
        &spec(
            "cloud_default",
            "shop_olap",
            &[("sync_commit_interval_ms", "6000")],
        ),
    );
    let project = Project::new(&config);
    let args = [
        "import",
        "--all",
        "--instance",
        HTAP,
        "--generate-config",
        "gen.toml",
    ];
    project.run_ok(&args, 0);
    let generated = std::fs::read_to_string(project.path("gen.toml")).unwrap();
    for inherited in [
        "instance_id",
        "source_database_name",
        "sync_commit_interval_ms = \"6000\"",
        "target_database_name = \"shop_olap\"",
    ] {
        assert!(!generated.contains(inherited), "{inherited}:\n{generated}");
    }
    for own in [
        "target_database_name = \"other_olap\"",
        "sync_commit_interval_ms = \"7000\"",
        "binlog_expire_logs_seconds = \"3600\"",
        // The cloud keeps its default where [defaults] says otherwise: written out.
        "max_sync_commit_rows = \"500000\"",
    ] {
        assert!(generated.contains(own), "{own}:\n{generated}");
    }
    let out = project.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
    project.run_ok(&["plan", "--detailed-exitcode", "-refresh=false"], 0);
    project.run_ok(&["fmt", "--check"], 0);
}

#[test]
fn import_instance_is_validated_like_the_configuration() {
    let emu = EmulatorProcess::start();
    let project = Project::new(&header(&emu.url));
    let (code, out, err) = project.run(&["import", "--all", "--instance", "not-an-id"]);
    assert_eq!(code, 64, "{out}{err}");
    assert!(
        err.contains("36 letters or digits ending in `in07` or `in17`"),
        "{err}"
    );
    assert_eq!(
        emu.stats()["requests"].as_u64().unwrap_or(0),
        0,
        "{}",
        emu.stats()
    );
}

#[test]
fn import_all_looks_in_the_instance_of_defaults() {
    let emu = EmulatorProcess::start();
    create_by_api(&emu, &spec("found_sync", "found_olap", &[]));
    let project = Project::new(&header(&emu.url));
    let out = project.run_ok(&["import", "--all", "--generate-config", "gen.toml"], 0);
    assert!(out.contains("task.found_sync: imported"), "{out}");
    project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

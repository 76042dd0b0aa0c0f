//! End-to-end: the real binary against `htapsync emulator` running as a
//! separate process, token authentication over loopback HTTP. Covers what the
//! embedded loop of `cli_loop.rs` does not: drift made through the cloud API,
//! replacement across instances, health warnings and 100 parallel creates.

mod support;
use htapsync::api::wire::{TableReplConfig, TablesConfig, TaskConfigRequest};
use std::time::Duration;
use support::{EmulatorProcess, HTAP, HTAP2, Project, header, task};

/// Two tasks on the first instance.
fn shop(emu: &EmulatorProcess) -> Project {
    let config = header(&emu.url)
        + &task("orders_sync", "shop_olap", &["orders", "order_items"])
        + "\n[task.orders_sync.table_configs]\norders = \"order by id\"\n"
        + &task("catalog_sync", "catalog_olap", &["customers", "products"]);
    let project = Project::new(&config);
    project.run_ok(&["apply", "--auto-approve"], 0);
    project
}

#[test]
fn task_deleted_out_of_band_is_reported_and_recreated() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    assert_eq!(emu.names(HTAP), ["catalog_sync", "orders_sync"]);

    emu.delete_out_of_band(HTAP, "orders_sync");
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains("task.orders_sync was deleted outside htapsync"),
        "{out}"
    );
    assert!(out.contains("task.orders_sync will be created"), "{out}");
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{out}"
    );

    let out = p.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("1 added, 0 changed, 0 destroyed"), "{out}");
    assert_eq!(emu.names(HTAP), ["catalog_sync", "orders_sync"]);
    assert_eq!(
        emu.creates("orders_sync"),
        2,
        "created, deleted, re-created"
    );
    assert_eq!(
        emu.creates("catalog_sync"),
        1,
        "the other task was left alone"
    );
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn task_modified_out_of_band_is_refreshed_and_updated_back() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);

    // Someone narrows the task to one table and changes its sort key.
    let drift = TaskConfigRequest {
        task_name: Some("orders_sync".to_string()),
        table_repl_config: Some(TableReplConfig {
            repl_type: Some("include_tables".to_string()),
            repl_scope: Some("part".to_string()),
            tables: vec!["orders".to_string()],
        }),
        tables_configs: Some(vec![TablesConfig {
            table_name: "orders".to_string(),
            table_config: "order by customer_id,id".to_string(),
        }]),
        ..TaskConfigRequest::default()
    };
    emu.block_on(async {
        let job = emu.client().modify(HTAP, &drift).await?.job_id;
        emu.client().wait_job(&job, Duration::from_secs(10)).await
    })
    .expect("out-of-band modify");
    let modifies = emu.stats()["modifies"].as_u64();

    // Without refresh, htapsync trusts its state and sees nothing.
    let out = p.run_ok(&["plan", "-refresh=false", "--detailed-exitcode"], 0);
    assert!(!out.contains("outside of htapsync"), "{out}");

    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains("task.orders_sync changed outside htapsync: "),
        "{out}"
    );
    // Every drifted attribute with its recorded and live values (issue 13).
    assert!(
        out.contains(
            r#"table_configs.orders recorded "order by id" -> live "order by customer_id,id""#
        ),
        "{out}"
    );
    assert!(
        out.contains(r#"tables recorded ["order_items","orders"] -> live ["orders"]"#),
        "{out}"
    );
    assert!(
        out.contains("task.orders_sync will be updated in-place"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );

    // `refresh` writes what the cloud has into state and changes nothing remote.
    let out = p.run_ok(&["refresh"], 0);
    assert!(out.contains("1 changed outside htapsync"), "{out}");
    let state = p.state();
    let spec = &state["tasks"]["orders_sync"]["spec"];
    assert_eq!(spec["tables"], serde_json::json!(["orders"]), "{state}");
    assert_eq!(spec["table_configs"]["orders"], "order by customer_id,id");
    assert_eq!(
        emu.stats()["modifies"].as_u64(),
        modifies,
        "refresh is read-only"
    );
    // Now state differs from the configuration even without reading the cloud.
    let out = p.run_ok(&["plan", "-refresh=false", "--detailed-exitcode"], 2);
    assert!(out.contains("will be updated in-place"), "{out}");

    let out = p.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    let live = emu
        .block_on(emu.client().task_config(HTAP, "orders_sync"))
        .expect("E5");
    let mut tables = live.table_repl_config.tables.clone();
    tables.sort();
    assert_eq!(tables, ["order_items", "orders"]);
    let orders = live.table_infos.iter().find(|t| t.table_name == "orders");
    assert_eq!(orders.map(|t| t.table_config.as_str()), Some("order by id"));
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn changing_instance_replaces_the_task() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    p.edit(
        "[task.catalog_sync]\n",
        &format!("[task.catalog_sync]\ninstance_id = \"{HTAP2}\"\n"),
    );
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.catalog_sync must be replaced"), "{out}");
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{out}"
    );
    let out = p.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(out.contains("1 added, 0 changed, 1 destroyed"), "{out}");
    assert_eq!(emu.names(HTAP), ["orders_sync"]);
    assert_eq!(emu.names(HTAP2), ["catalog_sync"]);
    assert_eq!(
        p.state()["tasks"]["catalog_sync"]["spec"]["instance_id"],
        HTAP2
    );
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn abnormal_task_is_warned_about_and_fails_status() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    p.run_ok(&["status"], 0);

    emu.set_status(HTAP, "orders_sync", "No");
    // A health problem is not config drift: no change is planned.
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 0);
    let warning = out
        .lines()
        .find(|l| l.contains("abnormal"))
        .unwrap_or_else(|| panic!("no warning: {out}"));
    assert!(warning.contains("task.orders_sync"), "{warning}");
    assert!(!out.contains("task.catalog_sync is reported"), "{out}");

    let out = p.run_ok(&["status"], 1);
    let row = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name}: {out}"))
            .split_whitespace()
            .nth(1)
            .map(str::to_string)
    };
    assert_eq!(row("task.orders_sync").as_deref(), Some("No"), "{out}");
    assert_eq!(row("task.catalog_sync").as_deref(), Some("Yes"), "{out}");

    emu.set_status(HTAP, "orders_sync", "Yes");
    p.run_ok(&["status"], 0);
    // The test endpoint refuses what it cannot apply.
    assert_eq!(emu.post_status(HTAP, "no_such_task", "No"), 400);
    assert_eq!(emu.post_status(HTAP, "orders_sync", "Maybe"), 400);
}

#[test]
fn hundred_tasks_apply_in_parallel_each_created_once() {
    let emu = EmulatorProcess::start();
    let names: Vec<String> = (0..100).map(|i| format!("t_{i:03}")).collect();
    let mut config = header(&emu.url);
    for name in &names {
        config += &task(name, &format!("{name}_olap"), &["orders"]);
    }
    let p = Project::new(&config);
    let started = std::time::Instant::now();
    let out = p.run_ok(&["apply", "--parallelism", "20", "--auto-approve"], 0);
    let took = started.elapsed();
    assert!(out.contains("100 added, 0 changed, 0 destroyed"), "{out}");

    let state = p.state();
    let recorded = state["tasks"].as_object().expect("tasks in state");
    assert_eq!(recorded.len(), 100);
    assert!(
        state["intents"].as_array().is_none_or(Vec::is_empty),
        "{state}"
    );
    let stats = emu.stats();
    let creates = stats["creates_per_task"].as_object().expect("creates");
    assert_eq!(creates.len(), 100, "{stats}");
    assert!(creates.values().all(|n| n == 1), "{stats}");
    assert_eq!(stats["starts"], 100, "{stats}");
    assert_eq!(emu.names(HTAP), names);
    // A ceiling, not a benchmark: about 2 s here; state writes that each
    // fsync'd on the async workers once made this 12 s.
    assert!(took < Duration::from_secs(20), "apply took {took:?}");

    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

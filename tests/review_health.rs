//! Issue 13, health as a finding in every plan: the block of each task a
//! plan changes says where the cloud has it (status, stage, progress), in
//! human output and in the Markdown comment; `--json` gives a `task_health`
//! message for every task the cloud was asked about; a task that needs
//! repair says so in that message. `status` and `drift` never lock the state,
//! so they have no `--lock-timeout`. Run by the real binary against
//! `htapsync emulator`.

mod support;

use serde_json::Value;
use support::{EmulatorProcess, HTAP, Project, header, task};

/// Two tasks applied on the first instance.
fn shop(emu: &EmulatorProcess) -> Project {
    let config = header(&emu.url)
        + &task("orders_sync", "shop_olap", &["orders", "order_items"])
        + &task("catalog_sync", "catalog_olap", &["customers", "products"]);
    let project = Project::new(&config);
    project.run_ok(&["apply", "--auto-approve"], 0);
    project
}

/// orders_sync gains a table: one update in place.
fn grow_orders(p: &Project) {
    p.edit(
        "tables = [\"orders\", \"order_items\"]",
        "tables = [\"orders\", \"order_items\", \"customers\"]",
    );
}

/// The JSON lines of `args`, parsed.
fn messages(p: &Project, args: &[&str], code: i32) -> Vec<Value> {
    p.run_ok(args, code)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The `health` bodies of the `task_health` messages, by address.
fn health(messages: &[Value]) -> Vec<(String, Value)> {
    messages
        .iter()
        .filter(|m| m["type"] == "task_health")
        .map(|m| {
            let body = m["health"].clone();
            (body["address"].as_str().unwrap().to_string(), body)
        })
        .collect()
}

/// The line of the block of `address` that says where the cloud has it.
fn cloud_line<'a>(plan: &'a str, address: &str) -> Option<&'a str> {
    let block = plan.split(&format!("# {address} ")).nth(1)?;
    let block = block.split("task \"").next()?;
    block.lines().find(|l| l.contains("(in the cloud: "))
}

#[test]
fn every_changing_task_shows_its_stage_and_progress_in_human_and_markdown() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    grow_orders(&p);

    let plan = p.run_ok(&["plan"], 0);
    let line = cloud_line(&plan, "task.orders_sync").unwrap_or_else(|| panic!("{plan}"));
    assert!(line.contains("normal, stage "), "{line}");
    assert!(line.contains(", progress "), "{line}");
    assert!(line.trim_end().ends_with("%)"), "{line}");
    // An unchanged task has no block, and so no line.
    assert!(cloud_line(&plan, "task.catalog_sync").is_none(), "{plan}");
    // Without refresh the task lists still say where the changing task is.
    let plan = p.run_ok(&["plan", "-refresh=false"], 0);
    assert!(cloud_line(&plan, "task.orders_sync").is_some(), "{plan}");

    let markdown = p.run_ok(&["plan", "--format", "markdown"], 0);
    let section = markdown
        .split("<code>task.orders_sync</code>")
        .nth(1)
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(
        section.contains("*In the cloud: normal, stage "),
        "{markdown}"
    );
}

#[test]
fn json_gives_the_health_of_every_task_read_and_a_repair_flag() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);

    // Refreshed, unchanged: both tasks, with status's fields.
    let read = health(&messages(&p, &["plan", "--json"], 0));
    let addresses: Vec<&str> = read.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(addresses, ["task.catalog_sync", "task.orders_sync"]);
    for (address, body) in &read {
        assert_eq!(body["status"], "Yes", "{address}: {body}");
        assert!(body["stage"].is_string(), "{address}: {body}");
        assert!(body["percentage"].is_string(), "{address}: {body}");
        assert_eq!(body["is_need_repair"], false, "{address}: {body}");
        assert_eq!(body["problems"], serde_json::json!([]), "{address}: {body}");
    }

    // The cloud says orders_sync needs repair: its message says so.
    let url = format!("{}/_emulator/tasks/{HTAP}/orders_sync/repair", emu.url);
    let body =
        serde_json::json!({"is_need_repair": true, "last_error_of_alter_table": "disk full"});
    emu.block_on(async { reqwest::Client::new().post(url).json(&body).send().await })
        .expect("repair endpoint answers");
    let read = health(&messages(&p, &["plan", "--json"], 0));
    let (_, orders) = read
        .iter()
        .find(|(a, _)| a == "task.orders_sync")
        .expect("orders_sync read");
    assert_eq!(orders["is_need_repair"], true, "{orders}");
    assert_eq!(orders["last_error_of_alter_table"], "disk full", "{orders}");

    // Without refresh, only the changing task is asked about.
    grow_orders(&p);
    let read = health(&messages(&p, &["plan", "--json", "-refresh=false"], 0));
    let addresses: Vec<&str> = read.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(addresses, ["task.orders_sync"]);
}

#[test]
fn status_and_drift_never_lock_so_they_refuse_lock_timeout() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    for command in ["status", "drift"] {
        let (code, _, err) = p.run(&[command, "--lock-timeout", "5s"]);
        assert_eq!(code, 64, "{command}: {err}");
        assert!(err.contains("--lock-timeout"), "{command}: {err}");
        p.run_ok(&[command], 0);
    }
    // The commands that lock keep it.
    p.run_ok(&["plan", "--lock-timeout", "5s"], 0);
    p.run_ok(&["refresh", "--lock-timeout", "5s"], 0);
}

//! Issue 13, drift and health as findings, and exclusion: `htapsync drift` is
//! read-only (no state write, no remote write: checked by the state file's
//! hash and the emulator's request counters), prints every drifted attribute
//! with its recorded and live values, exits 0 / 2 / 1, and gives each drift
//! item a fingerprint stable across runs; `plan -refresh-only` shows the same
//! values; a task that needs repair is a warning in status, drift, plan and
//! the Markdown comment, and apply refuses to change it (nothing changed)
//! without `--allow-unhealthy`; `-exclude`, `-target-file` and
//! `-exclude-file` limit every command, with a warning, and a saved plan
//! keeps them. Run by the real binary against `htapsync emulator`.

mod support;

use htapsync::api::wire::{TableReplConfig, TaskConfigRequest};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;
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

/// Someone narrows orders_sync to `tables` through the cloud API.
fn narrow_out_of_band(emu: &EmulatorProcess, tables: &[&str]) {
    let request = TaskConfigRequest {
        task_name: Some("orders_sync".to_string()),
        table_repl_config: Some(TableReplConfig {
            repl_type: Some("include_tables".to_string()),
            repl_scope: Some("part".to_string()),
            tables: tables.iter().map(|t| t.to_string()).collect(),
        }),
        ..TaskConfigRequest::default()
    };
    emu.block_on(async {
        let job = emu.client().modify(HTAP, &request).await?.job_id;
        emu.client().wait_job(&job, Duration::from_secs(10)).await
    })
    .expect("out-of-band modify");
}

/// `POST /_emulator/tasks/{HTAP}/{task}/repair`.
fn set_repair(emu: &EmulatorProcess, task: &str, need_repair: bool, error: &str) {
    let url = format!("{}/_emulator/tasks/{HTAP}/{task}/repair", emu.url);
    let body =
        serde_json::json!({"is_need_repair": need_repair, "last_error_of_alter_table": error});
    let status = emu
        .block_on(async { reqwest::Client::new().post(url).json(&body).send().await })
        .expect("repair endpoint answers")
        .status();
    assert_eq!(status.as_u16(), 200, "setting the repair flag of {task}");
}

fn state_hash(p: &Project) -> String {
    hex::encode(Sha256::digest(std::fs::read(p.path("state.json")).unwrap()))
}

/// The emulator's counters of calls that change the cloud.
fn writes(emu: &EmulatorProcess) -> Vec<Value> {
    let stats = emu.stats();
    [
        "creates_per_task",
        "starts",
        "modifies",
        "pauses",
        "resumes",
        "deletes",
    ]
    .iter()
    .map(|k| stats[k].clone())
    .collect()
}

/// `drift --json`, parsed, after checking its exit code.
#[track_caller]
fn drift_json(p: &Project, args: &[&str], code: i32) -> Value {
    let mut all = vec!["drift", "--json"];
    all.extend_from_slice(args);
    let out = p.run_ok(&all, code);
    assert_eq!(out.lines().count(), 1, "one document: {out}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn drift_shows_values_exits_0_2_1_and_never_writes() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    let out = p.run_ok(&["drift"], 0);
    assert!(out.contains("No drift"), "{out}");

    narrow_out_of_band(&emu, &["orders"]);
    let (hash, remote) = (state_hash(&p), writes(&emu));
    let out = p.run_ok(&["drift"], 2);
    assert!(
        out.contains(r#"~ tables: recorded ["order_items","orders"] -> live ["orders"]"#),
        "{out}"
    );
    assert!(out.contains("Drift: 1 of 2 task(s)"), "{out}");
    // The health of each compared task: stage, progress, repair flag.
    assert!(out.contains("NEEDS REPAIR"), "{out}");
    assert!(out.contains("Incremental"), "{out}");
    let doc = drift_json(&p, &[], 2);
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["drifted"], true);
    let item = &doc["drift"][0];
    assert_eq!(item["address"], "task.orders_sync");
    assert_eq!(item["attribute"], "tables");
    assert_eq!(
        item["recorded"],
        serde_json::json!(["order_items", "orders"])
    );
    assert_eq!(item["live"], serde_json::json!(["orders"]));
    assert_eq!(doc["tasks"][0]["is_need_repair"], false);
    // Nothing was written: not the state, not the cloud.
    assert_eq!(state_hash(&p), hash, "drift wrote the state");
    assert_eq!(writes(&emu), remote, "drift changed the cloud");

    // No lock is taken: drift runs while an apply holds it at its prompt.
    let mut apply = p.cmd(&["apply"]);
    apply.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut apply = apply.spawn().expect("apply starts");
    let mut stdout = apply.stdout.take().unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("Enter a value") {
        let mut chunk = [0u8; 4096];
        let n = stdout.read(&mut chunk).expect("apply output");
        assert!(
            n > 0,
            "apply ended before its prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    let (code, _, err) = p.run(&["plan"]);
    assert_eq!(code, 1, "the lock is held: {err}");
    // (The apply recorded the live values before its prompt: no drift left.)
    drift_json(&p, &[], 0);
    apply.stdin.take().unwrap().write_all(b"no\n").unwrap();
    apply.wait().expect("apply ends");
    assert_eq!(
        writes(&emu),
        remote,
        "the cancelled apply changed the cloud"
    );

    // An error (an unreachable cloud) exits 1.
    let config = p.config();
    p.write_config(&config.replace(&emu.url, "http://127.0.0.1:9"));
    let mut drift = p.cmd(&["drift"]);
    drift.env("HTAPSYNC_RETRY_MAX_ELAPSED", "1s");
    let (code, _, err) = p.run_cmd(drift);
    assert_eq!(code, 1, "{err}");
    p.write_config(&config);
}

#[test]
fn drift_fingerprints_are_stable_and_differ_with_the_drift() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    narrow_out_of_band(&emu, &["orders"]);
    let first = drift_json(&p, &[], 2);
    let again = drift_json(&p, &[], 2);
    let fingerprint = |doc: &Value| doc["drift"][0]["fingerprint"].as_str().unwrap().to_string();
    assert!(fingerprint(&first).starts_with("sha256:"), "{first}");
    assert_eq!(fingerprint(&first), fingerprint(&again), "not stable");
    narrow_out_of_band(&emu, &["order_items"]);
    let other = drift_json(&p, &[], 2);
    assert_ne!(
        fingerprint(&first),
        fingerprint(&other),
        "different drift, same fingerprint"
    );

    // plan -refresh-only shows the same values and plans nothing.
    let out = p.run_ok(&["plan", "-refresh-only", "--detailed-exitcode"], 0);
    assert!(
        out.contains(r#"tables recorded ["order_items","orders"] -> live ["order_items"]"#),
        "{out}"
    );
    assert!(out.contains("refresh-only plan"), "{out}");
    assert!(out.contains("No changes."), "{out}");

    // apply -refresh-only accepts the cloud's values into state, changing nothing remote.
    let remote = writes(&emu);
    p.run_ok(&["apply", "-refresh-only"], 0);
    assert_eq!(
        writes(&emu),
        remote,
        "apply -refresh-only changed the cloud"
    );
    let doc = drift_json(&p, &[], 0);
    assert_eq!(doc["drift"], serde_json::json!([]));
}

#[test]
fn drift_honours_target_and_exclude() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    narrow_out_of_band(&emu, &["orders"]);
    let doc = drift_json(&p, &["-exclude", "task.orders_sync"], 0);
    assert_eq!(doc["read"], 1);
    assert_eq!(doc["excludes"], serde_json::json!(["task.orders_sync"]));
    let warning = doc["warnings"][0].as_str().unwrap();
    assert!(warning.contains("excluding task.orders_sync"), "{doc}");
    let doc = drift_json(&p, &["-target", "task.catalog_sync"], 0);
    assert_eq!(doc["read"], 1);
    drift_json(&p, &["-target", "task.orders_sync"], 2);
    let (code, _, err) = p.run(&["drift", "-exclude", "task.nope"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("task.nope: no such task"), "{err}");
}

#[test]
fn a_task_that_needs_repair_is_a_warning_everywhere_and_apply_refuses_to_change_it() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    set_repair(
        &emu,
        "orders_sync",
        true,
        "ALTER TABLE orders failed: disk full",
    );

    let (code, out, _) = p.run(&["status"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("orders_sync"), "{out}");
    assert!(
        out.contains(
            "task.orders_sync: last table change failed: ALTER TABLE orders failed: disk full"
        ),
        "{out}"
    );
    let status: Value = serde_json::from_str(&p.run(&["status", "--json"]).1).unwrap();
    let orders = &status["tasks"][1];
    assert_eq!(orders["address"], "task.orders_sync");
    assert_eq!(orders["is_need_repair"], true);
    assert_eq!(
        orders["last_error_of_alter_table"],
        "ALTER TABLE orders failed: disk full"
    );
    let doc = drift_json(&p, &[], 0);
    assert_eq!(doc["healthy"], false);
    assert!(
        doc["warnings"][0]
            .as_str()
            .unwrap()
            .contains("needs repair"),
        "{doc}"
    );

    // A change of both tasks: the plan warns, the comment warns at the top.
    let config = p
        .config()
        .replace("\"products\"]", "\"products\", \"orders\"]");
    p.write_config(&config.replace(
        "tables = [\"orders\", \"order_items\"]",
        "tables = [\"orders\", \"order_items\", \"customers\"]",
    ));
    let out = p.run_ok(&["plan"], 0);
    assert!(
        out.contains("Warning: task.orders_sync needs repair"),
        "{out}"
    );
    let markdown = p.run_ok(&["plan", "--format", "markdown"], 0);
    let warning = markdown.find("needs repair").expect("warned");
    let changes = markdown.find("### Changes").expect("changes");
    assert!(warning < changes, "{markdown}");

    // Apply refuses, changing nothing; --allow-unhealthy lets it through.
    let (hash, remote) = (state_hash(&p), writes(&emu));
    let (code, _, err) = p.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refusing to apply"), "{err}");
    assert!(err.contains("task.orders_sync"), "{err}");
    assert!(err.contains("--allow-unhealthy"), "{err}");
    assert_eq!(state_hash(&p), hash, "the refusal wrote the state");
    assert_eq!(writes(&emu), remote, "the refusal changed the cloud");
    // Without refresh the task lists still say so.
    let (code, _, err) = p.run(&["apply", "--auto-approve", "-refresh=false"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(writes(&emu), remote, "the refusal changed the cloud");
    // A saved plan is refused the same way.
    p.run_ok(&["plan", "-out", "p.plan"], 0);
    let (code, _, err) = p.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-unhealthy"), "{err}");
    assert_eq!(writes(&emu), remote, "the refusal changed the cloud");
    // The healthy task alone may change.
    p.run_ok(
        &["apply", "--auto-approve", "-exclude", "task.orders_sync"],
        0,
    );
    p.run_ok(&["apply", "--auto-approve", "--allow-unhealthy"], 0);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn exclude_and_address_files_limit_plan_apply_refresh_and_destroy_and_saved_plans_keep_them() {
    let emu = EmulatorProcess::start();
    let p = shop(&emu);
    let config = p
        .config()
        .replace("\"products\"]", "\"products\", \"orders\"]");
    p.write_config(&config.replace(
        "tables = [\"orders\", \"order_items\"]",
        "tables = [\"orders\", \"order_items\", \"customers\"]",
    ));
    std::fs::write(
        p.path("exclude.txt"),
        "# left alone this week\n\ntask.orders_sync  # being repaired\n",
    )
    .unwrap();
    std::fs::write(p.path("target.txt"), "task.catalog_sync\n").unwrap();

    let (code, out, err) = p.run(&["plan", "-exclude-file", "exclude.txt"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("resource targeting is in effect"), "{out}");
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
    assert!(!out.contains("task.orders_sync will be"), "{out}");
    let out = p.run_ok(&["plan", "-target-file", "target.txt"], 0);
    assert!(out.contains("task.catalog_sync will be updated"), "{out}");
    assert!(!out.contains("task.orders_sync will be"), "{out}");

    // A bad line names the file and the line.
    std::fs::write(p.path("bad.txt"), "task.orders_sync\n# fine\norders_sync\n").unwrap();
    let (code, _, err) = p.run(&["plan", "-exclude-file", "bad.txt"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("bad.txt:3: invalid address \"orders_sync\""),
        "{err}"
    );

    // A saved plan records its exclusion: apply derives it again with it.
    p.run_ok(
        &["plan", "-exclude-file", "exclude.txt", "-out", "p.plan"],
        0,
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("p.plan")).unwrap()).unwrap();
    assert_eq!(saved["excludes"], serde_json::json!(["task.orders_sync"]));
    let (code, _, err) = p.run(&["apply", "p.plan", "-exclude", "task.orders_sync"]);
    assert_eq!(code, 1, "planning flags with a saved plan: {err}");
    let modifies = emu.stats()["modifies"].as_u64().unwrap();
    let out = p.run_ok(&["apply", "p.plan"], 0);
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    assert_eq!(emu.stats()["modifies"].as_u64().unwrap(), modifies + 1);
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.orders_sync will be updated"), "{out}");

    // refresh and destroy honour the selection too.
    narrow_out_of_band(&emu, &["orders"]);
    let out = p.run_ok(&["refresh", "-exclude", "task.orders_sync"], 0);
    assert!(out.contains("1 task(s) read, 0 changed"), "{out}");
    let out = p.run_ok(
        &["destroy", "--auto-approve", "-exclude", "task.orders_sync"],
        0,
    );
    assert!(out.contains("1 destroyed"), "{out}");
    let state = p.state();
    let tasks: Vec<&String> = state["tasks"].as_object().unwrap().keys().collect();
    assert_eq!(tasks, ["orders_sync"]);
}

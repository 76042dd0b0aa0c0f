//! End-to-end crash recovery of intents: an apply killed (`abort()`, as
//! `kill -9` would) right after the cloud accepted a create or a delete, before
//! state recorded it, is recovered by the next run: the task is adopted or
//! forgotten, never created twice. Uses the `HTAPSYNC_CRASH_AT` hooks of
//! `src/apply/ops.rs` against the emulator running as a separate process.

mod support;
use serde_json::Value;
use support::{EmulatorProcess, HTAP, Project, header, task};

fn two_tasks(emu: &EmulatorProcess) -> Project {
    Project::new(
        &(header(&emu.url)
            + &task("orders_sync", "shop_olap", &["orders", "order_items"])
            + &task("catalog_sync", "catalog_olap", &["customers", "products"])),
    )
}

/// Runs `args` with the crash hook `at` and asserts that the process aborted.
fn crash(p: &Project, args: &[&str], at: &str) -> (String, String) {
    let mut cmd = p.cmd(args);
    cmd.env("HTAPSYNC_CRASH_AT", at);
    let (code, out, err) = p.run_cmd(cmd);
    assert_eq!(code, -1, "killed by a signal\n{out}\n{err}");
    (out, err)
}

fn intents(state: &Value) -> Vec<Value> {
    state["intents"].as_array().cloned().unwrap_or_default()
}

#[test]
fn create_interrupted_after_registration_is_adopted_not_repeated() {
    let emu = EmulatorProcess::start();
    let p = two_tasks(&emu);
    // One task at a time: the first registration aborts, the other never starts.
    crash(
        &p,
        &["apply", "--auto-approve", "--parallelism", "1"],
        "apply-after-register",
    );
    let state = p.state();
    // The run recorded both creates' intents before its first call.
    let pending = intents(&state);
    assert_eq!(pending.len(), 2, "{state}");
    assert!(
        pending.iter().all(|i| i["operation"] == "create"),
        "{state}"
    );
    let (crashed, other) = if emu.creates("orders_sync") == 1 {
        ("orders_sync".to_string(), "catalog_sync")
    } else {
        ("catalog_sync".to_string(), "orders_sync")
    };
    assert!(state["tasks"][&crashed].is_null(), "not recorded: {state}");
    assert_eq!(emu.creates(&crashed), 1, "the cloud has it");
    assert_eq!(emu.creates(other), 0);

    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains(&format!(
            "task.{crashed}: an interrupted create had reached the cloud; the task was adopted"
        )),
        "{out}"
    );
    assert!(
        !out.contains(&format!("task.{crashed} will be created")),
        "{out}"
    );
    assert!(
        out.contains(&format!("task.{other} will be created")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "task.{other}: an interrupted create never reached the cloud; it will be planned again"
        )),
        "{out}"
    );

    let out = p.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("Apply complete!"), "{out}");
    assert_eq!(emu.creates(&crashed), 1, "never created twice");
    assert_eq!(emu.creates(other), 1);
    let state = p.state();
    assert!(intents(&state).is_empty(), "{state}");
    assert!(state["tasks"][&crashed].is_object(), "{state}");
    let running = emu
        .list(HTAP)
        .iter()
        .all(|r| r.stage == "Incremental" || r.stage == "Full");
    assert!(running, "both started: {:?}", emu.list(HTAP));
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// Removes the catalogue task from the configuration and applies with the
/// delete crash hook; returns the project for the next run.
fn crash_during_delete(emu: &EmulatorProcess) -> Project {
    let p = two_tasks(emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    let config = p.config();
    let cut = config.find("\n[task.catalog_sync]").expect("catalog block");
    p.write_config(&config[..cut]);
    crash(
        &p,
        &["apply", "--auto-approve", "--allow-destructive"],
        "apply-after-delete",
    );
    let state = p.state();
    let pending = intents(&state);
    assert_eq!(pending.len(), 1, "{state}");
    assert_eq!(pending[0]["operation"], "delete", "{state}");
    assert_eq!(pending[0]["address"], "task.catalog_sync", "{state}");
    assert!(state["tasks"]["catalog_sync"].is_object(), "still recorded");
    assert_eq!(emu.stats()["deletes"], 1);
    p
}

#[test]
fn delete_interrupted_after_the_call_is_forgotten_once_done() {
    let emu = EmulatorProcess::start();
    let p = crash_during_delete(&emu);
    emu.wait_gone(HTAP, "catalog_sync");
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(
        out.contains(
            "task.catalog_sync: an interrupted delete had finished; the task was forgotten"
        ),
        "{out}"
    );
    assert!(out.contains("No changes."), "{out}");
    p.run_ok(&["apply", "--auto-approve"], 0);
    let state = p.state();
    assert!(intents(&state).is_empty(), "{state}");
    assert!(state["tasks"]["catalog_sync"].is_null(), "{state}");
    assert_eq!(emu.names(HTAP), ["orders_sync"]);
    assert_eq!(emu.stats()["deletes"], 1, "deleted once");
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn delete_interrupted_while_its_job_still_runs_converges() {
    // Jobs take 1.5 s: the next run starts while the delete is in progress.
    let emu = EmulatorProcess::start_timed(20, 1500);
    let p = crash_during_delete(&emu);
    let out = p.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(
        out.contains("task.catalog_sync: an interrupted delete did not finish"),
        "{out}"
    );
    // The cloud refuses a second delete while the first one's job runs (409);
    // apply waits for it instead of failing.
    assert!(out.contains("another operation is in progress"), "{out}");
    assert_eq!(emu.stats()["deletes"], 1, "one delete was accepted");
    let state = p.state();
    assert!(intents(&state).is_empty(), "{state}");
    assert!(state["tasks"]["catalog_sync"].is_null(), "{state}");
    assert_eq!(emu.names(HTAP), ["orders_sync"]);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// Ctrl-C during an apply: what is in flight finishes and is recorded, and
/// the intents recorded ahead for tasks never started are dropped, so the
/// next plan simply creates them again. With four tasks at `--parallelism 1`
/// the interrupt comes after the second batch was written ahead; with two,
/// one task's intents are dropped and the one in flight keeps its own.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_apply_leaves_no_intent_of_a_task_it_never_started() {
    interrupt_the_first_registration(&["t_one", "t_two", "t_three", "t_four"]);
    interrupt_the_first_registration(&["t_one", "t_two"]);
}

#[cfg(target_os = "linux")]
fn interrupt_the_first_registration(names: &[&str]) {
    use std::io::{BufRead, BufReader};
    // Each call takes 300 ms: the interrupt, sent when the first
    // registration is under way, lands long before that task's register
    // and start end and give its slot to the next task.
    let emu = EmulatorProcess::start_timed_with(300, 100, &["--latency-ms", "300"]);
    let config = names.iter().fold(header(&emu.url), |c, name| {
        c + &task(name, "shop_olap", &["orders"])
    });
    let p = Project::new(&config);
    let mut cmd = p.cmd(&["apply", "--auto-approve", "--parallelism", "1"]);
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("apply starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(": registering") {
            break;
        }
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().expect("apply exits");
    assert!(!status.success(), "interrupted: {rest:?}");
    let state = p.state();
    assert!(
        intents(&state).iter().all(|i| i["operation"] != "create"),
        "{state}"
    );
    let created: Vec<&&str> = names.iter().filter(|n| emu.creates(n) == 1).collect();
    assert_eq!(
        created.len(),
        1,
        "only the task in flight was created: {created:?}"
    );
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(!out.contains("interrupted create"), "{out}");
    let to_add = format!("Plan: {} to add", names.len() - 1);
    assert!(out.contains(&to_add), "{out}");
}

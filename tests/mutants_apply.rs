//! Issue 18: what `cargo mutants` found no test for in `src/apply/`, each
//! pinned through the real binary against `htapsync emulator`, with scripted
//! faults (`/_emulator/faults`) where a call must fail and the emulator's
//! counters for what the cloud saw.

mod support;

use htapsync::api::wire::Stage;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;
use support::{Config, EmulatorProcess, HTAP, Project, header, task, tasks};

const NAME: &str = "orders_sync";

/// One task, not yet applied. A wait that never ends (a start wrongly taken
/// for done, say) fails the test in seconds: the emulator's stages take 20 ms.
fn project(emu: &EmulatorProcess) -> Project {
    let header = header(&emu.url).replace("wait_timeout = \"30s\"", "wait_timeout = \"20s\"");
    Project::new(&(header + &task(NAME, "shop_olap", &["orders"])))
}

/// The operations of the intents in the state file.
fn intents(p: &Project) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(p.path("state.json")) else {
        return Vec::new();
    };
    let state: Value = serde_json::from_str(&text).unwrap_or_default();
    let ops = state["intents"].as_array().cloned().unwrap_or_default();
    ops.iter()
        .map(|i| i["operation"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Runs `apply` and kills it once its started task waits (a wait in state).
fn kill_apply_while_waiting(p: &Project) {
    let mut child = p
        .cmd(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while intents(p) != ["await"] {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply ended before its task was waiting"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Waits until the cloud has the task at a stage `done` accepts.
fn wait_for_stage(emu: &EmulatorProcess, done: fn(Stage) -> bool) {
    let at = move |row: Option<&htapsync::api::wire::ReplicationInfo>| {
        row.and_then(|r| Stage::parse(&r.stage)).is_some_and(done)
    };
    emu.block_on(
        emu.client()
            .wait_task(HTAP, NAME, at, Duration::from_secs(60)),
    )
    .expect("the task reaches its stage");
}

/// A run killed while its started task waits leaves a wait in state, which
/// records the task's identity only (a large apply rewrites one per task). Once
/// the task has reached its stage, the next plan drops that wait instead of
/// announcing it, and starts nothing.
#[test]
fn a_wait_whose_task_got_there_meanwhile_is_dropped_not_resumed() {
    let emu = EmulatorProcess::start_timed(1_500, 50);
    let p = project(&emu);
    let config = p.config()
        + &format!("\n[task.{NAME}.db_configs]\nmax_sync_commit_rows = 600000\n")
        + &format!("\n[task.{NAME}.table_configs]\norders = \"order by id\"\n");
    p.write_config(&config);
    kill_apply_while_waiting(&p);
    // The wait records the task's identity only; its record holds the rest.
    let state = p.state();
    let (waiting, record) = (&state["intents"][0]["spec"], &state["tasks"][NAME]["spec"]);
    let empty = |v: &Value| {
        v.is_null()
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(|o| o.is_empty())
    };
    assert_eq!(waiting["name"], NAME, "{state}");
    for key in ["tables", "db_configs", "table_configs"] {
        assert!(empty(&waiting[key]), "{key} in the wait: {state}");
        assert!(!empty(&record[key]), "{key} in the record: {state}");
    }
    wait_for_stage(&emu, Stage::is_running);

    let plan = p.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(!plan.contains("apply waits for it"), "{plan}");
    p.run_ok(&["refresh"], 0);
    assert!(intents(&p).is_empty(), "{:?}", intents(&p));
    assert_eq!(emu.calls("start"), 1);
}

/// A wait a killed run left, for a task the next plan deletes, is not
/// resumed beside the delete: the delete clears it, and the run ends at once
/// instead of waiting for a start that can never come.
#[test]
fn a_wait_for_a_task_the_plan_deletes_is_cleared_by_the_delete() {
    let emu = EmulatorProcess::start_timed(1_500, 50);
    let p = project(&emu);
    kill_apply_while_waiting(&p);

    let config = p.config();
    p.write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    let out = p.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(!out.contains("waiting for the start"), "{out}");
    assert_eq!(emu.calls("delete"), 1);
    assert!(emu.names(HTAP).iter().all(|n| n != NAME));
    assert!(intents(&p).is_empty(), "{:?}", intents(&p));
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A state write that fails stops the run from starting anything more, even
/// a create whose intent was written (ahead, with the failed task's) before
/// the failure: its result could not be recorded either.
#[test]
fn a_create_recorded_ahead_is_not_started_after_a_state_write_failed() {
    // Each answer takes 300 ms: the state directory breaks while the first
    // registration is on its way, before its refusal is recorded.
    let emu = EmulatorProcess::start_with(&["--latency-ms", "300"]);
    let names = ["t_one", "t_two"];
    let mut config = header(&emu.url).replace("path = \"state.json\"", "path = \"st/state.json\"");
    for name in names {
        config += &task(name, "shop_olap", &["orders"]);
    }
    let p = Project::new(&config);
    let refusals = names.map(|name| json!({"call": "register", "task": name, "status": 400}));
    emu.script(json!(refusals));
    let mut child = p
        .cmd(&["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        out += &line;
        out.push('\n');
        if line.ends_with(": registering") {
            break;
        }
    }
    let dir = p.path("st");
    std::fs::rename(&dir, dir.with_extension("away")).unwrap();
    std::fs::write(&dir, "not a directory\n").unwrap();
    for line in lines {
        out += &line.unwrap();
        out.push('\n');
    }
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("not started: an earlier state write failed"),
        "{out}{err}"
    );
    assert_eq!(emu.calls("register"), 1, "{out}{err}");
}

/// A task created paused is registered, never started, and recorded with
/// its create intent gone: the next plan has nothing to adopt or announce.
#[test]
fn a_task_created_paused_is_registered_not_started_and_leaves_no_intent() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.edit(
        &format!("[task.{NAME}]\n"),
        &format!("[task.{NAME}]\npaused = true\n"),
    );
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.creates(NAME), 1);
    assert_eq!(emu.calls("start"), 0);
    assert!(intents(&p).is_empty(), "{:?}", intents(&p));
    let plan = p.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(!plan.contains("interrupted"), "{plan}");
}

/// A registration the cloud refused (4xx: no effect) leaves no intent
/// behind, so the next run neither adopts nor announces anything, and plans
/// the create again.
#[test]
fn a_refused_registration_leaves_no_intent() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    emu.script(
        json!([{"call": "register", "task": NAME, "status": 400, "error_code": "DBS.280001"}]),
    );
    let (code, _, err) = p.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("DBS.280001"), "{err}");
    assert!(intents(&p).is_empty(), "{:?}", intents(&p));
    let plan = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(!plan.contains("interrupted"), "{plan}");
    assert!(plan.contains("will be created"), "{plan}");
    assert_eq!(emu.creates(NAME), 0);
}

/// A start the cloud refuses (a 4xx: it took no effect and will not) fails
/// the create with the cloud's error at once: it is neither sent again nor
/// taken for a start, which would wait for a stage that never comes.
#[test]
fn a_refused_start_fails_the_create_with_the_clouds_error() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    emu.script(json!([{"call": "start", "task": NAME, "status": 400, "error_code": "DBS.280001"}]));
    let (code, _, err) = p.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("DBS.280001"), "{err}");
    assert!(!err.contains("wait_timeout"), "{err}");
    assert_eq!(emu.calls("start"), 1);
    assert_eq!(emu.stats()["starts"], 0);
    // Registered, never started: the next run adopts it and starts it once.
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.creates(NAME), 1);
    assert_eq!(emu.stats()["starts"], 1);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A start that took effect but whose answer was lost, looked up while the
/// task is still in stage Wait (2 s here), cannot be told from one that did
/// nothing: it is sent again, the cloud refuses it as one of a started task,
/// and that refusal counts as started.
#[test]
fn a_lost_start_sent_again_and_refused_as_already_started_counts_as_started() {
    let emu = EmulatorProcess::start_timed(2_000, 50);
    let p = project(&emu);
    emu.script(json!([{"call": "start", "task": NAME, "when": "after", "status": 500}]));
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.calls("start"), 2, "sent again after a lookup in Wait");
    assert_eq!(emu.stats()["starts"], 1, "started once");
    assert_eq!(emu.creates(NAME), 1);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// Sets `paused` in the task's block and applies it; returns (exit, stderr).
fn apply_paused(p: &Project, paused: bool) -> (i32, String) {
    let block = format!("[task.{NAME}]\n");
    let config = p.config().replace("paused = true\n", "");
    let config = if paused {
        config.replacen(&block, &format!("{block}paused = true\n"), 1)
    } else {
        config
    };
    p.write_config(&config);
    let (code, _, err) = p.run(&["apply", "--auto-approve"]);
    (code, err)
}

/// A pause the cloud carried out although it answered an error counts as
/// done: the lookup after the failure finds the task paused (the cloud's
/// pause jobs end at once here). One it refused with no effect fails the
/// apply with its error, without waiting for a stage that never comes.
#[test]
fn a_failed_pause_counts_as_done_only_when_the_task_is_paused() {
    let emu = EmulatorProcess::start_timed(20, 0);
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    wait_for_stage(&emu, Stage::is_running);

    for (when, paused) in [("before", false), ("after", true)] {
        emu.script(
            json!([{"call": "pause", "task": NAME, "when": when, "status": 400,
                    "error_code": "DBS.280001"}]),
        );
        let (code, err) = apply_paused(&p, true);
        let task = &p.state()["tasks"][NAME]["spec"];
        if paused {
            assert_eq!(code, 0, "{when}: {err}");
            assert_eq!(task["paused"], true, "{when}");
            assert_eq!(emu.stats()["pauses"], 1, "{when}");
        } else {
            assert_eq!(code, 1, "{when}: {err}");
            assert!(err.contains("DBS.280001"), "{when}: {err}");
            assert!(!err.contains("wait_timeout"), "{when}: {err}");
            assert_eq!(task["paused"], false, "{when}");
            assert_eq!(emu.stats()["pauses"], 0, "{when}");
        }
    }
    assert_eq!(emu.calls("pause"), 2);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A pause ends only once the cloud has the task paused: when apply
/// returns, the cloud says Paused (its pause job takes 1.5 s here).
#[test]
fn a_pause_returns_once_the_cloud_has_the_task_paused() {
    let emu = EmulatorProcess::start_timed(20, 1_500);
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    let (code, err) = apply_paused(&p, true);
    assert_eq!(code, 0, "{err}");
    let row = emu.list(HTAP).into_iter().find(|r| r.task_name == NAME);
    assert_eq!(row.expect("the task is listed").stage, "Paused");
}

/// A delete answered "not found" (the cloud's DBS.05000091: a delete sent
/// before had already gone through) counts as deleted.
#[test]
fn a_delete_answered_not_found_counts_as_deleted() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    emu.script(
        json!([{"call": "delete", "task": NAME, "when": "after", "status": 400,
                "error_code": "DBS.05000091"}]),
    );
    let config = p.config();
    p.write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    p.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert_eq!(emu.calls("delete"), 1);
    assert_eq!(emu.stats()["deletes"], 1);
    assert!(emu.names(HTAP).iter().all(|n| n != NAME));
    assert!(p.state()["tasks"].get(NAME).is_none(), "{}", p.state());
    assert!(intents(&p).is_empty(), "{:?}", intents(&p));
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A delete the cloud refuses for a reason other than a busy task fails at
/// once with the cloud's error: only "another operation is in progress" is
/// waited out and sent again.
#[test]
fn a_delete_refused_outright_fails_at_once_and_is_not_sent_again() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    emu.script(json!([{"call": "delete", "task": NAME, "status": 403,
                       "error_code": "DBS.280343", "error_msg": "no permission"}]));
    let config = p.config();
    p.write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    let (code, out, err) = p.run(&["apply", "--auto-approve", "--allow-destructive"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("DBS.280343"), "{out}{err}");
    assert!(!out.contains("waiting to delete"), "{out}");
    assert_eq!(emu.calls("delete"), 1);
    assert!(emu.names(HTAP).iter().any(|n| n == NAME));
}

/// A saved pause of a task someone paused by hand in the meantime sends no
/// pause: the live row read first shows the task already paused.
#[test]
fn a_saved_pause_of_a_task_already_paused_sends_no_pause() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    wait_for_stage(&emu, Stage::is_running);
    p.edit(
        &format!("[task.{NAME}]\n"),
        &format!("[task.{NAME}]\npaused = true\n"),
    );
    p.run_ok(&["plan", "-out", "pause.plan"], 0);
    emu.block_on(emu.client().pause(HTAP, NAME))
        .expect("out-of-band pause");
    wait_for_stage(&emu, |s| s == Stage::Paused);
    p.run_ok(&["apply", "pause.plan"], 0);
    assert_eq!(emu.calls("pause"), 1, "only the out-of-band pause");
    assert_eq!(p.state()["tasks"][NAME]["spec"]["paused"], true);
}

/// A pause alone changes no configuration: no modify (E8) is sent.
#[test]
fn a_pause_alone_sends_no_modify() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    let (code, err) = apply_paused(&p, true);
    assert_eq!(code, 0, "{err}");
    assert_eq!(emu.calls("modify"), 0);
    assert_eq!(emu.calls("pause"), 1);
}

/// A modify and a pause in one change: the modify is recorded before the
/// pause is sent, so when the pause fails the next plan shows the pause
/// alone, and the modify is not sent again.
#[test]
fn a_modify_is_recorded_before_the_pause_that_fails_after_it() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    wait_for_stage(&emu, Stage::is_running);
    emu.script(json!([{"call": "pause", "task": NAME, "status": 400, "error_code": "DBS.280001"}]));
    p.edit(
        &format!("[task.{NAME}]\n"),
        &format!("[task.{NAME}]\npaused = true\n"),
    );
    p.edit(
        "tables = [\"orders\"]",
        "tables = [\"orders\", \"customers\"]",
    );
    let (code, _, err) = p.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("DBS.280001"), "{err}");
    assert_eq!(emu.calls("modify"), 1);
    let spec = &p.state()["tasks"][NAME]["spec"];
    assert_eq!(spec["paused"], false, "the pause failed: {spec}");
    assert_eq!(spec["tables"].as_array().map(Vec::len), Some(2), "{spec}");

    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.calls("modify"), 1, "the modify is not sent again");
    assert_eq!(emu.stats()["pauses"], 1);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// The stdout of `cmd`, which must exit 0. A run that has not ended after a
/// minute (its waits take milliseconds) is killed and fails the test: a
/// deadlock, such as a waiting task keeping the only slot the shared watcher
/// needs to read the task list, passes every `wait_timeout`.
fn stdout_of_ending_run(mut cmd: std::process::Command) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the run did not end: deadlocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().unwrap().unwrap();
    assert!(status.success(), "{status}: {out}");
    out
}

/// `--parallelism 1`: one task at a time talks to the cloud. Each task's
/// calls (register, start) end before the next task's begin; only the waits
/// overlap, and they give the slot back for the shared watcher's reads.
#[test]
fn parallelism_one_sends_one_tasks_calls_at_a_time() {
    let emu = EmulatorProcess::start();
    let all = tasks(4);
    let cfg = Config::new(&emu.url, &all);
    let out =
        stdout_of_ending_run(cfg.cmd(&["apply", "--auto-approve", "--json", "--parallelism", "1"]));
    // The calls of each task, in the order the run reported them.
    let steps: Vec<(String, String)> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|m| m["type"] == "apply_progress")
        .map(|m| {
            let hook = &m["hook"];
            let text = |k: &str| hook[k].as_str().unwrap_or("").to_string();
            (text("address"), text("message"))
        })
        .filter(|(_, message)| message == "registering" || message == "starting")
        .collect();
    assert_eq!(steps.len(), 2 * all.len(), "{steps:?}");
    for pair in steps.chunks(2) {
        assert_eq!(
            pair[0].0, pair[1].0,
            "another task's call came between: {steps:?}"
        );
        assert_eq!(
            (pair[0].1.as_str(), pair[1].1.as_str()),
            ("registering", "starting")
        );
    }
}

/// Unpausing a paused task resumes it (E10); only a task never started (in
/// stage Wait) is started (E3) instead.
#[test]
fn unpausing_a_paused_task_resumes_it_and_starts_nothing() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    let (code, err) = apply_paused(&p, true);
    assert_eq!(code, 0, "{err}");
    let (code, err) = apply_paused(&p, false);
    assert_eq!(code, 0, "{err}");
    assert_eq!(emu.calls("resume"), 1);
    assert_eq!(emu.calls("start"), 1, "only the create's");
    assert_eq!(p.state()["tasks"][NAME]["spec"]["paused"], false);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

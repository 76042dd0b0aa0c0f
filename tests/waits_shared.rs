//! Waiting is free (issue 15): a task waiting for its stage or job holds no
//! `--parallelism` slot, one read of the task list per round serves every
//! waiter, a wait ends with a per-task timeout, and a run killed while its
//! tasks wait resumes the waits instead of starting the tasks again. All
//! through the real binary against `htapsync emulator`; the assertions are on
//! the emulator's counters, the order of events and outcomes, never on time.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::{Config, EmulatorProcess, tasks};

/// The fixture cloud's emulator with these stage and job times.
fn emulator(stage_ms: u64, job_ms: u64) -> EmulatorProcess {
    EmulatorProcess::start_timed(stage_ms, job_ms)
}

/// Adds `lines` to `[provider]` of the configuration.
fn provider_keys(cfg: &Config, lines: &str) {
    let path = cfg.path("htapsync.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    if lines.contains("wait_timeout") {
        // The support header's own limit gives way to the test's.
        toml = toml.replacen("wait_timeout = \"2m\"\n", "", 1);
    }
    let toml = toml.replacen(
        "region = \"ap-southeast-1\"\n",
        &format!("region = \"ap-southeast-1\"\n{lines}"),
        1,
    );
    std::fs::write(&path, toml).unwrap();
}

/// The JSON messages of a `--json` run.
fn messages(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn requests(emu: &EmulatorProcess) -> u64 {
    emu.stats()["requests"].as_u64().unwrap()
}

fn kind(m: &Value) -> &str {
    m["type"].as_str().unwrap_or("")
}

fn address(m: &Value) -> &str {
    m["hook"]["address"].as_str().unwrap_or("")
}

/// With one slot, every task is registered and started before the first
/// one reaches its stage: the waits overlap instead of queueing behind the
/// slot. Before, each create kept its slot until it replicated, so the
/// second task was not even registered before the first completed.
#[test]
fn a_waiting_create_gives_its_slot_back() {
    let emu = emulator(1500, 50);
    let all = tasks(4);
    let cfg = Config::new(&emu.url, &all);
    provider_keys(&cfg, "poll_interval = \"50ms\"\n");
    let out = cfg.run_ok(
        &["apply", "--auto-approve", "--json", "--parallelism", "1"],
        0,
    );
    let msgs = messages(&out);
    let first_done = msgs
        .iter()
        .position(|m| kind(m) == "apply_complete")
        .expect("a completion");
    for t in &all {
        let started = msgs.iter().position(|m| {
            kind(m) == "apply_progress"
                && address(m) == format!("task.{}", t.name)
                && m["hook"]["message"] == "starting"
        });
        assert!(
            started.is_some_and(|i| i < first_done),
            "task.{} was started only after a task completed:\n{out}",
            t.name
        );
    }
    // The stage transitions are messages of their own.
    let stages: Vec<&str> = msgs
        .iter()
        .filter(|m| kind(m) == "apply_stage" && address(m) == "task.t000")
        .filter_map(|m| m["hook"]["stage"].as_str())
        .collect();
    assert_eq!(stages.first(), Some(&"Wait"), "{out}");
    assert!(
        stages
            .last()
            .is_some_and(|s| *s == "Full" || *s == "Incremental"),
        "{stages:?}"
    );
    assert_eq!(emu.stats()["starts"], 4);
}

/// One read of the task list serves every waiter: with rounds far apart
/// (poll_interval 3s) and stages of 50 ms, the one round after the starts
/// finds every task replicating. 40 creates then cost the gate (1 request a
/// task: no db_configs), register and start, plus the list's one page: a
/// per-task poll would add at least one request per task.
#[test]
fn one_list_read_a_round_serves_every_waiting_task() {
    let emu = emulator(50, 50);
    let all = tasks(40);
    let cfg = Config::new(&emu.url, &all);
    provider_keys(&cfg, "poll_interval = \"3s\"\n");
    let before = requests(&emu);
    cfg.run_ok(&["apply", "--auto-approve", "--parallelism", "8"], 0);
    let sent = requests(&emu) - before;
    let n = all.len() as u64;
    // 3 per task, one list page per round; a second round only if the
    // starts outlasted the first interval.
    assert!(
        (3 * n + 1..=3 * n + 2).contains(&sent),
        "{sent} requests for {n} creates"
    );
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), all.len());
    assert!(state.intents.is_empty(), "{:?}", state.intents);
}

/// Deletes and modifies wait the same way: the deletes' waits share the
/// list reads, the modifies' jobs are polled once each when the round finds
/// them done (oldest first, in growing batches).
#[test]
fn job_and_delete_waits_are_shared_too() {
    let emu = emulator(20, 50);
    let all = tasks(20);
    let cfg = Config::new(&emu.url, &all);
    provider_keys(&cfg, "poll_interval = \"50ms\"\n");
    cfg.run_ok(&["apply", "--auto-approve", "--parallelism", "8"], 0);

    // 10 modified (another table), 10 deleted.
    let mut next = all[..10].to_vec();
    for t in &mut next {
        t.tables = vec!["orders", "products"];
    }
    cfg.write(&emu.url, &next);
    provider_keys(&cfg, "poll_interval = \"3s\"\n");
    let before = requests(&emu);
    cfg.run_ok(
        &[
            "apply",
            "--auto-approve",
            "--allow-destructive",
            "--parallelism",
            "8",
        ],
        0,
    );
    let sent = requests(&emu) - before;
    // Refresh (1 list page + 20 E5), gate (10), 10 E8 + 10 E11, then in the
    // first round 1 list page and one E15 per job; a second round (starts
    // outlasting 3 s) would add one list page and at most one E15.
    let floor = 1 + 20 + 10 + 20 + 1 + 10;
    assert!(
        (floor..=floor + 2).contains(&sent),
        "{sent} requests, floor {floor}"
    );
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), 10);
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A task that does not reach its stage within `wait_timeout` fails on its
/// own with an error naming the timeout; started, it is recorded with its
/// wait, which the next apply resumes instead of starting it again.
#[test]
fn a_wait_times_out_per_task_and_the_next_apply_resumes_it() {
    let emu = emulator(1_000, 50);
    let all = tasks(3);
    let cfg = Config::new(&emu.url, &all);
    provider_keys(&cfg, "poll_interval = \"20ms\"\nwait_timeout = \"20ms\"\n");
    let (code, out, err) = cfg.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let text = format!("{out}{err}");
    for t in &all {
        assert!(
            text.contains(&format!("task.{}", t.name)) && text.contains("wait_timeout"),
            "{text}"
        );
    }
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), 3, "started tasks are recorded");
    assert_eq!(
        state.intents.len(),
        3,
        "each with its wait: {:?}",
        state.intents
    );

    cfg.write(&emu.url, &all);
    provider_keys(&cfg, "poll_interval = \"20ms\"\n");
    let out = cfg.run_ok(&["apply", "--auto-approve", "--json"], 0);
    let msgs = messages(&out);
    assert!(
        !msgs
            .iter()
            .any(|m| m["hook"]["message"] == "starting" || kind(m) == "apply_start"),
        "nothing is started again:\n{out}"
    );
    let resumed = msgs
        .iter()
        .filter(|m| m["hook"]["message"] == "waiting for the start of an interrupted run")
        .count();
    assert_eq!(resumed, 3, "{out}");
    assert_eq!(emu.stats()["starts"], 3);
    assert!(cfg.state().unwrap().intents.is_empty());
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A run SIGKILLed while its tasks wait: the next apply resumes the waits
/// and starts nothing again.
#[test]
fn a_run_killed_while_waiting_resumes_the_waits() {
    let emu = emulator(2_000, 50);
    let all = tasks(6);
    let cfg = Config::new(&emu.url, &all);
    provider_keys(&cfg, "poll_interval = \"50ms\"\n");
    let mut child = cfg
        .cmd(&["apply", "--auto-approve", "--parallelism", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once every task is started and waiting (as the state records it).
    let waiting = |cfg: &Config| {
        cfg.state().is_some_and(|s| {
            s.tasks.len() == all.len()
                && s.intents.len() == all.len()
                && s.intents
                    .iter()
                    .all(|i| i.operation == htapsync::state::IntentOp::Await)
        })
    };
    while !waiting(&cfg) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply ended before all tasks were waiting"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let plan = cfg.run_ok(&["plan"], 0);
    assert!(plan.contains("apply waits for it"), "{plan}");
    let out = cfg.run_ok(&["apply", "--auto-approve", "--json"], 0);
    assert!(!out.contains("\"starting\""), "{out}");
    assert_eq!(emu.stats()["starts"], all.len() as u64);
    let state = cfg.state().unwrap();
    assert!(state.intents.is_empty(), "{:?}", state.intents);
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// `poll_interval` and `wait_timeout` are durations above zero; a bad one
/// is reported at its line with what is allowed, and so is a bad flag.
#[test]
fn bad_durations_are_refused_where_they_are_written() {
    let cfg = Config::new("http://127.0.0.1:9", &tasks(1));
    provider_keys(&cfg, "poll_interval = \"soon\"\nwait_timeout = \"0s\"\n");
    let (code, out, err) = cfg.run(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let text = format!("{out}{err}");
    assert!(text.contains("invalid poll_interval \"soon\""), "{text}");
    assert!(text.contains("expected e.g. 10s, 2m, 500ms"), "{text}");
    assert!(text.contains("invalid wait_timeout \"0s\""), "{text}");
    assert!(text.contains("htapsync.toml:5"), "{text}");

    let (code, _, err) = cfg.run(&["apply", "--poll-interval", "0ms"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("above zero"), "{err}");
}

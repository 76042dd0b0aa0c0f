//! A faulty cloud: injected 5xx and 429 (with Retry-After) at high rates, a
//! total outage, and a server that accepts connections but never answers.
//! htapsync must retry what is safe to retry, never create a task twice,
//! record in state exactly what was done, and never hang.
//!
//! `HTAPSYNC_FAULT_TASKS` (default 50, to keep CI fast) sets the size of the
//! flaky apply; docs/reliability.md has the figures of the 200-task run.

mod support;

use std::time::{Duration, Instant};
use support::fleet::{assert_created_once, check_state_matches_cloud};
use support::{Config, EmulatorProcess, tasks};

const APPLY: &[&str] = &["apply", "--auto-approve", "--parallelism", "64"];

#[test]
fn flaky_cloud_applies_every_task_exactly_once() {
    let n: usize = std::env::var("HTAPSYNC_FAULT_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(
        work.path(),
        &[
            "--error-rate",
            "0.2",
            "--throttle-rate",
            "0.1",
            "--seed",
            "7",
        ],
        &[],
    );
    let all = tasks(n);
    let cfg = Config::new(&emu.url, &all);
    // After a 5xx on a create (register or start) apply looks the task up
    // before sending it again, so it is never registered twice; a task whose
    // calls keep failing past every retry fails the run, its intent stays in
    // state, and the next run looks it up. So a flaky cloud converges within
    // a run or two.
    let mut runs = 0;
    loop {
        runs += 1;
        let (code, out, err) = cfg.run(APPLY);
        // The full check reads every task through the faulty cloud (slow):
        // after the first, most disrupted run and at the end.
        if let Some(state) = cfg.state().filter(|_| runs == 1) {
            check_state_matches_cloud(&emu.url, &state, &all)
                .unwrap_or_else(|e| panic!("after run {runs} (exit {code}): {e}"));
        }
        assert_created_once(&emu);
        if code == 0 {
            break;
        }
        assert_eq!(code, 1, "run {runs}\n{out}\n{err}");
        assert!(!err.contains("panicked"), "run {runs}: {err}");
        assert!(runs < 10, "no convergence after {runs} runs:\n{out}\n{err}");
    }
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), n);
    assert!(state.intents.is_empty());
    check_state_matches_cloud(&emu.url, &state, &[]).unwrap();
    let stats = emu.stats();
    assert_eq!(emu.creates_per_task().len(), n);
    let (errors, throttled) = (
        stats["injected_errors"].as_u64().unwrap(),
        stats["throttled"].as_u64().unwrap(),
    );
    assert!(errors > 0 && throttled > 0, "faults were injected: {stats}");
    // Reads are retried for minutes each (tests/rate_faults.rs shows one
    // plan suffices); a few plans are allowed here all the same.
    let mut plan = (1, String::new(), String::new());
    for _ in 0..6 {
        plan = cfg.run(&["plan", "--detailed-exitcode"]);
        if plan.0 == 0 {
            break;
        }
    }
    assert_eq!(plan.0, 0, "plan after convergence:\n{}\n{}", plan.1, plan.2);
    eprintln!(
        "fault summary: {n} tasks, {runs} apply runs, {} requests, {errors} injected 5xx, \
         {throttled} 429s; every task registered exactly once, state matches the cloud",
        stats["requests"]
    );
}

#[test]
fn total_outage_fails_cleanly_and_state_records_what_was_done() {
    let work = tempfile::tempdir().unwrap();
    let all = tasks(8);
    let (url, before) = {
        let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
        let cfg = Config::new(&emu.url, &all[..4]);
        cfg.run_ok(APPLY, 0);
        (emu.url.clone(), cfg)
    };
    let state_before = std::fs::read(before.state_path()).unwrap();

    // The same cloud (persisted in --data), now answering 500 to everything.
    let down = EmulatorProcess::quickstart(work.path(), &["--error-rate", "1.0"], &[]);
    before.write(&down.url, &all);
    let started = Instant::now();
    let mut apply = before.cmd(APPLY);
    // Retried for this long (the default is minutes), then reported.
    apply.env("HTAPSYNC_RETRY_MAX_ELAPSED", "10s");
    let (code, out, err) = support::output(&mut apply);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the failure took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("HTTP 500"),
        "the error names the server failure: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        std::fs::read(before.state_path()).unwrap(),
        state_before,
        "nothing was done, so the state is untouched"
    );
    drop(down);

    // Back up: the run converges and nothing was created twice.
    let up = EmulatorProcess::quickstart(work.path(), &[], &[]);
    assert_ne!(up.url, url, "a new port, same persisted cloud");
    before.write(&up.url, &all);
    before.run_ok(APPLY, 0);
    before.run_ok(&["plan", "--detailed-exitcode"], 0);
    check_state_matches_cloud(&up.url, &before.state().unwrap(), &[]).unwrap();
    assert_created_once(&up);
    assert_eq!(up.creates_per_task().len(), 8);
}

/// Accepts connections and never answers; returns the URL. The listener
/// thread lives as long as the test process.
fn hung_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    url
}

#[test]
fn hung_server_does_not_hang_htapsync() {
    let url = hung_server();
    let cfg = Config::new(&url, &tasks(2));
    for args in [&["plan"][..], APPLY] {
        let started = Instant::now();
        let out = cfg
            .cmd(args)
            .env("HTAPSYNC_REQUEST_TIMEOUT", "200ms")
            .env("HTAPSYNC_RETRY_MAX_ELAPSED", "2s")
            .output()
            .unwrap();
        let took = started.elapsed();
        // plan reports a failed check in its output (stdout), other errors on stderr.
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {all}");
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
        assert!(all.contains("timed out"), "{args:?}: {all}");
        assert!(!cfg.state_path().exists(), "{args:?}: nothing written");
    }
}

#[test]
fn invalid_request_timeout_is_a_clear_error() {
    let cfg = Config::new("http://127.0.0.1:9", &tasks(1));
    let out = cfg
        .cmd(&["plan"])
        .env("HTAPSYNC_REQUEST_TIMEOUT", "soon")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("HTAPSYNC_REQUEST_TIMEOUT"), "{err}");
}

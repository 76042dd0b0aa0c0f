//! A run completes under quotas and faults: the emulator's rate limit
//! (`--rate-limit`) answers like the API gateway, htapsync paces itself
//! under it, and one apply of 200 tasks through a gateway failing 30 % of
//! calls (`--error-rate 0.2 --throttle-rate 0.1`) completes every task exactly
//! once, with a retry budget in time instead of a fixed count of attempts.

mod support;

use support::fleet::{assert_created_once, check_state_matches_cloud};
use support::{Config, EmulatorProcess, HTAP, PROJECT, tasks};

const APPLY: &[&str] = &["apply", "--auto-approve", "--parallelism", "64"];

/// Bounds a run that keeps failing: it ends after this, not after minutes.
const BUDGET: &str = "60s";

#[test]
fn one_apply_of_200_tasks_through_a_faulty_gateway_completes_each_exactly_once() {
    let n = 200;
    let work = tempfile::tempdir().unwrap();
    let faults = [
        "--error-rate",
        "0.2",
        "--throttle-rate",
        "0.1",
        "--seed",
        "16",
    ];
    let emu = EmulatorProcess::quickstart(work.path(), &faults, &[]);
    let all = tasks(n);
    let cfg = Config::new(&emu.url, &all);
    let mut apply = cfg.cmd(APPLY);
    apply.env("HTAPSYNC_RETRY_MAX_ELAPSED", BUDGET);
    let (code, out, err) = support::output(&mut apply);
    assert_eq!(code, 0, "one apply completes\n{out}\n{err}");

    assert_created_once(&emu);
    assert_eq!(emu.creates_per_task().len(), n, "every task registered");
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), n);
    assert!(state.intents.is_empty(), "{:?}", state.intents);
    check_state_matches_cloud(&emu.url, &state, &[]).unwrap();
    let stats = emu.stats();
    let (errors, throttled) = (
        stats["injected_errors"].as_u64().unwrap(),
        stats["throttled"].as_u64().unwrap(),
    );
    assert!(errors > 0 && throttled > 0, "faults were injected: {stats}");

    // One plan, through the same faults, reads every task and finds nothing to do.
    let mut plan = cfg.cmd(&["plan", "--detailed-exitcode"]);
    plan.env("HTAPSYNC_RETRY_MAX_ELAPSED", BUDGET);
    let (code, out, err) = support::output(&mut plan);
    assert_eq!(code, 0, "the following plan has no changes\n{out}\n{err}");
    eprintln!(
        "rate faults: {n} tasks, one apply, {} requests, {errors} injected 5xx, {throttled} 429s",
        stats["requests"]
    );
}

/// E4 of the quick start's instance, sent `n` times at once with `token`:
/// (status, error_code, error_msg, Retry-After) of each answer.
fn list_at_once(url: &str, token: &str, n: usize) -> Vec<(u16, String, String, Option<String>)> {
    let rt = support::fleet::runtime();
    let http = reqwest::Client::new();
    let path = format!("{url}/v3/{PROJECT}/instances/{HTAP}/starrocks/databases/replication");
    rt.block_on(futures_util::future::join_all((0..n).map(|_| async {
        let response = http
            .get(&path)
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body: serde_json::Value = response.json().await.unwrap();
        let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
        (status, field("error_code"), field("error_msg"), retry_after)
    })))
}

#[test]
fn the_emulator_refuses_requests_over_its_rate_limit_like_the_gateway() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &["--rate-limit", "3"], &[]);
    let answers = list_at_once(&emu.url, "caller-a", 30);
    let refused: Vec<_> = answers.iter().filter(|a| a.0 != 200).collect();
    assert!(
        answers.iter().filter(|a| a.0 == 200).count() >= 3,
        "the burst passes: {answers:?}"
    );
    assert!(!refused.is_empty(), "30 at once exceed 3 per second");
    for (status, code, msg, retry_after) in &refused {
        assert_eq!((*status, code.as_str()), (429, "APIGW.0308"));
        assert!(
            msg.contains("policy user over ratelimit,limit:3,time:1 second"),
            "{msg}"
        );
        assert_eq!(retry_after.as_deref(), Some("1"));
    }
    // Another credential has a bucket of its own.
    let other = list_at_once(&emu.url, "caller-b", 1);
    assert_eq!(other[0].0, 200, "{other:?}");
    let stats = emu.stats();
    assert_eq!(stats["rate_limited"], refused.len() as u64, "{stats}");
    assert_eq!(stats["throttled"], 0, "{stats}");
}

#[test]
fn an_apply_paces_itself_under_the_gateways_rate_limit() {
    let n = 40;
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &["--rate-limit", "10"], &[]);
    let all = tasks(n);
    let cfg = Config::new(&emu.url, &all);
    let mut apply = cfg.cmd(APPLY);
    apply.env("HTAPSYNC_RETRY_MAX_ELAPSED", BUDGET);
    let (code, out, err) = support::output(&mut apply);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_created_once(&emu);
    assert_eq!(emu.creates_per_task().len(), n);
    let stats = emu.stats();
    let (requests, limited) = (
        stats["requests"].as_u64().unwrap(),
        stats["rate_limited"].as_u64().unwrap(),
    );
    assert!(limited > 0, "64 calls at once met the limit: {stats}");
    eprintln!("rate limit 10/s: {n} tasks, {requests} requests, {limited} refused");
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
}

//! Two applies started at once on the same state: exactly one runs, the other
//! fails fast naming the lock holder, and nothing is lost.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::fleet::{assert_created_once, check_state_matches_cloud};
use support::{Config, EmulatorProcess, tasks};

#[test]
fn two_applies_at_once_one_runs_the_other_names_the_holder() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &["--latency-ms", "20"], &[]);
    let all = tasks(20);
    let cfg = Config::new(&emu.url, &all);
    let args = ["apply", "--auto-approve", "--parallelism", "8"];
    let started = Instant::now();
    let children: Vec<_> = (0..2)
        .map(|_| {
            cfg.cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<_> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                started.elapsed(),
            )
        })
        .collect();
    let winners = outcomes.iter().filter(|o| o.0 == Some(0)).count();
    assert_eq!(winners, 1, "exactly one apply runs: {outcomes:#?}");
    let (code, err, took) = outcomes.iter().find(|o| o.0 != Some(0)).unwrap();
    assert_eq!(*code, Some(1), "{err}");
    assert!(err.contains("Error acquiring the state lock"), "{err}");
    for field in ["ID:", "Operation: apply", "PID:", "Who:"] {
        assert!(
            err.contains(field),
            "the loser names the holder ({field}): {err}"
        );
    }
    let winner_took = outcomes.iter().find(|o| o.0 == Some(0)).unwrap().2;
    assert!(
        *took < winner_took || *took < Duration::from_secs(2),
        "the loser fails fast ({took:?}), not after the winner ({winner_took:?})"
    );
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), 20);
    check_state_matches_cloud(&emu.url, &state, &[]).unwrap();
    assert_created_once(&emu);
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
}

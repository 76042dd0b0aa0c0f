//! The PostgreSQL state backend through the real binary, against a real
//! server (tests/support/postgres.rs): two "CI runners" on one workspace, a
//! server that stops in the middle of an apply, migration from and to the
//! local file, workspaces, and a password that never leaks.
//! The SIGKILL loop with state in PostgreSQL is in tests/reliability_crash.rs.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::fleet::{assert_created_once, check_state_matches_cloud};
use support::postgres::{PASSWORD, PASSWORD_USER, PgServer};
use support::{Config, EmulatorProcess, tasks};

/// Environment variables of a child process.
type Env = Vec<(String, String)>;

const LOCKED: &str = "Error acquiring the state lock";

/// An apply of `cfg` (four at a time, so that it lasts) in the background;
/// it waits for the lock, which the probe of [`wait_until_locked`] may hold
/// for an instant.
fn spawn_apply(cfg: &Config) -> std::process::Child {
    cfg.cmd(&[
        "apply",
        "--auto-approve",
        "--parallelism",
        "4",
        "--lock-timeout",
        "1m",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// Waits until `probe`'s plan finds the lock held (by `holder`, still running).
fn wait_until_locked(probe: &Config, holder: &mut std::process::Child) -> String {
    let started = Instant::now();
    loop {
        let (code, _, err) = probe.run(&["plan", "--lock-timeout", "0s"]);
        if code == 1 && err.contains(LOCKED) {
            return err;
        }
        if let Some(status) = holder.try_wait().unwrap() {
            let mut holder_err = String::new();
            if let Some(mut stderr) = holder.stderr.take() {
                std::io::Read::read_to_string(&mut stderr, &mut holder_err).unwrap();
            }
            panic!("the first apply ended ({status}) before its lock was seen: {holder_err}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{err}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_runners_on_one_workspace_one_applies_the_other_waits_then_finds_no_changes() {
    let Some(pg) = PgServer::shared("two_runners_on_one_workspace") else {
        return;
    };
    let db = pg.database("runners");
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &["--latency-ms", "40"], &[]);
    let all = tasks(24);
    // Two configuration directories: two runners, each with a fresh checkout.
    let a = Config::with_postgres(&emu.url, &all, pg.env_for(&db));
    let b = Config::with_postgres(&emu.url, &all, pg.env_for(&db));

    let mut first = spawn_apply(&a);
    let refused = wait_until_locked(&b, &mut first);
    assert!(refused.contains("Operation: apply"), "{refused}");
    assert!(refused.contains("Who:"), "{refused}");
    assert!(refused.contains("--lock-timeout"), "{refused}");

    // The second runner waits for the lock, then plans against the new state.
    let out = b.run_ok(&["apply", "--auto-approve", "--lock-timeout", "2m"], 0);
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out.contains("No changes"), "{out}");

    let state = b.state().expect("state");
    assert_eq!(state.tasks.len(), all.len());
    check_state_matches_cloud(&emu.url, &state, &all).unwrap();
    assert_created_once(&emu);
    assert_eq!(emu.creates_per_task().len(), all.len());
    a.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_server_stopped_mid_apply_fails_the_run_cleanly_and_the_next_apply_converges() {
    let Some(pg) = PgServer::start("a_server_stopped_mid_apply") else {
        return;
    };
    let db = pg.database("stopped");
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &["--latency-ms", "40"], &[]);
    let all = tasks(24);
    let cfg = Config::with_postgres(&emu.url, &all, pg.env_for(&db));
    let probe = Config::with_postgres(&emu.url, &all, pg.env_for(&db));

    let mut apply = spawn_apply(&cfg);
    wait_until_locked(&probe, &mut apply);
    // Let some tasks be created, then take the server away.
    while emu.creates_per_task().len() < 4 {
        std::thread::sleep(Duration::from_millis(10));
    }
    pg.stop();
    let out = apply.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("state"), "the error names the state: {err}");

    pg.restart();
    let state = cfg.state();
    if let Some(state) = &state {
        // What was recorded before the server went away is true of the cloud.
        check_state_matches_cloud(&emu.url, state, &all).unwrap();
    }
    cfg.run_ok(&["apply", "--auto-approve", "--lock-timeout", "10s"], 0);
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
    let state = cfg.state().unwrap();
    assert!(state.intents.is_empty());
    assert_eq!(state.tasks.len(), all.len());
    check_state_matches_cloud(&emu.url, &state, &[]).unwrap();
    assert_created_once(&emu);
}

#[test]
fn migrate_to_postgres_and_back_keeps_lineage_and_serial() {
    let Some(pg) = PgServer::shared("migrate_to_postgres_and_back") else {
        return;
    };
    let db = pg.database("migrate");
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let all = tasks(3);
    let local = Config::new(&emu.url, &all);
    local.run_ok(&["apply", "--auto-approve"], 0);
    let pulled = local.run_ok(&["--workspace", "default", "state", "pull"], 0);
    local.write_file("s.json", &pulled);
    local.run_ok(&["--workspace", "staging", "state", "push", "s.json"], 0);
    let before = local.state().unwrap();

    let mut migrate = local.cmd(&["state", "migrate", "--to", "postgres", "--json"]);
    migrate.envs(pg.env_for(&db));
    let (code, out, err) = support::output(&mut migrate);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["format_version"], "1.0");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "state_migrated", "{out}");
    let copied = last["migrated"]["workspaces"].as_array().unwrap();
    assert_eq!(copied.len(), 2, "{out}");
    assert!(copied.iter().all(|w| w["already_there"] == false));

    // The same directory on the PostgreSQL backend: same lineage and serial, no changes.
    let shared = Config::with_postgres(&emu.url, &all, pg.env_for(&db));
    let after = shared.state().unwrap();
    assert_eq!(
        (&after.lineage, after.serial, &after.tasks),
        (&before.lineage, before.serial, &before.tasks)
    );
    shared.run_ok(&["plan", "--detailed-exitcode"], 0);
    let list = shared.run_ok(&["workspace", "list"], 0);
    assert_eq!(list, "* default\n  staging\n");
    // The source is untouched; running it again finds both already there.
    assert_eq!(local.state().unwrap(), before);
    let mut again = local.cmd(&["state", "migrate", "--to", "postgres"]);
    again.envs(pg.env_for(&db));
    let (code, out, err) = support::output(&mut again);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("already there").count(), 2, "{out}");

    // An apply on PostgreSQL, then back to a fresh local directory.
    shared.write(&emu.url, &all[..2]);
    shared.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    let newer = shared.state().unwrap();
    assert!(newer.serial > before.serial);
    // Back to a local file (in the directory that now uses PostgreSQL).
    shared.run_ok(&["state", "migrate", "--to", "local"], 0);
    let path = shared.state_path();
    let back = htapsync::state::decode(&std::fs::read(&path).unwrap(), &path).unwrap();
    assert_eq!(
        (&back.lineage, back.serial, &back.tasks),
        (&newer.lineage, newer.serial, &newer.tasks)
    );
    // The first directory's file is older than PostgreSQL now: refused, nothing copied.
    let mut stale = local.cmd(&["state", "migrate", "--to", "postgres"]);
    stale.envs(pg.env_for(&db));
    let (code, _, err) = support::output(&mut stale);
    assert_eq!(code, 1);
    assert!(err.contains("is newer"), "{err}");
    assert_eq!(shared.state().unwrap(), newer);

    // A target holding another lineage is refused, and nothing is copied.
    let other = Config::new(&emu.url, &all[..1]);
    other.write_file(
        "s.json",
        &pulled.replace(&before.lineage, "00000000-0000-4000-8000-000000000000"),
    );
    other.run_ok(&["state", "push", "s.json"], 0);
    let mut refused = other.cmd(&["state", "migrate", "--to", "postgres"]);
    refused.envs(pg.env_for(&db));
    let (code, _, err) = support::output(&mut refused);
    assert_eq!(code, 1);
    assert!(err.contains("holds another state"), "{err}");
    assert_eq!(shared.state().unwrap(), newer);
}

#[test]
fn workspaces_on_postgres_are_separate_rows() {
    let Some(pg) = PgServer::shared("workspaces_on_postgres") else {
        return;
    };
    let db = pg.database("workspaces");
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let cfg = Config::with_postgres(&emu.url, &tasks(2), pg.env_for(&db));
    cfg.run_ok(&["apply", "--auto-approve"], 0);
    cfg.run_ok(
        &["--workspace", "scratch", "plan", "--detailed-exitcode"],
        2,
    );
    let pulled = cfg.run_ok(&["state", "pull"], 0);
    cfg.write_file("s.json", &pulled);
    cfg.run_ok(&["--workspace", "scratch", "state", "push", "s.json"], 0);
    assert_eq!(
        cfg.run_ok(&["workspace", "list"], 0),
        "* default\n  scratch\n"
    );
    cfg.run_ok(
        &["--workspace", "scratch", "plan", "--detailed-exitcode"],
        0,
    );
    let (code, _, err) = cfg.run(&["workspace", "delete", "scratch"]);
    assert_eq!(code, 1);
    assert!(err.contains("still manages 2 task(s)"), "{err}");
    cfg.run_ok(&["workspace", "delete", "--force", "scratch"], 0);
    assert_eq!(cfg.run_ok(&["workspace", "list"], 0), "* default\n");
    let history = cfg.run_ok(&["state", "history"], 0);
    assert!(history.contains("(current)"), "{history}");
}

#[test]
fn the_database_password_never_appears_in_output_logs_plans_or_state() {
    let Some(pg) = PgServer::shared("the_database_password_never_appears") else {
        return;
    };
    let db = pg.database("secrets");
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let good = vec![
        (
            "HTAPSYNC_PG_CONN".to_string(),
            format!(
                "host=127.0.0.1 port={} user={PASSWORD_USER} dbname={db}",
                pg.port()
            ),
        ),
        ("PGPASSWORD".to_string(), PASSWORD.to_string()),
    ];
    let url_form = vec![(
        "HTAPSYNC_PG_CONN".to_string(),
        format!(
            "postgres://{PASSWORD_USER}:{PASSWORD}@127.0.0.1:{}/{db}",
            pg.port()
        ),
    )];
    let wrong = vec![(
        "HTAPSYNC_PG_CONN".to_string(),
        format!(
            "host=127.0.0.1 port={} user={PASSWORD_USER} password={PASSWORD}x dbname={db}",
            pg.port()
        ),
    )];
    let cfg = Config::with_postgres(&emu.url, &tasks(2), good.clone());
    let plan = cfg.path("saved.plan").display().to_string();
    let runs: [(&[&str], &Env, i32); 7] = [
        (&["plan", "-out", &plan], &good, 0),
        (&["apply", &plan], &good, 0),
        (&["state", "history"], &url_form, 0),
        (&["state", "pull"], &url_form, 0),
        (&["workspace", "list", "--json"], &good, 0),
        (&["plan"], &wrong, 1),
        (&["state", "pull"], &wrong, 1),
    ];
    // Quiet, then with every log line (-vvv): each pass plans and applies.
    for verbose in [false, true] {
        for (args, env, code) in &runs {
            let mut cmd = cfg.cmd(args);
            cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if verbose {
                cmd.arg("-vvv");
            }
            let (got, out, err) = support::output(&mut cmd);
            assert_eq!(got, *code, "{args:?} (verbose {verbose}): {err}");
            for (what, text) in [("stdout", &out), ("stderr", &err)] {
                assert!(
                    !text.contains(PASSWORD),
                    "{args:?} (verbose {verbose}) {what} shows the password:\n{text}"
                );
            }
            if *code == 1 {
                assert!(
                    err.contains(PASSWORD_USER),
                    "the error names the user: {err}"
                );
            }
        }
    }
    let saved = std::fs::read_to_string(&plan).unwrap();
    assert!(!saved.contains(PASSWORD));
    let mut admin = pg.admin(&db);
    for row in admin
        .query(
            "SELECT record FROM htapsync.state_tasks UNION ALL SELECT intents || written_by
             FROM htapsync.states UNION ALL SELECT document FROM htapsync.state_history",
            &[],
        )
        .unwrap()
    {
        let doc: String = row.get(0);
        assert!(!doc.contains(PASSWORD));
    }
}

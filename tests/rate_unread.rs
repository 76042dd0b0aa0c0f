//! Reads are not all-or-nothing: when the cloud keeps failing the read (E5)
//! of one task past its retry budget, plan, refresh and drift still read
//! every other task, and fail naming the task whose state is unknown and how
//! to go on without it; refresh records what it read. A scripted fault of
//! the emulator (`/_emulator/faults`) fails the reads of one task.

mod support;

use support::{Config, EmulatorProcess, tasks};

/// The task whose configuration the emulator never answers.
const UNREADABLE: &str = "t001";

/// Every E5 of [`UNREADABLE`] answers 503 from now on.
fn fail_its_reads(emu: &EmulatorProcess) {
    let rules = serde_json::json!([{
        "call": "task-config", "task": UNREADABLE, "status": 503,
        "error_code": "DBS.200001", "error_msg": "down for this task", "times": 1_000_000,
    }]);
    emu.script(rules);
}

/// Three tasks applied, then the reads of [`UNREADABLE`] failing.
fn three_tasks_one_unreadable() -> (tempfile::TempDir, EmulatorProcess, Config) {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let cfg = Config::new(&emu.url, &tasks(3));
    cfg.run_ok(&["apply", "--auto-approve"], 0);
    fail_its_reads(&emu);
    (work, emu, cfg)
}

/// Runs `args` with a 2 s retry budget per call: (exit code, stdout, stderr).
fn run(cfg: &Config, args: &[&str]) -> (i32, String, String) {
    let mut cmd = cfg.cmd(args);
    cmd.env("HTAPSYNC_RETRY_MAX_ELAPSED", "2s");
    support::output(&mut cmd)
}

#[test]
fn a_task_that_cannot_be_read_is_named_and_the_others_are_still_read() {
    let (_work, emu, cfg) = three_tasks_one_unreadable();
    let run = |args: &[&str]| run(&cfg, args);
    let unknown = "task.t001 is unknown (task-config: DBS.200001 down for this task (HTTP 503";
    for (args, done) in [
        (&["plan"][..], "nothing was planned or changed"),
        (
            &["apply", "--auto-approve"][..],
            "nothing was planned or changed",
        ),
        (&["drift"][..], "no drift is reported"),
        (&["refresh"][..], "the others were recorded in state"),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 1, "{args:?}\n{out}\n{err}");
        assert!(err.contains(unknown), "{args:?}: {err}");
        assert!(
            err.contains("the other 2 task(s) were read"),
            "{args:?}: {err}"
        );
        assert!(err.contains(done), "{args:?}: {err}");
        assert!(err.contains("-exclude task.t001"), "{args:?}: {err}");
        assert!(!err.contains("task.t000 is unknown"), "{args:?}: {err}");
    }
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), 3, "the unread task keeps its record");
    // Left out, the others plan and apply as usual.
    let (code, out, err) = run(&["plan", "-exclude", "task.t001", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(emu.creates_per_task().len(), 3);
}

#[test]
fn status_shows_every_task_and_names_the_one_it_could_not_read() {
    let (_work, _emu, cfg) = three_tasks_one_unreadable();
    let run = |args: &[&str]| run(&cfg, args);
    let (code, out, err) = run(&["status"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for name in ["task.t000", "task.t001", "task.t002"] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} has a row:\n{out}"
        );
    }
    assert!(
        out.contains("task.t001: its last table change could not be read: task-config: DBS.200001 down for this task"),
        "{out}"
    );
    let (code, out, err) = run(&["status", "--json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["healthy"], false, "{doc}");
    assert_eq!(doc["problems"], 0, "the cloud reports no problem: {doc}");
    assert_eq!(doc["unread"][0]["address"], "task.t001", "{doc}");
    assert_eq!(doc["tasks"].as_array().map(Vec::len), Some(3), "{doc}");
}

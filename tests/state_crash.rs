//! Crash safety of a state write: the test re-runs itself as a child that
//! aborts at each `HTAPSYNC_CRASH_AT` point, then checks that the file holds
//! the old or the new state, never a torn one, and that the next write works.

use htapsync::model::ReplScope;
use htapsync::state::{Backend, LocalBackend, State, TaskRecord};
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

const CHILD_ENV: &str = "HTAPSYNC_TEST_CRASH_CHILD_PATH";

fn record(name: &str) -> TaskRecord {
    TaskRecord {
        spec: support::spec(name)
            .scope(ReplScope::All)
            .tables::<&str>([])
            .build(),
        prevent_destroy: false,
        updated_at: String::new(),
    }
}

/// In the child: adds task "b" to the state at the given path (the crash hook aborts mid-way).
fn child_write(path: &Path) {
    let backend = LocalBackend::new(path.to_path_buf());
    let mut state = backend.read().unwrap().unwrap();
    state.tasks.insert("b".into(), record("b"));
    backend.write(&mut state).unwrap();
}

#[test]
fn crash_child() {
    // Only does something when re-run by `every_crash_point_leaves_old_or_new_state`.
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child_write(Path::new(&path));
    }
}

fn run_child(path: &Path, crash_at: &str) -> std::process::ExitStatus {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .env("HTAPSYNC_CRASH_AT", crash_at)
        .status()
        .unwrap()
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect()
}

#[test]
fn every_crash_point_leaves_old_or_new_state() {
    for (crash_at, expect_new) in [
        ("state-after-temp-write", false),
        ("state-after-fsync", false),
        ("state-after-rename", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let backend = LocalBackend::new(path.clone());
        let mut state = State::new();
        state.tasks.insert("a".into(), record("a"));
        backend.write(&mut state).unwrap();

        let status = run_child(&path, crash_at);
        assert!(!status.success(), "{crash_at}: the child must abort");

        let after = LocalBackend::new(path.clone()).read().unwrap().unwrap();
        let names: Vec<_> = after.tasks.keys().cloned().collect();
        if expect_new {
            assert_eq!(
                (names, after.serial),
                (vec!["a".to_string(), "b".to_string()], 2),
                "{crash_at}"
            );
        } else {
            assert_eq!(
                (names, after.serial),
                (vec!["a".to_string()], 1),
                "{crash_at}"
            );
            assert_eq!(
                temp_files(dir.path()).len(),
                1,
                "{crash_at}: the dead writer's temp file is left"
            );
        }

        // The next write succeeds and sweeps the dead writer's temp file.
        let mut next = after.clone();
        next.tasks.insert("c".into(), record("c"));
        LocalBackend::new(path.clone()).write(&mut next).unwrap();
        assert!(
            temp_files(dir.path()).is_empty(),
            "{crash_at}: temp files swept"
        );
        assert_eq!(next.serial, after.serial + 1);
    }
}

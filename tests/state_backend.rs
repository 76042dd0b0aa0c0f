//! The local state backend through its public interface: round trips, serial
//! rules, backup, symlink refusal, locking and force-unlock.

use htapsync::model::TaskSpec;
use htapsync::state::{Backend, LocalBackend, State, StateError, TaskRecord};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod support;

fn spec(name: &str) -> TaskSpec {
    support::spec(name).build()
}

fn with_task(state: &mut State, name: &str) {
    state.tasks.insert(
        name.to_string(),
        TaskRecord {
            spec: spec(name),
            prevent_destroy: false,
            updated_at: "2026-01-01T00:00:00Z".into(),
        },
    );
}

fn setup() -> (tempfile::TempDir, PathBuf, LocalBackend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htapsync.state.json");
    let backend = LocalBackend::new(path.clone());
    (dir, path, backend)
}

fn backup_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.backup", path.display()))
}

#[test]
fn a_state_written_by_one_backend_is_read_by_the_next() {
    let (_dir, path, backend) = setup();
    assert_eq!(backend.read().unwrap(), None);
    let mut state = State::new();
    with_task(&mut state, "orders_sync");
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 1);
    let reread = LocalBackend::new(path).read().unwrap().unwrap();
    assert_eq!(reread, state);
}

#[test]
fn serial_moves_only_when_content_changes_and_unchanged_writes_touch_nothing() {
    let (_dir, path, backend) = setup();
    let mut state = State::new();
    backend.write(&mut state).unwrap();
    assert!(
        !path.exists(),
        "an empty state over no state is not a change"
    );
    with_task(&mut state, "a");
    backend.write(&mut state).unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    backend.write(&mut state).unwrap();
    assert_eq!(state.serial, 1);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
}

/// `<path>.backup` holds the state file as it was before this backend (one
/// command) first replaced it, as Terraform's does: written once per run, not
/// on every write, and never when the run created the file.
#[test]
fn the_backup_keeps_the_file_each_run_found() {
    let (_dir, path, first_run) = setup();
    let mut state = State::new();
    with_task(&mut state, "a");
    first_run.write(&mut state).unwrap();
    with_task(&mut state, "b");
    first_run.write(&mut state).unwrap();
    assert!(
        !backup_of(&path).exists(),
        "a run that created the file has nothing to back up"
    );

    let second_run = LocalBackend::new(path.clone());
    let mut state = second_run.read().unwrap().unwrap();
    with_task(&mut state, "c");
    second_run.write(&mut state).unwrap();
    with_task(&mut state, "d");
    second_run.write(&mut state).unwrap();
    let backup = LocalBackend::new(backup_of(&path)).read().unwrap().unwrap();
    assert_eq!(backup.serial, 2);
    assert_eq!(backup.tasks.keys().collect::<Vec<_>>(), ["a", "b"]);

    // A file replaced behind the run's back is not its own: kept again first.
    let mut other = LocalBackend::new(path.clone()).read().unwrap().unwrap();
    with_task(&mut other, "e");
    LocalBackend::new(path.clone()).write(&mut other).unwrap();
    with_task(&mut state, "f");
    second_run.write(&mut state).unwrap();
    let backup = LocalBackend::new(backup_of(&path)).read().unwrap().unwrap();
    assert_eq!(backup.serial, 5);
    assert!(backup.tasks.contains_key("e"));
}

#[test]
fn a_fresh_backend_compares_against_the_file_on_disk() {
    let (_dir, path, backend) = setup();
    let mut state = State::new();
    with_task(&mut state, "a");
    backend.write(&mut state).unwrap();
    let mut same = state.clone();
    LocalBackend::new(path).write(&mut same).unwrap();
    assert_eq!(same.serial, 1);
}

#[cfg(unix)]
#[test]
fn state_and_backup_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path, backend) = setup();
    let mut state = State::new();
    with_task(&mut state, "a");
    backend.write(&mut state).unwrap();
    with_task(&mut state, "b");
    LocalBackend::new(path.clone()).write(&mut state).unwrap();
    for p in [path.clone(), backup_of(&path)] {
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{p:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_symlinked_state_path_is_refused_and_nothing_is_written() {
    let (dir, path, backend) = setup();
    let real = dir.path().join("elsewhere.json");
    std::os::unix::fs::symlink(&real, &path).unwrap();
    let mut state = State::new();
    with_task(&mut state, "a");
    let err = backend.write(&mut state).unwrap_err();
    assert!(matches!(err, StateError::Symlink { .. }));
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    assert!(!real.exists());
    assert_eq!(state.serial, 0);
}

#[test]
fn a_corrupt_state_is_an_error_that_changes_nothing() {
    let (_dir, path, backend) = setup();
    std::fs::write(&path, b"{\"format_version\": 1,\n \"serial\": }").unwrap();
    let err = backend.read().unwrap_err();
    assert!(
        err.to_string().contains("htapsync.state.json:2:12"),
        "{err}"
    );
    let mut state = State::new();
    with_task(&mut state, "a");
    assert!(backend.write(&mut state).is_err());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{\"format_version\": 1,\n \"serial\": }"
    );
}

/// A write skips reading the file only while it is still the one this backend
/// wrote (same inode, size and change time); a file changed behind its back,
/// even in place and to the same size, is decoded (and refused when corrupt).
#[test]
fn a_file_changed_after_our_write_is_decoded_again() {
    let (_dir, path, backend) = setup();
    let mut state = State::new();
    with_task(&mut state, "a");
    backend.write(&mut state).unwrap();
    with_task(&mut state, "b");
    backend.write(&mut state).unwrap();
    assert_eq!(backend.read().unwrap().unwrap().tasks.len(), 2);
    std::fs::write(&path, b"{ not json").unwrap();
    with_task(&mut state, "c");
    assert!(backend.write(&mut state).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
    assert_eq!(state.serial, 2, "a failed write leaves the caller's serial");

    // Same size, same inode: only the change time tells. Sleep past the
    // timestamp granularity of file systems with coarse clocks.
    std::fs::remove_file(&path).unwrap();
    backend.write(&mut state).unwrap();
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::thread::sleep(Duration::from_millis(30));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &vec![b'x'; len]))
        .unwrap();
    with_task(&mut state, "d");
    assert!(backend.write(&mut state).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'x'; len]);
}

#[test]
fn a_second_writer_fails_at_once_with_the_holders_record() {
    let (_dir, path, backend) = setup();
    let held = backend.lock("apply", Duration::ZERO).unwrap();
    let err = LocalBackend::new(path)
        .lock("plan", Duration::ZERO)
        .unwrap_err();
    let StateError::Locked {
        info: Some(info), ..
    } = &err
    else {
        panic!("expected Locked with info, got {err:?}");
    };
    assert_eq!(info.id, held.info().id);
    assert_eq!(info.operation, "apply");
    assert_eq!(info.pid, std::process::id());
    let text = err.to_string();
    for needle in [
        "Error acquiring the state lock",
        "Lock Info:",
        &format!("ID:        {}", held.info().id),
        "Operation: apply",
        &format!("htapsync force-unlock {}", held.info().id),
        "--lock-timeout",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn the_lock_is_released_on_drop_and_a_waiter_gets_it_within_its_timeout() {
    let (_dir, path, backend) = setup();
    let held = backend.lock("apply", Duration::ZERO).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    let start = Instant::now();
    let second = LocalBackend::new(path.clone())
        .lock("plan", Duration::from_secs(5))
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(150));
    releaser.join().unwrap();
    assert_eq!(second.info().operation, "plan");
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}.lock", path.display())).unwrap())
            .unwrap();
    assert_eq!(recorded["id"], second.info().id.as_str());
    drop(second);
    assert_eq!(
        std::fs::read(format!("{}.lock", path.display())).unwrap(),
        b"",
        "release clears the record"
    );
}

#[test]
fn a_record_left_by_a_dead_holder_is_taken_over() {
    let (_dir, path, backend) = setup();
    let lock_path = format!("{}.lock", path.display());
    std::fs::write(&lock_path, br#"{"id":"dead-1","operation":"apply","who":"x@y","pid":1,"version":"0","created":"c","path":"p"}"#).unwrap();
    let guard = backend.lock("apply", Duration::ZERO).unwrap();
    assert_ne!(guard.info().id, "dead-1");
}

#[test]
fn force_unlock_refuses_a_held_lock_and_needs_the_right_id_for_a_dead_one() {
    let (_dir, path, backend) = setup();
    let lock_path = format!("{}.lock", path.display());
    let held = backend.lock("apply", Duration::ZERO).unwrap();
    let id = held.info().id.clone();
    let err = backend.force_unlock(&id).unwrap_err();
    assert!(matches!(err, StateError::LockHeld { .. }), "{err:?}");
    assert!(err.to_string().contains(&id), "shows the holder: {err}");
    drop(held);
    // What a holder that died leaves: its record, but no lock on the file.
    std::fs::write(&lock_path, br#"{"id":"dead-1","operation":"apply","who":"x@y","pid":1,"version":"0","created":"c","path":"p"}"#).unwrap();
    assert!(matches!(
        backend.force_unlock("wrong-id"),
        Err(StateError::LockIdMismatch { .. })
    ));
    backend.force_unlock("dead-1").unwrap();
    assert!(!Path::new(&lock_path).exists());
    let other = LocalBackend::new(path)
        .lock("plan", Duration::ZERO)
        .unwrap();
    assert_eq!(other.info().operation, "plan");
}

#[test]
fn force_unlock_without_a_lock_says_so() {
    let (_dir, _path, backend) = setup();
    assert!(matches!(
        backend.force_unlock("x"),
        Err(StateError::NotLocked { .. })
    ));
}

#[test]
fn describe_names_the_path() {
    let (_dir, path, backend) = setup();
    assert_eq!(backend.describe(), path.display().to_string());
}

//! State handling through the real binary: locking, force-unlock, state
//! commands, a state of the wrong format.

mod support;
use htapsync::state::{Backend, LocalBackend};
use std::time::Duration;
use support::Workspace;

#[test]
fn second_writer_fails_on_the_lock_and_force_unlock_recovers() {
    let ws = Workspace::example("quickstart");
    std::fs::create_dir_all(ws.path(".htapsync")).unwrap();
    let backend = LocalBackend::new(ws.path(".htapsync/htapsync.state.json"));
    let guard = backend.lock("apply", Duration::ZERO).unwrap();
    let id = guard.info().id.clone();

    let (code, out, err) = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("Error acquiring the state lock"), "{err}");
    assert!(err.contains(&id), "the lock ID is shown: {err}");
    assert!(!out.contains("Creating"), "{out}");

    let (code, _, err) = ws.run(&["force-unlock", "not-the-id"]);
    assert_eq!(code, 1);
    assert!(err.contains(&id), "the actual ID is named: {err}");
    // The holder is alive: force-unlock refuses (tests/trust_state.rs covers it).
    ws.run_ok(&["force-unlock", &id], 1);
    drop(guard);
    ws.run_ok(&["apply", "--auto-approve"], 0);
}

#[test]
fn concurrent_applies_one_runs_the_other_fails_fast() {
    let ws = Workspace::example("quickstart");
    let a = spawn(&ws);
    let b = spawn(&ws);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    let errs = [
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr),
    ];
    let locked = errs
        .iter()
        .filter(|e| e.contains("Error acquiring the state lock"))
        .count();
    // Either they overlapped (one failed on the lock) or ran one after the other
    // (the second found nothing to do); never both applying at once.
    if locked == 1 {
        assert!(
            codes.contains(&Some(0)) && codes.contains(&Some(1)),
            "{codes:?} {errs:?}"
        );
    } else {
        assert_eq!(codes, [Some(0), Some(0)], "{errs:?}");
    }
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(ws.state()["tasks"].as_object().unwrap().len(), 2);
}

#[test]
fn state_list_show_rm() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let out = ws.run_ok(&["state", "list"], 0);
    assert_eq!(out, "task.catalog_sync\ntask.orders_sync\n");
    let out = ws.run_ok(&["state", "show", "task.orders_sync"], 0);
    assert!(out.contains("shop_olap"), "{out}");
    let serial = ws.state()["serial"].as_u64().unwrap();
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);
    assert_eq!(ws.state()["serial"].as_u64().unwrap(), serial + 1);
    assert!(ws.path(".htapsync/htapsync.state.json.backup").exists());
    let (code, _, err) = ws.run(&["state", "show", "task.orders_sync"]);
    assert_eq!(code, 1);
    assert!(err.contains("not in state"), "{err}");
}

#[test]
fn newer_or_corrupt_state_is_an_error_that_changes_nothing() {
    let ws = Workspace::example("quickstart");
    let newer = r#"{"format_version": 99, "htapsync_version": "9.0.0", "lineage": "x", "serial": 3, "tasks": {}}"#;
    ws.write(".htapsync/htapsync.state.json", newer);
    let (code, _, err) = ws.run(&["plan"]);
    assert_eq!(code, 1);
    assert!(err.contains("newer"), "{err}");
    assert_eq!(ws.read(".htapsync/htapsync.state.json"), newer);

    ws.write(
        ".htapsync/htapsync.state.json",
        "{\"format_version\": 1,\n  \"serial\": ",
    );
    let (code, _, err) = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1);
    assert!(err.contains("htapsync.state.json"), "{err}");
    assert!(
        err.contains("htapsync.state.json:2:"),
        "names the line: {err}"
    );
}

#[cfg(unix)]
#[test]
fn state_and_plan_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::example("quickstart");
    let plan = ws.path("p.plan");
    ws.run_ok(&["plan", "-out", plan.to_str().unwrap()], 0);
    ws.run_ok(&["apply", plan.to_str().unwrap()], 0);
    for f in [plan, ws.path(".htapsync/htapsync.state.json")] {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

fn spawn(ws: &Workspace) -> std::process::Child {
    ws.std_cmd(&["apply", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

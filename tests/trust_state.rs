//! Trust in the state and the files htapsync writes, through the real binary:
//! force-unlock never breaks a live lock, a state that cannot be written stops
//! an apply before (or as soon as) it changes the cloud, damaged state points
//! at its backup, a create of a task that exists suggests `import`, and the
//! lock, htapsync's directories and generated configuration are opened safely.

mod common;
use common::Workspace;
use htapsync::state::{Backend, LocalBackend};
use std::time::Duration;

const STATE: &str = ".htapsync/htapsync.state.json";
const LOCK: &str = ".htapsync/htapsync.state.json.lock";

#[test]
fn force_unlock_refuses_a_lock_whose_holder_is_alive() {
    let ws = Workspace::example("quickstart");
    std::fs::create_dir_all(ws.path(".htapsync")).unwrap();
    let backend = LocalBackend::new(ws.path(STATE));
    let guard = backend.lock("apply", Duration::ZERO).unwrap();
    let id = guard.info().id.clone();

    let (code, out, err) = ws.run(&["force-unlock", &id]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("held by a running process"), "{err}");
    assert!(err.contains(&format!("ID:        {id}")), "names the holder: {err}");
    let pid = format!("PID:       {}", std::process::id());
    assert!(err.contains(&pid), "names the holder's pid: {err}");
    assert!(!out.contains("unlocked"), "{out}");
    assert!(ws.read(LOCK).contains(&id), "the holder's record is kept");

    // The lock still keeps a second writer out.
    let (code, out, err) = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("Error acquiring the state lock"), "{err}");
    assert!(!out.contains("Creating"), "{out}");
    drop(guard);
}

#[test]
fn force_unlock_removes_the_lock_of_a_holder_that_died() {
    let ws = Workspace::example("quickstart");
    let mut killed = ws.std_cmd(&["apply", "--auto-approve", "--parallelism", "1"]);
    killed.env("HTAPSYNC_CRASH_AT", "apply-after-register");
    assert!(!killed.output().unwrap().status.success());
    let record: serde_json::Value = serde_json::from_str(&ws.read(LOCK)).unwrap();
    let id = record["id"].as_str().expect("the dead holder's record").to_string();

    let out = ws.run_ok(&["force-unlock", &id], 0);
    assert!(out.contains("unlocked"), "{out}");
    assert!(!ws.path(LOCK).exists());
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[cfg(unix)]
#[test]
fn a_symlink_at_the_lock_path_is_refused_and_its_target_untouched() {
    let ws = Workspace::example("quickstart");
    std::fs::create_dir_all(ws.path(".htapsync")).unwrap();
    ws.write("precious.txt", "do not truncate me\n");
    std::os::unix::fs::symlink(ws.path("precious.txt"), ws.path(LOCK)).unwrap();
    let (code, out, err) = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!out.contains("Creating"), "{out}");
    assert_eq!(ws.read("precious.txt"), "do not truncate me\n");
}

#[cfg(unix)]
#[test]
fn htapsync_creates_its_directories_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::example("quickstart");
    ws.edit(
        "htapsync.toml",
        "path = \".htapsync/htapsync.state.json\"",
        "path = \"st/nested/htapsync.state.json\"",
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_htapsync"))
        .arg("-C")
        .arg(ws.dir.path())
        .args(["apply", "--auto-approve"])
        .env("NO_COLOR", "1");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for dir in ["st", "st/nested", ".htapsync"] {
        let mode = std::fs::metadata(ws.path(dir)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{dir} has mode {mode:03o}");
    }
}

/// A cloud with both quickstart tasks and a state that manages only catalog_sync.
fn unmanaged_orders_sync() -> Workspace {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);
    ws
}

#[test]
fn generate_config_refuses_an_existing_file() {
    let ws = unmanaged_orders_sync();
    ws.write("gen.toml", "# mine\n");
    let (code, out, err) = ws.run(&[
        "import",
        "task.orders_sync",
        "--generate-config",
        ws.path("gen.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(ws.read("gen.toml"), "# mine\n");
    assert!(ws.state()["tasks"].get("orders_sync").is_none(), "nothing imported");
}

#[cfg(unix)]
#[test]
fn generate_config_refuses_a_dangling_symlink() {
    let ws = unmanaged_orders_sync();
    std::os::unix::fs::symlink(ws.path("elsewhere.toml"), ws.path("gen.toml")).unwrap();
    let (code, out, err) = ws.run(&[
        "import",
        "task.orders_sync",
        "--generate-config",
        ws.path("gen.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(!ws.path("elsewhere.toml").exists(), "the link was not followed");
    assert!(ws.state()["tasks"].get("orders_sync").is_none(), "nothing imported");

    let fresh = ws.path("fresh.toml");
    ws.run_ok(
        &["import", "task.orders_sync", "--generate-config", fresh.to_str().unwrap()],
        0,
    );
    assert!(ws.read("fresh.toml").contains("[task.orders_sync]"));
}

//! Trust in the state and the files htapsync writes, through the real binary:
//! force-unlock never breaks a live lock, a state that cannot be written stops
//! an apply before (or as soon as) it changes the cloud, damaged state points
//! at its backup, a create of a task that exists suggests `import`, and the
//! lock, htapsync's directories and generated configuration are opened safely.
//! A state write that fails in the middle of an apply runs against `htapsync
//! emulator` as a separate process, whose pause jobs take long enough for the
//! state directory to break while one runs: the run stops and names exactly
//! the changes the cloud has and the state does not.

mod support;
use htapsync::state::{Backend, LocalBackend};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{EmulatorProcess, HTAP, Project, Workspace, header, task};

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
    assert!(
        err.contains(&format!("ID:        {id}")),
        "names the holder: {err}"
    );
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
    let id = record["id"]
        .as_str()
        .expect("the dead holder's record")
        .to_string();

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
        .arg(support::process::BIN)
        .arg("-C")
        .arg(ws.dir.path())
        .args(["apply", "--auto-approve"])
        .env("NO_COLOR", "1");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for dir in ["st", "st/nested", ".htapsync"] {
        let mode = std::fs::metadata(ws.path(dir))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
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

/// orders_sync exists in the cloud, but neither state nor configuration
/// knows it: what `import --generate-config` is for.
fn unconfigured_orders_sync() -> Workspace {
    let ws = unmanaged_orders_sync();
    let config = ws.read("htapsync.toml");
    let start = config.find("# Orders and their lines").unwrap();
    let end = config.find("# The catalogue").unwrap();
    ws.write(
        "htapsync.toml",
        &format!("{}{}", &config[..start], &config[end..]),
    );
    ws
}

#[test]
fn generate_config_refuses_an_existing_file() {
    let ws = unconfigured_orders_sync();
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
    assert!(
        ws.state()["tasks"].get("orders_sync").is_none(),
        "nothing imported"
    );
}

#[cfg(unix)]
#[test]
fn generate_config_refuses_a_dangling_symlink() {
    let ws = unconfigured_orders_sync();
    std::os::unix::fs::symlink(ws.path("elsewhere.toml"), ws.path("gen.toml")).unwrap();
    let (code, out, err) = ws.run(&[
        "import",
        "task.orders_sync",
        "--generate-config",
        ws.path("gen.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(
        !ws.path("elsewhere.toml").exists(),
        "the link was not followed"
    );
    assert!(
        ws.state()["tasks"].get("orders_sync").is_none(),
        "nothing imported"
    );

    let fresh = ws.path("fresh.toml");
    ws.run_ok(
        &[
            "import",
            "task.orders_sync",
            "--generate-config",
            fresh.to_str().unwrap(),
        ],
        0,
    );
    assert!(ws.read("fresh.toml").contains("[task.orders_sync]"));
}

/// Makes the directory `dir` unusable for writes, for root too: it is moved
/// away and a plain file takes its name.
fn break_dir(dir: &Path) {
    let away = dir.with_extension("away");
    std::fs::rename(dir, &away).unwrap();
    std::fs::write(dir, "not a directory\n").unwrap();
}

fn restore_dir(dir: &Path) {
    std::fs::remove_file(dir).unwrap();
    std::fs::rename(dir.with_extension("away"), dir).unwrap();
}

/// The state directory breaks while the user reads the plan: the apply must
/// find out before it changes anything, and change nothing.
#[test]
fn an_unwritable_state_is_found_before_the_first_change() {
    let ws = Workspace::example("quickstart");
    ws.edit(
        "htapsync.toml",
        "emulator_data = \".htapsync/cloud.json\"",
        "emulator_data = \"cloud-data.json\"",
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(
        "htapsync.toml",
        "[task.catalog_sync]\n",
        "[task.catalog_sync]\npaused = true\n",
    );
    let mut child = ws
        .std_cmd(&["apply"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Enter a value:") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    break_dir(&ws.path(".htapsync"));
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    let output = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&seen),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("cannot be written"), "{err}");
    assert!(err.contains("Nothing was changed in the cloud"), "{err}");
    assert!(!out.contains("Modifying..."), "{out}");

    restore_dir(&ws.path(".htapsync"));
    // The task was not paused: the plan still wants to pause it, and reports no drift.
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.catalog_sync will be updated"), "{out}");
    assert!(!out.contains("outside htapsync"), "{out}");
}

/// The state directory breaks in the middle of an apply: the run stops
/// starting changes, and names exactly the changes the cloud has and state
/// does not, with how to record them.
#[test]
fn a_state_write_failing_mid_run_stops_the_run_and_names_what_is_unrecorded() {
    // Pausing takes a job of 1.5 s: the directory breaks while the first one runs.
    let emu = EmulatorProcess::start_timed(20, 1500);
    let names = ["task1", "task2", "task3"];
    let mut config = header(&emu.url).replace("path = \"state.json\"", "path = \"st/state.json\"");
    for name in names {
        config += &task(name, &format!("{name}_olap"), &["orders"]);
    }
    let p = Project::new(&config);
    p.run_ok(&["apply", "--auto-approve"], 0);
    for name in names {
        p.edit(
            &format!("[task.{name}]\n"),
            &format!("[task.{name}]\npaused = true\n"),
        );
    }
    let mut child = p
        .cmd(&["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    let mut first = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        out += &line;
        out.push('\n');
        if let Some(address) = line.strip_suffix(": pausing") {
            first = address.strip_prefix("task.").map(str::to_string);
            break;
        }
    }
    let first = first.unwrap_or_else(|| panic!("no task started pausing:\n{out}"));
    break_dir(&p.path("st"));
    for line in lines {
        out += &line.unwrap();
        out.push('\n');
    }
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(!out.contains("State records what was done"), "{out}");
    assert!(out.contains("State could not be written"), "{out}");

    let paused: Vec<&str> = names
        .into_iter()
        .filter(|name| {
            emu.list(HTAP)
                .iter()
                .any(|r| r.task_name == *name && r.stage == "Paused")
        })
        .collect();
    assert!(
        paused.contains(&first.as_str()),
        "the first pause ({first}) reached the cloud: {paused:?}"
    );
    for name in names {
        let unrecorded = format!("task.{name}: run `htapsync refresh` to record it");
        assert_eq!(
            out.contains(&unrecorded),
            paused.contains(&name),
            "{name}: reported unrecorded exactly when the cloud has its change:\n{out}"
        );
    }
    // No change starts after the failure. Waits hold no slot (issue 15), so
    // the pauses may all have been sent before the first job ended and its
    // write failed; a task not started by then is not started at all.
    let not_started: Vec<&str> = names
        .into_iter()
        .filter(|name| {
            err.contains(&format!(
                "task.{name}: not started: an earlier state write failed"
            ))
        })
        .collect();
    assert!(
        not_started.iter().all(|name| !paused.contains(name)),
        "{not_started:?} {paused:?}"
    );
    assert_eq!(
        paused.len() + not_started.len(),
        names.len(),
        "each task is paused (and reported unrecorded) or not started: {err}"
    );

    restore_dir(&p.path("st"));
    p.run_ok(&["refresh"], 0);
    let changes = if not_started.is_empty() { 0 } else { 2 };
    let out = p.run_ok(&["plan", "--detailed-exitcode"], changes);
    for name in &paused {
        assert!(
            !out.contains(&format!("task.{name} will")),
            "{name} recorded:\n{out}"
        );
    }
}

/// After a first apply and a `state rm`, the state has a `.backup`.
fn state_with_backup() -> Workspace {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.run_ok(&["state", "rm", "task.orders_sync"], 0);
    assert!(ws.path(".htapsync/htapsync.state.json.backup").is_file());
    ws
}

#[test]
fn an_empty_state_file_says_so_and_points_at_the_backup() {
    let ws = state_with_backup();
    ws.write(STATE, "");
    let (code, out, err) = ws.run(&["plan"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("the state file is empty"), "{err}");
    assert!(
        err.contains("Restore it from") && err.contains("htapsync.state.json.backup"),
        "{err}"
    );
    assert_eq!(ws.read(STATE), "", "nothing was written");
}

#[test]
fn a_corrupt_state_file_points_at_the_backup() {
    let ws = state_with_backup();
    // Broken JSON, and valid JSON that breaks a rule of the format.
    for corrupt in [
        "{\"format_version\": 1,\n  \"ser",
        r#"{"format_version": 0}"#,
    ] {
        ws.write(STATE, corrupt);
        let (code, out, err) = ws.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("the state file is not valid"), "{err}");
        assert!(
            err.contains("Restore it from") && err.contains("htapsync.state.json.backup"),
            "{corrupt}: {err}"
        );
        assert_eq!(ws.read(STATE), corrupt, "nothing was written");
    }
}

#[test]
fn creating_a_task_that_exists_in_the_cloud_suggests_import() {
    let ws = unmanaged_orders_sync();
    let (code, out, err) = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("already exists in the cloud but is not in state"),
        "{err}"
    );
    assert!(err.contains("htapsync import task.orders_sync"), "{err}");
    // The refused create leaves no intent: the next run does not silently adopt the task.
    assert!(ws.state().get("intents").is_none(), "{}", ws.read(STATE));
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(!out.contains("adopted"), "{out}");

    ws.run_ok(&["import", "task.orders_sync"], 0);
    ws.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// A state that can be read and locked but not written (its temp file's name
/// would be too long, for root too) is refused before any remote call.
#[test]
fn an_unwritable_state_is_refused_before_any_remote_call() {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let long = ws.path(&format!(".htapsync/{}.json", "x".repeat(241)));
    std::fs::copy(ws.path(STATE), &long).unwrap();
    ws.edit(
        "htapsync.toml",
        "[task.catalog_sync]\n",
        "[task.catalog_sync]\npaused = true\n",
    );
    let (code, out, err) = ws.run(&["--state", long.to_str().unwrap(), "apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("cannot be written"), "{err}");
    assert!(!out.contains("Plan:"), "refused before planning: {out}");
    assert!(!out.contains("Modifying..."), "{out}");
    // The cloud was not touched: the plan still wants the pause, and sees no drift.
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.catalog_sync will be updated"), "{out}");
    assert!(!out.contains("outside htapsync"), "{out}");
}

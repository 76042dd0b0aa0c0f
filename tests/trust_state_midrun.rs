//! A state write that fails in the middle of an apply, against `htapsync
//! emulator` as a separate process (whose pause jobs take long enough for the
//! state directory to break while one runs): the run stops and names exactly
//! the changes the cloud has and the state does not.

mod support;
use support::{EmulatorProcess, HTAP, Project, header, task};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

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
    // No change starts after the failure. One task may have taken the slot
    // the first gave back just before its write failed; the last one waited
    // for that task's whole pause, so it saw the failure and was not started.
    assert!(paused.len() < names.len(), "{paused:?}");
    let not_started: Vec<&str> = names
        .into_iter()
        .filter(|name| {
            err.contains(&format!(
                "task.{name}: not started: an earlier state write failed"
            ))
        })
        .collect();
    assert!(!not_started.is_empty(), "{err}");
    assert!(
        not_started.iter().all(|name| !paused.contains(name)),
        "{not_started:?} {paused:?}"
    );

    restore_dir(&p.path("st"));
    p.run_ok(&["refresh"], 0);
    let out = p.run_ok(&["plan", "--detailed-exitcode"], 2);
    for name in &paused {
        assert!(
            !out.contains(&format!("task.{name} will")),
            "{name} recorded:\n{out}"
        );
    }
}

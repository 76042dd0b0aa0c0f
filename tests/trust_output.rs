//! What reaches the user's terminal, through the real binary: a closed stdout
//! ends a command cleanly (no panic, nothing half recorded), colour and
//! progress only on terminals that want them, hostile text from the server
//! escaped, errors that name their cause once, short snippets of huge lines,
//! one line for the tasks an interrupted apply did not start, and exit codes
//! that do not depend on the output format.

mod support;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use support::{EmulatorProcess, HTAP, Project, TOKEN, clean_cmd, header, output, task};

/// A project of `n` one-table tasks against `emu`.
fn tasks(emu: &EmulatorProcess, n: usize) -> Project {
    let mut config = header(&emu.url);
    for i in 0..n {
        let name = format!("t_{i:03}");
        config += &task(&name, &format!("{name}_olap"), &["orders"]);
    }
    Project::new(&config)
}

/// Spawns `cmd` with stdout piped and stderr captured.
fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("htapsync starts")
}

/// Reads stdout lines until one contains `needle`; returns the reader.
fn read_until(child: &mut Child, needle: &str) -> BufReader<std::process::ChildStdout> {
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "stdout ended before {needle:?}:\n{seen}");
        seen += &line;
        if line.contains(needle) {
            return reader;
        }
    }
}

/// Waits for `child`: (exit code, stderr); -1 when killed by a signal.
fn finish(mut child: Child) -> (i32, String) {
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut err).expect("read stderr");
    }
    let status = child.wait().expect("htapsync exits");
    (status.code().unwrap_or(-1), err)
}

#[track_caller]
fn assert_no_panic(what: &str, (code, err): &(i32, String)) {
    assert_ne!(*code, 101, "{what} panicked:\n{err}");
    assert!(!err.contains("panicked"), "{what}:\n{err}");
}

fn intents(state: &Value) -> usize {
    state["intents"].as_array().map_or(0, Vec::len)
}

fn state_names(state: &Value) -> Vec<String> {
    state["tasks"]
        .as_object()
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn read_only_commands_end_quietly_when_stdout_is_closed() {
    let emu = EmulatorProcess::start();
    let p = tasks(&emu, 3);
    p.run_ok(&["apply", "--auto-approve"], 0);
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["show"],
        &["show", "--json"],
        &["state", "list"],
        &["state", "show", "task.t_000"],
        &["status"],
    ] {
        let mut child = spawn(p.cmd(args));
        // The reader goes away before htapsync writes anything.
        drop(child.stdout.take());
        let result = finish(child);
        assert_no_panic(&format!("{args:?}"), &result);
        assert_eq!(result.0, 0, "{args:?} with a closed stdout:\n{}", result.1);
        assert!(!result.1.contains("error"), "{args:?}: {}", result.1);
    }
}

/// Runs `args` in `p` with stdout closed before anything is written.
fn run_with_closed_stdout(p: &Project, args: &[&str]) -> (i32, String) {
    let mut child = spawn(p.cmd(args));
    drop(child.stdout.take());
    let result = finish(child);
    assert_no_panic(&format!("{args:?}"), &result);
    result
}

#[test]
fn commands_that_write_files_finish_them_when_stdout_is_closed() {
    let emu = EmulatorProcess::start();
    let p = tasks(&emu, 2);
    let (code, err) = run_with_closed_stdout(&p, &["plan", "-out", "p.plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(p.path("p.plan").exists(), "the saved plan is written");
    p.run_ok(&["apply", "p.plan"], 0);

    emu.delete_out_of_band(HTAP, "t_000");
    let (code, err) = run_with_closed_stdout(&p, &["refresh"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        state_names(&p.state()),
        ["t_001"],
        "refresh recorded what it found"
    );
}

#[test]
fn apply_whose_plan_cannot_be_shown_changes_nothing() {
    let emu = EmulatorProcess::start();
    let p = tasks(&emu, 2);
    let (code, err) = run_with_closed_stdout(&p, &["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing was changed in the cloud"), "{err}");
    assert!(emu.names(HTAP).is_empty(), "{err}");
    if p.path("state.json").exists() {
        assert_eq!(intents(&p.state()), 0);
    }
}

#[test]
fn apply_whose_stdout_closes_finishes_in_flight_work_and_records_it() {
    // Slow steps, so the apply is still running when its reader goes away.
    let emu = EmulatorProcess::start_timed(150, 150);
    let p = tasks(&emu, 8);
    let mut child = spawn(p.cmd(&["apply", "--auto-approve", "--parallelism", "2"]));
    // `apply | grep -m1 Creating`: the reader leaves after the first event.
    drop(read_until(&mut child, "Creating..."));
    let result = finish(child);
    assert_no_panic("apply", &result);
    let (code, err) = &result;

    let state = p.state();
    assert_eq!(intents(&state), 0, "no intent left behind: {state}\n{err}");
    assert_eq!(
        state_names(&state),
        emu.names(HTAP),
        "state records exactly what the cloud has\n{err}"
    );
    let done = state_names(&state).len();
    assert!(
        done < 8,
        "new work stopped once stdout was gone: {done}\n{err}"
    );
    assert_eq!(*code, 1, "tasks were not started: {err}");
    assert!(err.contains("starting no new ones"), "{err}");
    assert!(err.contains("not started"), "{err}");
    // The next apply completes the rest.
    let out = p.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("Apply complete!"), "{out}");
    assert_eq!(emu.names(HTAP).len(), 8);
}

#[test]
fn interrupted_apply_summarises_the_tasks_it_did_not_start() {
    let emu = EmulatorProcess::start_timed(150, 150);
    let p = tasks(&emu, 12);
    let mut child = spawn(p.cmd(&["apply", "--auto-approve", "--parallelism", "2"]));
    let mut reader = read_until(&mut child, "Creating...");
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let mut out = String::new();
    reader.read_to_string(&mut out).expect("read stdout");
    let result = finish(child);
    assert_no_panic("interrupted apply", &result);
    let (code, err) = result;
    assert_eq!(code, 1, "{out}\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("not started")).collect();
    assert_eq!(lines.len(), 1, "one summary line, not one per task:\n{err}");
    let done = state_names(&p.state()).len();
    assert!(
        lines[0].contains(&format!("{} tasks not started", 12 - done)),
        "{err}"
    );
    assert!(out.contains("Apply interrupted:"), "{out}");
    assert_eq!(intents(&p.state()), 0);
}

#[test]
fn status_exit_code_is_the_same_in_every_format_and_json_says_why() {
    let emu = EmulatorProcess::start();
    let p = tasks(&emu, 3);
    p.run_ok(&["apply", "--auto-approve"], 0);
    let healthy: Value =
        serde_json::from_str(&p.run_ok(&["status", "--json"], 0)).expect("status JSON");
    assert_eq!(healthy["healthy"], true, "{healthy}");
    assert_eq!(healthy["problems"], 0, "{healthy}");

    emu.delete_out_of_band(HTAP, "t_000");
    emu.set_status(HTAP, "t_001", "No");
    let table = p.run_ok(&["status"], 1);
    assert!(table.contains("missing"), "{table}");
    let doc: Value =
        serde_json::from_str(&p.run_ok(&["status", "--json"], 1)).expect("status JSON");
    assert_eq!(doc["healthy"], false, "{doc}");
    assert_eq!(doc["problems"], 2, "{doc}");
    let problem = |i: usize| doc["tasks"][i]["problem"].clone();
    assert!(
        problem(0)
            .as_str()
            .is_some_and(|p| p.starts_with("missing")),
        "{doc}"
    );
    assert!(
        problem(1)
            .as_str()
            .is_some_and(|p| p.starts_with("abnormal")),
        "{doc}"
    );
    assert!(problem(2).is_null(), "{doc}");
}

#[test]
fn stderr_that_is_not_a_terminal_gets_no_escape_codes() {
    let emu = EmulatorProcess::start();
    let p = tasks(&emu, 1);
    let mut cmd = p.cmd(&["-vv", "plan"]);
    cmd.env_remove("NO_COLOR").env("TERM", "xterm-256color");
    let (code, out, err) = output(&mut cmd);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("DEBUG"), "logs are on stderr: {err}");
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn dumb_terminal_gets_no_colour_and_no_progress() {
    // `script` gives htapsync a pseudo-terminal for stdout and stderr.
    let emu = EmulatorProcess::start();
    let p = tasks(&emu, 2);
    let plan = |term: &str| {
        let command = format!(
            "{} -C {} plan",
            support::process::BIN,
            p.dir.path().display()
        );
        let mut cmd = Command::new("script");
        for (k, _) in std::env::vars() {
            if k.starts_with("HTAPSYNC_") || k.starts_with("HW_") || k == "NO_COLOR" {
                cmd.env_remove(k);
            }
        }
        cmd.args(["-qec", &command, "/dev/null"])
            .env("TERM", term)
            .env("HTAPSYNC_TOKEN", TOKEN)
            .stdin(Stdio::null());
        output(&mut cmd)
    };
    let (code, out, err) = plan("xterm-256color");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains('\x1b'), "a real terminal gets colour: {out:?}");
    let (code, out, err) = plan("dumb");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Plan: 2 to add"), "{out}");
    assert!(!out.contains('\x1b'), "TERM=dumb: {out:?}");
    assert!(!err.contains('\x1b'), "TERM=dumb: {err:?}");
}

/// A loopback HTTP server that answers every request with a 400 whose error
/// code and message try to clear the screen and retitle the window.
fn hostile_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = serde_json::json!({
                "error_code": "DBS.\u{1b}[2J400",
                "error_msg": "bad \u{1b}]0;pwned\u{7}request\u{1b}[2J\u{9b}31m \r overwritten",
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

#[test]
fn control_characters_from_the_server_never_reach_the_terminal() {
    let p =
        Project::new(&(header(&hostile_server()) + &task("orders_sync", "shop_olap", &["orders"])));
    for args in [
        &["-vv", "plan"][..],
        &["apply", "--auto-approve"],
        &["plan", "--json"],
    ] {
        let (code, out, err) = p.run(args);
        assert_eq!(code, 1, "{args:?}: {out}\n{err}");
        let all = out.clone() + &err;
        for raw in ['\x1b', '\x07', '\r', '\u{9b}'] {
            assert!(!all.contains(raw), "{args:?} printed {raw:?}: {all:?}");
        }
        assert!(all.contains("\\u001b]0;pwned"), "shown escaped: {all}");
    }
}

#[test]
fn an_error_names_its_cause_once() {
    let p = Project::new(
        &(header("http://127.0.0.1:9") + &task("orders_sync", "shop_olap", &["orders"])),
    );
    let mut cmd = p.cmd(&["plan"]);
    cmd.env_remove("HTAPSYNC_TOKEN").env(
        "HTAPSYNC_CREDENTIALS_FILE",
        p.path("no-such-credentials.toml"),
    );
    let (code, out, err) = output(&mut cmd);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("no-such-credentials.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn a_syntax_error_on_a_huge_line_shows_a_short_snippet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let huge = "1, ".repeat(140_000);
    std::fs::write(
        dir.path().join("htapsync.toml"),
        format!("# generated\nvalues = [{huge} @ , {huge}]\n"),
    )
    .expect("write");
    let mut cmd = clean_cmd();
    cmd.arg("-C").arg(dir.path()).arg("validate");
    let (code, out, err) = output(&mut cmd);
    assert_eq!(code, 1, "{out}");
    assert!(err.len() < 2_000, "{} bytes of stderr", err.len());
    let lines: Vec<&str> = err.lines().collect();
    let code_line = lines
        .iter()
        .find(|l| l.starts_with("2 | "))
        .expect("snippet line");
    let caret_line = lines
        .iter()
        .find(|l| l.trim_end().ends_with('^'))
        .expect("caret line");
    assert!(code_line.contains('…'), "{code_line}");
    let at = code_line.chars().position(|c| c == '@').expect("the error");
    let caret = caret_line.chars().position(|c| c == '^').expect("caret");
    assert_eq!(
        at, caret,
        "caret under the error:\n{code_line}\n{caret_line}"
    );
}

#[test]
fn apply_json_without_auto_approve_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&["apply", "--json"][..], &["destroy", "--json"]] {
        let mut cmd = clean_cmd();
        cmd.arg("-C").arg(dir.path()).args(args);
        let (code, out, err) = output(&mut cmd);
        assert_eq!(code, 64, "{args:?}: {out}\n{err}");
        assert!(err.contains("--auto-approve"), "{err}");
    }
}

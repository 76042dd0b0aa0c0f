//! The real binary as a child process: a command without ambient
//! credentials, its output as (code, stdout, stderr), and `htapsync emulator`
//! on a free loopback port, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The htapsync binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_htapsync");

/// A command of the real binary with no colour and nothing from the
/// environment that could hand it credentials or crash hooks.
pub fn clean_cmd() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("HTAPSYNC_") || k.starts_with("HW_") || k.starts_with("HUAWEICLOUD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// [`clean_cmd`] run in the configuration directory `dir` (`-C dir ARGS…`).
pub fn in_dir(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = clean_cmd();
    cmd.arg("-C").arg(dir).args(args);
    cmd
}

/// Runs `cmd` (started with `args`), asserts its exit code and returns its stdout.
#[track_caller]
pub fn run_expecting(mut cmd: Command, args: &[&str], code: i32) -> String {
    let result = output(&mut cmd);
    assert_exit(args, &result, code);
    result.1
}

/// Runs `cmd` to completion: (exit code, stdout, stderr); -1 when killed by a signal.
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("htapsync runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts an exit code, showing the whole output when it differs.
#[track_caller]
pub fn assert_exit(args: &[&str], (got, out, err): &(i32, String, String), code: i32) {
    assert_eq!(
        *got, code,
        "htapsync {args:?} exited {got}\n--- stdout\n{out}\n--- stderr\n{err}"
    );
}

/// `htapsync emulator` running as a child process; killed when dropped.
pub struct Emulator {
    child: Child,
    pub url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The child may have exited already; then there is nothing to kill.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `htapsync emulator --listen 127.0.0.1:0 --cloud CLOUD ARGS…` and reads
/// its address from the line it prints.
pub fn spawn_emulator(cloud: &Path, args: &[&str], envs: &[(&str, &str)]) -> Emulator {
    let mut cmd = clean_cmd();
    cmd.args(["emulator", "--listen", "127.0.0.1:0", "--cloud"])
        .arg(cloud)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Never piped: nobody would read it, and a full pipe would stall the emulator.
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("the emulator process starts");
    let mut line = String::new();
    let read = child
        .stdout
        .take()
        .map(|out| BufReader::new(out).read_line(&mut line));
    let prefix = "htapsync emulator listening on ";
    let Some(url) = line.trim().strip_prefix(prefix).map(str::to_string) else {
        let _ = child.kill();
        let status = child.wait();
        panic!("emulator did not announce its address ({read:?}, {status:?}): {line:?}");
    };
    Emulator { child, url }
}

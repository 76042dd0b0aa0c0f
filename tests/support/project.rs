//! A configuration directory written by the test for an
//! [`EmulatorProcess`](super::EmulatorProcess), whose commands run the real
//! binary with [`TOKEN`] in `HTAPSYNC_TOKEN`.

use super::process::{self, output};
use super::{HTAP, PROJECT, SRC, TOKEN};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A configuration directory for the emulator process at `url`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

/// The `[provider]`, `[state]` and `[defaults]` blocks for the emulator at
/// `url`. A wait that never ends fails the test in 30 seconds, not after
/// the cloud's 30-minute default.
pub fn header(url: &str) -> String {
    format!(
        r#"[provider]
project_id = "{PROJECT}"
endpoint = "{url}"
region = "ap-southeast-1"
wait_timeout = "30s"

[state]
path = "state.json"

[defaults]
instance_id = "{HTAP}"
source_instance_id = "{SRC}"
source_database_name = "shop"
"#
    )
}

/// A `[task.NAME]` block replicating `tables` into `target`.
pub fn task(name: &str, target: &str, tables: &[&str]) -> String {
    let list: Vec<String> = tables.iter().map(|t| format!("{t:?}")).collect();
    format!(
        "\n[task.{name}]\ntarget_database_name = \"{target}\"\ntables = [{}]\n",
        list.join(", ")
    )
}

impl Project {
    /// A directory whose `htapsync.toml` is `config`.
    pub fn new(config: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        project.write_config(config);
        project
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.path("htapsync.toml"), config).expect("write config");
    }

    pub fn config(&self) -> String {
        std::fs::read_to_string(self.path("htapsync.toml")).expect("read config")
    }

    /// Replaces `from` by `to` in the configuration; panics when `from` is absent.
    pub fn edit(&self, from: &str, to: &str) {
        let config = self.config();
        assert!(config.contains(from), "config lacks {from:?}:\n{config}");
        self.write_config(&config.replacen(from, to, 1));
    }

    /// The state file, parsed.
    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.path("state.json")).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    /// The real binary in this directory, with the token and nothing else
    /// from the environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = process::in_dir(self.dir.path(), args);
        cmd.env("HTAPSYNC_TOKEN", TOKEN).stdin(Stdio::null());
        cmd
    }

    /// Runs the binary; returns (exit code, stdout, stderr). A process killed
    /// by a signal reports -1.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_cmd(self.cmd(args))
    }

    pub fn run_cmd(&self, mut cmd: Command) -> (i32, String, String) {
        output(&mut cmd)
    }

    /// Runs the binary and asserts its exit code, showing its output otherwise.
    #[track_caller]
    pub fn run_ok(&self, args: &[&str], code: i32) -> String {
        process::run_expecting(self.cmd(args), args, code)
    }
}

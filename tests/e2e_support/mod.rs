//! Shared helpers of the end-to-end tests: the emulator running as a separate
//! `htapsync emulator` process (killed when dropped, also on panic), a client
//! of its API to change the cloud out of band, and a configuration directory
//! pointing at it whose commands run the real binary with the token in
//! `HTAPSYNC_TOKEN`.
#![allow(dead_code)] // each test binary uses a different subset

use htapsync::api::wire::ReplicationInfo;
use htapsync::api::{Client, ClientConfig, Credentials};
use secrecy::SecretString;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const PROJECT: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The first HTAP instance of `tests/fixtures/e2e/cloud.toml`.
pub const HTAP: &str = "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17";
/// The second HTAP instance, for replacements.
pub const HTAP2: &str = "7e2b1d7f5a2c4f1a0d3b8c4e6f9a2b3cin17";
pub const SRC: &str = "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07";
/// The only token the emulator process accepts.
pub const TOKEN: &str = "e2e-test-token";

#[path = "../support/process.rs"]
mod process;
pub use process::{assert_exit, clean_cmd, output};

/// Lifecycle step and job duration of the emulator process, in ms: short, so
/// that an apply takes a fraction of a second, but not zero, so waits happen.
const STAGE_MS: u64 = 20;
const JOB_MS: u64 = 40;

/// `htapsync emulator` as a child process, plus a client of its API.
pub struct EmulatorProcess {
    process: process::Emulator,
    pub url: String,
    rt: tokio::runtime::Runtime,
    client: Client,
    http: reqwest::Client,
}

impl EmulatorProcess {
    /// Starts the emulator on a free loopback port with the e2e cloud and
    /// reads the port from the line it prints.
    pub fn start() -> EmulatorProcess {
        Self::start_timed(STAGE_MS, JOB_MS)
    }

    /// [`Self::start`] with a lifecycle step of `stage_ms` and jobs of `job_ms`.
    pub fn start_timed(stage_ms: u64, job_ms: u64) -> EmulatorProcess {
        let stage = stage_ms.to_string();
        let job = job_ms.to_string();
        let args = ["--token", TOKEN, "--stage-ms", &stage, "--job-ms", &job];
        let process = process::spawn_emulator(&fixture("cloud.toml"), &args, &[]);
        let url = process.url.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let creds = Credentials::Token(SecretString::from(TOKEN));
        let client = Client::new(ClientConfig::new(&url, PROJECT, creds)).expect("client");
        // After Client::new, which installs rustls' crypto provider.
        let http = reqwest::Client::new();
        EmulatorProcess {
            process,
            url,
            rt,
            client,
            http,
        }
    }

    /// Runs a future on this helper's runtime (e.g. a call of [`Self::client`]).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// htapsync's own client, authenticated with [`TOKEN`].
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The tasks the emulator lists on `instance` (E4).
    pub fn list(&self, instance: &str) -> Vec<ReplicationInfo> {
        self.block_on(self.client.list_tasks(instance))
            .expect("list tasks")
    }

    /// Names of the tasks listed on `instance`, sorted.
    pub fn names(&self, instance: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .list(instance)
            .into_iter()
            .map(|r| r.task_name)
            .collect();
        names.sort();
        names
    }

    /// Deletes a task out of band (E11) and waits until it is gone.
    pub fn delete_out_of_band(&self, instance: &str, task: &str) {
        self.block_on(self.client.delete(instance, task))
            .expect("out-of-band delete");
        self.wait_gone(instance, task);
    }

    /// Waits (up to 10 s) until `task` is no longer listed on `instance`.
    pub fn wait_gone(&self, instance: &str, task: &str) {
        let deadline = Duration::from_secs(10);
        self.block_on(
            self.client
                .wait_task(instance, task, |r| r.is_none(), deadline),
        )
        .expect("the task disappears");
    }

    /// `GET /_emulator/stats`.
    pub fn stats(&self) -> Value {
        self.block_on(async {
            self.http
                .get(format!("{}/_emulator/stats", self.url))
                .send()
                .await?
                .error_for_status()?
                .json::<Value>()
                .await
        })
        .expect("emulator stats")
    }

    /// Registrations per task name, from the stats.
    pub fn creates(&self, task: &str) -> u64 {
        self.stats()["creates_per_task"][task].as_u64().unwrap_or(0)
    }

    /// `POST /_emulator/tasks/{instance}/{task}/status`; returns the HTTP status.
    pub fn post_status(&self, instance: &str, task: &str, status: &str) -> u16 {
        let url = format!("{}/_emulator/tasks/{instance}/{task}/status", self.url);
        self.block_on(async {
            let body = serde_json::json!({ "status": status });
            self.http.post(url).json(&body).send().await
        })
        .expect("status endpoint answers")
        .status()
        .as_u16()
    }

    /// Sets the status E4 reports for a task (`"Yes"` or `"No"`).
    pub fn set_status(&self, instance: &str, task: &str, status: &str) {
        let code = self.post_status(instance, task, status);
        assert_eq!(code, 200, "setting the status of {task} to {status}");
    }
}

/// A file of `tests/fixtures/e2e`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name)
}

/// A configuration directory for the emulator process at `url`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

/// The `[provider]`, `[state]` and `[defaults]` blocks for the emulator at `url`.
pub fn header(url: &str) -> String {
    format!(
        r#"[provider]
project_id = "{PROJECT}"
endpoint = "{url}"
region = "ap-southeast-1"

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
        let mut cmd = clean_cmd();
        cmd.arg("-C")
            .arg(self.dir.path())
            .args(args)
            .env("HTAPSYNC_TOKEN", TOKEN)
            .stdin(Stdio::null());
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
        let result = self.run(args);
        assert_exit(args, &result, code);
        result.1
    }
}

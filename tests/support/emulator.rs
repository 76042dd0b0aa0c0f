//! `htapsync emulator` as a separate process (killed when dropped, also on
//! panic), with a client of its API to read and change the cloud out of band.

use super::process;
use super::{PROJECT, TOKEN};
use htapsync::api::wire::ReplicationInfo;
use htapsync::api::{Client, ClientConfig, Credentials};
use secrecy::SecretString;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Lifecycle step and job duration of [`EmulatorProcess::start`], in ms:
/// short, so that an apply takes a fraction of a second, but not zero, so
/// waits happen.
const STAGE_MS: u64 = 20;
const JOB_MS: u64 = 40;

/// `htapsync emulator` as a child process, plus a client of its API.
pub struct EmulatorProcess {
    process: process::Emulator,
    pub url: String,
    /// Made on first use: a runtime dropped inside an async test panics, so a
    /// test that never calls the API from here must not own one.
    rt: std::sync::OnceLock<tokio::runtime::Runtime>,
    client: Client,
    http: reqwest::Client,
}

/// A file of `tests/fixtures/e2e`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name)
}

impl EmulatorProcess {
    /// The emulator of `tests/fixtures/e2e/cloud.toml` (two HTAP instances),
    /// accepting only [`TOKEN`], in memory.
    pub fn start() -> EmulatorProcess {
        Self::start_timed(STAGE_MS, JOB_MS)
    }

    /// [`Self::start`] with a lifecycle step of `stage_ms` and jobs of `job_ms`.
    pub fn start_timed(stage_ms: u64, job_ms: u64) -> EmulatorProcess {
        Self::start_timed_with(stage_ms, job_ms, &[])
    }

    /// [`Self::start`] with more flags (`--latency-ms`, say).
    pub fn start_with(extra: &[&str]) -> EmulatorProcess {
        Self::start_timed_with(STAGE_MS, JOB_MS, extra)
    }

    /// [`Self::start_timed`] with more flags.
    pub fn start_timed_with(stage_ms: u64, job_ms: u64, extra: &[&str]) -> EmulatorProcess {
        let (stage, job) = (stage_ms.to_string(), job_ms.to_string());
        let mut args = vec!["--token", TOKEN, "--stage-ms", &stage, "--job-ms", &job];
        args.extend_from_slice(extra);
        Self::launch(&fixture("cloud.toml"), &args, &[])
    }

    /// The emulator of the quick start's cloud, persisting to
    /// `dir/emulator.json` (so that a restart keeps its tasks), with 50 ms
    /// steps and jobs. It accepts any token unless `extra` (more flags:
    /// faults, auth) or `envs` (more environment) set one.
    pub fn quickstart(dir: &Path, extra: &[&str], envs: &[(&str, &str)]) -> EmulatorProcess {
        let cloud =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/cloud/cloud.toml");
        let data = dir.join("emulator.json").display().to_string();
        let mut args = vec!["--data", &data, "--stage-ms", "50", "--job-ms", "50"];
        args.extend_from_slice(extra);
        Self::launch(&cloud, &args, envs)
    }

    fn launch(cloud: &Path, args: &[&str], envs: &[(&str, &str)]) -> EmulatorProcess {
        let process = process::spawn_emulator(cloud, args, envs);
        let url = process.url.clone();
        let creds = Credentials::Token(SecretString::from(TOKEN));
        let client = Client::new(ClientConfig::new(&url, PROJECT, creds)).expect("client");
        // After Client::new, which installs rustls' crypto provider.
        let http = reqwest::Client::new();
        EmulatorProcess {
            process,
            url,
            rt: std::sync::OnceLock::new(),
            client,
            http,
        }
    }

    /// Runs a future on this helper's runtime (e.g. a call of [`Self::client`]).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        let rt = self.rt.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
        });
        rt.block_on(f)
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

    /// Appends scripted faults (`POST /_emulator/faults` with `{"rules": rules}`);
    /// panics unless the emulator takes them.
    pub fn script(&self, rules: Value) {
        let answer = self
            .block_on(async {
                self.http
                    .post(format!("{}/_emulator/faults", self.url))
                    .json(&serde_json::json!({ "rules": rules }))
                    .send()
                    .await?
                    .json::<Value>()
                    .await
            })
            .expect("the fault endpoint answers");
        assert!(answer["rules"].is_array(), "{answer}");
    }

    /// How many calls of `kind` the emulator received, faulted ones included.
    pub fn calls(&self, kind: &str) -> u64 {
        self.stats()["calls"][kind].as_u64().unwrap_or(0)
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

    /// Registrations of `task`, from the stats.
    pub fn creates(&self, task: &str) -> u64 {
        self.stats()["creates_per_task"][task].as_u64().unwrap_or(0)
    }

    /// Registrations per task name; the "created twice" detector.
    pub fn creates_per_task(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.stats()["creates_per_task"].clone()).expect("creates per task")
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

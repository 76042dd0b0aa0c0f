//! Many generated tasks in a configuration directory pointing at an
//! [`EmulatorProcess`], the real binary run against both, and the invariants
//! checked after every crash or fault ("nothing lost, nothing created twice").

use super::process::{self, output};
use super::{EmulatorProcess, HTAP, PROJECT, SRC, TOKEN};
use htapsync::api::{Client, ClientConfig, Credentials};
use htapsync::refresh::{Observed, observe};
use htapsync::state::{IntentOp, State};
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Where [`Config`] keeps its state, relative to its directory.
pub const STATE_REL: &str = "state/htapsync.state.json";

/// A runtime for the async client; also installs the TLS provider reqwest needs.
pub fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One generated task: its name and the tables it replicates.
#[derive(Debug, Clone)]
pub struct TaskDef {
    pub name: String,
    pub tables: Vec<&'static str>,
}

/// `n` tasks `t000`… replicating two tables each.
pub fn tasks(n: usize) -> Vec<TaskDef> {
    (0..n)
        .map(|i| TaskDef {
            name: format!("t{i:03}"),
            tables: vec!["orders", "customers"],
        })
        .collect()
}

/// A configuration directory pointing at `url`.
pub struct Config {
    pub dir: tempfile::TempDir,
    /// The environment of the PostgreSQL state backend; `None`: the local file.
    postgres: Option<Vec<(String, String)>>,
}

impl Config {
    pub fn new(url: &str, tasks: &[TaskDef]) -> Config {
        Self::with_state(url, tasks, None)
    }

    /// State in PostgreSQL, connected with `env` (see `support::postgres`).
    pub fn with_postgres(url: &str, tasks: &[TaskDef], env: Vec<(String, String)>) -> Config {
        Self::with_state(url, tasks, Some(env))
    }

    fn with_state(url: &str, tasks: &[TaskDef], postgres: Option<Vec<(String, String)>>) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { dir, postgres };
        config.write(url, tasks);
        config
    }

    /// Rewrites `htapsync.toml` with these tasks.
    pub fn write(&self, url: &str, tasks: &[TaskDef]) {
        let backend = if self.postgres.is_some() {
            "backend = \"postgres\"\n"
        } else {
            ""
        };
        let mut toml = format!(
            "[provider]\nproject_id = \"{PROJECT}\"\nendpoint = \"{url}\"\nregion = \"ap-southeast-1\"\nwait_timeout = \"2m\"\n\n\
             [state]\n{backend}path = \"{STATE_REL}\"\n\n\
             [defaults]\ninstance_id = \"{HTAP}\"\nsource_instance_id = \"{SRC}\"\nsource_database_name = \"shop\"\n"
        );
        for t in tasks {
            let tables: Vec<String> = t.tables.iter().map(|t| format!("{t:?}")).collect();
            toml.push_str(&format!(
                "\n[task.{n}]\ntarget_database_name = \"olap_{n}\"\nrepl_scope = \"part\"\ntables = [{}]\n",
                tables.join(", "),
                n = t.name
            ));
        }
        std::fs::write(self.dir.path().join("htapsync.toml"), toml).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file in the directory (a state document to push, ...).
    pub fn write_file(&self, rel: &str, contents: &str) {
        std::fs::write(self.path(rel), contents).unwrap();
    }

    pub fn state_path(&self) -> PathBuf {
        self.path(STATE_REL)
    }

    /// The binary with `-C` this directory and the test token.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = process::in_dir(self.dir.path(), args);
        cmd.env("HTAPSYNC_TOKEN", TOKEN);
        if let Some(env) = &self.postgres {
            // Only the test server's settings, none of the test's own PG* variables.
            for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PG")) {
                cmd.env_remove(k);
            }
            cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        cmd
    }

    /// Runs to completion: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        output(&mut self.cmd(args))
    }

    /// Runs and asserts the exit code, showing the output otherwise.
    #[track_caller]
    pub fn run_ok(&self, args: &[&str], code: i32) -> String {
        process::run_expecting(self.cmd(args), args, code)
    }

    /// The state file, which must parse when it exists; its backup must parse
    /// too. With PostgreSQL: the state `state pull` prints.
    pub fn state(&self) -> Option<State> {
        if self.postgres.is_some() {
            let (code, out, err) = self.run(&["state", "pull"]);
            if code == 1 && err.contains("no state in workspace") {
                return None;
            }
            assert_eq!(code, 0, "state pull: {err}");
            return Some(
                htapsync::state::decode(out.as_bytes(), std::path::Path::new("pulled"))
                    .unwrap_or_else(|e| panic!("the pulled state does not parse: {e}")),
            );
        }
        let path = self.state_path();
        let backup = PathBuf::from(format!("{}.backup", path.display()));
        if let Ok(bytes) = std::fs::read(&backup) {
            htapsync::state::decode(&bytes, &backup)
                .unwrap_or_else(|e| panic!("the state backup does not parse: {e}"));
        }
        let bytes = std::fs::read(&path).ok()?;
        Some(
            htapsync::state::decode(&bytes, &path)
                .unwrap_or_else(|e| panic!("the state file does not parse: {e}")),
        )
    }
}

/// A client of the emulator with the test token.
pub fn client(url: &str) -> Client {
    let mut cfg = ClientConfig::new(url, PROJECT, Credentials::Token(SecretString::from(TOKEN)));
    cfg.request_timeout = Duration::from_secs(10);
    // The checker reads a faulty emulator too; it must not give up first.
    cfg.max_retries = 30;
    cfg.retry_cap = Duration::from_secs(1);
    Client::new(cfg).unwrap()
}

/// Checks the crash invariants of `state` against the live cloud:
/// - every task in state exists remotely with the recorded configuration
///   (E4 list + E5 config), unless a delete of it was in flight;
/// - every remote task is in state, or an interrupted create of it is recorded
///   as an intent (nothing the cloud has is unknown to state).
///
/// `paused` is not compared: a task is recorded paused from its registration
/// until its start is confirmed, and refresh corrects that on the next run.
/// A modify (E8) records no intent, so a run killed after the cloud accepted
/// it leaves the old attributes in state: then the cloud must hold exactly the
/// `in_flight` configuration (the one being applied), which refresh adopts.
pub fn check_state_matches_cloud(
    url: &str,
    state: &State,
    in_flight: &[TaskDef],
) -> Result<(), String> {
    let client = client(url);
    runtime().block_on(async {
        let rows = client
            .list_tasks(HTAP)
            .await
            .map_err(|e| format!("E4: {e}"))?;
        let live: std::collections::BTreeMap<String, _> =
            rows.into_iter().map(|r| (r.task_name.clone(), r)).collect();
        let intents = |op: IntentOp| -> BTreeSet<&str> {
            state
                .intents
                .iter()
                .filter(|i| i.operation == op)
                .map(|i| i.spec.name.as_str())
                .collect()
        };
        let (creating, deleting) = (intents(IntentOp::Create), intents(IntentOp::Delete));
        for (name, record) in &state.tasks {
            match observe(&client, &record.spec, live.get(name))
                .await
                .map_err(|e| format!("E5 {name}: {e}"))?
            {
                Observed::Absent if deleting.contains(name.as_str()) => {}
                Observed::Absent => return Err(format!("{name} is in state but not in the cloud")),
                Observed::Present { spec, .. } => {
                    let mut recorded = record.spec.clone();
                    recorded.paused = spec.paused;
                    let applying = in_flight.iter().find(|t| t.name == *name).map(|t| {
                        let mut tables: Vec<String> =
                            t.tables.iter().map(|s| s.to_string()).collect();
                        tables.sort();
                        htapsync::model::TaskSpec {
                            tables,
                            ..recorded.clone()
                        }
                    });
                    if *spec != recorded && applying.as_ref() != Some(&*spec) {
                        return Err(format!(
                            "{name}: cloud has {spec:?}\nstate recorded {recorded:?}"
                        ));
                    }
                }
            }
        }
        for name in live.keys() {
            if !state.tasks.contains_key(name) && !creating.contains(name.as_str()) {
                return Err(format!(
                    "{name} exists in the cloud but state does not know it"
                ));
            }
        }
        Ok(())
    })
}

/// Every name registered in the emulator was registered exactly once.
pub fn assert_created_once(emu: &EmulatorProcess) {
    let twice: Vec<_> = emu
        .creates_per_task()
        .into_iter()
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        twice.is_empty(),
        "tasks registered more than once: {twice:?}"
    );
}

/// Applies until it succeeds (a run may be refused by a stale lock only if
/// locking is broken: the test fails then), then asserts `plan
/// --detailed-exitcode` reports no changes. The run may finish deletes, so
/// destructive changes are allowed.
pub fn converge(cfg: &Config) {
    let apply = [
        "apply",
        "--auto-approve",
        "--allow-destructive",
        "--parallelism",
        "8",
    ];
    cfg.run_ok(&apply, 0);
    cfg.run_ok(&["plan", "--detailed-exitcode"], 0);
}

//! The emulated cloud's mutable part: tasks, jobs and counters, and how they
//! evolve with time.
//!
//! Time is wall-clock epoch milliseconds so that a `--data` file stays
//! meaningful across restarts. Stages and job states are computed lazily from
//! those times; effects that wait for a job (pause, resume, delete) are
//! recorded as pending and applied by [`Store::settle`] at the start of each
//! request, so no background thread is needed.

use crate::api::wire::{DbConfig, Stage, TableReplConfig, TablesConfig, TaskConfigRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Format of the `--data` file; bump on incompatible changes.
pub const DATA_VERSION: u32 = 1;

/// Everything `--data` persists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Store {
    pub version: u32,
    pub tasks: Vec<Task>,
    pub jobs: Vec<JobRecord>,
    pub stats: Stats,
}

/// Counters for tests (`GET /_emulator/stats`), e.g. to prove no task was created twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Cloud API requests received (not `/_emulator/*`), faulted ones included.
    pub requests: u64,
    /// Registrations (E1/E2) per task name.
    pub creates_per_task: BTreeMap<String, u64>,
    pub starts: u64,
    pub modifies: u64,
    pub pauses: u64,
    pub resumes: u64,
    pub deletes: u64,
    pub injected_errors: u64,
    /// Authenticated calls of each kind (`register`, `start`, `task-config`,
    /// … as scripted faults name them), faulted ones included.
    #[serde(default)]
    pub calls: BTreeMap<String, u64>,
    /// Answers replaced by a scripted fault (`/_emulator/faults`).
    #[serde(default)]
    pub scripted_faults: u64,
    pub throttled: u64,
    /// Requests refused by `--rate-limit` (429), apart from the random `throttled`.
    #[serde(default)]
    pub rate_limited: u64,
    pub auth_failures: u64,
}

/// A registered replication task and its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub instance_id: String,
    pub task_name: String,
    pub source_instance_id: String,
    pub source_node_id: String,
    pub source_database_name: String,
    pub target_database_name: String,
    pub db_configs: Vec<DbConfig>,
    pub tables_configs: Vec<TablesConfig>,
    pub table_repl_config: TableReplConfig,
    /// Instance-level sync and wildcard table names, as the request set them.
    #[serde(default)]
    pub scope: SourceScope,
    pub registered_ms: i64,
    pub run: Run,
    /// An effect waiting for its job to complete.
    pub pending: Option<Pending>,
    /// Reported by E4 as `status = No`. Only the test endpoint
    /// `POST /_emulator/tasks/{instance}/{task}/status` sets it, so tests can
    /// exercise htapsync's health warnings.
    #[serde(default)]
    pub abnormal: bool,
    /// Reported by E4 as `is_need_repair = "true"`; set only through
    /// `POST /_emulator/tasks/{instance}/{task}/repair`.
    #[serde(default)]
    pub need_repair: bool,
    /// Reported by E5 as `last_error_of_alter_table`; set the same way.
    #[serde(default)]
    pub alter_error: String,
}

/// How a task reads its source (E1/E2/E8 `is_instance_level_sync`,
/// `database_repl_scope`, `is_support_reg_exp`); an absent field takes its
/// documented default (database level, `part`, no patterns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceScope {
    #[serde(default)]
    pub instance_level: bool,
    /// Instance level: every database (`true`, `all`) or the listed ones (`part`).
    #[serde(default)]
    pub all_databases: bool,
    #[serde(default)]
    pub patterns: bool,
}

impl SourceScope {
    /// The scope a validated request asks for.
    pub fn of(req: &TaskConfigRequest) -> SourceScope {
        SourceScope {
            instance_level: req.is_instance_level_sync.as_deref() == Some("true"),
            all_databases: req.database_repl_scope.as_deref() == Some("all"),
            patterns: req.is_support_reg_exp.as_deref() == Some("true"),
        }
    }
}

/// Where a task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Run {
    /// Registered, never started: stage Wait.
    Registered,
    /// Started at this time: Wait, then Full, then Incremental, one `stage_step` each.
    Started {
        at_ms: i64,
    },
    Paused,
    /// Resumed: straight back to Incremental.
    Resumed,
}

/// An effect applied when its job completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub at_ms: i64,
    pub effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Pause,
    Resume,
    Delete,
}

/// An asynchronous operation, visible through E15.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    /// The project and region of the request that made it (`None` = any),
    /// so E15 finds it only there.
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub name: String,
    pub instance_id: String,
    pub instance_name: String,
    pub task_name: String,
    pub created_ms: i64,
    pub duration_ms: i64,
}

/// A job's state at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    pub status: &'static str,
    /// `"NN%"` while Running, else `""`.
    pub process: String,
    pub ended_ms: Option<i64>,
}

impl JobRecord {
    /// Pending for the first quarter of its duration, Running until the end, then Completed.
    pub fn view(&self, now_ms: i64) -> JobView {
        let elapsed = now_ms - self.created_ms;
        if elapsed >= self.duration_ms {
            return JobView {
                status: "Completed",
                process: String::new(),
                ended_ms: Some(self.created_ms + self.duration_ms),
            };
        }
        if elapsed * 4 < self.duration_ms {
            return JobView {
                status: "Pending",
                process: String::new(),
                ended_ms: None,
            };
        }
        let percent = (elapsed * 100 / self.duration_ms.max(1)).clamp(1, 99);
        JobView {
            status: "Running",
            process: format!("{percent}%"),
            ended_ms: None,
        }
    }
}

impl Task {
    /// The stage and percentage E4 reports at `now_ms`.
    pub fn stage(&self, now_ms: i64, stage_step: Duration) -> (Stage, u32) {
        let step = i64::try_from(stage_step.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        match self.run {
            Run::Registered => (Stage::Wait, 0),
            Run::Paused => (Stage::Paused, 100),
            Run::Resumed => (Stage::Incremental, 100),
            Run::Started { at_ms } => {
                let elapsed = now_ms - at_ms;
                if elapsed < step {
                    (Stage::Wait, 0)
                } else if elapsed < 2 * step {
                    let pct = ((elapsed - step) * 100 / step).clamp(1, 99);
                    (Stage::Full, u32::try_from(pct).unwrap_or(99))
                } else {
                    (Stage::Incremental, 100)
                }
            }
        }
    }

    /// Replicating or about to (started and not paused).
    pub fn is_running(&self) -> bool {
        matches!(self.run, Run::Started { .. } | Run::Resumed)
    }
}

impl Store {
    pub fn new() -> Self {
        Store {
            version: DATA_VERSION,
            ..Store::default()
        }
    }

    /// Applies every pending effect whose job has completed by `now_ms`.
    pub fn settle(&mut self, now_ms: i64) {
        self.tasks.retain_mut(|task| match task.pending {
            Some(p) if p.at_ms <= now_ms => {
                task.pending = None;
                match p.effect {
                    Effect::Pause => task.run = Run::Paused,
                    Effect::Resume => task.run = Run::Resumed,
                    Effect::Delete => return false,
                }
                true
            }
            _ => true,
        });
    }

    pub fn task(&self, instance_id: &str, name: &str) -> Option<&Task> {
        self.tasks
            .iter()
            .find(|t| t.instance_id == instance_id && t.task_name == name)
    }

    pub fn task_mut(&mut self, instance_id: &str, name: &str) -> Option<&mut Task> {
        self.tasks
            .iter_mut()
            .find(|t| t.instance_id == instance_id && t.task_name == name)
    }

    pub fn job(&self, id: &str) -> Option<&JobRecord> {
        self.jobs.iter().find(|j| j.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(run: Run) -> Task {
        Task {
            instance_id: "i".into(),
            task_name: "t".into(),
            source_instance_id: "s".into(),
            source_node_id: String::new(),
            source_database_name: "db".into(),
            target_database_name: "db".into(),
            db_configs: vec![],
            tables_configs: vec![],
            table_repl_config: TableReplConfig::default(),
            scope: SourceScope::default(),
            registered_ms: 0,
            run,
            pending: None,
            abnormal: false,
            need_repair: false,
            alter_error: String::new(),
        }
    }

    #[test]
    fn started_task_moves_wait_full_incremental() {
        let t = task(Run::Started { at_ms: 1000 });
        let step = Duration::from_millis(100);
        assert_eq!(t.stage(1050, step), (Stage::Wait, 0));
        assert_eq!(t.stage(1150, step), (Stage::Full, 50));
        assert_eq!(t.stage(1200, step), (Stage::Incremental, 100));
        assert_eq!(task(Run::Registered).stage(9999, step).0, Stage::Wait);
    }

    #[test]
    fn jobs_go_pending_running_completed() {
        let j = JobRecord {
            id: "j".into(),
            project_id: None,
            region: None,
            name: "n".into(),
            instance_id: "i".into(),
            instance_name: String::new(),
            task_name: "t".into(),
            created_ms: 0,
            duration_ms: 200,
        };
        assert_eq!(j.view(10).status, "Pending");
        let running = j.view(100);
        assert_eq!(
            (running.status, running.process.as_str()),
            ("Running", "50%")
        );
        let done = j.view(250);
        assert_eq!((done.status, done.ended_ms), ("Completed", Some(200)));
    }

    #[test]
    fn settle_applies_due_effects_only() {
        let mut s = Store::new();
        let mut a = task(Run::Started { at_ms: 0 });
        a.pending = Some(Pending {
            at_ms: 10,
            effect: Effect::Pause,
        });
        let mut b = task(Run::Paused);
        b.task_name = "b".into();
        b.pending = Some(Pending {
            at_ms: 20,
            effect: Effect::Delete,
        });
        s.tasks = vec![a, b];
        s.settle(15);
        assert_eq!(s.task("i", "t").map(|t| t.run), Some(Run::Paused));
        assert!(s.task("i", "b").is_some());
        s.settle(20);
        assert!(s.task("i", "b").is_none());
    }
}

//! Reads what the cloud really has for the tasks in state: the task list (E4)
//! per instance and each task's configuration (E5), turned back into
//! [`TaskSpec`]s so that `plan` can show drift and undo it.

pub use crate::api::task_map::{paused_by_cloud, spec_from_cloud};
use crate::api::wire::ReplicationInfo;
use crate::api::{ApiError, Client, Clients};
use crate::model::{Address, TaskSpec};
use crate::plan::FieldChange;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What the cloud says about one recorded task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The task exists; `spec` is its live configuration.
    Present {
        spec: Box<TaskSpec>,
        live: Box<ReplicationInfo>,
        /// E5's `last_error_of_alter_table` (empty when the last change went well).
        alter_error: String,
    },
    /// The task is gone (deleted outside htapsync, or never created).
    Absent,
}

/// Lists every task of each instance of `specs` once (E4), through the
/// provider of the tasks on it, keyed by instance then name.
pub async fn list_instances<'a>(
    clients: &Clients,
    specs: impl IntoIterator<Item = &'a TaskSpec>,
) -> Result<BTreeMap<String, BTreeMap<String, ReplicationInfo>>, ApiError> {
    let mut out = BTreeMap::new();
    let unique: BTreeMap<&str, &TaskSpec> = specs
        .into_iter()
        .map(|s| (s.instance_id.as_str(), s))
        .collect();
    for (instance, spec) in unique {
        let rows = clients.of(spec)?.list_tasks(instance).await?;
        let by_name = rows.into_iter().map(|r| (r.task_name.clone(), r)).collect();
        out.insert(instance.to_string(), by_name);
    }
    Ok(out)
}

/// Reads the live state of `recorded` (E5 for its configuration, `live` for its
/// row of the task list).
pub async fn observe(
    client: &Client,
    recorded: &TaskSpec,
    live: Option<&ReplicationInfo>,
) -> Result<Observed, ApiError> {
    let Some(live) = live else {
        return Ok(Observed::Absent);
    };
    match client
        .task_config(&recorded.instance_id, recorded.task_name())
        .await
    {
        Ok(cfg) => Ok(Observed::Present {
            spec: Box::new(spec_from_cloud(recorded, &cfg, live)),
            live: Box::new(live.clone()),
            alter_error: cfg.last_error_of_alter_table,
        }),
        Err(e) if e.is_not_found() => Ok(Observed::Absent),
        Err(e) => Err(e),
    }
}

/// The task is reported abnormal by the cloud (`status = No`).
pub fn is_abnormal(live: &ReplicationInfo) -> bool {
    live.status.eq_ignore_ascii_case("no")
}

/// The cloud says the task needs repair (E4 `is_need_repair`, a string or a boolean).
pub fn needs_repair(live: &ReplicationInfo) -> bool {
    live.is_need_repair
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// What the cloud says of one managed task's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub address: Address,
    /// Its row of the task list; `None` when the cloud does not have it.
    pub live: Option<ReplicationInfo>,
    /// E5's `last_error_of_alter_table`; empty when none, or when E5 was not read.
    pub alter_error: String,
}

/// Why a managed task is not running as it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// In state but not in the cloud.
    Missing,
    /// The cloud says it needs repair (`is_need_repair`): changing it now compounds the damage.
    NeedsRepair,
    /// The cloud reports it abnormal ([`is_abnormal`]).
    Abnormal,
    /// The cloud's last table change of the task failed (`last_error_of_alter_table`).
    AlterFailed,
}

impl Problem {
    /// The `problem` text of `status --json`.
    pub fn describe(self) -> &'static str {
        match self {
            Problem::Missing => "missing: in state but not in the cloud",
            Problem::NeedsRepair => "needs repair: the cloud reports is_need_repair",
            Problem::Abnormal => "abnormal: the cloud reports its status",
            Problem::AlterFailed => "alter failed: the cloud reports last_error_of_alter_table",
        }
    }
}

impl TaskStatus {
    /// Every reason the task is not running as it should, most severe first.
    pub fn problems(&self) -> Vec<Problem> {
        let Some(live) = &self.live else {
            return vec![Problem::Missing];
        };
        [
            (needs_repair(live), Problem::NeedsRepair),
            (is_abnormal(live), Problem::Abnormal),
            (!self.alter_error.is_empty(), Problem::AlterFailed),
        ]
        .into_iter()
        .filter_map(|(has, problem)| has.then_some(problem))
        .collect()
    }

    /// The most severe problem, if any.
    pub fn problem(&self) -> Option<Problem> {
        self.problems().first().copied()
    }

    /// Where the task stands, in one phrase ("normal, stage Incremental,
    /// progress 100%"); `None` when the cloud does not have it.
    pub fn progress(&self) -> Option<String> {
        self.live.as_ref().map(|l| {
            // `status` is `Yes` (normal) or `No` (abnormal).
            let status = match l.status.as_str() {
                "Yes" => "normal",
                "No" => "abnormal",
                other => other,
            };
            format!("{status}, stage {}, progress {}%", l.stage, l.percentage)
        })
    }

    /// The cloud says the task needs repair.
    pub fn needs_repair(&self) -> bool {
        self.live.as_ref().is_some_and(needs_repair)
    }
}

/// The health of `recorded` from the task lists alone (E4, one call per
/// instance): enough to know which tasks need repair.
pub async fn listed_health<'a>(
    clients: &Clients,
    recorded: impl IntoIterator<Item = &'a TaskSpec>,
) -> Result<Vec<TaskStatus>, ApiError> {
    let recorded: Vec<&TaskSpec> = recorded.into_iter().collect();
    let lists = list_instances(clients, recorded.iter().copied()).await?;
    Ok(recorded
        .into_iter()
        .map(|spec| TaskStatus {
            address: spec.address(),
            live: lists
                .get(&spec.instance_id)
                .and_then(|l| l.get(spec.task_name()))
                .cloned(),
            alter_error: String::new(),
        })
        .collect())
}

/// A recorded task that differs from what the cloud has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub address: Address,
    /// Deleted outside htapsync (then `fields` is empty).
    pub deleted: bool,
    /// The attributes that differ: `before` recorded, `after` live.
    pub fields: Vec<FieldChange>,
}

/// One drifted attribute (or a deleted task), as a scheduled job alerts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    pub address: Address,
    /// `changed` or `deleted`.
    pub kind: &'static str,
    /// The attribute path; `None` for a deleted task.
    pub attribute: Option<String>,
    /// The value in state; `None` when the attribute is unset there.
    pub recorded: Option<Value>,
    /// The value in the cloud; `None` when unset there, or the task is gone.
    pub live: Option<Value>,
    /// `sha256:HEX` over the four fields above: the same drift gives the same
    /// fingerprint on every run, and any other drift another one.
    pub fingerprint: String,
}

impl DriftItem {
    fn new(
        address: &Address,
        kind: &'static str,
        attribute: Option<&str>,
        recorded: Option<&Value>,
        live: Option<&Value>,
    ) -> DriftItem {
        let canonical = serde_json::json!([address, kind, attribute, recorded, live]).to_string();
        DriftItem {
            address: address.clone(),
            kind,
            attribute: attribute.map(str::to_string),
            recorded: recorded.cloned(),
            live: live.cloned(),
            fingerprint: format!("sha256:{}", hex::encode(Sha256::digest(canonical))),
        }
    }
}

impl Drift {
    /// One item per drifted attribute, or one for a deleted task.
    pub fn items(&self) -> Vec<DriftItem> {
        if self.deleted {
            return vec![DriftItem::new(&self.address, "deleted", None, None, None)];
        }
        self.fields
            .iter()
            .map(|f| {
                let (recorded, live) = (f.before.as_ref(), f.after.as_ref());
                DriftItem::new(&self.address, "changed", Some(&f.path), recorded, live)
            })
            .collect()
    }

    /// One line, with every drifted attribute's recorded and live values.
    pub fn describe(&self) -> String {
        if self.deleted {
            return format!("{} was deleted outside htapsync", self.address);
        }
        let shown = |v: &Option<Value>| v.as_ref().map_or("(unset)".to_string(), Value::to_string);
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|f| {
                format!(
                    "{} recorded {} -> live {}",
                    f.path,
                    shown(&f.before),
                    shown(&f.after)
                )
            })
            .collect();
        format!(
            "{} changed outside htapsync: {}",
            self.address,
            fields.join("; ")
        )
    }
}

/// Recorded tasks whose configuration could not be read after every retry:
/// their cloud state is unknown. The other tasks were read.
#[derive(Debug, thiserror::Error)]
#[error("{}; the other {read} task(s) were read", self.describe())]
pub struct Unread {
    /// Each task not read, with the last error of its read.
    pub tasks: Vec<(Address, ApiError)>,
    /// How many tasks were read.
    pub read: usize,
}

impl Unread {
    fn describe(&self) -> String {
        let each: Vec<String> = self
            .tasks
            .iter()
            .map(|(address, e)| format!("{address} is unknown ({e})"))
            .collect();
        each.join("; ")
    }

    /// `-exclude ADDRESS` for each task not read: how to run without them.
    pub fn excludes(&self) -> String {
        let each: Vec<String> = self
            .tasks
            .iter()
            .map(|(address, _)| format!("-exclude {address}"))
            .collect();
        each.join(" ")
    }
}

/// The cloud's view of every recorded task.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// The records with their live attributes; tasks gone from the cloud are
    /// dropped, tasks not read are kept as recorded.
    pub records: BTreeMap<String, crate::state::TaskRecord>,
    /// The tasks whose read failed, by name, with its error.
    pub unread: BTreeMap<String, ApiError>,
    /// Every task that changed outside htapsync.
    pub drift: Vec<Drift>,
    /// The health of every recorded task.
    pub health: Vec<TaskStatus>,
}

impl Refreshed {
    /// `Err` naming every task not read, when any was not.
    pub fn all_read(&self) -> Result<(), Unread> {
        if self.unread.is_empty() {
            return Ok(());
        }
        let tasks = self.unread.iter().map(|(name, e)| {
            let address = self
                .records
                .get(name)
                .map_or_else(|| Address::task(name), |record| record.spec.address());
            (address, e.clone())
        });
        Err(Unread {
            tasks: tasks.collect(),
            read: self.records.len() - self.unread.len(),
        })
    }
}

/// Runs `work` on every item, `parallelism` at a time, and returns the
/// results in the items' order. A call that waits (a `Retry-After`, a
/// backoff) holds only its own slot: the others go on, where an ordered
/// buffer would stop starting calls until the waiting one ends.
pub(crate) async fn in_parallel<T, R, Fut>(
    items: impl IntoIterator<Item = T>,
    parallelism: usize,
    work: impl Fn(T) -> Fut,
) -> Vec<R>
where
    Fut: std::future::Future<Output = R>,
{
    use futures_util::stream::{self, StreamExt};
    let work = &work;
    let mut done: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| async move { (i, work(item).await) })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Reads every recorded task from the cloud, `parallelism` E5 calls at a time
/// per provider. A task whose read fails after its retries does not stop the
/// others: it is kept as recorded and listed in `unread` (see
/// [`Refreshed::all_read`]); only a failed task list (E4, one call per
/// instance) fails the whole refresh.
pub async fn refresh_all(
    clients: &Clients,
    recorded: &BTreeMap<String, crate::state::TaskRecord>,
    parallelism: usize,
) -> Result<Refreshed, ApiError> {
    let lists = list_instances(clients, recorded.values().map(|r| &r.spec)).await?;
    let mut by_provider: BTreeMap<Option<&str>, Vec<&crate::state::TaskRecord>> = BTreeMap::new();
    for record in recorded.values() {
        by_provider
            .entry(record.spec.provider.as_deref())
            .or_default()
            .push(record);
    }
    let lists = &lists;
    let groups = by_provider.into_values().map(|records| {
        in_parallel(records, parallelism, move |record| {
            let live = lists
                .get(&record.spec.instance_id)
                .and_then(|l| l.get(record.spec.task_name()));
            async move {
                let observed = match clients.of(&record.spec) {
                    Ok(client) => observe(client, &record.spec, live).await,
                    Err(e) => Err(e),
                };
                (record.spec.name.clone(), observed)
            }
        })
    });
    let observed: Vec<(String, Result<Observed, ApiError>)> =
        futures_util::future::join_all(groups)
            .await
            .into_iter()
            .flatten()
            .collect();
    let mut out = Refreshed::default();
    for (name, observed) in observed {
        let Some(record) = recorded.get(&name) else {
            continue;
        };
        let address = record.spec.address();
        let observed = match observed {
            Ok(observed) => observed,
            Err(e) => {
                out.records.insert(name.clone(), record.clone());
                out.unread.insert(name, e);
                continue;
            }
        };
        match observed {
            Observed::Absent => {
                out.drift.push(Drift {
                    address: address.clone(),
                    deleted: true,
                    fields: Vec::new(),
                });
                out.health.push(TaskStatus {
                    address,
                    live: None,
                    alter_error: String::new(),
                });
            }
            Observed::Present {
                spec,
                live,
                alter_error,
            } => {
                let fields = crate::plan::fields::diff_fields(&record.spec, &spec);
                if !fields.is_empty() {
                    out.drift.push(Drift {
                        address: address.clone(),
                        deleted: false,
                        fields,
                    });
                }
                out.health.push(TaskStatus {
                    address,
                    live: Some(*live),
                    alter_error,
                });
                out.records.insert(
                    name,
                    crate::state::TaskRecord {
                        spec: *spec,
                        ..record.clone()
                    },
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_call_holds_only_its_own_slot_and_results_keep_their_order() {
        // The first call waits until the last one has run: with two slots,
        // every other call must start and end while it waits.
        let (done, last_ran) = tokio::sync::oneshot::channel::<()>();
        let done = std::sync::Mutex::new(Some(done));
        let last_ran = std::sync::Mutex::new(Some(last_ran));
        let work = |i: usize| {
            let (done, last_ran) = (&done, &last_ran);
            async move {
                if i == 0 {
                    let wait = last_ran.lock().unwrap().take().unwrap();
                    wait.await.unwrap();
                } else if i == 9 {
                    done.lock().unwrap().take().unwrap().send(()).unwrap();
                }
                i * 10
            }
        };
        let results = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            in_parallel(0..10, 2, work),
        )
        .await
        .expect("the other calls went on while the first waited");
        assert_eq!(results, (0..10).map(|i| i * 10).collect::<Vec<_>>());
    }

    fn row(stage: &str) -> ReplicationInfo {
        ReplicationInfo {
            task_name: "t".into(),
            stage: stage.into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_paused_stage_means_paused() {
        let cases = [
            ("Paused", Some(true)),
            ("paused", Some(true)),
            ("Full", Some(false)),
            ("Incremental", Some(false)),
            ("incremental", Some(false)),
            ("Wait", None),
            ("wait", None),
            ("Cancelled", None),
            ("canceled", None),
            ("", None),
            ("Repairing", None),
        ];
        for (stage, paused) in cases {
            assert_eq!(paused_by_cloud(&row(stage)), paused, "stage {stage:?}");
        }
    }
}

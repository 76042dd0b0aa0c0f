//! Reads what the cloud really has for the tasks in state: the task list (E4)
//! per instance and each task's configuration (E5), turned back into
//! [`TaskSpec`]s so that `plan` can show drift and undo it.

pub use crate::api::task_map::{paused_by_cloud, spec_from_cloud};
use crate::api::wire::ReplicationInfo;
use crate::api::{ApiError, Client};
use crate::model::TaskSpec;
use std::collections::{BTreeMap, BTreeSet};

/// What the cloud says about one recorded task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The task exists; `spec` is its live configuration.
    Present {
        spec: Box<TaskSpec>,
        live: Box<ReplicationInfo>,
    },
    /// The task is gone (deleted outside htapsync, or never created).
    Absent,
}

/// Lists every task of each instance once (E4), keyed by instance then name.
pub async fn list_instances(
    client: &Client,
    instances: impl IntoIterator<Item = &str>,
) -> Result<BTreeMap<String, BTreeMap<String, ReplicationInfo>>, ApiError> {
    let mut out = BTreeMap::new();
    let unique: BTreeSet<&str> = instances.into_iter().collect();
    for instance in unique {
        let rows = client.list_tasks(instance).await?;
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
        }),
        Err(e) if e.is_not_found() => Ok(Observed::Absent),
        Err(e) => Err(e),
    }
}

/// The task is reported abnormal by the cloud (`status = No`).
pub fn is_abnormal(live: &ReplicationInfo) -> bool {
    live.status.eq_ignore_ascii_case("no")
}

/// The cloud's view of every recorded task.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// The records with their live attributes; tasks gone from the cloud are dropped.
    pub records: BTreeMap<String, crate::state::TaskRecord>,
    /// One line per task that changed outside htapsync.
    pub drift: Vec<String>,
    /// Tasks the cloud reports abnormal (`status = No`), with their row.
    pub abnormal: Vec<ReplicationInfo>,
}

/// Reads every recorded task from the cloud, `parallelism` E5 calls at a time.
pub async fn refresh_all(
    client: &Client,
    recorded: &BTreeMap<String, crate::state::TaskRecord>,
    parallelism: usize,
) -> Result<Refreshed, ApiError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let lists = list_instances(
        client,
        recorded.values().map(|r| r.spec.instance_id.as_str()),
    )
    .await?;
    let observed: Vec<(String, Observed)> = stream::iter(recorded.values())
        .map(|record| {
            let live = lists
                .get(&record.spec.instance_id)
                .and_then(|l| l.get(record.spec.task_name()));
            async move {
                let o = observe(client, &record.spec, live).await?;
                Ok::<_, ApiError>((record.spec.name.clone(), o))
            }
        })
        .buffered(parallelism.max(1))
        .try_collect()
        .await?;
    let mut out = Refreshed::default();
    for (name, observed) in observed {
        let Some(record) = recorded.get(&name) else {
            continue;
        };
        match observed {
            Observed::Absent => out.drift.push(format!(
                "{} was deleted outside htapsync",
                record.spec.address()
            )),
            Observed::Present { spec, live } => {
                let changed = changed_fields(&record.spec, &spec);
                if !changed.is_empty() {
                    out.drift.push(format!(
                        "{} changed outside htapsync: {}",
                        record.spec.address(),
                        changed.join(", ")
                    ));
                }
                if is_abnormal(&live) {
                    out.abnormal.push(*live);
                }
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

/// Names of the attributes (sorted) that differ between two specs of the same task,
/// compared as plan compares them (an unwritten db_config is its default), so
/// drift is reported exactly when a plan would undo it.
pub fn changed_fields(a: &TaskSpec, b: &TaskSpec) -> Vec<String> {
    let mut names: Vec<String> = crate::plan::fields::diff_fields(a, b)
        .iter()
        .map(|f| crate::plan::fields::attribute_of(&f.path).to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

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

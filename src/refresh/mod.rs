//! Reads what the cloud really has for the tasks in state: the task list (E4)
//! per instance and each task's configuration (E5), turned back into
//! [`TaskSpec`]s so that `plan` can show drift and undo it.

use crate::api::wire::{ReplicationConfigResponse, ReplicationInfo, Stage};
use crate::api::{ApiError, Client};
use crate::model::{DbParam, ReplScope, ReplType, TaskSpec};
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
        .task_config(&recorded.instance_id, &recorded.name)
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

/// Builds the live [`TaskSpec`] of a task from its E5 configuration and E4 row;
/// `recorded` fills in what the cloud does not say (see [`paused_by_cloud`]).
///
/// A db_config that the cloud reports at its documented default is kept only
/// when the recorded spec sets it, so a cloud that echoes every parameter does
/// not show drift for parameters nobody configured.
pub fn spec_from_cloud(
    recorded: &TaskSpec,
    cfg: &ReplicationConfigResponse,
    live: &ReplicationInfo,
) -> TaskSpec {
    let repl = &cfg.table_repl_config;
    let db_configs = cfg
        .database_info
        .db_config_check_results
        .iter()
        .filter(|r| {
            recorded.db_configs.contains_key(&r.param_name)
                || DbParam::lookup(&r.param_name).is_none_or(|p| p.default != r.value)
        })
        .map(|r| (r.param_name.clone(), r.value.clone()))
        .collect();
    let table_configs = cfg
        .table_infos
        .iter()
        .filter(|t| !t.table_config.is_empty())
        .map(|t| (t.table_name.clone(), t.table_config.clone()))
        .collect();
    let mut tables: Vec<String> = repl.tables.clone();
    tables.sort();
    tables.dedup();
    let or_recorded = |s: &str, recorded: &str| {
        if s.is_empty() {
            recorded.to_string()
        } else {
            s.to_string()
        }
    };
    TaskSpec {
        name: recorded.name.clone(),
        instance_id: recorded.instance_id.clone(),
        source_instance_id: or_recorded(&cfg.source_instance_id, &recorded.source_instance_id),
        source_node_id: Some(cfg.source_node_id.clone()).filter(|s| !s.is_empty()),
        source_database_name: or_recorded(
            &cfg.database_info.database_name,
            &recorded.source_database_name,
        ),
        target_database_name: or_recorded(
            &cfg.target_database_name,
            &recorded.target_database_name,
        ),
        repl_type: repl
            .repl_type
            .as_deref()
            .and_then(ReplType::parse)
            .unwrap_or(recorded.repl_type),
        repl_scope: repl
            .repl_scope
            .as_deref()
            .and_then(ReplScope::parse)
            .unwrap_or(recorded.repl_scope),
        tables,
        db_configs,
        table_configs,
        paused: paused_by_cloud(live).unwrap_or(recorded.paused),
    }
}

/// Whether the cloud says the task is paused, from its stage (E4), for every
/// documented stage; `None` when the stage does not say, and the recorded or
/// configured value stands.
///
/// A task is paused only when the cloud says `Paused`. `Wait` is both
/// "registered, never started" and "started, not copying yet": reading it as
/// paused would make a plan pause live replication. `Cancelled` is neither
/// paused nor replicating, and a stage this version does not know says nothing.
pub fn paused_by_cloud(live: &ReplicationInfo) -> Option<bool> {
    match Stage::parse(&live.stage) {
        Some(Stage::Paused) => Some(true),
        Some(Stage::Full | Stage::Incremental) => Some(false),
        Some(Stage::Wait | Stage::Cancelled) | None => None,
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
                .and_then(|l| l.get(&record.spec.name));
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

    #[test]
    fn a_stage_that_does_not_say_keeps_the_recorded_run_state() {
        let cfg = ReplicationConfigResponse::default();
        for recorded_paused in [false, true] {
            let recorded = TaskSpec {
                paused: recorded_paused,
                ..TaskSpec::sample("t")
            };
            for stage in ["Wait", "Cancelled", "Unheard"] {
                let live = spec_from_cloud(&recorded, &cfg, &row(stage));
                assert_eq!(live.paused, recorded_paused, "stage {stage}");
            }
            assert!(spec_from_cloud(&recorded, &cfg, &row("Paused")).paused);
            assert!(!spec_from_cloud(&recorded, &cfg, &row("Full")).paused);
        }
    }
}

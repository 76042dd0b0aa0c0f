//! A task spec as the cloud API sees it, both ways: the request body that
//! describes a spec (E1, E2, E8) and the spec read back from a task's E5
//! configuration and E4 row. Kept together so that what is sent and what is
//! read back cannot drift apart; check, apply, refresh and import all use it.
//! Which field travels where is listed in the registry
//! ([`crate::model::fields::TASK_FIELDS`]); the tests below hold this module to it.

use super::wire::{
    DbConfig, ReplicationConfigResponse, ReplicationInfo, Stage, TableReplConfig, TablesConfig,
    TaskConfigRequest,
};
use crate::model::{DbParam, ReplScope, ReplType, TaskSpec};

/// The request body that describes `spec` to E1, E2 and E8. `tables_configs`
/// lists every configured table; `is_create_task` is left to the caller.
pub fn task_request(spec: &TaskSpec) -> TaskConfigRequest {
    TaskConfigRequest {
        source_instance_id: Some(spec.source_instance_id.clone()),
        source_node_id: spec.source_node_id.clone(),
        source_database_name: Some(spec.source_database_name.clone()),
        task_name: Some(spec.name.clone()),
        db_configs: Some(
            spec.db_configs
                .iter()
                .map(|(k, v)| DbConfig {
                    param_name: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        ),
        tables_configs: Some(
            spec.table_configs
                .iter()
                .map(|(t, c)| TablesConfig {
                    table_name: t.clone(),
                    table_config: c.clone(),
                })
                .collect(),
        ),
        table_repl_config: Some(TableReplConfig {
            repl_type: Some(spec.repl_type.as_str().to_string()),
            repl_scope: Some(spec.repl_scope.as_str().to_string()),
            tables: spec.tables.clone(),
        }),
        target_database_name: Some(spec.target_database_name.clone()),
        is_create_task: None,
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

#[cfg(test)]
mod tests;

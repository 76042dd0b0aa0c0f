//! A task spec as the cloud API sees it, both ways: the request body that
//! describes a spec (E1, E2, E8) and the spec read back from a task's E5
//! configuration and E4 row. Kept together so that what is sent and what is
//! read back cannot drift apart; check, apply, refresh and import all use it.
//! Both walk the field registry ([`crate::model::fields::TASK_FIELDS`]); each
//! key's way there and back is its entry in [`WIRE`], and the tests hold
//! every entry to the registry's wire paths.

use super::wire::{
    DbConfig, ReplicationConfigResponse, ReplicationInfo, Stage, TableReplConfig, TablesConfig,
    TaskConfigRequest,
};
use crate::model::TaskSpec;
use crate::model::fields::{TASK_FIELDS, TaskField};
use crate::model::{DbParam, ReplScope, ReplType, SyncLevel};

/// The request body that describes `spec` to E1, E2 and E8: every registry
/// field writes its own part. `tables_configs` lists every configured table;
/// `is_create_task` is left to the caller.
pub fn task_request(spec: &TaskSpec) -> TaskConfigRequest {
    let mut request = TaskConfigRequest::default();
    for field in TASK_FIELDS {
        (wire(field).to_request)(spec, &mut request);
    }
    request
}

/// Builds the live [`TaskSpec`] of a task from its E5 configuration and E4 row:
/// every registry field reads its own part back; `recorded` fills in what the
/// cloud does not say (see [`paused_by_cloud`]).
pub fn spec_from_cloud(
    recorded: &TaskSpec,
    cfg: &ReplicationConfigResponse,
    live: &ReplicationInfo,
) -> TaskSpec {
    let mut spec = recorded.clone();
    for field in TASK_FIELDS {
        (wire(field).from_cloud)(cfg, live, &mut spec);
    }
    spec
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

/// How one registry field travels: into the request body at its `request`
/// paths, and back from E5 (and E4's row) at its `response` paths into a spec
/// that starts as the recorded one, which keeps what the cloud does not say.
/// Kept here, beside the wire types, so that `model` depends on nothing.
struct Wire {
    key: &'static str,
    to_request: fn(&TaskSpec, &mut TaskConfigRequest),
    from_cloud: fn(&ReplicationConfigResponse, &ReplicationInfo, &mut TaskSpec),
}

/// One entry per registry key (a test holds the two lists equal).
const WIRE: &[Wire] = &[
    Wire {
        key: "instance_id",
        to_request: |_, _| {},
        from_cloud: |_, _, _| {},
    },
    Wire {
        key: "name",
        to_request: |s, r| r.task_name = Some(s.task_name().to_string()),
        // The cloud task is found by this name, so it never reads back otherwise.
        from_cloud: |_, _, _| {},
    },
    Wire {
        // Which endpoint and project a task's calls go to, never in a body.
        key: "provider",
        to_request: |_, _| {},
        from_cloud: |_, _, _| {},
    },
    Wire {
        key: "source_instance_id",
        to_request: |s, r| r.source_instance_id = Some(s.source_instance_id.clone()),
        from_cloud: |cfg, _, s| or_recorded(&mut s.source_instance_id, &cfg.source_instance_id),
    },
    Wire {
        key: "source_node_id",
        to_request: |s, r| r.source_node_id = s.source_node_id.clone(),
        from_cloud: |cfg, _, s| {
            s.source_node_id = Some(cfg.source_node_id.clone()).filter(|n| !n.is_empty())
        },
    },
    Wire {
        key: "sync_level",
        // Sent only at instance level: absent is the documented default, database level.
        to_request: |s, r| {
            if s.sync_level == SyncLevel::Instance {
                r.is_instance_level_sync = Some("true".to_string());
            }
        },
        from_cloud: |cfg, _, s| {
            s.sync_level = match is_true(&cfg.is_instance_level_sync) {
                true => SyncLevel::Instance,
                false => SyncLevel::Database,
            }
        },
    },
    Wire {
        key: "database_scope",
        to_request: |s, r| r.database_repl_scope = s.database_scope.map(|d| d.as_str().to_string()),
        // Read after sync_level (registry order): meaningful at instance level only.
        from_cloud: |cfg, _, s| {
            s.database_scope = match s.sync_level {
                SyncLevel::Database => None,
                SyncLevel::Instance => Some(
                    cfg.database_repl_scope
                        .as_deref()
                        .and_then(ReplScope::parse)
                        .unwrap_or(ReplScope::Part),
                ),
            }
        },
    },
    Wire {
        key: "source_database_name",
        to_request: |s, r| r.source_database_name = Some(s.source_database_name.clone()),
        from_cloud: |cfg, _, s| {
            or_recorded(
                &mut s.source_database_name,
                &cfg.database_info.database_name,
            )
        },
    },
    Wire {
        key: "target_database_name",
        to_request: |s, r| r.target_database_name = Some(s.target_database_name.clone()),
        from_cloud: |cfg, _, s| or_recorded(&mut s.target_database_name, &cfg.target_database_name),
    },
    Wire {
        key: "repl_type",
        to_request: |s, r| repl_config(r).repl_type = Some(s.repl_type.as_str().to_string()),
        from_cloud: |cfg, _, s| {
            let reported = cfg.table_repl_config.repl_type.as_deref();
            s.repl_type = reported.and_then(ReplType::parse).unwrap_or(s.repl_type);
        },
    },
    Wire {
        key: "repl_scope",
        to_request: |s, r| repl_config(r).repl_scope = Some(s.repl_scope.as_str().to_string()),
        from_cloud: |cfg, _, s| {
            let reported = cfg.table_repl_config.repl_scope.as_deref();
            s.repl_scope = reported.and_then(ReplScope::parse).unwrap_or(s.repl_scope);
        },
    },
    Wire {
        key: "table_patterns",
        // Sent only when set: absent is the documented default, `"false"`.
        to_request: |s, r| {
            if s.table_patterns {
                r.is_support_reg_exp = Some("true".to_string());
            }
        },
        from_cloud: |cfg, _, s| s.table_patterns = is_true(&cfg.is_support_reg_exp),
    },
    Wire {
        key: "tables",
        to_request: |s, r| repl_config(r).tables = s.tables.clone(),
        from_cloud: |cfg, _, s| {
            s.tables = cfg.table_repl_config.tables.clone();
            s.tables.sort();
            s.tables.dedup();
        },
    },
    Wire {
        key: "db_configs",
        to_request: |s, r| {
            r.db_configs = Some(
                s.db_configs
                    .iter()
                    .map(|(k, v)| DbConfig {
                        param_name: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            )
        },
        from_cloud: // A parameter the cloud reports at its documented default is kept only
        // when the recorded spec sets it, so a cloud that echoes every
        // parameter does not show drift for parameters nobody configured.
        |cfg, _, s| {
            s.db_configs = cfg
                .database_info
                .db_config_check_results
                .iter()
                .filter(|r| {
                    s.db_configs.contains_key(&r.param_name)
                        || DbParam::lookup(&r.param_name).is_none_or(|p| p.default != r.value)
                })
                .map(|r| (r.param_name.clone(), r.value.clone()))
                .collect()
        },
    },
    Wire {
        key: "table_configs",
        to_request: |s, r| {
            r.tables_configs = Some(
                s.table_configs
                    .iter()
                    .map(|(t, c)| TablesConfig {
                        table_name: t.clone(),
                        table_config: c.clone(),
                    })
                    .collect(),
            )
        },
        from_cloud: |cfg, _, s| {
            s.table_configs = cfg
                .table_infos
                .iter()
                .filter(|t| !t.table_config.is_empty())
                .map(|t| (t.table_name.clone(), t.table_config.clone()))
                .collect()
        },
    },
    Wire {
        key: "paused",
        to_request: |_, _| {},
        from_cloud: |_, live, s| s.paused = paused_by_cloud(live).unwrap_or(s.paused),
    },
    Wire {
        key: "prevent_destroy",
        to_request: |_, _| {},
        from_cloud: |_, _, _| {},
    },
];

/// The wire mapping of a registry field.
fn wire(field: &TaskField) -> &'static Wire {
    WIRE.iter()
        .find(|w| w.key == field.key)
        .expect("every registry key has a wire mapping (task_map tests check it)")
}

/// The request's `table_repl_config`, created on first use.
fn repl_config(request: &mut TaskConfigRequest) -> &mut TableReplConfig {
    request.table_repl_config.get_or_insert_default()
}

/// A string flag of the API: `"true"` (any case) is set; absent or anything else is not.
fn is_true(flag: &Option<String>) -> bool {
    flag.as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("true"))
}

/// Takes what the cloud reports unless it reports nothing.
fn or_recorded(value: &mut String, reported: &str) {
    if !reported.is_empty() {
        *value = reported.to_string();
    }
}

#[cfg(test)]
mod tests;

//! The read endpoints: task list (E4), task configuration (E5, E6), db
//! parameters (E7), target databases (E12), source databases and tables (E13, E14).

use super::config::task_source;
use crate::api::wire::{
    DatabaseInfo, DatabasesResponse, DbParameter, DbParametersResponse, ListReplicationsResponse,
    ReplicationConfigResponse, ReplicationInfo, SourceDatabasesRequest, SourceTablesRequest,
    TableConfigCheckResult, TableReplConfig, TablesResponse,
};
use crate::emulator::Emulator;
use crate::emulator::checks::{check_db_configs, check_tables};
use crate::emulator::db_params::DOCUMENTED_PARAMS;
use crate::emulator::error::ApiError;
use crate::emulator::requests::{self, name};
use crate::emulator::store::Task;
use crate::model::pattern;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::Value;

type InstancePath = Path<(String, String)>;

/// E4. `total_count` is emitted as a string, the schema's form.
pub async fn list_tasks(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let (limit, offset) = requests::paging(&requests::query(raw.as_deref()))?;
    let step = emu.config().stage_step;
    let (total, rows) = emu.read(|store, now| {
        let tasks: Vec<&Task> = store
            .tasks
            .iter()
            .filter(|t| t.instance_id == htap.id)
            .collect();
        let rows: Vec<ReplicationInfo> = tasks
            .iter()
            .skip(offset)
            .take(limit)
            .map(|t| {
                let (stage, percentage) = t.stage(now, step);
                ReplicationInfo {
                    source_database: t.source_database_name.clone(),
                    target_database: t.target_database_name.clone(),
                    task_name: t.task_name.clone(),
                    status: if t.abnormal { "No" } else { "Yes" }.to_string(),
                    stage: stage.as_str().to_string(),
                    percentage: percentage.to_string(),
                    catchup_stage: String::new(),
                    catchup_percentage: String::new(),
                    is_need_repair: Some(t.need_repair.to_string()),
                    is_main_task: Some("true".to_string()),
                }
            })
            .collect();
        (tasks.len(), rows)
    });
    let body = ListReplicationsResponse {
        total_count: total as u64,
        replications: rows,
        ext_text: Some(String::new()),
    };
    let mut value = serde_json::to_value(body).map_err(|e| ApiError::internal(e.to_string()))?;
    value["total_count"] = Value::String(total.to_string());
    Ok(Json(value))
}

/// E5: `?task_name=`.
pub async fn task_config(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
) -> Result<Json<ReplicationConfigResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let q = requests::query(raw.as_deref());
    let task_name = requests::required("task_name", q.get("task_name").map(String::as_str))?;
    name("task_name", task_name, 3, 128)?;
    let task = emu
        .read(|store, _| store.task(&htap.id, task_name).cloned())
        .ok_or_else(|| ApiError::task_not_found(task_name))?;
    Ok(Json(configuration(&emu, task)))
}

/// E6: the task whose target database is `{database}`.
pub async fn task_config_by_database(
    State(emu): State<Emulator>,
    Path((project_id, instance_id, database)): Path<(String, String, String)>,
) -> Result<Json<ReplicationConfigResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    name("database", &database, 3, 128)?;
    let task = emu
        .read(|store, _| {
            store
                .tasks
                .iter()
                .find(|t| t.instance_id == htap.id && t.target_database_name == database)
                .cloned()
        })
        .ok_or_else(|| ApiError::task_not_found(&database))?;
    Ok(Json(configuration(&emu, task)))
}

/// E5/E6's answer. A task with wildcard patterns reports its configurations
/// under the keys it was given (a pattern's result passes when every table it
/// matches does), as the cloud keeps what it was sent.
fn configuration(emu: &Emulator, task: Task) -> ReplicationConfigResponse {
    let verdicts = task_source(
        emu,
        &task.source_instance_id,
        None,
        &task.source_database_name,
        &task.scope,
    )
    .map(|db| {
        check_tables(
            &db,
            &task.table_repl_config,
            &task.tables_configs,
            task.scope.patterns,
        )
    })
    .unwrap_or_default();
    let table_infos: Vec<TableConfigCheckResult> = if task.scope.patterns {
        task.tables_configs
            .iter()
            .map(|c| {
                let passed = verdicts
                    .iter()
                    .filter(|v| v.result.table_config == c.table_config)
                    .filter(|v| pattern::matches(&c.table_name, &v.result.table_name))
                    .all(|v| v.reason.is_none());
                TableConfigCheckResult {
                    table_name: c.table_name.clone(),
                    table_config: c.table_config.clone(),
                    check_result: if passed { "success" } else { "failed" }.to_string(),
                }
            })
            .collect()
    } else {
        verdicts.into_iter().map(|v| v.result).collect()
    };
    let flag = |set: bool| Some(set.to_string());
    ReplicationConfigResponse {
        source_instance_id: task.source_instance_id,
        source_node_id: task.source_node_id,
        database_info: DatabaseInfo {
            database_name: task.source_database_name,
            db_config_check_results: check_db_configs(&task.db_configs)
                .into_iter()
                .map(|v| v.result)
                .collect(),
        },
        table_infos,
        table_repl_config: task.table_repl_config,
        new_table_repl_config: TableReplConfig::default(),
        target_database_name: task.target_database_name,
        is_tables_change: false,
        last_error_of_alter_table: task.alter_error,
        is_instance_level_sync: flag(task.scope.instance_level),
        database_repl_scope: Some(
            if task.scope.all_databases {
                "all"
            } else {
                "part"
            }
            .to_string(),
        ),
        is_support_reg_exp: flag(task.scope.patterns),
    }
}

/// E7: the documented parameter table.
pub async fn db_parameters(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
) -> Result<Json<DbParametersResponse>, ApiError> {
    emu.htap(&project_id, &instance_id)?;
    let db_parameters = DOCUMENTED_PARAMS
        .iter()
        .map(|p| DbParameter {
            param_name: p.name.to_string(),
            data_type: p.data_type.to_string(),
            default_value: p.default_value.to_string(),
            value_range: p.value_range.to_string(),
            description: p.description.to_string(),
            is_modifiable: "true".to_string(),
        })
        .collect();
    Ok(Json(DbParametersResponse { db_parameters }))
}

/// E12: target databases of the instance's tasks; `database_name` filters by substring.
pub async fn target_databases(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
) -> Result<Json<DatabasesResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let q = requests::query(raw.as_deref());
    let paging = requests::paging(&q)?;
    let filter = q.get("database_name").map(String::as_str).unwrap_or("");
    let mut names: Vec<String> = emu.read(|store, _| {
        store
            .tasks
            .iter()
            .filter(|t| t.instance_id == htap.id)
            .map(|t| t.target_database_name.clone())
            .collect()
    });
    names.sort();
    names.dedup();
    Ok(Json(databases_page(names, filter, paging)))
}

/// E13: databases of a source instance; one element in `databases` filters by substring.
pub async fn source_databases(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Json<DatabasesResponse>, ApiError> {
    emu.htap(&project_id, &instance_id)?;
    let paging = requests::paging(&requests::query(raw.as_deref()))?;
    let req: SourceDatabasesRequest = requests::json(&body)?;
    let src = emu.source_instance(&req.source_instance_id)?;
    let filter = req.databases.first().map(String::as_str).unwrap_or("");
    let names = src.databases.keys().cloned().collect();
    Ok(Json(databases_page(names, filter, paging)))
}

fn databases_page(
    names: Vec<String>,
    filter: &str,
    (limit, offset): (usize, usize),
) -> DatabasesResponse {
    let matching: Vec<String> = names.into_iter().filter(|n| n.contains(filter)).collect();
    DatabasesResponse {
        total_count: matching.len() as u64,
        databases: matching.into_iter().skip(offset).take(limit).collect(),
        timestamp: u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default(),
    }
}

/// E14: tables of the listed source databases (`tables` filters by substring);
/// with `filter_type: exclude_tables` the `selected_tables` are left out.
pub async fn source_tables(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    body: Bytes,
) -> Result<Json<TablesResponse>, ApiError> {
    emu.htap(&project_id, &instance_id)?;
    let req: SourceTablesRequest = requests::json(&body)?;
    let exclude = match req.filter_type.as_deref() {
        None | Some("include_tables") => false,
        Some("exclude_tables") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "filter_type",
                "must be include_tables or exclude_tables",
            ));
        }
    };
    let src = emu.source_instance(&req.source_instance_id)?;
    let mut tables = Vec::new();
    for wanted in &req.database_tables {
        let db = src
            .databases
            .get(&wanted.database)
            .ok_or_else(|| ApiError::database_not_found(&wanted.database))?;
        let selected: Vec<&String> = req
            .selected_tables
            .iter()
            .filter(|s| s.database == wanted.database)
            .flat_map(|s| &s.tables)
            .collect();
        tables.extend(
            db.tables
                .keys()
                .filter(|t| {
                    wanted.tables.is_empty() || wanted.tables.iter().any(|f| t.contains(f.as_str()))
                })
                .filter(|t| !exclude || !selected.contains(t))
                .cloned(),
        );
    }
    Ok(Json(TablesResponse {
        total_count: tables.len() as u64,
        tables,
    }))
}

//! The read endpoints: task list (E4), task configuration (E5, E6), db
//! parameters (E7), target databases (E12), source databases and tables (E13, E14).

use super::config::task_source;
use crate::api::wire::{
    DatabaseInfo, DatabasesResponse, DbParameter, DbParametersResponse, ListReplicationsResponse,
    ReplicationConfigResponse, ReplicationInfo, SourceDatabasesRequest, SourceDatabasesResponse,
    SourceTablesRequest, TableConfigCheckResult, TableReplConfig, TablesResponse,
};
use crate::emulator::Emulator;
use crate::emulator::checks::{check_db_configs, check_tables};
use crate::emulator::db_params::{DOCUMENTED_PARAMS, SHARED_WITH_MAIN_TASK};
use crate::emulator::error::ApiError;
use crate::emulator::requests::{self, name};
use crate::emulator::store::Task;
use crate::model::{ReplScope, ReplType, pattern};
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
    let (limit, offset) = requests::paging(&requests::query(raw.as_deref()), 100)?;
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

/// E5/E6's answer. Both `table_repl_config` and `new_table_repl_config`
/// (the scope newly created tables fall under) always carry `repl_type` and
/// `repl_scope`, the API defaults where the task was registered without them.
/// A task with wildcard patterns reports its configurations under the keys
/// it was given (a pattern's result passes when every table it matches
/// does), as the cloud keeps what it was sent.
fn configuration(emu: &Emulator, task: Task) -> ReplicationConfigResponse {
    let stored = &task.table_repl_config;
    let repl_type = stored.repl_type.as_deref().and_then(ReplType::parse);
    let repl_scope = stored.repl_scope.as_deref().and_then(ReplScope::parse);
    let repl = TableReplConfig {
        repl_type: Some(repl_type.unwrap_or_default().as_str().to_string()),
        repl_scope: Some(repl_scope.unwrap_or_default().as_str().to_string()),
        tables: stored.tables.clone(),
    };
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
        new_table_repl_config: TableReplConfig {
            tables: Vec::new(),
            ..repl.clone()
        },
        table_repl_config: repl,
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

/// E7: the documented parameter table. With `add_task_scenario=true` and
/// `main_task_name` (adding a sub-task to that task), the parameters a
/// sub-task shares with its main task are not modifiable and default to the
/// main task's values.
pub async fn db_parameters(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
) -> Result<Json<DbParametersResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let q = requests::query(raw.as_deref());
    let adding_sub_task = match q.get("add_task_scenario").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "add_task_scenario",
                "must be true or false",
            ));
        }
    };
    let main_task = match q.get("main_task_name") {
        Some(main) => {
            name("main_task_name", main, 3, 128)?;
            let task = emu.read(|store, _| store.task(&htap.id, main).cloned());
            Some(task.ok_or_else(|| ApiError::task_not_found(main))?)
        }
        None if adding_sub_task => {
            return Err(ApiError::invalid(
                "main_task_name",
                "is required with add_task_scenario=true",
            ));
        }
        None => None,
    };
    let inherited = main_task.filter(|_| adding_sub_task);
    let db_parameters = DOCUMENTED_PARAMS
        .iter()
        .map(|p| {
            let shared = SHARED_WITH_MAIN_TASK.contains(&p.name);
            let main_value = inherited.as_ref().filter(|_| shared).map(|main| {
                main.db_configs
                    .iter()
                    .find(|c| c.param_name == p.name)
                    .map_or(p.default_value, |c| c.value.as_str())
                    .to_string()
            });
            DbParameter {
                param_name: p.name.to_string(),
                data_type: p.data_type.to_string(),
                is_modifiable: main_value.is_none().to_string(),
                default_value: main_value.unwrap_or_else(|| p.default_value.to_string()),
                value_range: p.value_range.to_string(),
                description: p.description.to_string(),
            }
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
    let paging = requests::paging(&q, 100)?;
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

/// E13: databases of a source instance, in its own response type; a fuzzy
/// search sends exactly one element in `databases` (a substring), more is refused.
pub async fn source_databases(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Json<SourceDatabasesResponse>, ApiError> {
    emu.htap(&project_id, &instance_id)?;
    let paging = requests::paging(&requests::query(raw.as_deref()), usize::MAX)?;
    let req: SourceDatabasesRequest = requests::json(&body)?;
    if req.databases.len() > 1 {
        return Err(ApiError::invalid(
            "databases",
            "a fuzzy search takes exactly one name",
        ));
    }
    let src = emu.source_instance(&req.source_instance_id)?;
    let filter = req.databases.first().map(String::as_str).unwrap_or("");
    let names = src.databases.keys().cloned().collect();
    let page = databases_page(names, filter, paging);
    Ok(Json(SourceDatabasesResponse {
        databases: page.databases,
        total_count: page.total_count,
        timestamp: page.timestamp,
    }))
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
/// Paged by the query's `limit` (default 100) and `offset`; `total_count`
/// counts every matching table.
pub async fn source_tables(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Json<TablesResponse>, ApiError> {
    emu.htap(&project_id, &instance_id)?;
    let (limit, offset) = requests::paging(&requests::query(raw.as_deref()), usize::MAX)?;
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
        tables: tables.into_iter().skip(offset).take(limit).collect(),
    }))
}

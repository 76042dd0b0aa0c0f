//! The configuration endpoints: database-config-check (E1), table-config-check
//! (E2) — both of which may register a task — and modify (E8).

use super::new_job;
use crate::api::wire::{
    DbConfigCheckResponse, ModifyResponse, TableConfigCheckResponse, TaskConfigRequest,
};
use crate::emulator::Emulator;
use crate::emulator::checks::{check_db_configs, check_tables, failures};
use crate::emulator::cloud::Database;
use crate::emulator::error::ApiError;
use crate::emulator::requests::{self, required};
use crate::emulator::store::{Run, SourceScope, Task};
use crate::model::ALL_DATABASES;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use std::borrow::Cow;
use std::collections::BTreeMap;

type InstancePath = Path<(String, String)>;

/// E1. Registers the task when the body is complete (task_name,
/// source_instance_id, source_database_name, table_repl_config) and every
/// db_config and scope table passes.
pub async fn database_config_check(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    body: Bytes,
) -> Result<Json<DbConfigCheckResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let req: TaskConfigRequest = requests::json(&body)?;
    requests::task_config(&req)?;
    let scope = SourceScope::of(&req);
    let db = match (&req.source_instance_id, &req.source_database_name) {
        (Some(src), Some(db)) => Some(task_source(
            &emu,
            src,
            req.source_node_id.as_deref(),
            db,
            &scope,
        )?),
        (Some(src), None) => emu.source_instance(src).map(|_| None)?,
        _ => None,
    };
    let db_verdicts = check_db_configs(req.db_configs.as_deref().unwrap_or_default());
    let complete = req.task_name.is_some() && req.table_repl_config.is_some();
    if let (Some(db), true) = (db, complete) {
        let repl = req.table_repl_config.clone().unwrap_or_default();
        let table_verdicts = check_tables(&db, &repl, &[], scope.patterns);
        if failures(&[], &db_verdicts).is_none() {
            if let Some(reasons) = failures(&table_verdicts, &[]) {
                return Err(ApiError::check_failed(&reasons));
            }
            register(&emu, &htap.id, &req)?;
        }
    }
    Ok(Json(DbConfigCheckResponse {
        source_database_name: req.source_database_name.clone().unwrap_or_default(),
        target_database_name: req.target_database_name.clone().unwrap_or_default(),
        task_name: req.task_name.clone().unwrap_or_default(),
        source_db_config_check_results: db_verdicts.into_iter().map(|v| v.result).collect(),
        target_db_config_check_results: Vec::new(),
    }))
}

/// E2. With `is_create_task: "true"` and every table passing, registers the
/// task; when any table fails nothing is registered and the verdicts say why.
pub async fn table_config_check(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    body: Bytes,
) -> Result<Json<TableConfigCheckResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let req: TaskConfigRequest = requests::json(&body)?;
    requests::task_config(&req)?;
    let src = required("source_instance_id", req.source_instance_id.as_deref())?;
    let db_name = required("source_database_name", req.source_database_name.as_deref())?;
    let scope = SourceScope::of(&req);
    let db = task_source(&emu, src, req.source_node_id.as_deref(), db_name, &scope)?;
    let db_verdicts = check_db_configs(req.db_configs.as_deref().unwrap_or_default());
    // E2's response has no room for db_config results, so a bad one is an error.
    if let Some(reasons) = failures(&[], &db_verdicts) {
        return Err(ApiError::check_failed(&reasons));
    }
    let repl = req.table_repl_config.clone().unwrap_or_default();
    let configs = req.tables_configs.as_deref().unwrap_or_default();
    let verdicts = check_tables(&db, &repl, configs, scope.patterns);
    if let Some(reasons) = failures(&verdicts, &[]) {
        tracing::debug!("table-config-check failed: {reasons}");
    } else if req.is_create_task.as_deref() == Some("true") {
        register(&emu, &htap.id, &req)?;
    }
    Ok(Json(TableConfigCheckResponse {
        source_database_name: db_name.to_string(),
        target_database_name: req.target_database_name.clone().unwrap_or_default(),
        task_name: req.task_name.clone().unwrap_or_default(),
        tbl_config_check_results: verdicts.into_iter().map(|v| v.result).collect(),
    }))
}

/// Stores a new task from a validated, checked E1/E2 body.
fn register(emu: &Emulator, instance_id: &str, req: &TaskConfigRequest) -> Result<(), ApiError> {
    let name = required("task_name", req.task_name.as_deref())?.to_string();
    let source_db = required("source_database_name", req.source_database_name.as_deref())?;
    let task = Task {
        instance_id: instance_id.to_string(),
        task_name: name.clone(),
        source_instance_id: required("source_instance_id", req.source_instance_id.as_deref())?
            .to_string(),
        source_node_id: req.source_node_id.clone().unwrap_or_default(),
        source_database_name: source_db.to_string(),
        target_database_name: req
            .target_database_name
            .clone()
            .unwrap_or_else(|| source_db.to_string()),
        db_configs: req.db_configs.clone().unwrap_or_default(),
        tables_configs: req.tables_configs.clone().unwrap_or_default(),
        table_repl_config: req.table_repl_config.clone().unwrap_or_default(),
        scope: SourceScope::of(req),
        registered_ms: 0,
        run: Run::Registered,
        pending: None,
        abnormal: false,
        need_repair: false,
        alter_error: String::new(),
    };
    emu.mutate(|store, now| {
        if store.task(instance_id, &name).is_some() {
            return Err(ApiError::task_exists(&name));
        }
        store.tasks.push(Task {
            registered_ms: now,
            ..task
        });
        *store
            .stats
            .creates_per_task
            .entry(name.clone())
            .or_default() += 1;
        Ok(())
    })
}

/// E8. Fields present in the body replace the task's; the result is checked
/// like E2 and any failure is a 400 `DBS.280240` that changes nothing.
pub async fn modify(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    body: Bytes,
) -> Result<Json<ModifyResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let req: TaskConfigRequest = requests::json(&body)?;
    requests::task_config(&req)?;
    let name = required("task_name", req.task_name.as_deref())?;
    let current = emu
        .read(|store, _| store.task(&htap.id, name).cloned())
        .ok_or_else(|| ApiError::task_not_found(name))?;
    if let Some(src) = &req.source_instance_id
        && *src != current.source_instance_id
    {
        return Err(ApiError::invalid(
            "source_instance_id",
            "cannot be changed; delete the task and create it again",
        ));
    }
    let updated = merged(current, &req);
    let db = task_source(
        &emu,
        &updated.source_instance_id,
        Some(&updated.source_node_id),
        &updated.source_database_name,
        &updated.scope,
    )?;
    let db_verdicts = check_db_configs(&updated.db_configs);
    let table_verdicts = check_tables(
        &db,
        &updated.table_repl_config,
        &updated.tables_configs,
        updated.scope.patterns,
    );
    if let Some(reasons) = failures(&table_verdicts, &db_verdicts) {
        return Err(ApiError::check_failed(&reasons));
    }
    let job_id = emu.mutate(|store, now| {
        let task = store
            .task_mut(&htap.id, name)
            .ok_or_else(|| ApiError::task_not_found(name))?;
        *task = Task {
            run: task.run,
            pending: task.pending,
            ..updated.clone()
        };
        store.stats.modifies += 1;
        Ok(new_job(
            store,
            now,
            &emu,
            htap,
            name,
            "StarRocksModifyDataReplication",
        ))
    })?;
    Ok(Json(ModifyResponse {
        source_database_name: updated.source_database_name,
        target_database_name: updated.target_database_name,
        task_name: name.to_string(),
        source_db_config_check_results: db_verdicts.into_iter().map(|v| v.result).collect(),
        tbl_config_check_results: table_verdicts.into_iter().map(|v| v.result).collect(),
        job_id,
    }))
}

/// The tables a task reads, as one database: its source database, or at
/// instance level every database of the source instance (source database
/// `ALL`, or `database_repl_scope` `all`) or the comma-separated ones, with
/// tables named `DATABASE.TABLE`.
pub(super) fn task_source<'a>(
    emu: &'a Emulator,
    source_instance_id: &str,
    node_id: Option<&str>,
    database: &str,
    scope: &SourceScope,
) -> Result<Cow<'a, Database>, ApiError> {
    if !scope.instance_level {
        return emu
            .source_database(source_instance_id, node_id, database)
            .map(Cow::Borrowed);
    }
    let src = emu.source_instance_at(source_instance_id, node_id)?;
    let names: Vec<&str> = if scope.all_databases || database == ALL_DATABASES {
        src.databases.keys().map(String::as_str).collect()
    } else {
        database.split(',').collect()
    };
    let mut tables = BTreeMap::new();
    for name in names {
        let db = src
            .databases
            .get(name)
            .ok_or_else(|| ApiError::database_not_found(name))?;
        for (table_name, table) in &db.tables {
            tables.insert(format!("{name}.{table_name}"), table.clone());
        }
    }
    Ok(Cow::Owned(Database {
        name: database.to_string(),
        tables,
    }))
}

/// `task` with every field present in `req` replaced. The scope flags take
/// their documented defaults when absent (E8 documents a default for each).
fn merged(task: Task, req: &TaskConfigRequest) -> Task {
    let or = |new: &Option<String>, old: String| new.clone().unwrap_or(old);
    Task {
        source_node_id: or(&req.source_node_id, task.source_node_id),
        source_database_name: or(&req.source_database_name, task.source_database_name),
        target_database_name: or(&req.target_database_name, task.target_database_name),
        db_configs: req.db_configs.clone().unwrap_or(task.db_configs),
        tables_configs: req.tables_configs.clone().unwrap_or(task.tables_configs),
        table_repl_config: req
            .table_repl_config
            .clone()
            .unwrap_or(task.table_repl_config),
        scope: SourceScope::of(req),
        ..task
    }
}

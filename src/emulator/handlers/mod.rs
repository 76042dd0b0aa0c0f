//! The routes of the emulated API (E1–E15) and `/_emulator/*`, and the lookups
//! every handler shares (instance in the path, source instance and database in
//! the body, jobs).

mod admin;
mod config;
mod lifecycle;
mod reads;

use super::Emulator;
use super::cloud::{Database, HtapInstance, SourceInstance};
use super::error::ApiError;
use super::gateway::{MAX_BODY_BYTES, gateway};
use super::routing::RequestScope;
use super::store::{JobRecord, Store};
use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

/// Prefix of every replication route, after `/v3/{project_id}/instances/{instance_id}`.
const REPLICATION: &str =
    "/v3/{project_id}/instances/{instance_id}/starrocks/databases/replication";

pub fn router(emu: Emulator) -> Router {
    let r = |suffix: &str| format!("{REPLICATION}{suffix}");
    Router::new()
        .route(
            &r(""),
            get(reads::list_tasks)
                .post(lifecycle::start)
                .put(config::modify)
                .delete(lifecycle::delete),
        )
        .route(
            &r("/database-config-check"),
            post(config::database_config_check),
        )
        .route(&r("/table-config-check"), post(config::table_config_check))
        .route(&r("/configuration"), get(reads::task_config))
        .route(
            &r("/configuration/{database}"),
            get(reads::task_config_by_database),
        )
        .route(&r("/database-parameters"), get(reads::db_parameters))
        .route(&r("/pause"), post(lifecycle::pause))
        .route(&r("/resume"), post(lifecycle::resume))
        .route(
            "/v3/{project_id}/instances/{instance_id}/starrocks/databases",
            get(reads::target_databases),
        )
        .route(
            "/v3/{project_id}/instances/{instance_id}/htap/databases",
            post(reads::source_databases),
        )
        .route(
            "/v3/{project_id}/instances/{instance_id}/htap/tables",
            post(reads::source_tables),
        )
        .route("/v3/{project_id}/jobs", get(lifecycle::job))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/health", get(health))
        .route(
            "/_emulator/faults",
            get(admin::list_faults)
                .post(admin::add_faults)
                .delete(admin::clear_faults),
        )
        .route(
            "/_emulator/tasks/{instance_id}/{task_name}/status",
            post(admin::set_status),
        )
        .route(
            "/_emulator/tasks/{instance_id}/{task_name}/repair",
            post(admin::set_repair),
        )
        .fallback(|| async { ApiError::route_not_found() })
        // The gateway enforces the limit with the cloud's error shape; the
        // extractors must not apply a smaller default one behind it.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(emu.clone(), gateway))
        .with_state(emu)
}

async fn stats(State(emu): State<Emulator>) -> Json<super::Stats> {
    Json(emu.stats())
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

impl Emulator {
    /// The HTAP instance of a path, if it is in the path's project and the
    /// request's region (see [`RequestScope`]).
    fn htap(&self, project_id: &str, instance_id: &str) -> Result<&HtapInstance, ApiError> {
        let scope = RequestScope {
            project_id: Some(project_id.to_string()),
            ..RequestScope::current()
        };
        self.config()
            .cloud
            .htap_instance(instance_id)
            .filter(|i| scope.sees(i.project_id.as_deref(), i.region.as_deref()))
            .ok_or_else(ApiError::instance_not_found)
    }

    /// A source instance, if it is in the request's project and region.
    fn source_instance(&self, id: &str) -> Result<&SourceInstance, ApiError> {
        let scope = RequestScope::current();
        self.config()
            .cloud
            .source_instance(id)
            .filter(|i| scope.sees(i.project_id.as_deref(), i.region.as_deref()))
            .ok_or_else(ApiError::instance_not_found)
    }

    /// The source database a task reads, checking the node when one is named.
    fn source_database(
        &self,
        instance_id: &str,
        node_id: Option<&str>,
        database: &str,
    ) -> Result<&Database, ApiError> {
        self.source_instance_at(instance_id, node_id)?
            .databases
            .get(database)
            .ok_or_else(|| ApiError::database_not_found(database))
    }

    /// A source instance, checking the node when one is named.
    fn source_instance_at(
        &self,
        instance_id: &str,
        node_id: Option<&str>,
    ) -> Result<&SourceInstance, ApiError> {
        let src = self.source_instance(instance_id)?;
        if let Some(node) = node_id.filter(|n| !n.is_empty())
            && !src.nodes.iter().any(|n| n == node)
        {
            return Err(ApiError::invalid(
                "source_node_id",
                format!("{node} is not a node of source instance {instance_id}"),
            ));
        }
        Ok(src)
    }
}

/// Records a new job and returns its id.
fn new_job(
    store: &mut Store,
    now_ms: i64,
    emu: &Emulator,
    instance: &HtapInstance,
    task_name: &str,
    name: &str,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let scope = RequestScope::current();
    store.jobs.push(JobRecord {
        id: id.clone(),
        project_id: scope.project_id,
        region: scope.region,
        name: name.to_string(),
        instance_id: instance.id.clone(),
        instance_name: instance.name.clone(),
        task_name: task_name.to_string(),
        created_ms: now_ms,
        duration_ms: i64::try_from(emu.config().job_duration.as_millis()).unwrap_or(i64::MAX),
    });
    id
}

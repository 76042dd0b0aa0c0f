//! The asynchronous task operations — start (E3), pause (E9), resume (E10),
//! delete (E11) — each answered with a job, and job polling (E15).
//!
//! Start takes effect at once (the task then spends one `stage_step` in Wait);
//! pause, resume and delete take effect when their job completes.

use super::new_job;
use crate::api::wire::{
    Job, JobIdResponse, JobInstance, JobResponse, StartRequest, TaskNameRequest,
};
use crate::emulator::Emulator;
use crate::emulator::error::ApiError;
use crate::emulator::requests::{self, length, name};
use crate::emulator::routing::RequestScope;
use crate::emulator::store::{Effect, JobRecord, Pending, Run, Store};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};

type InstancePath = Path<(String, String)>;

/// E3: starts a registered task.
pub async fn start(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    body: Bytes,
) -> Result<Json<JobIdResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let req: StartRequest = requests::json(&body)?;
    length("source_instance_id", &req.source_instance_id, 2, 1024)?;
    length("source_database", &req.source_database, 2, 1024)?;
    name("target_database", &req.target_database, 3, 128)?;
    name("task_name", &req.task_name, 3, 128)?;
    let job_id = emu.mutate(|store, now| {
        let task = store
            .task_mut(&htap.id, &req.task_name)
            .ok_or_else(|| ApiError::task_not_found(&req.task_name))?;
        for (field, sent, actual) in [
            (
                "source_instance_id",
                &req.source_instance_id,
                &task.source_instance_id,
            ),
            (
                "source_database",
                &req.source_database,
                &task.source_database_name,
            ),
            (
                "target_database",
                &req.target_database,
                &task.target_database_name,
            ),
        ] {
            if sent != actual {
                return Err(ApiError::invalid(
                    field,
                    format!("the task has {actual:?}, not {sent:?}"),
                ));
            }
        }
        if task.pending.is_some() {
            return Err(ApiError::busy(&req.task_name));
        }
        if task.run != Run::Registered {
            return Err(ApiError::wrong_stage(
                "DBS.280302",
                "The task has already been started.",
            ));
        }
        task.run = Run::Started { at_ms: now };
        store.stats.starts += 1;
        Ok(new_job(
            store,
            now,
            &emu,
            htap,
            &req.task_name,
            "StarRocksCreateDataReplication",
        ))
    })?;
    Ok(Json(JobIdResponse { job_id }))
}

/// E9: pauses a running task when its job completes.
pub async fn pause(
    state: State<Emulator>,
    path: InstancePath,
    body: Bytes,
) -> Result<Json<JobIdResponse>, ApiError> {
    deferred(state, path, body, Effect::Pause).await
}

/// E10: resumes a paused task (straight to Incremental) when its job completes.
pub async fn resume(
    state: State<Emulator>,
    path: InstancePath,
    body: Bytes,
) -> Result<Json<JobIdResponse>, ApiError> {
    deferred(state, path, body, Effect::Resume).await
}

/// E11: deletes a task when its job completes.
pub async fn delete(
    state: State<Emulator>,
    path: InstancePath,
    body: Bytes,
) -> Result<Json<JobIdResponse>, ApiError> {
    deferred(state, path, body, Effect::Delete).await
}

/// The shared shape of E9, E10 and E11: `{task_name}` in, a job out, the
/// effect recorded as pending until the job completes.
async fn deferred(
    State(emu): State<Emulator>,
    Path((project_id, instance_id)): InstancePath,
    body: Bytes,
    effect: Effect,
) -> Result<Json<JobIdResponse>, ApiError> {
    let htap = emu.htap(&project_id, &instance_id)?;
    let req: TaskNameRequest = requests::json(&body)?;
    name("task_name", &req.task_name, 3, 128)?;
    let task_name = req.task_name.as_str();
    let job_id = emu.mutate(|store, now| {
        let duration = i64::try_from(emu.config().job_duration.as_millis()).unwrap_or(i64::MAX);
        let task = store
            .task_mut(&htap.id, task_name)
            .ok_or_else(|| match effect {
                Effect::Delete => ApiError::delete_task_not_found(task_name),
                Effect::Pause | Effect::Resume => ApiError::task_not_found(task_name),
            })?;
        if task.pending.is_some() {
            return Err(ApiError::busy(task_name));
        }
        match effect {
            Effect::Pause if !task.is_running() => {
                return Err(ApiError::wrong_stage(
                    "DBS.280303",
                    "The task is not running.",
                ));
            }
            Effect::Resume if task.run != Run::Paused => {
                return Err(ApiError::wrong_stage(
                    "DBS.280304",
                    "The task is not paused.",
                ));
            }
            _ => {}
        }
        task.pending = Some(Pending {
            at_ms: now.saturating_add(duration),
            effect,
        });
        let job_name = count_and_name(store, effect);
        Ok(new_job(store, now, &emu, htap, task_name, job_name))
    })?;
    Ok(Json(JobIdResponse { job_id }))
}

fn count_and_name(store: &mut Store, effect: Effect) -> &'static str {
    match effect {
        Effect::Pause => {
            store.stats.pauses += 1;
            "StarRocksPauseDataReplication"
        }
        Effect::Resume => {
            store.stats.resumes += 1;
            "StarRocksResumeDataReplication"
        }
        Effect::Delete => {
            store.stats.deletes += 1;
            "StarRocksDeleteDataReplication"
        }
    }
}

/// E15: `GET /v3/{project_id}/jobs?id=`.
pub async fn job(
    State(emu): State<Emulator>,
    Path(project_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<JobResponse>, ApiError> {
    let q = requests::query(raw.as_deref());
    let id = requests::required("id", q.get("id").map(String::as_str))?;
    length("id", id, 2, 64)?;
    let scope = RequestScope {
        project_id: Some(project_id),
        ..RequestScope::current()
    };
    let (record, view) = emu
        .read(|store, now| store.job(id).map(|j| (j.clone(), j.view(now))))
        .filter(|(j, _)| scope.sees(j.project_id.as_deref(), j.region.as_deref()))
        .ok_or_else(|| ApiError::job_not_found(id))?;
    let entities = job_entities(&record);
    Ok(Json(JobResponse {
        job: Job {
            id: record.id,
            name: record.name,
            status: view.status.to_string(),
            created: job_time(record.created_ms),
            ended: view.ended_ms.map(job_time).unwrap_or_default(),
            process: view.process,
            instance: JobInstance {
                id: record.instance_id,
                name: record.instance_name,
            },
            entities,
            fail_reason: String::new(),
        },
    }))
}

/// E15's `entities`, in the documented example's shape (`instance` with
/// its `datastore`, and the `resource_ids` the job acts on: the HTAP
/// instance), plus the replication task the job belongs to; the schema
/// leaves the content to each kind of job.
fn job_entities(record: &JobRecord) -> serde_json::Value {
    serde_json::json!({
        "instance": { "datastore": { "type": "starrocks" } },
        "resource_ids": [record.instance_id],
        "task_name": record.task_name,
    })
}

/// `yyyy-mm-ddThh:mm:ss+hhmm`, the form E15 documents.
fn job_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%z").to_string())
        .unwrap_or_default()
}

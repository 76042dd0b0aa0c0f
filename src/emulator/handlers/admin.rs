//! Test-only controls under `/_emulator/` that change what the emulated cloud
//! reports without going through the cloud API, for conditions a real cloud
//! reaches on its own (a task turning abnormal or needing repair, a failed
//! table change) but no API call can cause, and the scripted faults.

use crate::emulator::Emulator;
use crate::emulator::error::ApiError;
use crate::emulator::faults::Rules;
use crate::emulator::requests;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize)]
struct StatusBody {
    status: String,
}

/// `POST /_emulator/tasks/{instance}/{task}/status` with `{"status": "No"}`
/// (or `"Yes"`): sets the `status` E4 reports for the task.
pub async fn set_status(
    State(emu): State<Emulator>,
    Path((instance_id, task_name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: StatusBody = requests::json(&body)?;
    let abnormal = match req.status.as_str() {
        "Yes" => false,
        "No" => true,
        other => {
            return Err(ApiError::invalid(
                "status",
                format!("must be Yes or No, not {other:?}"),
            ));
        }
    };
    if emu.config().cloud.htap_instance(&instance_id).is_none() {
        return Err(ApiError::instance_not_found());
    }
    emu.mutate(|store, _| {
        let task = store
            .task_mut(&instance_id, &task_name)
            .ok_or_else(|| ApiError::task_not_found(&task_name))?;
        task.abnormal = abnormal;
        Ok(())
    })?;
    Ok(Json(json!({"task_name": task_name, "status": req.status})))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepairBody {
    is_need_repair: bool,
    #[serde(default)]
    last_error_of_alter_table: String,
}

/// `POST /_emulator/tasks/{instance}/{task}/repair` with
/// `{"is_need_repair": true, "last_error_of_alter_table": "..."}`: sets what
/// E4 reports as `is_need_repair` and E5 as `last_error_of_alter_table`
/// (`false` and `""` make the task healthy again).
pub async fn set_repair(
    State(emu): State<Emulator>,
    Path((instance_id, task_name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: RepairBody = requests::json(&body)?;
    if emu.config().cloud.htap_instance(&instance_id).is_none() {
        return Err(ApiError::instance_not_found());
    }
    emu.mutate(|store, _| {
        let task = store
            .task_mut(&instance_id, &task_name)
            .ok_or_else(|| ApiError::task_not_found(&task_name))?;
        task.need_repair = req.is_need_repair;
        task.alter_error = req.last_error_of_alter_table.clone();
        Ok(())
    })?;
    Ok(Json(json!({
        "task_name": task_name,
        "is_need_repair": req.is_need_repair,
        "last_error_of_alter_table": req.last_error_of_alter_table,
    })))
}

/// `POST /_emulator/faults` with `{"rules": [{"call": "register", "task":
/// "orders_sync", "when": "after", "status": 500, "times": 1}]}`: appends
/// scripted faults (see [`crate::emulator::faults`]); answers the rules
/// pending.
pub async fn add_faults(State(emu): State<Emulator>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: Rules = requests::json(&body)?;
    for rule in &req.rules {
        rule.validate()?;
    }
    let mut script = emu.script();
    script.add(req.rules);
    Ok(Json(json!({"rules": script.pending()})))
}

/// `GET /_emulator/faults`: the scripted faults not used up yet.
pub async fn list_faults(State(emu): State<Emulator>) -> Json<Value> {
    Json(json!({"rules": emu.script().pending()}))
}

/// `DELETE /_emulator/faults`: drops every scripted fault.
pub async fn clear_faults(State(emu): State<Emulator>) -> Json<Value> {
    emu.script().clear();
    Json(json!({"rules": []}))
}

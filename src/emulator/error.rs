//! Errors the emulator answers with, in the cloud's `{error_code, error_msg}`
//! form. Codes the cloud documents are used as documented; the ones the
//! emulator had to choose are listed in `docs/emulator.md`.

use crate::api::wire::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An API error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: String,
    /// Gateway (APIGW.*) errors also carry the request id in the body.
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            msg: msg.into(),
            request_id: None,
        }
    }

    fn bad_request(code: &'static str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }

    /// Unknown HTAP instance (path) or source instance (body).
    pub fn instance_not_found() -> Self {
        Self::bad_request("DBS.200022", "Instance not found.")
    }

    /// Unknown task on read, start, pause, resume or modify.
    pub fn task_not_found(name: &str) -> Self {
        Self::bad_request("DBS.270022", format!("Replication task not found: {name}."))
    }

    /// Unknown task on delete.
    pub fn delete_task_not_found(name: &str) -> Self {
        Self::bad_request(
            "DBS.05000091",
            format!("Replication task not found: {name}."),
        )
    }

    pub fn database_not_found(name: &str) -> Self {
        Self::bad_request("DBS.280238", format!("Database not found: {name}."))
    }

    pub fn task_exists(name: &str) -> Self {
        Self::bad_request(
            "DBS.280239",
            format!("Replication task already exists: {name}."),
        )
    }

    pub fn job_not_found(id: &str) -> Self {
        Self::bad_request("DBS.280242", format!("Job not found: {id}."))
    }

    /// A request field is missing, too short or long, or outside its allowed values.
    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        Self::bad_request("DBS.280001", format!("Invalid parameter: {field}: {why}."))
    }

    /// E8 or E2 with a table or db_config that fails its check.
    pub fn check_failed(reasons: &str) -> Self {
        Self::bad_request(
            "DBS.280240",
            format!("Configuration check failed: {reasons}."),
        )
    }

    /// The task is not in a stage where the operation makes sense.
    pub fn wrong_stage(code: &'static str, msg: &str) -> Self {
        Self::bad_request(code, msg)
    }

    /// Another job of the task has not completed yet.
    pub fn busy(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "DBS.201014",
            format!("Another operation is in progress for task {name}."),
        )
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "DBS.200001", msg)
    }

    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment.",
        )
    }
}

/// Error messages the API documents in Chinese as well as in English; with
/// `X-Language: zh-cn` these codes answer in Chinese. Every other message
/// stays English, the language the API reference gives for it.
const DOCUMENTED_ZH_CN: &[(&str, &str)] = &[("DBS.200022", "实例不存在")];

/// The language `X-Language` asks for: `zh-cn`, else the default `en-us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    EnUs,
    ZhCn,
}

impl Language {
    pub fn of(header: Option<&str>) -> Language {
        match header {
            Some(v) if v.trim().eq_ignore_ascii_case("zh-cn") => Language::ZhCn,
            _ => Language::EnUs,
        }
    }
}

/// Marks an error response with its code, so the gateway can translate it.
#[derive(Debug, Clone, Copy)]
struct ErrorCode(&'static str);

/// `response` in `language`: an error response whose code has a documented
/// Chinese message gets that message under `zh-cn`; anything else is unchanged.
pub fn localise(response: Response, language: Language) -> Response {
    if language != Language::ZhCn {
        return response;
    }
    let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>().copied() else {
        return response;
    };
    let Some((_, msg)) = DOCUMENTED_ZH_CN.iter().find(|(c, _)| *c == code) else {
        return response;
    };
    ApiError::new(response.status(), code, *msg).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code;
        let body = ErrorBody {
            error_code: code.to_string(),
            error_msg: self.msg,
            request_id: self.request_id,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

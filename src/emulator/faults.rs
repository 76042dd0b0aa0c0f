//! Scripted faults: a test says exactly which call fails, how, and whether it
//! took effect first ("the next register of orders_sync takes effect, then
//! answers 500"; "the next start answers 503 before doing anything"; "E5 of
//! orders_sync answers 500 three times"). Random faults (`--error-rate`)
//! show that a run survives; scripted ones pin what it does about each one,
//! which the emulator's counters then show.
//!
//! `POST /_emulator/faults` appends rules, `DELETE /_emulator/faults` drops
//! them, `GET /_emulator/faults` lists those not used up. A rule fires on the
//! first matching requests (by call and, when given, task name), `times`
//! times, then is gone.

use super::error::ApiError;
use crate::api::wire::ErrorBody;
use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// A call of the API family, as a fault rule names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    /// E2 with `is_create_task = "true"`.
    Register,
    /// E2 without it: the table-config check.
    Check,
    /// E3.
    Start,
    /// E4.
    ListTasks,
    /// E5 (and its by-database form).
    TaskConfig,
    /// E8.
    Modify,
    /// E9.
    Pause,
    /// E10.
    Resume,
    /// E11.
    Delete,
    /// E15.
    Job,
}

impl CallKind {
    /// The name rules and the `calls` counters use.
    pub fn name(self) -> &'static str {
        match self {
            CallKind::Register => "register",
            CallKind::Check => "check",
            CallKind::Start => "start",
            CallKind::ListTasks => "list-tasks",
            CallKind::TaskConfig => "task-config",
            CallKind::Modify => "modify",
            CallKind::Pause => "pause",
            CallKind::Resume => "resume",
            CallKind::Delete => "delete",
            CallKind::Job => "job",
        }
    }
}

/// Whether a faulted call changes the cloud before its answer is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Answered instead of handling: the call takes no effect.
    Before,
    /// Handled, then its answer is lost: the call took effect.
    After,
}

/// One scripted fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub call: CallKind,
    /// Only calls for this task (its `task_name`); any task when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default = "before")]
    pub when: When,
    /// The HTTP status answered (4xx or 5xx).
    #[serde(default = "internal")]
    pub status: u16,
    /// The `error_code` of the answer; a server error's code when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The `error_msg` of the answer; one naming the scripted fault when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    /// How many matching calls fail.
    #[serde(default = "once")]
    pub times: u32,
    /// The whole answer body instead of an error (with any status, 2xx
    /// too): an answer the cloud documents that the emulator's own handlers
    /// never give, such as a modify whose table checks failed but that has a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

fn before() -> When {
    When::Before
}

fn internal() -> u16 {
    500
}

fn once() -> u32 {
    1
}

/// The body of `POST /_emulator/faults`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

impl Rule {
    /// Refuses a rule that could not be answered as the cloud answers.
    pub fn validate(&self) -> Result<(), ApiError> {
        let allowed = if self.body.is_some() {
            200..600
        } else {
            400..600
        };
        if !allowed.contains(&self.status) {
            return Err(ApiError::invalid(
                "status",
                format!(
                    "a fault answers 4xx or 5xx (2xx too with a `body`), not {}",
                    self.status
                ),
            ));
        }
        if self.times == 0 {
            return Err(ApiError::invalid("times", "must be at least 1"));
        }
        Ok(())
    }

    /// The answer to a faulted call: its `body`, or an error in the cloud's shape.
    pub fn answer(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(body) = &self.body {
            return (status, Json(body.clone())).into_response();
        }
        let code = match &self.error_code {
            Some(code) => code.clone(),
            None if status.is_server_error() => "DBS.200001".to_string(),
            None => "DBS.280001".to_string(),
        };
        let body = ErrorBody {
            error_code: code,
            error_msg: self.error_msg.clone().unwrap_or_else(|| {
                format!("Injected by a scripted fault ({:?})", self.when).to_lowercase()
            }),
            request_id: None,
        };
        (status, Json(body)).into_response()
    }
}

/// The rules not used up, in the order they were added.
#[derive(Debug, Default)]
pub struct Script {
    rules: Vec<Rule>,
}

impl Script {
    pub fn add(&mut self, rules: Vec<Rule>) {
        self.rules.extend(rules);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn pending(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that fires for this call, used once; `None` for no fault.
    pub fn fire(&mut self, call: CallKind, task: Option<&str>) -> Option<Rule> {
        let index = self
            .rules
            .iter()
            .position(|r| r.call == call && r.task.as_deref().is_none_or(|t| Some(t) == task))?;
        let rule = &mut self.rules[index];
        rule.times -= 1;
        let fired = rule.clone();
        if rule.times == 0 {
            self.rules.remove(index);
        }
        Some(fired)
    }
}

/// Which call a request of the cloud API is, and the task it names (from the
/// query, or the body's top-level `task_name`).
pub fn classify(
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Option<(CallKind, Option<String>)> {
    // Only the two fields it needs: no value tree per request.
    #[derive(Deserialize, Default)]
    struct Named {
        task_name: Option<String>,
        is_create_task: Option<String>,
    }
    let named: Named = if body.is_empty() {
        Named::default()
    } else {
        serde_json::from_slice(body).unwrap_or_default()
    };
    let task = match query.filter(|q| q.contains("task_name")) {
        Some(q) => super::requests::query(Some(q)).remove("task_name"),
        None => None,
    }
    .or(named.task_name);
    let replication = path.contains("/starrocks/databases/replication");
    let kind = match (method.as_str(), path.rsplit('/').next().unwrap_or("")) {
        ("POST", "table-config-check") if named.is_create_task.as_deref() == Some("true") => {
            CallKind::Register
        }
        ("POST", "table-config-check") => CallKind::Check,
        ("POST", "replication") => CallKind::Start,
        ("GET", "replication") => CallKind::ListTasks,
        ("DELETE", "replication") => CallKind::Delete,
        ("PUT", "replication") => CallKind::Modify,
        ("POST", "pause") if replication => CallKind::Pause,
        ("POST", "resume") if replication => CallKind::Resume,
        ("GET", "jobs") => CallKind::Job,
        ("GET", _) if replication && path.contains("/configuration") => CallKind::TaskConfig,
        _ => return None,
    };
    Some((kind, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(call: CallKind, task: Option<&str>, times: u32) -> Rule {
        Rule {
            call,
            task: task.map(str::to_string),
            when: When::Before,
            status: 500,
            error_code: None,
            error_msg: None,
            times,
            body: None,
        }
    }

    #[test]
    fn a_rule_fires_on_matching_calls_its_number_of_times_then_is_gone() {
        let mut script = Script::default();
        script.add(vec![
            rule(CallKind::Start, Some("a"), 2),
            rule(CallKind::Start, None, 1),
        ]);
        assert_eq!(script.fire(CallKind::Register, Some("a")), None);
        assert!(
            script
                .fire(CallKind::Start, Some("b"))
                .unwrap()
                .task
                .is_none()
        );
        assert_eq!(script.fire(CallKind::Start, Some("b")), None);
        assert!(script.fire(CallKind::Start, Some("a")).is_some());
        assert!(script.fire(CallKind::Start, Some("a")).is_some());
        assert_eq!(script.fire(CallKind::Start, Some("a")), None);
        assert!(script.pending().is_empty());
    }

    #[test]
    fn calls_are_told_apart_by_method_path_and_body() {
        let base = "/v3/p/instances/i/starrocks/databases/replication";
        let named = br#"{"task_name":"t"}"#.as_slice();
        let register = br#"{"task_name":"t","is_create_task":"true"}"#.as_slice();
        let check = format!("{base}/table-config-check");
        let cases = [
            (Method::POST, check.as_str(), register, CallKind::Register),
            (Method::POST, check.as_str(), named, CallKind::Check),
            (Method::POST, base, named, CallKind::Start),
            (Method::DELETE, base, named, CallKind::Delete),
            (Method::PUT, base, named, CallKind::Modify),
            (
                Method::POST,
                &format!("{base}/pause"),
                named,
                CallKind::Pause,
            ),
        ];
        for (method, path, body, want) in cases {
            let got = classify(&method, path, None, body);
            assert_eq!(got, Some((want, Some("t".to_string()))), "{method} {path}");
        }
        let config = format!("{base}/configuration");
        let got = classify(&Method::GET, &config, Some("task_name=t"), b"");
        assert_eq!(got, Some((CallKind::TaskConfig, Some("t".to_string()))));
        let list = classify(&Method::GET, base, Some("offset=0"), b"");
        assert_eq!(list, Some((CallKind::ListTasks, None)));
    }
}

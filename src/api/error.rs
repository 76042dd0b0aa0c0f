//! The one error type of every API call: what failed, how the server answered
//! (status, `error_code`, `error_msg`, `X-Request-Id`) and after how many
//! attempts, displayed as a single line a user can act on or quote to support.

use std::fmt;
use std::time::Duration;

use super::retry::{Failure, Transience, transience};

/// What kind of failure an [`ApiError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The server answered with a non-2xx status.
    Api,
    /// The request (or reading its response) exceeded the per-request timeout.
    Timeout,
    /// No connection could be established; the request never reached the server.
    Connect,
    /// The connection failed after it was established.
    Transport,
    /// A 2xx response whose body is not what the API documents.
    Decode,
    /// Credentials could not be used (IAM refused a token, for example).
    Auth,
    /// Polling did not reach the wanted state before the deadline.
    Deadline,
    /// An asynchronous job ended in `Failed`.
    JobFailed,
    /// The endpoint URL is not acceptable (see [`crate::api::client::validate_endpoint`]).
    InvalidEndpoint,
    /// The HTTP client could not be built or a request could not be formed.
    Setup,
    /// The server's TLS certificate is not trusted (never retried: it will not change).
    Certificate,
    /// The response body is longer than the client reads.
    ResponseTooLarge,
}

/// A failed API call.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The kind of failure.
    pub kind: ApiErrorKind,
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// `error_code` of the error body, e.g. `DBS.200022`.
    pub error_code: Option<String>,
    /// `error_msg` of the error body, or the start of a non-JSON body.
    pub error_msg: Option<String>,
    /// `X-Request-Id` of the response (or `request_id` of the body).
    pub request_id: Option<String>,
    /// The operation, e.g. `table-config-check`.
    pub operation: &'static str,
    /// How many requests were sent (0 when none could be).
    pub attempts: u32,
    /// Lower-level cause for non-HTTP failures, without secrets.
    pub detail: Option<String>,
    /// How long the server asked to wait before a repeat (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// Why a call was not answered on its merits: the service, or access to it,
/// failed, so the answer says nothing about the request's content. A gate
/// that meets one of these could not run; it must not blame the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceFailure {
    /// The credentials were refused (HTTP 401, or IAM refused them).
    Authentication,
    /// The credentials are valid but may not call this API (HTTP 403).
    Authorization,
    /// The gateway kept throttling the requests (HTTP 429 or its throttling code).
    Throttling,
    /// The endpoint could not be reached, or the connection failed or timed out.
    Transport,
    /// The service kept failing (HTTP 5xx).
    Server,
}

impl ServiceFailure {
    /// What went wrong, in a few words, for a headline.
    pub fn describe(self) -> &'static str {
        match self {
            ServiceFailure::Authentication => "the credentials were refused",
            ServiceFailure::Authorization => "the credentials may not call the API",
            ServiceFailure::Throttling => "the API kept throttling the requests",
            ServiceFailure::Transport => "the API could not be reached",
            ServiceFailure::Server => "the API kept failing",
        }
    }

    /// What the user can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            ServiceFailure::Authentication => {
                "check the token or the access and secret keys (see docs/authentication.md)"
            }
            ServiceFailure::Authorization => {
                "grant the credentials' user the DBS/HTAP permissions on this project"
            }
            ServiceFailure::Throttling => "try again later, or with a lower --parallelism",
            ServiceFailure::Transport => "check the endpoint and the network, then try again",
            ServiceFailure::Server => "try again later",
        }
    }
}

/// Codes meaning the task does not exist (E5/E4 reads, E11 delete).
const NOT_FOUND_CODES: &[&str] = &["DBS.270022", "DBS.05000091"];

/// The answer to a start (E3) of a task that is already started.
const ALREADY_STARTED_CODE: &str = "DBS.280302";

/// Codes the cloud answers (HTTP 409) while another job of the task runs
/// (API reference §9: "instance busy / another operation in progress").
const BUSY_CODES: &[&str] = &[
    "DBS.200019",
    "DBS.201014",
    "DBS.201015",
    "DBS.200047",
    "DBS.05000084",
    "DBS.212033",
];

impl ApiError {
    /// An error of `kind` for `operation`, with nothing else known yet.
    pub fn new(kind: ApiErrorKind, operation: &'static str) -> ApiError {
        ApiError {
            kind,
            status: None,
            error_code: None,
            error_msg: None,
            request_id: None,
            operation,
            attempts: 0,
            detail: None,
            retry_after: None,
        }
    }

    /// Adds a lower-level cause.
    pub fn with_detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = Some(detail.into());
        self
    }

    /// The task named in the request does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|c| NOT_FOUND_CODES.contains(&c))
    }

    /// E3 refused to start a task that is already started (the emulator's
    /// code; the API reference documents none for it).
    pub fn is_already_started(&self) -> bool {
        self.code() == Some(ALREADY_STARTED_CODE)
    }

    /// Another job of the task is running (HTTP 409 "instance busy"): the
    /// call can be sent again once it ends.
    pub fn is_busy(&self) -> bool {
        self.code().is_some_and(|c| BUSY_CODES.contains(&c))
    }

    /// Whether the failure may go away and what the request may have done,
    /// as the one retry policy ([`super::retry::transience`]) decides.
    pub fn transience(&self) -> Transience {
        Failure::of(self).map_or(Transience::Permanent, transience)
    }

    /// A failure that says nothing about the request itself (server error,
    /// throttling, timeout, lost connection): asking again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.transience() != Transience::Permanent
    }

    /// Whether the call failed for a reason unrelated to what it asked (see
    /// [`ServiceFailure`]); `None` when the server judged the request itself.
    pub fn service_failure(&self) -> Option<ServiceFailure> {
        match self.kind {
            ApiErrorKind::Auth => Some(ServiceFailure::Authentication),
            ApiErrorKind::Timeout
            | ApiErrorKind::Connect
            | ApiErrorKind::Transport
            | ApiErrorKind::InvalidEndpoint
            | ApiErrorKind::Certificate
            | ApiErrorKind::Setup => Some(ServiceFailure::Transport),
            ApiErrorKind::ResponseTooLarge => Some(ServiceFailure::Server),
            ApiErrorKind::Api => match self.status? {
                401 => Some(ServiceFailure::Authentication),
                403 => Some(ServiceFailure::Authorization),
                s if super::retry::is_throttled(s, self.code()) => Some(ServiceFailure::Throttling),
                s if s >= 500 => Some(ServiceFailure::Server),
                _ => None,
            },
            ApiErrorKind::Decode | ApiErrorKind::Deadline | ApiErrorKind::JobFailed => None,
        }
    }

    /// The API's `error_code`, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }
}

/// Newlines and runs of whitespace would break the one-line rule.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.operation)?;
        match self.kind {
            ApiErrorKind::Api => match (&self.error_code, &self.error_msg) {
                (Some(code), Some(msg)) => write!(f, "{code} {}", one_line(msg))?,
                (Some(code), None) => write!(f, "{code}")?,
                (None, Some(msg)) => write!(f, "unexpected response: {}", one_line(msg))?,
                (None, None) => write!(f, "unexpected response with an empty body")?,
            },
            ApiErrorKind::Timeout => f.write_str("request timed out")?,
            ApiErrorKind::Connect => f.write_str("cannot connect")?,
            ApiErrorKind::Transport => f.write_str("connection failed")?,
            ApiErrorKind::Decode => f.write_str("response does not match the documented format")?,
            ApiErrorKind::Auth => f.write_str("authentication failed")?,
            ApiErrorKind::Deadline => f.write_str("gave up waiting")?,
            ApiErrorKind::JobFailed => match &self.error_msg {
                Some(reason) if !reason.is_empty() => {
                    write!(f, "job failed: {}", one_line(reason))?
                }
                _ => f.write_str("job failed without a reason")?,
            },
            ApiErrorKind::InvalidEndpoint => f.write_str("invalid endpoint")?,
            ApiErrorKind::Setup => f.write_str("cannot prepare the request")?,
            ApiErrorKind::Certificate => {
                f.write_str("the server's TLS certificate is not trusted")?
            }
            ApiErrorKind::ResponseTooLarge => f.write_str("response body too large")?,
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {}", one_line(detail))?;
        }
        if self.kind == ApiErrorKind::Certificate {
            f.write_str(
                "; if the endpoint uses a private CA, set ca_file in [provider] to its PEM certificate",
            )?;
        }
        let mut context = Vec::new();
        if let Some(status) = self.status {
            context.push(format!("HTTP {status}"));
        }
        if let Some(id) = &self.request_id {
            context.push(format!("request id {id}"));
        }
        if self.attempts > 0 {
            let plural = if self.attempts == 1 { "" } else { "s" };
            context.push(format!("{} attempt{plural}", self.attempts));
        }
        if !context.is_empty() {
            write!(f, " ({})", context.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_is_one_line_with_code_status_request_id_and_attempts() {
        let mut e = ApiError::new(ApiErrorKind::Api, "table-config-check");
        e.status = Some(400);
        e.error_code = Some("DBS.200022".into());
        e.error_msg = Some("Instance not\nfound.".into());
        e.request_id = Some("5f1c".into());
        e.attempts = 1;
        assert_eq!(
            e.to_string(),
            "table-config-check: DBS.200022 Instance not found. (HTTP 400, request id 5f1c, 1 attempt)"
        );
    }

    #[test]
    fn not_found_codes_are_recognised() {
        let mut e = ApiError::new(ApiErrorKind::Api, "task-config");
        e.error_code = Some("DBS.270022".into());
        assert!(e.is_not_found());
        e.error_code = Some("DBS.05000091".into());
        assert!(e.is_not_found());
        e.error_code = Some("DBS.200022".into());
        assert!(!e.is_not_found());
    }

    #[test]
    fn service_failures_are_told_apart_from_verdicts_on_the_request() {
        let answered = |status: u16, code: &str| {
            let mut e = ApiError::new(ApiErrorKind::Api, "table-config-check");
            e.status = Some(status);
            e.error_code = Some(code.into());
            e.service_failure()
        };
        assert_eq!(
            answered(401, "APIGW.0301"),
            Some(ServiceFailure::Authentication)
        );
        assert_eq!(
            answered(403, "APIGW.0302"),
            Some(ServiceFailure::Authorization)
        );
        assert_eq!(
            answered(429, "APIGW.0308"),
            Some(ServiceFailure::Throttling)
        );
        assert_eq!(
            answered(400, "APIGW.0308"),
            Some(ServiceFailure::Throttling)
        );
        assert_eq!(answered(503, "DBS.000001"), Some(ServiceFailure::Server));
        assert_eq!(answered(400, "DBS.200022"), None);
        let timeout = ApiError::new(ApiErrorKind::Timeout, "table-config-check");
        assert_eq!(timeout.service_failure(), Some(ServiceFailure::Transport));
        let refused = ApiError::new(ApiErrorKind::Auth, "iam-token");
        assert_eq!(
            refused.service_failure(),
            Some(ServiceFailure::Authentication)
        );
        let decode = ApiError::new(ApiErrorKind::Decode, "table-config-check");
        assert_eq!(decode.service_failure(), None);
    }

    #[test]
    fn transport_errors_show_detail_and_attempts() {
        let mut e = ApiError::new(ApiErrorKind::Timeout, "list-tasks").with_detail("after 30s");
        e.attempts = 5;
        assert_eq!(
            e.to_string(),
            "list-tasks: request timed out: after 30s (5 attempts)"
        );
    }
}

//! The client over real HTTP against a small axum fixture on 127.0.0.1:0 (not
//! the emulator): headers, auth modes, retries, Retry-After, timeouts, error
//! bodies, paging and job polling. The fixture picks its behaviour from the
//! instance id (or job id) in the path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use htapsync::api::sign::verify;
use htapsync::api::wire::{StartRequest, TaskConfigRequest};
use htapsync::api::{ApiErrorKind, Client, ClientConfig, Credentials};
use serde_json::json;

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const FIXTURE_SK: &str = "fixture-secret-key";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Fixture {
    hits: Mutex<HashMap<String, u32>>,
    seen: Mutex<Vec<Seen>>,
}

impl Fixture {
    fn hit(&self, key: &str) -> u32 {
        let mut hits = self.hits.lock().unwrap();
        let n = hits.entry(key.to_string()).or_default();
        *n += 1;
        *n
    }
    fn hits(&self, key: &str) -> u32 {
        self.hits.lock().unwrap().get(key).copied().unwrap_or(0)
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn error(status: u16, code: &str, msg: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        [("X-Request-Id", "req-123")],
        axum::Json(json!({"error_code": code, "error_msg": msg})),
    )
        .into_response()
}

async fn handle(
    axum::extract::State(fx): axum::extract::State<Arc<Fixture>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let path = uri.path().to_string();
    fx.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    if path == "/v3/auth/tokens" {
        fx.hit("iam");
        let expires = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let body = axum::Json(json!({"token": {"expires_at": expires}}));
        return (
            StatusCode::CREATED,
            [("X-Subject-Token", "iam-token-1")],
            body,
        )
            .into_response();
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.get(3) == Some(&"jobs") {
        let id = query
            .iter()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let n = fx.hit(&id);
        let (status, reason) = match id.as_str() {
            "job-done" => ("Completed", ""),
            "job-fail" => ("Failed", "Task is locked by another operation."),
            "job-later" if n < 3 => ("Pending", ""),
            "job-later" => ("Completed", ""),
            _ => ("Running", ""),
        };
        return axum::Json(json!({"job": {"id": id, "status": status, "fail_reason": reason}}))
            .into_response();
    }
    let scenario = segments.get(4).copied().unwrap_or("");
    let n = fx.hit(scenario);
    match scenario {
        "flaky" if n <= 2 => return error(500, "DBS.200001", "Internal error."),
        "throttle" if n == 1 => {
            let body = axum::Json(
                json!({"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}),
            );
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], body).into_response();
        }
        "broken" => return error(500, "DBS.200001", "Internal error."),
        "missing" => return error(400, "DBS.200022", "Instance not found."),
        "html" => {
            return (
                StatusCode::BAD_GATEWAY,
                "<html>\n<body>Bad gateway</body>\n</html>",
            )
                .into_response();
        }
        "slow" => tokio::time::sleep(Duration::from_secs(3)).await,
        "aksk" => {
            let pairs: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if verify(
                FIXTURE_SK,
                method.as_str(),
                &path,
                &query,
                &pairs,
                &body,
                auth,
            )
            .is_err()
            {
                return error(
                    401,
                    "APIGW.0301",
                    "Incorrect IAM authentication information: verify aksk signature fail",
                );
            }
        }
        "iam"
            if headers.get("x-auth-token").and_then(|v| v.to_str().ok()) != Some("iam-token-1") =>
        {
            return error(
                401,
                "APIGW.0301",
                "Incorrect IAM authentication information: decrypt token fail",
            );
        }
        _ => {}
    }
    respond(&method, segments.get(8).copied(), &query)
}

/// Normal answers, by endpoint.
fn respond(method: &Method, last: Option<&str>, query: &[(String, String)]) -> Response {
    let param = |k: &str| {
        query
            .iter()
            .find(|(q, _)| q == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    match (method.as_str(), last) {
        ("GET", None) => {
            // 250 tasks, served in pages.
            let (limit, offset) = (param("limit").unwrap_or(100), param("offset").unwrap_or(0));
            let rows: Vec<_> = (offset..(offset + limit).min(250))
                .map(|i| json!({"task_name": format!("t{i:03}"), "status": "Yes", "stage": "Incremental", "percentage": 100}))
                .collect();
            axum::Json(json!({"total_count": "250", "replications": rows})).into_response()
        }
        ("POST", Some("table-config-check")) => {
            axum::Json(json!({"task_name": "t01", "tbl_config_check_results": [
            {"table_name": "orders", "table_config": "order by id", "check_result": "success"}]}))
            .into_response()
        }
        _ => axum::Json(json!({"job_id": "job-done"})).into_response(),
    }
}

async fn serve() -> (String, Arc<Fixture>) {
    let fx = Arc::new(Fixture::default());
    let app = axum::Router::new().fallback(handle).with_state(fx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fx)
}

fn client(endpoint: &str, credentials: Credentials) -> Client {
    let mut cfg = ClientConfig::new(endpoint, PROJECT, credentials);
    cfg.request_timeout = Duration::from_millis(400);
    cfg.max_retries = 2;
    cfg.retry_base = Duration::from_millis(10);
    cfg.retry_cap = Duration::from_secs(2);
    Client::new(cfg).unwrap()
}

fn token() -> Credentials {
    Credentials::Token("tok-123".into())
}

fn start_request() -> StartRequest {
    StartRequest {
        source_instance_id: "src".into(),
        source_node_id: None,
        source_database: "shop".into(),
        target_database: "shop_olap".into(),
        task_name: "t01".into(),
    }
}

#[tokio::test]
async fn requests_carry_documented_headers_path_and_body() {
    let (base, fx) = serve().await;
    let c = client(&base, token());
    let req = TaskConfigRequest {
        task_name: Some("t01".into()),
        is_create_task: Some("false".into()),
        ..Default::default()
    };
    let r = c.check_tables("ok", &req).await.unwrap();
    assert_eq!(r.tbl_config_check_results[0].table_name, "orders");
    c.delete("ok", "t01").await.unwrap();
    c.modify("ok", &req).await.unwrap();

    let seen = fx.seen();
    let check = &seen[0];
    assert_eq!(check.method, "POST");
    assert_eq!(
        check.path,
        format!("/v3/{PROJECT}/instances/ok/starrocks/databases/replication/table-config-check")
    );
    let h = |name: &str| {
        check
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        h("content-type").as_deref(),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(h("x-language").as_deref(), Some("en-us"));
    assert_eq!(h("x-project-id").as_deref(), Some(PROJECT));
    assert_eq!(h("x-auth-token").as_deref(), Some("tok-123"));
    assert!(h("user-agent").unwrap().starts_with("htapsync/"));
    let body: serde_json::Value = serde_json::from_slice(&check.body).unwrap();
    assert_eq!(body, json!({"task_name": "t01", "is_create_task": "false"}));

    let delete = &seen[1];
    assert_eq!(delete.method, "DELETE");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&delete.body).unwrap(),
        json!({"task_name": "t01"})
    );
    assert_eq!(seen[2].method, "PUT");
    assert_eq!(
        seen[2].headers.get("content-type").unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn list_tasks_reads_every_page() {
    let (base, fx) = serve().await;
    let tasks = client(&base, token()).list_tasks("ok").await.unwrap();
    assert_eq!(tasks.len(), 250);
    assert_eq!(tasks[249].task_name, "t249");
    let offsets: Vec<String> = fx
        .seen()
        .iter()
        .filter_map(|s| {
            s.query
                .iter()
                .find(|(k, _)| k == "offset")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(offsets, ["0", "100", "200"]);
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let (base, fx) = serve().await;
    let job = client(&base, token()).pause("flaky", "t01").await.unwrap();
    assert_eq!(job, "job-done");
    assert_eq!(fx.hits("flaky"), 3);
}

#[tokio::test]
async fn retries_stop_after_max_and_report_attempts() {
    let (base, fx) = serve().await;
    let err = client(&base, token())
        .list_tasks("broken")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Api);
    assert_eq!(err.attempts, 3);
    assert_eq!(fx.hits("broken"), 3);
    assert_eq!(
        err.to_string(),
        "list-tasks: DBS.200001 Internal error. (HTTP 500, request id req-123, 3 attempts)"
    );
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let (base, fx) = serve().await;
    let started = Instant::now();
    let job = client(&base, token())
        .start("throttle", &start_request())
        .await
        .unwrap();
    assert_eq!(job, "job-done");
    assert_eq!(fx.hits("throttle"), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn calls_that_may_create_a_task_are_not_retried_after_a_5xx() {
    let (base, fx) = serve().await;
    let c = client(&base, token());
    let err = c.start("broken", &start_request()).await.unwrap_err();
    assert_eq!((err.attempts, fx.hits("broken")), (1, 1));

    let create = TaskConfigRequest {
        is_create_task: Some("true".into()),
        ..Default::default()
    };
    let err = c.check_tables("broken", &create).await.unwrap_err();
    assert_eq!((err.attempts, fx.hits("broken")), (1, 2));

    let check_only = TaskConfigRequest {
        is_create_task: Some("false".into()),
        ..Default::default()
    };
    let err = c.check_tables("broken", &check_only).await.unwrap_err();
    assert_eq!((err.attempts, fx.hits("broken")), (3, 5));
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_code_message_and_request_id() {
    let (base, fx) = serve().await;
    let req = TaskConfigRequest::default();
    let err = client(&base, token())
        .check_tables("missing", &req)
        .await
        .unwrap_err();
    assert_eq!(fx.hits("missing"), 1);
    assert_eq!((err.status, err.code()), (Some(400), Some("DBS.200022")));
    assert_eq!(err.request_id.as_deref(), Some("req-123"));
    assert_eq!(
        err.to_string(),
        "table-config-check: DBS.200022 Instance not found. (HTTP 400, request id req-123, 1 attempt)"
    );
}

#[tokio::test]
async fn a_non_json_error_body_still_gives_one_clear_line() {
    let (base, _fx) = serve().await;
    let err = client(&base, token())
        .db_parameters("html")
        .await
        .unwrap_err();
    let line = err.to_string();
    assert_eq!(err.code(), None);
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.starts_with(
            "db-parameters: unexpected response: Bad Gateway: <html> <body>Bad gateway"
        ),
        "{line}"
    );
    assert!(line.ends_with("(HTTP 502, 3 attempts)"), "{line}");
}

#[tokio::test]
async fn timeouts_are_retried_for_safe_calls_only() {
    let (base, fx) = serve().await;
    let c = client(&base, token());
    let err = c.list_tasks("slow").await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Timeout);
    assert_eq!(err.attempts, 3);
    let err = c.start("slow", &start_request()).await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Timeout);
    assert_eq!(err.attempts, 1);
    assert_eq!(fx.hits("slow"), 4);
}

#[tokio::test]
async fn connection_refused_is_retried_even_for_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(&format!("http://127.0.0.1:{port}"), token());
    let err = c.start("ok", &start_request()).await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Connect);
    assert_eq!(err.attempts, 3);
    assert!(
        err.to_string().starts_with("start: cannot connect"),
        "{err}"
    );
}

#[tokio::test]
async fn ak_sk_requests_verify_and_a_wrong_key_gets_401_without_retry() {
    let (base, fx) = serve().await;
    let good = Credentials::AkSk {
        ak: "AKID".into(),
        sk: FIXTURE_SK.into(),
        security_token: Some("st".into()),
    };
    let c = client(&base, good);
    let req = TaskConfigRequest {
        task_name: Some("t01".into()),
        ..Default::default()
    };
    c.check_db_config("aksk", &req).await.unwrap();
    c.task_config("aksk", "t 01").await.unwrap();
    let seen = fx.seen();
    let auth = seen[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        auth.starts_with("SDK-HMAC-SHA256 Access=AKID, SignedHeaders=content-type;host;user-agent;x-language;x-project-id;x-sdk-date;x-security-token, Signature="),
        "{auth}"
    );
    assert!(seen[0].headers.get("x-auth-token").is_none());
    assert_eq!(fx.hits("aksk"), 2, "both verified on the first attempt");

    let bad = Credentials::AkSk {
        ak: "AKID".into(),
        sk: "wrong".into(),
        security_token: None,
    };
    let err = client(&base, bad)
        .check_db_config("aksk", &req)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status, err.code(), err.attempts),
        (Some(401), Some("APIGW.0301"), 1)
    );
}

#[tokio::test]
async fn password_credentials_fetch_one_iam_token_and_reuse_it() {
    let (base, fx) = serve().await;
    let creds = Credentials::Password {
        user: "alice".into(),
        password: "pw-secret".into(),
        domain: "acme".into(),
        iam_endpoint: Some(base.clone()),
    };
    let c = client(&base, creds);
    c.pause("iam", "t01").await.unwrap();
    c.clone().resume("iam", "t01").await.unwrap();
    assert_eq!(fx.hits("iam"), 3, "one IAM call and two API calls");
    let iam = fx
        .seen()
        .into_iter()
        .find(|s| s.path == "/v3/auth/tokens")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&iam.body).unwrap();
    assert_eq!(
        body["auth"]["identity"]["password"]["user"]["name"],
        "alice"
    );
    assert_eq!(
        body["auth"]["identity"]["password"]["user"]["domain"]["name"],
        "acme"
    );
    assert_eq!(body["auth"]["scope"]["project"]["id"], PROJECT);
}

#[tokio::test]
async fn wait_job_returns_completed_fails_with_reason_and_respects_the_deadline() {
    let (base, fx) = serve().await;
    let c = client(&base, token());
    let job = c
        .wait_job("job-later", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(job.status, "Completed");
    assert_eq!(fx.hits("job-later"), 3);

    let err = c
        .wait_job("job-fail", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::JobFailed);
    assert_eq!(
        err.error_msg.as_deref(),
        Some("Task is locked by another operation.")
    );
    assert!(err.to_string().contains("Task is locked"), "{err}");

    let started = Instant::now();
    let err = c
        .wait_job("job-stuck", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Deadline);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("still Running"), "{err}");
}

#[tokio::test]
async fn wait_task_polls_the_list_until_done() {
    let (base, _fx) = serve().await;
    let c = client(&base, token());
    let row = c
        .wait_task(
            "ok",
            "t007",
            |row| row.is_some_and(|r| r.stage == "Incremental"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(row.unwrap().task_name, "t007");
    let err = c
        .wait_task(
            "ok",
            "gone",
            |row| row.is_some(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Deadline);
    assert!(err.to_string().contains("not listed"), "{err}");
}

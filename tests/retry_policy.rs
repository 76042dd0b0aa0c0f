//! The one retry policy over real HTTP: every loop that repeats a call (the
//! client's request loop, the polls of jobs and task rows, the IAM token
//! fetch) repeats a transient failure, 400 `APIGW.0308` throttling included,
//! and never a permanent one. A small axum fixture on 127.0.0.1:0 answers each
//! route from a script of failures, then normally. The clients use short,
//! explicit backoffs and deadlines, never the production ones.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use htapsync::api::wire::StartRequest;
use htapsync::api::{ApiErrorKind, Client, ClientConfig, Credentials};
use serde_json::json;

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// A scripted failure: HTTP status and `error_code`.
type Fail = (u16, &'static str);

const THROTTLED_400: Fail = (400, "APIGW.0308");
const SERVER_ERROR: Fail = (503, "DBS.200001");
const REFUSED: Fail = (400, "DBS.200022");

#[derive(Default)]
struct Fixture {
    /// Failures still to answer, per route.
    script: Mutex<HashMap<&'static str, VecDeque<Fail>>>,
    hits: Mutex<HashMap<&'static str, u32>>,
}

impl Fixture {
    fn fail(&self, route: &'static str, failures: &[Fail]) {
        self.script
            .lock()
            .unwrap()
            .insert(route, failures.iter().copied().collect());
    }

    fn hits(&self, route: &str) -> u32 {
        self.hits.lock().unwrap().get(route).copied().unwrap_or(0)
    }
}

/// The route of a request: `iam`, `job`, `list` (E4) or `start` (E3).
fn route(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        (_, "/v3/auth/tokens") => "iam",
        (_, p) if p.ends_with("/jobs") => "job",
        ("GET", p) if p.ends_with("/replication") => "list",
        ("POST", p) if p.ends_with("/replication") => "start",
        _ => "other",
    }
}

async fn handle(
    axum::extract::State(fx): axum::extract::State<Arc<Fixture>>,
    method: Method,
    uri: Uri,
) -> Response {
    let route = route(&method, uri.path());
    *fx.hits.lock().unwrap().entry(route).or_default() += 1;
    let failure = fx
        .script
        .lock()
        .unwrap()
        .get_mut(route)
        .and_then(VecDeque::pop_front);
    if let Some((status, code)) = failure {
        let body = json!({"error_code": code, "error_msg": "scripted failure"});
        return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    }
    match route {
        "iam" => {
            let expires = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
            let body = axum::Json(json!({"token": {"expires_at": expires}}));
            (
                StatusCode::CREATED,
                [("X-Subject-Token", "iam-token")],
                body,
            )
                .into_response()
        }
        "job" => axum::Json(json!({"job": {"id": "j1", "status": "Completed"}})).into_response(),
        "list" => axum::Json(json!({"total_count": 1, "replications": [
            {"task_name": "t1", "status": "Yes", "stage": "Incremental", "percentage": 100}]}))
        .into_response(),
        _ => axum::Json(json!({"job_id": "j1"})).into_response(),
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

/// A client with `max_retries` quick retries.
fn client(endpoint: &str, credentials: Credentials, max_retries: u32) -> Client {
    let mut cfg = ClientConfig::new(endpoint, PROJECT, credentials);
    cfg.request_timeout = Duration::from_secs(5);
    cfg.max_retries = max_retries;
    cfg.retry_base = Duration::from_millis(5);
    cfg.retry_cap = Duration::from_millis(20);
    Client::new(cfg).unwrap()
}

fn token() -> Credentials {
    Credentials::Token("tok".into())
}

fn password(iam: &str) -> Credentials {
    Credentials::Password {
        user: "alice".into(),
        password: "pw".into(),
        domain: "acme".into(),
        iam_endpoint: Some(iam.to_string()),
    }
}

fn start_request() -> StartRequest {
    StartRequest {
        source_instance_id: "src".into(),
        source_node_id: None,
        source_database: "shop".into(),
        target_database: "shop_olap".into(),
        task_name: "t1".into(),
    }
}

const DEADLINE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn the_client_retries_400_throttling_even_for_start_but_not_a_refusal() {
    let (base, fx) = serve().await;
    let c = client(&base, token(), 3);
    fx.fail("start", &[THROTTLED_400, THROTTLED_400]);
    assert_eq!(c.start("i1", &start_request()).await.unwrap(), "j1");
    assert_eq!(fx.hits("start"), 3);

    fx.fail("start", &[REFUSED, REFUSED]);
    let err = c.start("i1", &start_request()).await.unwrap_err();
    assert_eq!((err.status, err.attempts), (Some(400), 1));
    assert_eq!(fx.hits("start"), 4);
}

#[tokio::test]
async fn a_job_poll_that_is_throttled_is_a_poll_without_news() {
    let (base, fx) = serve().await;
    // No client retries: the poll itself meets each failure.
    let c = client(&base, token(), 0);
    fx.fail("job", &[THROTTLED_400, SERVER_ERROR, THROTTLED_400]);
    let job = c.wait_job("j1", DEADLINE).await.unwrap();
    assert_eq!(job.status, "Completed");
    assert_eq!(fx.hits("job"), 4);
}

#[tokio::test]
async fn a_job_poll_that_is_refused_fails_at_once() {
    let (base, fx) = serve().await;
    let c = client(&base, token(), 0);
    fx.fail("job", &[REFUSED]);
    let err = c.wait_job("j1", DEADLINE).await.unwrap_err();
    assert_eq!(
        (err.kind, err.code()),
        (ApiErrorKind::Api, Some("DBS.200022"))
    );
    assert_eq!(fx.hits("job"), 1);
}

#[tokio::test]
async fn a_task_poll_outlasts_throttling_and_server_errors_but_not_a_refusal() {
    let (base, fx) = serve().await;
    let c = client(&base, token(), 0);
    fx.fail("list", &[THROTTLED_400, SERVER_ERROR]);
    let row = c
        .wait_task("i1", "t1", |row| row.is_some(), DEADLINE)
        .await
        .unwrap();
    assert_eq!(row.unwrap().task_name, "t1");
    assert_eq!(fx.hits("list"), 3);

    fx.fail("list", &[REFUSED]);
    let err = c
        .wait_task("i1", "t1", |row| row.is_some(), DEADLINE)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DBS.200022"));
    assert_eq!(fx.hits("list"), 4);
}

#[tokio::test]
async fn a_transient_iam_failure_is_retried_even_before_a_start() {
    let (base, fx) = serve().await;
    let c = client(&base, password(&base), 3);
    fx.fail("iam", &[SERVER_ERROR, THROTTLED_400]);
    // The start request itself was never sent while IAM failed, so it is
    // retried although a start is never repeated once it may have arrived.
    assert_eq!(c.start("i1", &start_request()).await.unwrap(), "j1");
    assert_eq!((fx.hits("iam"), fx.hits("start")), (3, 1));
}

#[tokio::test]
async fn a_refusal_by_iam_is_not_retried() {
    let (base, fx) = serve().await;
    let c = client(&base, password(&base), 3);
    fx.fail("iam", &[(401, "IAM.0001")]);
    let err = c.start("i1", &start_request()).await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Auth);
    assert!(err.to_string().contains("IAM refused"), "{err}");
    assert_eq!((fx.hits("iam"), fx.hits("start")), (1, 0));
}

#[tokio::test]
async fn iam_failing_past_the_retries_reports_the_service_not_the_credentials() {
    let (base, fx) = serve().await;
    let c = client(&base, password(&base), 1);
    fx.fail("iam", &[SERVER_ERROR, SERVER_ERROR]);
    let err = c.start("i1", &start_request()).await.unwrap_err();
    assert_eq!(
        (err.kind, err.status, err.attempts),
        (ApiErrorKind::Api, Some(503), 2)
    );
    assert_eq!(
        err.service_failure(),
        Some(htapsync::api::ServiceFailure::Server)
    );
    assert_eq!((fx.hits("iam"), fx.hits("start")), (2, 0));
}

//! The emulator in the test's own process: the fixture clouds, a one-shot
//! request through its router (no socket), polling with a deadline, and the
//! emulator served on a free loopback port of the test's runtime.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use htapsync::emulator::{CloudSpec, Emulator, EmulatorConfig, Running, app, load_cloud, spawn};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tower::ServiceExt;

// Re-exported: the emulator tests glob-import this module.
pub use super::{HTAP, NODE, PROJECT, SRC};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloud")
        .join(name)
}

pub fn shop_cloud() -> CloudSpec {
    load_cloud(&fixture("shop.toml")).expect("fixture cloud loads")
}

/// The shop cloud with tiny lifecycle timings, any token accepted, no faults.
pub fn shop_config() -> EmulatorConfig {
    EmulatorConfig {
        stage_step: Duration::from_millis(20),
        job_duration: Duration::from_millis(20),
        ..EmulatorConfig::new(shop_cloud())
    }
}

/// The quick start's cloud (`examples/quickstart/cloud/cloud.toml`), any token accepted.
pub fn quickstart_config() -> EmulatorConfig {
    let cloud =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/cloud/cloud.toml");
    EmulatorConfig::new(load_cloud(&cloud).expect("the quick start's cloud loads"))
}

/// Serves `cfg` on a free loopback port, in the calling test's runtime.
pub async fn serve(cfg: EmulatorConfig) -> Running {
    let emu = Emulator::new(cfg).expect("emulator starts");
    spawn(emu, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("emulator serves")
}

pub fn shop_app() -> (Emulator, Router) {
    let emu = Emulator::new(shop_config()).expect("emulator starts");
    (emu.clone(), app(emu))
}

/// `/v3/{PROJECT}/instances/{HTAP}/starrocks/databases/replication{suffix}`.
pub fn repl(suffix: &str) -> String {
    format!("/v3/{PROJECT}/instances/{HTAP}/starrocks/databases/replication{suffix}")
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// `(error_code, error_msg)` of an error reply.
    pub fn error(&self) -> (&str, &str) {
        (
            self.body["error_code"].as_str().unwrap_or("<none>"),
            self.body["error_msg"].as_str().unwrap_or("<none>"),
        )
    }
}

/// Sends one request with `X-Auth-Token: test-token` through the router.
pub async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Reply {
    call_with(app, method, uri, body, &[("x-auth-token", "test-token")]).await
}

pub async fn call_with(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request builds");
    let resp = app.clone().oneshot(req).await.expect("router answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body reads");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// An E2 body for the shop database.
pub fn check_body(
    task: &str,
    repl_type: &str,
    scope: &str,
    tables: &[&str],
    configs: &[(&str, &str)],
    create: bool,
) -> Value {
    json!({
        "source_instance_id": SRC,
        "source_node_id": NODE,
        "source_database_name": "shop",
        "target_database_name": "shop_ap",
        "task_name": task,
        "db_configs": [{"param_name": "max_rows_per_chunk", "value": "0"}],
        "table_repl_config": {"repl_type": repl_type, "repl_scope": scope, "tables": tables},
        "tables_configs": configs.iter().map(|(t, c)| json!({"table_name": t, "table_config": c})).collect::<Vec<_>>(),
        "is_create_task": if create { "true" } else { "false" },
    })
}

/// Polls `f` every 5 ms until it returns `Some`, failing after 5 s.
pub async fn poll<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The E4 row of `task`, if listed.
pub async fn list_row(app: &Router, task: &str) -> Option<Value> {
    let r = call(app, "GET", &repl(""), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["replications"]
        .as_array()?
        .iter()
        .find(|row| row["task_name"] == task)
        .cloned()
}

/// Waits until E4 shows `task` in `stage`.
pub async fn wait_stage(app: &Router, task: &str, stage: &str) -> Value {
    poll(&format!("{task} in stage {stage}"), || async {
        list_row(app, task)
            .await
            .filter(|row| row["stage"] == stage)
    })
    .await
}

/// Waits until E15 reports job `id` Completed.
pub async fn wait_job(app: &Router, id: &str) -> Value {
    poll(&format!("job {id} completed"), || async {
        let r = call(app, "GET", &format!("/v3/{PROJECT}/jobs?id={id}"), None).await;
        (r.body["job"]["status"] == "Completed").then_some(r.body)
    })
    .await
}

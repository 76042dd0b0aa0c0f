//! Reads are not all-or-nothing: when the cloud keeps failing the read (E5)
//! of one task past its retry budget, plan, refresh and drift still read
//! every other task, and fail naming the task whose state is unknown and how
//! to go on without it; refresh records what it read. A loopback proxy in
//! front of the emulator process fails the reads of one task.

mod support;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use support::{Config, EmulatorProcess, tasks};

/// The task whose configuration the proxy never lets through.
const UNREADABLE: &str = "t001";

struct Proxy {
    upstream: String,
    http: reqwest::Client,
}

async fn handle(
    axum::extract::State(proxy): axum::extract::State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let e5 = method == Method::GET
        && uri.path().ends_with("/replication/configuration")
        && uri
            .query()
            .unwrap_or("")
            .contains(&format!("task_name={UNREADABLE}"));
    if e5 {
        let body =
            serde_json::json!({"error_code": "DBS.200001", "error_msg": "down for this task"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let url = format!("{}{}", proxy.upstream, uri.path_and_query().unwrap());
    let mut request = proxy.http.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await.expect("the emulator answers");
    let status = answer.status();
    let body = answer.bytes().await.expect("the emulator's body");
    (status, [("content-type", "application/json")], body).into_response()
}

/// Serves the proxy in front of `upstream` on `rt`; returns its URL.
fn serve_proxy(rt: &tokio::runtime::Runtime, upstream: &str) -> String {
    let proxy = Arc::new(Proxy {
        upstream: upstream.to_string(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(handle).with_state(proxy);
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[test]
fn a_task_that_cannot_be_read_is_named_and_the_others_are_still_read() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let all = tasks(3);
    let cfg = Config::new(&emu.url, &all);
    cfg.run_ok(&["apply", "--auto-approve"], 0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    cfg.write(&serve_proxy(&rt, &emu.url), &all);
    let run = |args: &[&str]| {
        let mut cmd = cfg.cmd(args);
        cmd.env("HTAPSYNC_RETRY_MAX_ELAPSED", "2s");
        support::output(&mut cmd)
    };
    let unknown = "task.t001 is unknown (task-config: DBS.200001 down for this task (HTTP 503";
    for (args, done) in [
        (&["plan"][..], "nothing was planned or changed"),
        (
            &["apply", "--auto-approve"][..],
            "nothing was planned or changed",
        ),
        (&["drift"][..], "no drift is reported"),
        (&["refresh"][..], "the others were recorded in state"),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 1, "{args:?}\n{out}\n{err}");
        assert!(err.contains(unknown), "{args:?}: {err}");
        assert!(
            err.contains("the other 2 task(s) were read"),
            "{args:?}: {err}"
        );
        assert!(err.contains(done), "{args:?}: {err}");
        assert!(err.contains("-exclude task.t001"), "{args:?}: {err}");
        assert!(!err.contains("task.t000 is unknown"), "{args:?}: {err}");
    }
    let state = cfg.state().unwrap();
    assert_eq!(state.tasks.len(), 3, "the unread task keeps its record");
    // Left out, the others plan and apply as usual.
    let (code, out, err) = run(&["plan", "-exclude", "task.t001", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(emu.creates_per_task().len(), 3);
}

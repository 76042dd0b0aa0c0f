//! Calls that may create a task are sent again only when the cloud shows they
//! took no effect, through the real binary: a loopback proxy in front of the
//! emulator process fails chosen calls, either before forwarding them (the
//! call did nothing) or after (the call took effect, its answer was lost), and
//! the emulator's counters show what the cloud did.

mod support;
use support::{EmulatorProcess, Project, header, task};

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

const NAME: &str = "orders_sync";

/// The calls the proxy can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Call {
    /// E2 with `is_create_task = "true"`.
    Register,
    /// E3.
    Start,
    /// E11.
    Delete,
}

/// A failure answered instead of the emulator's answer: before forwarding
/// the request, or after the emulator acted on it.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Before(u16, &'static str),
    After(u16, &'static str),
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    faults: Mutex<HashMap<Call, VecDeque<Fault>>>,
    sent: Mutex<HashMap<Call, u32>>,
}

fn classify(method: &Method, path: &str, body: &[u8]) -> Option<Call> {
    let body = String::from_utf8_lossy(body);
    match method.as_str() {
        "POST" if path.ends_with("/table-config-check") => body
            .contains(r#""is_create_task":"true""#)
            .then_some(Call::Register),
        "POST" if path.ends_with("/replication") => Some(Call::Start),
        "DELETE" if path.ends_with("/replication") => Some(Call::Delete),
        _ => None,
    }
}

fn failure(status: u16, code: &str) -> Response {
    let body = json!({"error_code": code, "error_msg": "failed by the test proxy"});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

async fn forward(
    proxy: &Proxy,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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

async fn handle(
    axum::extract::State(proxy): axum::extract::State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(call) = classify(&method, uri.path(), &body) else {
        return forward(&proxy, method, &uri, headers, body).await;
    };
    *proxy.sent.lock().unwrap().entry(call).or_default() += 1;
    let fault = proxy
        .faults
        .lock()
        .unwrap()
        .get_mut(&call)
        .and_then(VecDeque::pop_front);
    match fault {
        None => forward(&proxy, method, &uri, headers, body).await,
        Some(Fault::Before(status, code)) => failure(status, code),
        Some(Fault::After(status, code)) => {
            forward(&proxy, method, &uri, headers, body).await;
            failure(status, code)
        }
    }
}

/// The emulator process, the proxy in front of it and a project using the proxy.
struct Setup {
    emu: EmulatorProcess,
    proxy: Arc<Proxy>,
    project: Project,
    _rt: tokio::runtime::Runtime,
}

impl Setup {
    fn new() -> Setup {
        let emu = EmulatorProcess::start();
        let proxy = Arc::new(Proxy {
            upstream: emu.url.clone(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            faults: Mutex::default(),
            sent: Mutex::default(),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(proxy.clone());
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        let project = Project::new(&format!(
            "{}{}",
            header(&url),
            task(NAME, "shop_olap", &["orders"])
        ));
        Setup {
            emu,
            proxy,
            project,
            _rt: rt,
        }
    }

    fn fail(&self, call: Call, faults: &[Fault]) {
        self.proxy
            .faults
            .lock()
            .unwrap()
            .insert(call, faults.iter().copied().collect());
    }

    fn sent(&self, call: Call) -> u32 {
        self.proxy
            .sent
            .lock()
            .unwrap()
            .get(&call)
            .copied()
            .unwrap_or(0)
    }

    fn starts(&self) -> u64 {
        self.emu.stats()["starts"].as_u64().unwrap()
    }
}

const LOST_500: Fault = Fault::After(500, "DBS.200001");
const UNSENT_503: Fault = Fault::Before(503, "DBS.200001");

#[test]
fn a_registration_that_failed_before_taking_effect_is_sent_again() {
    let s = Setup::new();
    s.fail(Call::Register, &[UNSENT_503, UNSENT_503]);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(s.sent(Call::Register), 3);
    assert_eq!(s.emu.creates(NAME), 1);
    assert_eq!(s.starts(), 1);
    s.project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_registration_whose_answer_was_lost_is_not_sent_again() {
    let s = Setup::new();
    s.fail(Call::Register, &[LOST_500]);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(s.sent(Call::Register), 1, "the lookup found the task");
    assert_eq!(s.emu.creates(NAME), 1);
    assert_eq!(s.starts(), 1);
    s.project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_refused_registration_is_not_sent_again() {
    let s = Setup::new();
    s.fail(Call::Register, &[Fault::Before(400, "DBS.280001")]);
    let (code, _, err) = s.project.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("DBS.280001"), "{err}");
    assert_eq!(s.sent(Call::Register), 1);
    assert_eq!(s.emu.creates(NAME), 0);
}

#[test]
fn a_registration_failing_every_time_stops_when_the_retry_budget_is_spent() {
    let s = Setup::new();
    s.fail(Call::Register, &[UNSENT_503; 10_000]);
    let mut apply = s.project.cmd(&["apply", "--auto-approve"]);
    apply.env("HTAPSYNC_RETRY_MAX_ELAPSED", "3s");
    let (code, _, err) = s.project.run_cmd(apply);
    assert_eq!(code, 1, "{err}");
    // Each answer is a 503 the backend may have acted on: looked up, found
    // absent, sent again, until the budget of time ends the call.
    let sent = s.sent(Call::Register);
    assert!(sent > 1 && sent < 10_000, "{sent} registrations sent");
    assert_eq!(s.emu.creates(NAME), 0);
}

#[test]
fn a_start_that_failed_before_taking_effect_is_sent_again() {
    let s = Setup::new();
    s.fail(Call::Start, &[UNSENT_503]);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(s.sent(Call::Start), 2);
    assert_eq!(s.starts(), 1);
    assert_eq!(s.emu.creates(NAME), 1);
}

#[test]
fn a_start_whose_answer_was_lost_is_not_sent_again() {
    let s = Setup::new();
    s.fail(Call::Start, &[LOST_500]);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    // A started task stays in stage Wait for a moment, where the lookup
    // cannot tell it from one never started: then the start is sent again
    // and the cloud refuses it as one of a started task, which counts as done.
    assert!(
        (1..=2).contains(&s.sent(Call::Start)),
        "{}",
        s.sent(Call::Start)
    );
    assert_eq!(s.starts(), 1, "started once");
    s.project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_delete_waits_while_the_task_is_busy_but_not_after_a_refusal() {
    let s = Setup::new();
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    let busy = Fault::Before(409, "DBS.200019");
    s.fail(Call::Delete, &[busy, busy]);
    let config = s.project.config();
    s.project
        .write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    assert!(!s.project.config().contains(NAME));
    s.project
        .run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert_eq!(s.sent(Call::Delete), 3);
    assert_eq!(s.emu.stats()["deletes"], 1);

    s.project.write_config(&config);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    s.fail(Call::Delete, &[Fault::Before(400, "DBS.280001")]);
    s.project
        .write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    let (code, _, err) = s
        .project
        .run(&["apply", "--auto-approve", "--allow-destructive"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(s.sent(Call::Delete), 4);
    assert_eq!(s.emu.stats()["deletes"], 1);
}

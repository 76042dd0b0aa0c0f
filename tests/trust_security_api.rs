//! Issue 17, API client and emulator: AK/SK signatures bound to the host and
//! the body's type, no proxy for loopback, private CAs and certificate errors,
//! a capped response body, a non-dumpable process while credentials are held,
//! and an emulator that authenticates before it reads a body.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hmac::{Hmac, Mac};
use htapsync::api::wire::TaskConfigRequest;
use htapsync::api::{ApiErrorKind, Client, ClientConfig, Credentials};
use htapsync::emulator::{AuthMode, Emulator, EmulatorConfig, app, spawn};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::router::{check_body, repl, shop_config};
use support::{Config, EmulatorProcess, clean_cmd, output, tasks};
use support::{HTAP, PROJECT, SRC};
use tower::ServiceExt;

const AK: &str = "AKTRUST1234567890";
const SK: &str = "sk-trust-0f9e8d7c";

fn aksk_config() -> EmulatorConfig {
    EmulatorConfig {
        auth: AuthMode::AkSk {
            ak: AK.into(),
            sk: SK.into(),
        },
        ..shop_config()
    }
}

fn aksk_credentials() -> Credentials {
    Credentials::AkSk {
        ak: AK.into(),
        sk: SK.into(),
        security_token: None,
    }
}

fn client(endpoint: &str, credentials: Credentials) -> Client {
    let mut cfg = ClientConfig::new(endpoint, PROJECT, credentials);
    cfg.max_retries = 0;
    Client::new(cfg).unwrap()
}

fn db_check_request() -> TaskConfigRequest {
    TaskConfigRequest {
        source_instance_id: Some(SRC.into()),
        source_database_name: Some("shop".into()),
        task_name: Some("signed_task".into()),
        ..Default::default()
    }
}

/// One request as a server received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    uri: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// An HTTP server on loopback that records every request and answers `{}`.
async fn recorder() -> (String, Arc<Mutex<Vec<Recorded>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            log.lock().unwrap().push(Recorded {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body: body.to_vec(),
            });
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn aksk_signature_covers_host_and_content_type_so_a_replay_to_another_host_fails() {
    let emu = Emulator::new(aksk_config()).unwrap();
    let running = spawn(emu.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // The client's own requests pass the emulator's verifier, GET and POST.
    let direct = client(&running.url(), aksk_credentials());
    direct.list_tasks(HTAP).await.unwrap();
    direct
        .check_db_config(HTAP, &db_check_request())
        .await
        .unwrap();
    assert_eq!(emu.stats().auth_failures, 0);

    // A request captured on its way to one host...
    let (other, seen) = recorder().await;
    let _ = client(&other, aksk_credentials())
        .check_db_config(HTAP, &db_check_request())
        .await;
    let captured = seen.lock().unwrap()[0].clone();
    let authorization = captured.headers["authorization"].to_str().unwrap();
    let signed = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap();
    let signed: Vec<&str> = signed.split(';').collect();
    for name in ["content-type", "host", "x-sdk-date"] {
        assert!(signed.contains(&name), "{name} is not signed: {signed:?}");
    }
    assert_eq!(
        captured.headers["host"].to_str().unwrap(),
        other.trim_start_matches("http://")
    );

    // ...and replayed verbatim, within the 15 minutes, to another: refused.
    let mut replay = reqwest::Client::new().request(
        captured.method.parse().unwrap(),
        format!("{}{}", running.url(), captured.uri),
    );
    for (name, value) in &captured.headers {
        if name != "host" && name != "content-length" {
            replay = replay.header(name, value);
        }
    }
    let answer = replay.body(captured.body.clone()).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(body["request_id"].is_string(), "{body}");
    assert_eq!(emu.stats().auth_failures, 1);
    running.shutdown().await;
}

#[test]
fn plan_signed_with_aksk_passes_the_emulator_process() {
    let work = tempfile::tempdir().unwrap();
    let emu =
        EmulatorProcess::quickstart(work.path(), &["--ak", AK], &[("HTAPSYNC_EMULATOR_SK", SK)]);
    let cfg = Config::new(&emu.url, &tasks(1));
    let mut cmd = clean_cmd();
    cmd.arg("-C")
        .arg(cfg.dir.path())
        .arg("plan")
        .env("HTAPSYNC_ACCESS_KEY", AK)
        .env("HTAPSYNC_SECRET_KEY", SK);
    let (code, out, err) = output(&mut cmd);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("t000"), "{out}");
    assert_eq!(emu.stats()["auth_failures"], 0);
}

// ---- the emulator's verifier (over the router, no socket) ----

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Signs a POST the way the reference describes, written out independently of
/// both htapsync signers: `signed` names the signed headers (sorted), `headers`
/// their values, `body_hash` the canonical body hash.
fn signature(path: &str, headers: &[(&str, &str)], signed: &[&str], body_hash: &str) -> String {
    let date = headers.iter().find(|(k, _)| *k == "x-sdk-date").unwrap().1;
    let mut canonical_headers = String::new();
    for name in signed {
        let value = headers.iter().find(|(k, _)| k == name).unwrap().1;
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "POST\n{path}/\n\n{canonical_headers}\n{}\n{body_hash}",
        signed.join(";")
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!(
        "SDK-HMAC-SHA256 Access={AK}, SignedHeaders={}, Signature={sig}",
        signed.join(";")
    )
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

/// A POST of `body` carrying `headers` plus `authorization`.
fn post(path: &str, headers: &[(&str, &str)], authorization: &str, body: Body) -> Request<Body> {
    let mut req = Request::builder().method("POST").uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.header("authorization", authorization)
        .body(body)
        .unwrap()
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn verifier_requires_host_and_content_type_to_be_signed() {
    let emu = Emulator::new(aksk_config()).unwrap();
    let app = app(emu.clone());
    let path = repl("/table-config-check");
    let body = check_body(
        "verify_task",
        "include_tables",
        "part",
        &["orders"],
        &[],
        false,
    )
    .to_string();
    let length = body.len().to_string();
    let date = now();
    let headers = [
        ("content-length", length.as_str()),
        ("content-type", "application/json"),
        ("host", "emulator.test"),
        ("x-sdk-date", date.as_str()),
    ];
    let hash = hex_sha256(body.as_bytes());
    let all = ["content-type", "host", "x-sdk-date"];
    let good = signature(&path, &headers, &all, &hash);
    let (status, answer) = send(&app, post(&path, &headers, &good, body.clone().into())).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Signed for another host, sent to this one.
    let elsewhere = [
        ("content-type", "application/json"),
        ("host", "attacker.test"),
        ("x-sdk-date", date.as_str()),
    ];
    let for_other = signature(&path, &elsewhere, &all, &hash);
    // Valid signatures that leave out the host or the content type.
    let no_host = signature(&path, &headers, &["content-type", "x-sdk-date"], &hash);
    let no_type = signature(&path, &headers, &["host", "x-sdk-date"], &hash);
    for auth in [for_other, no_host, no_type] {
        let (status, answer) = send(&app, post(&path, &headers, &auth, body.clone().into())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}: {answer}");
        assert_eq!(answer["error_code"], "APIGW.0301");
        assert!(answer["request_id"].is_string(), "{answer}");
    }
    assert_eq!(emu.stats().auth_failures, 3);
}

#[tokio::test]
async fn an_unsigned_content_sha256_header_does_not_stand_in_for_the_body() {
    let emu = Emulator::new(aksk_config()).unwrap();
    let app = app(emu.clone());
    let path = repl("/table-config-check");
    let original = check_body("sha_task", "include_tables", "part", &["orders"], &[], true);
    let swapped = check_body(
        "evil_task",
        "include_tables",
        "part",
        &["orders"],
        &[],
        true,
    );
    let (original, swapped) = (original.to_string(), swapped.to_string());
    let original_hash = hex_sha256(original.as_bytes());
    let length = swapped.len().to_string();
    let date = now();
    let headers = [
        ("content-length", length.as_str()),
        ("content-type", "application/json"),
        ("host", "emulator.test"),
        ("x-sdk-content-sha256", original_hash.as_str()),
        ("x-sdk-date", date.as_str()),
    ];
    // Signed over the original body; the hash header itself is not signed.
    let auth = signature(
        &path,
        &headers,
        &["content-type", "host", "x-sdk-date"],
        &original_hash,
    );
    let (status, answer) = send(&app, post(&path, &headers, &auth, swapped.into())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error_code"], "APIGW.0301");
    assert!(emu.stats().creates_per_task.is_empty());
}

/// A request body that records whether anyone read it.
fn watched_body(read: Arc<AtomicBool>) -> Body {
    let chunk = futures_util::stream::once(async move {
        read.store(true, Ordering::SeqCst);
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{}"))
    });
    Body::from_stream(chunk)
}

#[tokio::test]
async fn unauthenticated_requests_are_refused_before_their_body_is_read() {
    for auth in [AuthMode::Token("right".into()), aksk_config().auth] {
        let emu = Emulator::new(EmulatorConfig {
            auth,
            ..shop_config()
        })
        .unwrap();
        let read = Arc::new(AtomicBool::new(false));
        let req = Request::builder()
            .method("POST")
            .uri(repl("/table-config-check"))
            .header("content-type", "application/json")
            .header("x-auth-token", "wrong")
            .body(watched_body(read.clone()))
            .unwrap();
        let (status, answer) = send(&app(emu), req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error_code"], "APIGW.0301");
        assert!(!read.load(Ordering::SeqCst), "the body was read");
    }
}

#[tokio::test]
async fn one_body_limit_answered_in_the_gateway_error_shape() {
    let (_, app) = support::router::shop_app();
    let request = |body: Vec<u8>| {
        Request::builder()
            .method("POST")
            .uri(repl("/table-config-check"))
            .header("x-auth-token", "t")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    // Over the limit: 413 in the gateway's shape, with the request id.
    let (status, answer) = send(&app, request(vec![b' '; 16 * 1024 * 1024 + 1])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error_code"], "APIGW.0201");
    assert!(answer["request_id"].is_string(), "{answer}");
    // Under it (but over axum's 2 MB default): the handler judges the content.
    let mut big = check_body(
        "big_task",
        "include_tables",
        "part",
        &["orders"],
        &[],
        false,
    )
    .to_string()
    .into_bytes();
    big.extend(std::iter::repeat_n(b' ', 3 * 1024 * 1024));
    let (status, answer) = send(&app, request(big)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["task_name"], "big_task");
}

// ---- proxies ----

/// A TCP listener on loopback that counts connections (and closes them).
fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[test]
fn loopback_endpoints_never_go_through_a_proxy() {
    let (proxy, connections) = counting_listener();
    let proxy_url = format!("http://{proxy}");
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let cfg = Config::new(&emu.url, &tasks(1));
    let mut cmd = cfg.cmd(&["plan"]);
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    for var in PROXY_VARS {
        cmd.env(var, &proxy_url);
    }
    let (code, out, err) = output(&mut cmd);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("t000"), "{out}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the proxy saw a request"
    );
}

#[test]
fn other_endpoints_still_use_https_proxy() {
    let (proxy, connections) = counting_listener();
    let cfg = Config::new(
        "https://gaussdb.ap-southeast-1.myhuaweicloud.com",
        &tasks(1),
    );
    let mut cmd = cfg.cmd(&["plan"]);
    cmd.env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTPS_PROXY", format!("http://{proxy}"))
        .env("HTAPSYNC_REQUEST_TIMEOUT", "5s")
        .env("HTAPSYNC_RETRY_MAX_ELAPSED", "2s");
    let (code, out, err) = output(&mut cmd);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        connections.load(Ordering::SeqCst) >= 1,
        "the request did not go to the proxy: {err}"
    );
}

// ---- TLS with a private CA ----

/// A TLS front on loopback for `upstream` (plain HTTP); counts connections.
async fn tls_front(dir: &Path, upstream: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("leaf.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            seen.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut plain = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (addr, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_through_ca_file_and_an_untrusted_certificate_fails_once() {
    let certs = tempfile::tempdir().unwrap();
    if !support::tls::private_ca(certs.path(), "htapsync test CA") {
        // CI installs openssl; elsewhere say by name what did not run.
        assert!(
            std::env::var_os("CI").is_none(),
            "the openssl command is needed in CI"
        );
        eprintln!(
            "skipped: a_private_ca_is_trusted_through_ca_file_and_an_untrusted_certificate_fails_once \
             (the openssl command is not available)"
        );
        return;
    }
    let emu = Emulator::new(shop_config()).unwrap();
    let running = spawn(emu, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (front, handshakes) = tls_front(certs.path(), running.addr).await;
    let cfg = Config::new(&format!("https://{front}"), &tasks(1));
    let plan = |cfg: &Config| {
        let mut cmd = cfg.cmd(&["plan"]);
        cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
        output(&mut cmd)
    };

    let (code, out, err) = tokio::task::block_in_place(|| plan(&cfg));
    let text = format!("{out}\n{err}");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("certificate is not trusted"), "{text}");
    assert!(text.contains("set ca_file in [provider]"), "{text}");
    assert!(text.contains("1 attempt)"), "{text}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "not retried");

    std::fs::copy(certs.path().join("ca.pem"), cfg.path("ca.pem")).unwrap();
    let toml = std::fs::read_to_string(cfg.path("htapsync.toml")).unwrap();
    let toml = toml.replacen("[provider]\n", "[provider]\nca_file = \"ca.pem\"\n", 1);
    std::fs::write(cfg.path("htapsync.toml"), toml).unwrap();
    let (code, out, err) = tokio::task::block_in_place(|| plan(&cfg));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("t000"), "{out}");
    running.shutdown().await;
}

// ---- response size ----

/// A server on loopback answering every request with `head` and then `body`
/// until the client hangs up.
fn endless_server(head: &'static str, body: fn(&mut TcpStream) -> std::io::Result<()>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request);
                let _ = stream
                    .write_all(head.as_bytes())
                    .and_then(|()| body(&mut stream));
            });
        }
    });
    url
}

fn chunks_forever(stream: &mut TcpStream) -> std::io::Result<()> {
    let chunk = vec![b' '; 1 << 20];
    loop {
        stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        stream.write_all(&chunk)?;
        stream.write_all(b"\r\n")?;
    }
}

fn a_little_then_wait(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(b"{\"tasks\": [")?;
    let mut rest = [0u8; 1];
    stream.read(&mut rest).map(drop)
}

#[test]
fn oversized_responses_fail_clearly_instead_of_filling_memory() {
    let declared = endless_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1099511627776\r\n\r\n",
        a_little_then_wait,
    );
    let streamed = endless_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunks_forever,
    );
    for url in [declared, streamed] {
        let cfg = Config::new(&url, &tasks(1));
        let (code, out, err) = cfg.run(&["plan"]);
        let text = format!("{out}\n{err}");
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("response body too large"), "{text}");
        assert!(text.contains("1 attempt)"), "{text}");
    }
}

#[tokio::test]
async fn the_response_cap_is_a_client_setting() {
    let (url, _) = recorder().await;
    let mut cfg = ClientConfig::new(&url, PROJECT, Credentials::Token("t".into()));
    cfg.max_response_bytes = 1;
    let err = Client::new(cfg)
        .unwrap()
        .list_tasks(HTAP)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::ResponseTooLarge, "{err}");
    assert_eq!(err.attempts, 1);
}

// ---- the process while it holds credentials ----

/// The owner of `/proc/PID/environ`: the process's user while it is dumpable,
/// root once it is not (proc(5)).
fn proc_owner(pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/environ"))
        .unwrap()
        .uid()
}

#[test]
fn the_process_is_not_dumpable_while_it_holds_credentials() {
    use std::os::unix::process::CommandExt;
    // A server that accepts and never answers keeps `plan` waiting with its token loaded.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cfg = Config::new(&url, &tasks(1));
    let mut cmd = cfg.cmd(&["plan"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let as_root = proc_owner(std::process::id()) == 0;
    if as_root {
        // Only a process of another user shows the difference to root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(cfg.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd.spawn().unwrap();
    // Wait for its first request; if it exits instead, show why.
    listener.set_nonblocking(true).unwrap();
    let _connection = loop {
        match listener.accept() {
            Ok((connection, _)) => break connection,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("plan exited ({status}) before sending a request");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    let pid = child.id();
    let result = if as_root {
        (proc_owner(pid) == 0)
            .then_some(())
            .ok_or("owned by its user")
    } else {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
            _ => Err("its environment is readable"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(result, Ok(()), "the process holding a token is dumpable");
}

#[test]
fn the_emulator_takes_its_secrets_from_the_environment() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(
        work.path(),
        &[],
        &[("HTAPSYNC_EMULATOR_TOKEN", "env-only-token")],
    );
    let cfg = Config::new(&emu.url, &tasks(1));
    let (code, out, err) = cfg.run(&["plan"]);
    let text = format!("{out}\n{err}");
    assert_eq!(
        code, 1,
        "a token other than the emulator's is refused: {text}"
    );
    assert!(text.contains("APIGW.0301"), "{text}");
    let mut cmd = cfg.cmd(&["plan"]);
    cmd.env("HTAPSYNC_TOKEN", "env-only-token");
    let (code, out, err) = output(&mut cmd);
    assert_eq!(code, 0, "{out}\n{err}");
}

//! What happens around the handlers: authentication (token and AK/SK), injected
//! faults, latency, persistence across restarts, the command-line options, and
//! one test over a real socket.

mod support;

use axum::http::StatusCode;
use clap::Parser;
use hmac::{Hmac, Mac};
use htapsync::emulator::{AuthMode, Emulator, EmulatorArgs, EmulatorConfig, app, spawn};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use support::router::*;

fn app_with(cfg: EmulatorConfig) -> (Emulator, axum::Router) {
    let emu = Emulator::new(cfg).unwrap();
    (emu.clone(), app(emu))
}

#[tokio::test]
async fn token_mode_accepts_only_its_token() {
    let (emu, app) = app_with(EmulatorConfig {
        auth: AuthMode::Token("s3cret".into()),
        ..shop_config()
    });
    let ok = call_with(&app, "GET", &repl(""), None, &[("x-auth-token", "s3cret")]).await;
    assert_eq!(ok.status, StatusCode::OK);
    let wrong = call_with(&app, "GET", &repl(""), None, &[("x-auth-token", "guess")]).await;
    assert_eq!(
        (wrong.status, wrong.error().0),
        (StatusCode::UNAUTHORIZED, "APIGW.0301")
    );
    let request_id = wrong.headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        wrong.body["request_id"], request_id,
        "gateway errors carry the request id"
    );
    let missing = call_with(&app, "GET", &repl(""), None, &[]).await;
    assert_eq!(
        (missing.status, missing.error().0),
        (StatusCode::UNAUTHORIZED, "APIGW.0301")
    );
    let health = call_with(&app, "GET", "/_emulator/health", None, &[]).await;
    assert_eq!(
        (health.status, &health.body),
        (StatusCode::OK, &json!({"status": "ok"}))
    );
    assert_eq!(emu.stats().auth_failures, 2);
}

#[tokio::test]
async fn any_token_mode_needs_a_non_empty_token() {
    let (_, app) = shop_app();
    assert_eq!(
        call_with(
            &app,
            "GET",
            &repl(""),
            None,
            &[("x-auth-token", "anything")]
        )
        .await
        .status,
        StatusCode::OK
    );
    let empty = call_with(&app, "GET", &repl(""), None, &[("x-auth-token", "")]).await;
    assert_eq!(
        (empty.status, empty.error().0),
        (StatusCode::UNAUTHORIZED, "APIGW.0301")
    );
    assert_eq!(
        call_with(&app, "GET", &repl(""), None, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Signs a request the way the Python SDK does (content-type;host;x-sdk-date),
/// written out from the reference, independently of the emulator's code.
fn signed_headers(ak: &str, sk: &str, path: &str, body: &str, date: &str) -> Vec<(String, String)> {
    let canonical = format!(
        "POST\n{path}/\n\ncontent-type:application/json\nhost:emulator.test\nx-sdk-date:{date}\n\n\
         content-type;host;x-sdk-date\n{}",
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    vec![
        ("host".into(), "emulator.test".into()),
        ("x-sdk-date".into(), date.into()),
        (
            "authorization".into(),
            format!(
                "SDK-HMAC-SHA256 Access={ak}, SignedHeaders=content-type;host;x-sdk-date, Signature={sig}"
            ),
        ),
    ]
}

#[tokio::test]
async fn aksk_mode_verifies_signatures() {
    let (emu, app) = app_with(EmulatorConfig {
        auth: AuthMode::AkSk {
            ak: "MYAK".into(),
            sk: "MYSK".into(),
        },
        ..shop_config()
    });
    let path = repl("/table-config-check");
    let body = check_body(
        "signed_task",
        "include_tables",
        "part",
        &["customers"],
        &[],
        true,
    );
    let text = body.to_string();
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let send = |headers: Vec<(String, String)>| {
        let (app, path, body) = (app.clone(), path.clone(), body.clone());
        async move {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            call_with(&app, "POST", &path, Some(body), &h).await
        }
    };
    let good = send(signed_headers("MYAK", "MYSK", &path, &text, &now)).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    assert_eq!(emu.stats().creates_per_task.get("signed_task"), Some(&1));

    for (ak, sk) in [("MYAK", "WRONG"), ("OTHER", "MYSK")] {
        let r = send(signed_headers(ak, sk, &path, &text, &now)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.error(),
            (
                "APIGW.0301",
                "Incorrect IAM authentication information: verify aksk signature fail"
            )
        );
    }
    let old = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let stale = send(signed_headers("MYAK", "MYSK", &path, &text, &old)).await;
    assert_eq!(
        (stale.status, stale.error().0),
        (StatusCode::UNAUTHORIZED, "APIGW.0303")
    );
    let token_only = send(vec![("x-auth-token".into(), "tok".into())]).await;
    assert_eq!(token_only.error().0, "APIGW.0301");
    assert_eq!(emu.stats().auth_failures, 4);
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_changes_nothing() {
    let (emu, app) = app_with(EmulatorConfig {
        throttle_rate: 1.0,
        ..shop_config()
    });
    let body = check_body(
        "t_throttled",
        "include_tables",
        "part",
        &["customers"],
        &[],
        true,
    );
    let r = call(&app, "POST", &repl("/table-config-check"), Some(body)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.error().0, "APIGW.0308");
    assert!(
        r.error()
            .1
            .starts_with("The throttling threshold has been reached")
    );
    let s = emu.stats();
    assert!(s.creates_per_task.is_empty());
    assert_eq!((s.requests, s.throttled), (1, 1));
}

async fn statuses(seed: u64) -> Vec<u16> {
    let (_, app) = app_with(EmulatorConfig {
        error_rate: 0.5,
        seed,
        ..shop_config()
    });
    let mut out = Vec::new();
    for _ in 0..30 {
        let r = call(&app, "GET", &repl(""), None).await;
        if r.status == StatusCode::INTERNAL_SERVER_ERROR {
            assert_eq!(
                r.error(),
                ("DBS.200001", "Internal server error (injected)")
            );
        }
        out.push(r.status.as_u16());
    }
    out
}

#[tokio::test]
async fn injected_errors_are_reproducible_with_the_seed() {
    let first = statuses(7).await;
    assert_eq!(first, statuses(7).await);
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");

    let (emu, app) = app_with(EmulatorConfig {
        error_rate: 1.0,
        ..shop_config()
    });
    let body = check_body(
        "t_faulted",
        "include_tables",
        "part",
        &["customers"],
        &[],
        true,
    );
    assert_eq!(
        call(&app, "POST", &repl("/table-config-check"), Some(body))
            .await
            .status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert!(
        emu.stats().creates_per_task.is_empty(),
        "a faulted request changes nothing"
    );
}

#[tokio::test]
async fn latency_delays_every_request() {
    let (_, app) = app_with(EmulatorConfig {
        latency: Duration::from_millis(60),
        ..shop_config()
    });
    let t = Instant::now();
    assert_eq!(
        call(&app, "GET", &repl(""), None).await.status,
        StatusCode::OK
    );
    assert!(t.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn data_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cloud.json");
    let cfg = || EmulatorConfig {
        data_path: Some(data.clone()),
        ..shop_config()
    };
    {
        let (_, app) = app_with(cfg());
        for task in ["kept_task", "gone_task"] {
            let body = check_body(task, "include_tables", "part", &["customers"], &[], true);
            assert_eq!(
                call(&app, "POST", &repl("/table-config-check"), Some(body))
                    .await
                    .status,
                StatusCode::OK
            );
        }
        let start = json!({"source_instance_id": SRC, "source_database": "shop", "target_database": "shop_ap", "task_name": "kept_task"});
        assert_eq!(
            call(&app, "POST", &repl(""), Some(start)).await.status,
            StatusCode::OK
        );
        let del = call(
            &app,
            "DELETE",
            &repl(""),
            Some(json!({"task_name": "gone_task"})),
        )
        .await;
        assert_eq!(del.status, StatusCode::OK);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (emu, app) = app_with(cfg());
    wait_stage(&app, "kept_task", "Incremental").await;
    poll("pending delete applied after restart", || async {
        list_row(&app, "gone_task").await.is_none().then_some(())
    })
    .await;
    let s = emu.stats();
    assert_eq!(
        (s.creates_per_task.get("kept_task"), s.starts, s.deletes),
        (Some(&1), 1, 1)
    );
    let body = check_body(
        "kept_task",
        "include_tables",
        "part",
        &["customers"],
        &[],
        true,
    );
    assert_eq!(
        call(&app, "POST", &repl("/table-config-check"), Some(body))
            .await
            .error()
            .0,
        "DBS.280239"
    );
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

#[test]
fn command_line_options_build_the_config() {
    let cloud = fixture("shop.toml");
    let cloud = cloud.to_str().unwrap();
    let cli = Cli::try_parse_from([
        "emulator",
        "--cloud",
        cloud,
        "--ak",
        "AK1",
        "--sk",
        "topsecretvalue",
        "--stage-ms",
        "5",
    ])
    .unwrap();
    let cfg = cli.args.to_config().unwrap();
    assert_eq!(
        cfg.auth,
        AuthMode::AkSk {
            ak: "AK1".into(),
            sk: "topsecretvalue".into()
        }
    );
    assert_eq!(cfg.stage_step, Duration::from_millis(5));
    assert_eq!(cli.args.listen.ip().to_string(), "127.0.0.1");
    assert!(!format!("{cfg:?}").contains("topsecretvalue"));
    assert!(
        Cli::try_parse_from([
            "emulator", "--cloud", cloud, "--token", "t", "--ak", "AK1", "--sk", "s"
        ])
        .is_err()
    );
    assert!(
        Cli::try_parse_from(["emulator", "--cloud", cloud, "--ak", "AK1"]).is_err()
            || std::env::var_os("HTAPSYNC_EMULATOR_SK").is_some()
    );
    let missing = Cli::try_parse_from(["emulator", "--cloud", "/nonexistent/cloud.toml"]).unwrap();
    assert!(
        missing
            .args
            .to_config()
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/cloud.toml")
    );
}

#[tokio::test]
async fn serves_real_http_on_a_free_port() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = Emulator::new(EmulatorConfig {
        auth: AuthMode::Token("tok".into()),
        ..shop_config()
    })
    .unwrap();
    let running = spawn(emu, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_ne!(running.addr.port(), 0);
    let base = running.url();
    let client = reqwest::Client::new();
    let body = check_body(
        "http_task",
        "include_tables",
        "part",
        &["orders"],
        &[("orders", "order by id")],
        true,
    );
    let r = client
        .post(format!("{base}{}", repl("/table-config-check")))
        .header("X-Auth-Token", "tok")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["tbl_config_check_results"][0]["check_result"], "success");
    let list: serde_json::Value = client
        .get(format!("{base}{}", repl("")))
        .header("X-Auth-Token", "tok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["replications"][0]["task_name"], "http_task");
    let stats: serde_json::Value = client
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["creates_per_task"]["http_task"], 1);
    running.shutdown().await;
    assert!(
        client
            .get(format!("{base}/_emulator/health"))
            .send()
            .await
            .is_err(),
        "server stopped"
    );
}

//! Which failures are retried for which kind of call, `Retry-After` parsing,
//! and the endpoint rule (https, or http only on loopback).

use std::time::{Duration, SystemTime};

use htapsync::api::retry::{Failure, Idempotency, is_throttled, parse_retry_after, should_retry};
use htapsync::api::validate_endpoint;

fn status(status: u16, code: Option<&str>) -> Failure<'_> {
    Failure::Status { status, code }
}

#[test]
fn safe_calls_retry_transient_failures_only() {
    let safe = Idempotency::Safe;
    for f in [Failure::Connect, Failure::Timeout, Failure::Transport] {
        assert!(should_retry(safe, f), "{f:?}");
    }
    for s in [500, 502, 503, 504, 429] {
        assert!(should_retry(safe, status(s, None)), "{s}");
    }
    assert!(should_retry(safe, status(400, Some("APIGW.0308"))));
    assert!(should_retry(safe, status(429, Some("APIG.0308"))));
    for s in [400, 401, 403, 404, 409, 422] {
        assert!(!should_retry(safe, status(s, Some("DBS.200022"))), "{s}");
    }
    assert!(!should_retry(safe, status(401, Some("APIGW.0301"))));
}

#[test]
fn task_creating_calls_retry_only_what_never_reached_the_backend() {
    let creates = Idempotency::CreatesTask;
    assert!(should_retry(creates, Failure::Connect));
    assert!(should_retry(creates, status(429, None)));
    assert!(should_retry(creates, status(429, Some("APIGW.0308"))));
    assert!(!should_retry(creates, Failure::Timeout));
    assert!(!should_retry(creates, Failure::Transport));
    for s in [500, 502, 503, 504, 400, 409] {
        assert!(!should_retry(creates, status(s, None)), "{s}");
    }
}

#[test]
fn throttling_is_429_or_the_gateway_codes() {
    assert!(is_throttled(429, None));
    assert!(is_throttled(400, Some("APIGW.0308")));
    assert!(!is_throttled(400, Some("DBS.200022")));
}

#[test]
fn retry_after_accepts_seconds_and_http_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:42 GMT", now),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-1", now), None);
}

#[test]
fn endpoints_must_be_https_except_on_loopback() {
    for ok in [
        "https://gaussdb.ap-southeast-1.myhuaweicloud.com",
        "https://10.0.0.1",
        "https://example.com/",
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://localhost:9000",
        "http://[::1]:8080",
    ] {
        assert!(
            validate_endpoint(ok).is_ok(),
            "{ok}: {:?}",
            validate_endpoint(ok)
        );
    }
    for bad in [
        "http://10.0.0.1",
        "http://gaussdb.example.com",
        "ftp://127.0.0.1",
        "gaussdb.example.com",
        "https://user:pw@example.com",
        "https://example.com/v3",
        "https://example.com?x=1",
    ] {
        assert!(validate_endpoint(bad).is_err(), "{bad} accepted");
    }
    let msg = validate_endpoint("http://10.0.0.1").unwrap_err();
    assert!(msg.contains("https://"), "{msg}");
}

#[test]
fn client_new_applies_the_endpoint_rule_and_iam_derivation() {
    use htapsync::api::{ApiErrorKind, Client, ClientConfig, Credentials};
    let token = || Credentials::Token("t".into());
    let project = "0123456789abcdef0123456789abcdef";
    assert!(
        Client::new(ClientConfig::new(
            "https://gaussdb.ap-southeast-1.myhuaweicloud.com",
            project,
            token()
        ))
        .is_ok()
    );
    assert!(Client::new(ClientConfig::new("http://127.0.0.1:8080", project, token())).is_ok());
    let err = Client::new(ClientConfig::new("http://10.0.0.1", project, token()))
        .err()
        .unwrap();
    assert_eq!(err.kind, ApiErrorKind::InvalidEndpoint);
    assert!(
        err.to_string().starts_with("client: invalid endpoint: "),
        "{err}"
    );

    let password = Credentials::Password {
        user: "u".into(),
        password: "p".into(),
        domain: "d".into(),
        iam_endpoint: None,
    };
    let err = Client::new(ClientConfig::new(
        "http://127.0.0.1:8080",
        project,
        password,
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("HTAPSYNC_IAM_ENDPOINT"), "{err}");
}

//! The published SDK-HMAC-SHA256 test vectors (API reference §8, from the Go
//! SDK's `signer_test.go`) and sign/verify round trips.

use htapsync::api::sign::{
    SignError, canonical_query, canonical_request, canonical_uri, format_sdk_date, parse_sdk_date,
    sign, verify,
};

const AK: &str = "AccessKey";
const SK: &str = "SecretKey";
const DATE: &str = "20060102T150405Z";

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn get_vector_matches_go_sdk() {
    let headers = pairs(&[("X-Sdk-Date", DATE), ("TEST_UNDERSCORE", "TEST_VALUE")]);
    let signed = sign(
        AK,
        SK,
        DATE,
        "GET",
        "/path",
        &pairs(&[("limit", "1")]),
        &headers,
        b"",
    );
    assert_eq!(
        signed.authorization,
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, \
         Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
    );
    assert_eq!(signed.signed_headers, vec!["x-sdk-date".to_string()]);
}

#[test]
fn post_vector_with_trailing_newline_matches_go_sdk() {
    let headers = pairs(&[
        ("X-Sdk-Date", DATE),
        ("TEST_UNDERSCORE", "TEST_VALUE"),
        ("Content-Type", "application/json"),
    ]);
    let body = b"{\"Name\":\"test\",\"Id\":1}\n";
    let signed = sign(
        AK,
        SK,
        DATE,
        "POST",
        "/path",
        &pairs(&[("key", "value")]),
        &headers,
        body,
    );
    assert_eq!(
        signed.signature,
        "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
    );
    assert_eq!(signed.signed_headers, vec!["x-sdk-date".to_string()]);
}

#[test]
fn canonical_query_vector_matches_go_sdk() {
    let query = pairs(&[
        ("limit", "1"),
        ("enable", "true"),
        ("test", "一 (&=?!#%.*)"),
        ("path", "/tmp/123"),
        ("multi", "1"),
        ("multi", "2"),
        ("multi", "3"),
    ]);
    assert_eq!(
        canonical_query(&query),
        "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123\
         &test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
    );
    assert_eq!(canonical_query(&[]), "");
}

#[test]
fn canonical_request_has_six_parts_and_blank_line_before_signed_headers() {
    let headers = pairs(&[("X-Sdk-Date", DATE), ("X-Language", " en-us ")]);
    let signed = vec!["x-language".to_string(), "x-sdk-date".to_string()];
    let canonical = canonical_request(
        "get",
        "/v3/p/jobs",
        &pairs(&[("id", "j 1")]),
        &headers,
        &signed,
        b"",
    );
    assert_eq!(
        canonical,
        "GET\n/v3/p/jobs/\nid=j%201\nx-language:en-us\nx-sdk-date:20060102T150405Z\n\n\
         x-language;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(canonical_uri("/a b/c/"), "/a%20b/c/");
}

#[test]
fn content_sha256_header_replaces_body_hash() {
    let headers = pairs(&[
        ("X-Sdk-Date", DATE),
        ("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"),
    ]);
    let signed = vec!["x-sdk-date".to_string()];
    let canonical = canonical_request("PUT", "/p", &[], &headers, &signed, b"anything");
    assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"), "{canonical}");
}

fn client_headers() -> Vec<(String, String)> {
    pairs(&[
        ("Content-Type", "application/json;charset=UTF-8"),
        ("User-Agent", "htapsync/0.1.0"),
        ("X-Language", "en-us"),
        ("X-Project-Id", "0123456789abcdef0123456789abcdef"),
        ("X-Sdk-Date", DATE),
    ])
}

#[test]
fn sign_picks_headers_like_go_sdk_and_verify_round_trips() {
    let headers = client_headers();
    let body = br#"{"task_name":"t01"}"#;
    let query = pairs(&[("limit", "100"), ("offset", "0")]);
    let path = "/v3/p/instances/i/starrocks/databases/replication";
    let signed = sign(AK, SK, DATE, "POST", path, &query, &headers, body);
    assert_eq!(
        signed.signed_headers,
        ["user-agent", "x-language", "x-project-id", "x-sdk-date"]
    );
    let ak = verify(
        SK,
        "POST",
        path,
        &query,
        &headers,
        body,
        &signed.authorization,
    );
    assert_eq!(ak, Ok(AK.to_string()));
}

#[test]
fn tampered_body_wrong_key_or_missing_date_fail_verify() {
    let headers = client_headers();
    let path = "/v3/p/x";
    let signed = sign(AK, SK, DATE, "POST", path, &[], &headers, b"{\"a\":1}");
    let tampered = verify(
        SK,
        "POST",
        path,
        &[],
        &headers,
        b"{\"a\":2}",
        &signed.authorization,
    );
    assert_eq!(tampered, Err(SignError::SignatureMismatch));
    let wrong_key = verify(
        "other",
        "POST",
        path,
        &[],
        &headers,
        b"{\"a\":1}",
        &signed.authorization,
    );
    assert_eq!(wrong_key, Err(SignError::SignatureMismatch));
    let no_date: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k != "X-Sdk-Date")
        .cloned()
        .collect();
    let missing = verify(
        SK,
        "POST",
        path,
        &[],
        &no_date,
        b"{\"a\":1}",
        &signed.authorization,
    );
    assert_eq!(missing, Err(SignError::MissingDate));
}

#[test]
fn verify_uses_the_listed_signed_headers_like_the_python_sdk() {
    // The Python SDK also signs content-type and host; the verifier must follow the list.
    let mut headers = client_headers();
    headers.push(("Host".into(), "127.0.0.1:8080".into()));
    let listed: Vec<String> = [
        "content-type",
        "host",
        "user-agent",
        "x-project-id",
        "x-sdk-date",
    ]
    .map(String::from)
    .to_vec();
    let canonical = canonical_request("POST", "/v3/p/x", &[], &headers, &listed, b"{}");
    let string_to_sign = format!(
        "SDK-HMAC-SHA256\n{DATE}\n{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()))
    );
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let auth = format!(
        "SDK-HMAC-SHA256 Access={AK}, SignedHeaders={}, Signature={signature}",
        listed.join(";")
    );
    assert_eq!(
        verify(SK, "POST", "/v3/p/x", &[], &headers, b"{}", &auth),
        Ok(AK.to_string())
    );
    // Changing a signed header that the Go SDK would not sign still breaks it.
    headers.retain(|(k, _)| k != "Content-Type");
    headers.push(("Content-Type".into(), "text/plain".into()));
    assert_eq!(
        verify(SK, "POST", "/v3/p/x", &[], &headers, b"{}", &auth),
        Err(SignError::SignatureMismatch)
    );
}

#[test]
fn malformed_authorization_and_unsigned_date_are_rejected() {
    let headers = client_headers();
    let bad = verify(SK, "GET", "/", &[], &headers, b"", "Bearer abc");
    assert!(matches!(bad, Err(SignError::MalformedAuthorization(_))));
    let unsigned_date = verify(
        SK,
        "GET",
        "/",
        &[],
        &headers,
        b"",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=user-agent, Signature=00",
    );
    assert_eq!(unsigned_date, Err(SignError::DateNotSigned));
}

#[test]
fn sdk_date_formats_and_parses() {
    let t = parse_sdk_date("20191115T033655Z").unwrap();
    assert_eq!(format_sdk_date(t), "20191115T033655Z");
    assert!(parse_sdk_date("2019-11-15").is_none());
}

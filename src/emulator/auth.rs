//! Authentication of emulator requests: `X-Auth-Token`, or AK/SK requests signed
//! with Huawei's `SDK-HMAC-SHA256` (API reference §8), verified here from the
//! documented algorithm independently of the client's signer, so a mistake in
//! one is caught by tests of the other.
//!
//! A verifier must sign exactly the headers the `SignedHeaders` list names: the
//! Go SDK and the Python SDK sign different sets. That list must still include
//! `host` (checked against the Host the request arrived with, so a captured
//! request cannot be replayed to another host) and, with a body, `content-type`.
//!
//! Authentication runs in two steps so that no body is read for a request
//! without valid credentials: [`authenticate`] looks at the headers only, and a
//! signed request's [`PendingSignature`] is then verified over the body.

use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

/// How the emulator authenticates requests.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Any non-empty `X-Auth-Token`, or any well-formed signed request.
    AnyToken,
    /// Only this `X-Auth-Token`.
    Token(String),
    /// Only requests signed with this key pair.
    AkSk { ak: String, sk: String },
}

impl fmt::Debug for AuthMode {
    /// Never prints the token or the secret key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::AnyToken => f.write_str("AnyToken"),
            AuthMode::Token(_) => f.write_str("Token(<redacted>)"),
            AuthMode::AkSk { ak, .. } => write!(f, "AkSk {{ ak: {ak:?}, sk: <redacted> }}"),
        }
    }
}

/// Why a request was refused: always HTTP 401 with this gateway code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub code: &'static str,
    pub msg: String,
}

const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Signed requests older or newer than this are refused (APIGW.0303).
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
const CONTENT_SHA256: &str = "x-sdk-content-sha256";
/// The `X-Sdk-Content-Sha256` value of a request whose body is not signed.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const SIGNATURE_FAIL: &str = "Incorrect IAM authentication information: verify aksk signature fail";

fn fail(msg: &str) -> AuthFailure {
    AuthFailure {
        code: "APIGW.0301",
        msg: msg.to_string(),
    }
}

/// The parts of a request that authentication looks at, all known before
/// any byte of the body is read.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (possibly percent-encoded).
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// As received: `host` is the Host this server was reached under.
    pub headers: &'a HeaderMap,
}

/// The fields of an `Authorization: SDK-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let (mut access, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Access" => access = Some(v.to_string()),
            "SignedHeaders" => signed = Some(v.split(';').map(str::to_lowercase).collect()),
            "Signature" => signature = Some(v.to_string()),
            _ => return None,
        }
    }
    Some(Authorization {
        access: access?,
        signed_headers: signed?,
        signature: signature?,
    })
}

/// What is left to check once the body has been read: the signature, whose
/// canonical request ends with the body's hash.
#[derive(Debug)]
pub struct PendingSignature<'a> {
    sk: &'a str,
    date: String,
    auth: Authorization,
}

impl PendingSignature<'_> {
    /// Recomputes the signature over `req` and `body`.
    pub fn verify(&self, req: &RequestParts, body: &[u8]) -> Result<(), AuthFailure> {
        let canonical = canonical_request(req, &self.auth.signed_headers, body)
            .ok_or_else(|| fail(SIGNATURE_FAIL))?;
        let expected = signature(self.sk, &self.date, &canonical);
        if constant_time_eq(expected.as_bytes(), self.auth.signature.as_bytes()) {
            Ok(())
        } else {
            Err(fail(SIGNATURE_FAIL))
        }
    }
}

/// Checks `req` against `mode` at time `now` from its headers alone, so a
/// request without valid credentials is refused before its body is read. A
/// signed request under `--ak/--sk` returns the signature check that still
/// needs the body.
pub fn authenticate<'m>(
    mode: &'m AuthMode,
    req: &RequestParts,
    now: DateTime<Utc>,
) -> Result<Option<PendingSignature<'m>>, AuthFailure> {
    let token = header(req.headers, "x-auth-token").filter(|t| !t.is_empty());
    let authorization = header(req.headers, "authorization");
    match mode {
        AuthMode::AnyToken if token.is_some() => Ok(None),
        AuthMode::Token(expected) if token.is_some() => {
            if token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes())) {
                Ok(None)
            } else {
                Err(fail(
                    "Incorrect IAM authentication information: decrypt token fail",
                ))
            }
        }
        _ => match authorization {
            None => Err(fail(
                "Incorrect IAM authentication information: no X-Auth-Token or Authorization header",
            )),
            Some(value) => check_signed_request(mode, req, value, now),
        },
    }
}

/// Whether the request announces a body (so its `Content-Type` must be signed).
fn declares_body(headers: &HeaderMap) -> bool {
    let length = header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || headers.contains_key("transfer-encoding")
}

fn check_signed_request<'m>(
    mode: &'m AuthMode,
    req: &RequestParts,
    value: &str,
    now: DateTime<Utc>,
) -> Result<Option<PendingSignature<'m>>, AuthFailure> {
    let auth = parse_authorization(value).ok_or_else(|| fail(SIGNATURE_FAIL))?;
    // The date bounds a replay in time, the host to this server, the content
    // type to the body's declared meaning.
    let signs = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    let mut required = vec!["x-sdk-date", "host"];
    if declares_body(req.headers) {
        required.push("content-type");
    }
    if !required.into_iter().all(signs) {
        return Err(fail(SIGNATURE_FAIL));
    }
    let date = header(req.headers, "x-sdk-date").ok_or_else(|| fail(SIGNATURE_FAIL))?;
    let signed_at = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| fail(SIGNATURE_FAIL))?
        .and_utc();
    if (now - signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECS {
        return Err(AuthFailure {
            code: "APIGW.0303",
            msg: "Incorrect IAM authentication information: signature expired".to_string(),
        });
    }
    match mode {
        AuthMode::AkSk { ak, sk } if auth.access == *ak => Ok(Some(PendingSignature {
            sk,
            date: date.to_string(),
            auth,
        })),
        // Without a key pair configured, a well-formed fresh signature is enough.
        AuthMode::AnyToken => Ok(None),
        AuthMode::AkSk { .. } | AuthMode::Token(_) => Err(fail(SIGNATURE_FAIL)),
    }
}

/// The canonical request of §8 step 2; `None` when a signed header is missing.
/// `X-Sdk-Content-Sha256` stands in for the body's hash only when it is itself
/// signed, and then only as `UNSIGNED-PAYLOAD` or the body's real hash:
/// otherwise anyone could swap the body of a captured request.
pub fn canonical_request(
    req: &RequestParts,
    signed_headers: &[String],
    body: &[u8],
) -> Option<String> {
    let mut sorted: Vec<String> = signed_headers.iter().map(|h| h.to_lowercase()).collect();
    sorted.sort();
    let mut headers = String::new();
    for name in &sorted {
        let mut values: Vec<&str> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.to_str().map(str::trim))
            .collect::<Result<_, _>>()
            .ok()?;
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        for v in values {
            headers.push_str(&format!("{name}:{v}\n"));
        }
    }
    let actual = hex::encode(Sha256::digest(body));
    let body_hash = match header(req.headers, CONTENT_SHA256) {
        Some(declared) if sorted.iter().any(|h| h == CONTENT_SHA256) => {
            if declared != UNSIGNED_PAYLOAD && !declared.eq_ignore_ascii_case(&actual) {
                return None;
            }
            declared.to_string()
        }
        _ => actual,
    };
    Some(
        [
            req.method.to_uppercase(),
            canonical_uri(req.path),
            canonical_query(req.query.unwrap_or("")),
            headers,
            sorted.join(";"),
            body_hash,
        ]
        .join("\n"),
    )
}

/// Lowercase hex HMAC-SHA256(SK, StringToSign) of §8 steps 3–4.
pub fn signature(sk: &str, sdk_date: &str, canonical_request: &str) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(sk.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn canonical_uri(path: &str) -> String {
    let mut uri = path
        .split('/')
        .map(|seg| encode(&percent_decode(seg)))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&percent_decode(k)), encode(&percent_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// §8 encoding: keep `A-Z a-z 0-9 - _ . ~`, everything else `%XX` (uppercase hex).
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes `%XX` escapes of the wire form; malformed escapes stay literal.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex_pair) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn vector_headers(extra: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-sdk-date", HeaderValue::from_static("20060102T150405Z"));
        h.insert("test_underscore", HeaderValue::from_static("1"));
        for (k, v) in extra {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn sign(method: &str, query: &str, headers: &HeaderMap, body: &[u8]) -> String {
        let req = RequestParts {
            method,
            path: "/path",
            query: Some(query),
            headers,
        };
        let canonical = canonical_request(&req, &["x-sdk-date".to_string()], body).unwrap();
        signature("SecretKey", "20060102T150405Z", &canonical)
    }

    #[test]
    fn published_get_vector() {
        let h = vector_headers(&[]);
        assert_eq!(
            sign("GET", "limit=1", &h, b""),
            "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
        );
    }

    #[test]
    fn published_post_vector() {
        let h = vector_headers(&[("content-type", "application/json")]);
        assert_eq!(
            sign("POST", "key=value", &h, b"{\"Name\":\"test\",\"Id\":1}\n"),
            "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
        );
    }

    #[test]
    fn published_canonical_query_vector() {
        let q = "limit=1&enable=true&test=%E4%B8%80%20(%26%3D%3F!%23%25.*)&path=%2Ftmp%2F123\
                 &multi=3&multi=1&multi=2";
        assert_eq!(
            canonical_query(q),
            "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123\
             &test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
        );
        assert_eq!(canonical_uri("/v3/p/jobs"), "/v3/p/jobs/");
    }

    fn signed_request_headers(sk: &str, date: &str, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-sdk-date", HeaderValue::from_str(date).unwrap());
        h.insert("host", HeaderValue::from_static("127.0.0.1:1"));
        let signed = vec!["host".to_string(), "x-sdk-date".to_string()];
        let req = RequestParts {
            method: "POST",
            path: "/v3/p/jobs",
            query: None,
            headers: &h,
        };
        let sig = signature(sk, date, &canonical_request(&req, &signed, body).unwrap());
        let auth =
            format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature={sig}");
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        h
    }

    #[test]
    fn aksk_mode_accepts_good_and_refuses_bad_or_stale_signatures() {
        let mode = AuthMode::AkSk {
            ak: "AK".into(),
            sk: "SK".into(),
        };
        let now = Utc::now();
        let date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let check = |h: &HeaderMap, body: &[u8]| {
            let req = RequestParts {
                method: "POST",
                path: "/v3/p/jobs",
                query: None,
                headers: h,
            };
            authenticate(&mode, &req, now)?.map_or(Ok(()), |pending| pending.verify(&req, body))
        };
        assert_eq!(
            check(&signed_request_headers("SK", &date, b"{}"), b"{}"),
            Ok(())
        );
        let wrong = check(&signed_request_headers("XX", &date, b"{}"), b"{}").unwrap_err();
        assert_eq!(wrong.code, "APIGW.0301");
        let tampered = check(&signed_request_headers("SK", &date, b"{}"), b"{ }").unwrap_err();
        assert_eq!(tampered.msg, SIGNATURE_FAIL);
        let old = (now - chrono::Duration::minutes(16)).format("%Y%m%dT%H%M%SZ");
        let stale = check(&signed_request_headers("SK", &old.to_string(), b""), b"").unwrap_err();
        assert_eq!(stale.code, "APIGW.0303");
        assert_eq!(
            check(&HeaderMap::new(), b"").unwrap_err().code,
            "APIGW.0301"
        );
    }

    #[test]
    fn token_modes_and_redacted_debug() {
        let mut h = HeaderMap::new();
        h.insert("x-auth-token", HeaderValue::from_static("tok"));
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: None,
            headers: &h,
        };
        let now = Utc::now();
        assert!(authenticate(&AuthMode::AnyToken, &req, now).is_ok());
        assert!(authenticate(&AuthMode::Token("tok".into()), &req, now).is_ok());
        assert!(authenticate(&AuthMode::Token("other".into()), &req, now).is_err());
        let debug = format!(
            "{:?} {:?}",
            AuthMode::Token("tok-secret".into()),
            AuthMode::AkSk {
                ak: "AK".into(),
                sk: "sk-secret".into()
            }
        );
        assert!(!debug.contains("secret"), "{debug}");
    }
}

//! AK/SK request signing, `SDK-HMAC-SHA256`, exactly as the API reference §8
//! documents it (and as Huawei's Go SDK implements it).
//!
//! The same functions sign requests in the client and verify them in the
//! emulator, so both sides are pinned by the published test vectors rather
//! than by agreeing with each other.
//!
//! `path` arguments are the *decoded* request path (what the URL means, not
//! how it was escaped on the wire): the canonical URI re-encodes each segment.

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::zeroize::Zeroizing;
use sha2::{Digest, Sha256};

/// The only algorithm the gateway accepts.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing timestamp; always signed.
pub const SDK_DATE_HEADER: &str = "x-sdk-date";
/// Header whose value, when present, replaces the body hash.
pub const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";
/// `X-Sdk-Date` format: UTC `YYYYMMDDTHHMMSSZ`.
const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

type HmacSha256 = Hmac<Sha256>;

/// What a signer adds to a request: the `Authorization` value and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAuth {
    /// Full `Authorization` header value.
    pub authorization: String,
    /// Lowercase, sorted names of the headers covered by the signature.
    pub signed_headers: Vec<String>,
    /// Lowercase hex HMAC-SHA256.
    pub signature: String,
}

/// Why a request's signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The `Authorization` header is not `SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`.
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(&'static str),
    /// The request has no `X-Sdk-Date` header.
    #[error("missing X-Sdk-Date header")]
    MissingDate,
    /// `x-sdk-date` is not among the signed headers, so the timestamp is unprotected.
    #[error("x-sdk-date is not a signed header")]
    DateNotSigned,
    /// The recomputed signature differs from the one presented.
    #[error("verify aksk signature fail")]
    SignatureMismatch,
}

/// Percent-encodes everything except `A–Z a–z 0–9 - _ . ~`, with uppercase hex.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Canonical URI: each segment encoded, always ending in `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = path
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Canonical query: keys and values encoded, sorted by key then value, joined by `&`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// One `name:value` line per value of each signed header, in the given order,
/// each line ending in `\n`. Absent headers contribute nothing, like the Go SDK.
fn canonical_headers(headers: &[(String, String)], signed_headers: &[String]) -> String {
    let mut block = String::new();
    for name in signed_headers {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        values.sort_unstable();
        for value in values {
            block.push_str(&format!("{name}:{value}\n"));
        }
    }
    block
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The six-part canonical request of §8 step 2, joined by `\n`.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let body_hash = match header_value(headers, CONTENT_SHA256_HEADER) {
        Some(v) => v.to_string(),
        None => sha256_hex(body),
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers(headers, signed_headers),
        signed_headers.join(";"),
        body_hash
    )
}

fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac_for(sk: &str, message: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(sk.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message.as_bytes());
    mac
}

/// The headers the Go SDK signs: every header set, except names starting with
/// `content-type` and names containing `_`, plus `x-sdk-date`; sorted, deduplicated.
fn headers_to_sign(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| !k.starts_with("content-type") && !k.contains('_'))
        .chain(std::iter::once(SDK_DATE_HEADER.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The headers the Python SDK signs: every header of the request, `host` and
/// `content-type` included, so a signature is only valid for the host it was
/// made for and for the declared type of its body; sorted, deduplicated.
fn every_header(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Signs a request, covering the headers the Go SDK covers (the choice the
/// published test vectors pin). `sdk_date` is used as the `X-Sdk-Date` value
/// whether or not `headers` contains it (the caller must send that same value).
#[allow(clippy::too_many_arguments)] // mirrors the parts of a request one-for-one
pub fn sign(
    ak: &str,
    sk: &str,
    sdk_date: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> SignedAuth {
    let request = Unsigned {
        method,
        path,
        query,
        headers,
        body,
    };
    sign_choosing(ak, sk, sdk_date, &request, headers_to_sign)
}

/// Signs a request covering every header in `headers`, as the Python SDK does;
/// what htapsync's client sends (with `Host` among the headers).
#[allow(clippy::too_many_arguments)] // mirrors the parts of a request one-for-one
pub fn sign_every_header(
    ak: &str,
    sk: &str,
    sdk_date: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> SignedAuth {
    let request = Unsigned {
        method,
        path,
        query,
        headers,
        body,
    };
    sign_choosing(ak, sk, sdk_date, &request, every_header)
}

/// The parts of a request a signature covers.
struct Unsigned<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(String, String)],
    headers: &'a [(String, String)],
    body: &'a [u8],
}

fn sign_choosing(
    ak: &str,
    sk: &str,
    sdk_date: &str,
    request: &Unsigned<'_>,
    choose: fn(&[(String, String)]) -> Vec<String>,
) -> SignedAuth {
    // Holds the security token when there is one, so it is wiped when dropped.
    let mut all_headers: Zeroizing<Vec<(String, String)>> = Zeroizing::new(
        request
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(SDK_DATE_HEADER))
            .cloned()
            .collect(),
    );
    all_headers.push((SDK_DATE_HEADER.to_string(), sdk_date.to_string()));
    let signed_headers = choose(&all_headers);
    let canonical = Zeroizing::new(canonical_request(
        request.method,
        request.path,
        request.query,
        &all_headers,
        &signed_headers,
        request.body,
    ));
    let signature = hex::encode(
        hmac_for(sk, &string_to_sign(sdk_date, &canonical))
            .finalize()
            .into_bytes(),
    );
    let authorization = format!(
        "{ALGORITHM} Access={ak}, SignedHeaders={}, Signature={signature}",
        signed_headers.join(";")
    );
    SignedAuth {
        authorization,
        signed_headers,
        signature,
    }
}

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParts {
    /// The access key.
    pub access: String,
    /// Signed header names, exactly as listed.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

/// Parses `SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`, tolerating extra spaces.
pub fn parse_authorization(value: &str) -> Result<AuthorizationParts, SignError> {
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .ok_or(SignError::MalformedAuthorization(
            "algorithm is not SDK-HMAC-SHA256",
        ))?;
    let (mut access, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, val) = part
            .trim()
            .split_once('=')
            .ok_or(SignError::MalformedAuthorization("expected key=value"))?;
        match key.trim() {
            "Access" => access = Some(val.trim().to_string()),
            "SignedHeaders" => signed = Some(val.trim().to_string()),
            "Signature" => signature = Some(val.trim().to_string()),
            _ => return Err(SignError::MalformedAuthorization("unknown key")),
        }
    }
    let access = access.ok_or(SignError::MalformedAuthorization("no Access"))?;
    let signed = signed.ok_or(SignError::MalformedAuthorization("no SignedHeaders"))?;
    let signature = signature.ok_or(SignError::MalformedAuthorization("no Signature"))?;
    if access.is_empty() || signed.is_empty() {
        return Err(SignError::MalformedAuthorization(
            "empty Access or SignedHeaders",
        ));
    }
    Ok(AuthorizationParts {
        access,
        signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        signature,
    })
}

/// Verifies a signed request using exactly the `SignedHeaders` it lists.
/// Returns the access key on success. Does not check clock skew (see [`parse_sdk_date`]).
pub fn verify(
    sk: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
    authorization_header: &str,
) -> Result<String, SignError> {
    let parts = parse_authorization(authorization_header)?;
    let sdk_date = header_value(headers, SDK_DATE_HEADER).ok_or(SignError::MissingDate)?;
    if !parts.signed_headers.iter().any(|h| h == SDK_DATE_HEADER) {
        return Err(SignError::DateNotSigned);
    }
    let presented = hex::decode(&parts.signature).map_err(|_| SignError::SignatureMismatch)?;
    let canonical = canonical_request(method, path, query, headers, &parts.signed_headers, body);
    hmac_for(sk, &string_to_sign(sdk_date.trim(), &canonical))
        .verify_slice(&presented) // constant-time comparison
        .map_err(|_| SignError::SignatureMismatch)?;
    Ok(parts.access)
}

/// Formats a timestamp as an `X-Sdk-Date` value.
pub fn format_sdk_date(t: DateTime<Utc>) -> String {
    t.format(SDK_DATE_FORMAT).to_string()
}

/// Parses an `X-Sdk-Date` value (for the ±15 min skew check a verifier makes).
pub fn parse_sdk_date(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), SDK_DATE_FORMAT)
        .ok()
        .map(|n| n.and_utc())
}

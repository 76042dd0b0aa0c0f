//! The gateway's rate limit (`--rate-limit N`): a token bucket per project and
//! credential holding at most N requests and refilled at N per second, as the
//! API gateway's "policy user over ratelimit, limit:N, time:1 second". A
//! request finding the bucket empty is answered 429 `APIGW.0308` with a
//! `Retry-After` saying when the next request passes, and never reaches a handler.

use super::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The buckets of every project and credential seen.
pub(crate) struct RateLimiter {
    /// Requests per second, also the burst.
    limit: u32,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

/// The requests a caller may still send at `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter of `limit` requests per second (and burst) per caller.
    pub(crate) fn new(limit: u32) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token of the caller of `path` with `headers`; when none is
    /// left, the time until one is.
    fn take(&self, path: &str, headers: &HeaderMap, now: Instant) -> Result<(), Duration> {
        let limit = f64::from(self.limit);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(caller(path, headers)).or_insert(Bucket {
            tokens: limit,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * limit;
        bucket.tokens = (bucket.tokens + refilled).min(limit);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / limit))
        }
    }

    /// `None` when the request may pass, else the gateway's 429 answer.
    pub(crate) fn check(
        &self,
        path: &str,
        headers: &HeaderMap,
        request_id: &str,
    ) -> Option<Response> {
        let wait = self.take(path, headers, Instant::now()).err()?;
        let msg = format!(
            "The throttling threshold has been reached: policy user over ratelimit,limit:{},time:1 second",
            self.limit
        );
        let mut response = ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "APIGW.0308",
            msg,
            request_id: Some(request_id.to_string()),
        }
        .into_response();
        // Whole seconds, as HTTP allows: the next token's time, rounded up.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds.max(1)));
        Some(response)
    }
}

/// Who a request counts against: its project (`/v3/{project_id}/…`) and its
/// credential (the token, or the access key of a signature), hashed so that
/// the limiter holds no secret.
fn caller(path: &str, headers: &HeaderMap) -> [u8; 32] {
    let project = path.trim_start_matches('/').split('/').nth(1).unwrap_or("");
    let header = |name: &str| headers.get(name).map_or(&[][..], HeaderValue::as_bytes);
    let (kind, credential) = match headers.get("x-auth-token") {
        Some(token) => (b"token", token.as_bytes()),
        None => (b"aksk\0", access_key(header("authorization"))),
    };
    let mut hash = Sha256::new();
    hash.update(project.as_bytes());
    hash.update([0]);
    hash.update(kind);
    hash.update(credential);
    hash.finalize().into()
}

/// `Access=AK` of an `SDK-HMAC-SHA256` authorization (the whole value otherwise).
fn access_key(authorization: &[u8]) -> &[u8] {
    let text = std::str::from_utf8(authorization).unwrap_or("");
    text.split([' ', ','])
        .find_map(|part| part.strip_prefix("Access="))
        .map_or(authorization, str::as_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-auth-token", HeaderValue::from_str(t).unwrap());
        h
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_the_bucket_refills_at_the_limit() {
        let limiter = RateLimiter::new(4);
        let (path, t0) = ("/v3/p1/instances", Instant::now());
        for _ in 0..4 {
            assert!(limiter.take(path, &token("a"), t0).is_ok());
        }
        let wait = limiter.take(path, &token("a"), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(250));
        // Another credential and another project have buckets of their own.
        assert!(limiter.take(path, &token("b"), t0).is_ok());
        assert!(limiter.take("/v3/p2/instances", &token("a"), t0).is_ok());
        let later = t0 + Duration::from_millis(250);
        assert!(limiter.take(path, &token("a"), later).is_ok());
        assert!(limiter.take(path, &token("a"), later).is_err());
    }

    #[test]
    fn signed_requests_count_against_their_access_key() {
        let signed = |sig: &str| {
            let mut h = HeaderMap::new();
            let value = format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={sig}");
            h.insert("authorization", HeaderValue::from_str(&value).unwrap());
            h
        };
        assert_eq!(
            caller("/v3/p/x", &signed("aa")),
            caller("/v3/p/x", &signed("bb"))
        );
        assert_ne!(
            caller("/v3/p/x", &signed("aa")),
            caller("/v3/p/x", &token("AK1"))
        );
    }

    #[test]
    fn the_answer_is_the_gateways_throttling_with_retry_after() {
        let limiter = RateLimiter::new(1);
        assert!(limiter.check("/v3/p/x", &token("a"), "r1").is_none());
        let answer = limiter.check("/v3/p/x", &token("a"), "r2").unwrap();
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.headers()["retry-after"], "1");
    }
}

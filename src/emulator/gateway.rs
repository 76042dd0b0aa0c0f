//! What the API gateway does around a handler: request ids, counting,
//! latency, authentication, the rate limit, injected faults, the request's
//! project and region ([`RequestScope`]) and the language of error messages.
//! The rate limit and random faults are decided before the handler runs, so
//! such a request never changes the emulated cloud; a scripted fault
//! ([`super::faults`]) may say the call took effect.
//! `/_emulator/*` bypasses all of it except the request id.

use super::Emulator;
use super::auth::{self, RequestParts};
use super::error::{ApiError, Language, localise};
use super::routing::RequestScope;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Largest request body the emulator reads (the API's largest bodies are far
/// smaller); the one limit, also applied to the handlers' extractors.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A fault injected instead of handling a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 APIGW.0308 with `Retry-After: 1`.
    Throttle,
    /// 500 with an error body.
    Error,
}

/// The per-request gateway middleware.
pub async fn gateway(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let mut response = if req.uri().path().starts_with("/_emulator/") {
        next.run(req).await
    } else {
        guarded(&emu, req, next, &request_id).await
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// Answers a request `--latency-ms` after it arrived: the emulator's own work
/// on it happens within that time (as a real service's does within its
/// latency), so a slow emulator on a busy machine is not charged to the client.
async fn guarded(emu: &Emulator, req: Request, next: Next, request_id: &str) -> Response {
    emu.count(|s| s.requests += 1);
    let answer_at = std::time::Instant::now() + emu.config().latency;
    let response = handled(emu, req, next, request_id).await;
    emu.delay_until(answer_at).await;
    response
}

async fn handled(emu: &Emulator, req: Request, next: Next, request_id: &str) -> Response {
    let cfg = emu.config();
    let (parts, body) = req.into_parts();
    let request = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    let refuse = |failure: auth::AuthFailure| {
        emu.count(|s| s.auth_failures += 1);
        gateway_error(
            StatusCode::UNAUTHORIZED,
            failure.code,
            failure.msg,
            request_id,
        )
    };
    // Credentials first: an unauthenticated request never gets its body read.
    let pending = match auth::authenticate(&cfg.auth, &request, chrono::Utc::now()) {
        Ok(pending) => pending,
        Err(failure) => return refuse(failure),
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return body_too_large(request_id);
    };
    if let Some(Err(failure)) = pending.map(|p| p.verify(&request, &bytes)) {
        return refuse(failure);
    }
    let call = super::faults::classify(&parts.method, parts.uri.path(), parts.uri.query(), &bytes);
    if let Some((kind, _)) = &call {
        emu.count(|s| match s.calls.get_mut(kind.name()) {
            Some(n) => *n += 1,
            None => {
                s.calls.insert(kind.name().to_string(), 1);
            }
        });
    }
    let limiter = emu.shared.limiter.as_ref();
    if let Some(refused) =
        limiter.and_then(|l| l.check(parts.uri.path(), &parts.headers, request_id))
    {
        emu.count(|s| s.rate_limited += 1);
        return refused;
    }
    match emu.draw_fault() {
        Some(Fault::Throttle) => {
            emu.count(|s| s.throttled += 1);
            let mut response = gateway_error(
                StatusCode::TOO_MANY_REQUESTS,
                "APIGW.0308",
                "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 second"
                    .to_string(),
                request_id,
            );
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return response;
        }
        Some(Fault::Error) => {
            emu.count(|s| s.injected_errors += 1);
            return ApiError::internal("Internal server error (injected)").into_response();
        }
        None => {}
    }
    let host = (parts.headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .map(str::to_string);
    let scope = RequestScope::of(parts.uri.path(), host.as_deref());
    let language = Language::of((parts.headers.get("x-language")).and_then(|h| h.to_str().ok()));
    let scripted = call.and_then(|(kind, task)| emu.script().fire(kind, task.as_deref()));
    let Some(rule) = scripted else {
        let response = scope
            .enter(next.run(Request::from_parts(parts, Body::from(bytes))))
            .await;
        return localise(response, language);
    };
    emu.count(|s| s.scripted_faults += 1);
    if rule.when == super::faults::When::After {
        // The cloud acts on the call; its answer is lost on the way back.
        let _ = scope
            .enter(next.run(Request::from_parts(parts, Body::from(bytes))))
            .await;
    }
    rule.answer()
}

/// 413 `APIGW.0201`, the gateway's answer to a body over its limit (also when
/// the body could not be read at all: then its size is unknown).
fn body_too_large(request_id: &str) -> Response {
    gateway_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "APIGW.0201",
        format!(
            "Request entity too large: the body must not exceed {} MiB",
            MAX_BODY_BYTES / (1024 * 1024)
        ),
        request_id,
    )
}

fn gateway_error(
    status: StatusCode,
    code: &'static str,
    msg: String,
    request_id: &str,
) -> Response {
    ApiError {
        status,
        code,
        msg,
        request_id: Some(request_id.to_string()),
    }
    .into_response()
}

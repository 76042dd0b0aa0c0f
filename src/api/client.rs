//! The API client: configuration, endpoint rules, and the one request path
//! every endpoint goes through (headers, authentication, timeout, retries,
//! error decoding, logging). The endpoints themselves are in `endpoints.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::Credentials;
use super::error::{ApiError, ApiErrorKind};
use super::iam::TokenCache;
use super::rate::{self, AdaptiveRate};
use super::retry::{
    DEFAULT_MAX_ELAPSED, Failure, Idempotency, RetryPolicy, is_throttled, parse_retry_after,
    should_retry,
};
use super::sign::{canonical_query, format_sdk_date, percent_encode, sign_every_header};
use super::wait::RowHints;
use super::wire::ErrorBody;

/// Content type of request bodies, as the SDKs send it.
pub(crate) const JSON_UTF8: &str = "application/json;charset=UTF-8";
/// Content type E8 (modify) and the `/htap/*` POSTs declare as required.
pub(crate) const JSON_PLAIN: &str = "application/json";
/// Longest excerpt of a non-JSON error body kept in an error.
const BODY_EXCERPT_CHARS: usize = 200;
/// Default cap on a response body: the API's largest answers are far smaller.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Never sent through a proxy: a proxy must not see the token in clear text
/// on its way to the local emulator.
const LOOPBACK_NO_PROXY: &str = "localhost,127.0.0.0/8,::1";

/// Everything a [`Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://gaussdb.ap-southeast-1.myhuaweicloud.com`.
    pub endpoint: String,
    /// The project id every path starts with.
    pub project_id: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// `X-Language`: `en-us` or `zh-cn` (language of `error_msg`).
    pub language: String,
    /// Timeout of each attempt, connection to last body byte.
    pub request_timeout: Duration,
    /// At most this many retries after the first attempt (default: no count,
    /// `retry_max_elapsed` decides); also bounds how often apply sends a
    /// registration or start again after looking it up ([`RetryPolicy`]).
    pub max_retries: u32,
    /// Ceiling of the first backoff delay (doubling per retry, full jitter).
    pub retry_base: Duration,
    /// Longest backoff delay and cap on `Retry-After`.
    pub retry_cap: Duration,
    /// The retry budget of each call: no retry starts later than this after
    /// its first attempt (`HTAPSYNC_RETRY_MAX_ELAPSED` for the command line).
    pub retry_max_elapsed: Duration,
    /// `User-Agent`.
    pub user_agent: String,
    /// PEM file of extra trusted CA certificates (a private CA), added to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Largest response body read; a longer one fails the call instead of filling memory.
    pub max_response_bytes: usize,
}

impl ClientConfig {
    /// A configuration with the documented defaults (en-us, 30 s per attempt,
    /// retries for up to 2 minutes with delays from 250 ms to 10 s).
    pub fn new(endpoint: &str, project_id: &str, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.to_string(),
            project_id: project_id.to_string(),
            credentials,
            language: "en-us".into(),
            request_timeout: Duration::from_secs(30),
            max_retries: u32::MAX,
            retry_base: Duration::from_millis(250),
            retry_cap: Duration::from_secs(10),
            retry_max_elapsed: DEFAULT_MAX_ELAPSED,
            user_agent: format!("htapsync/{}", env!("CARGO_PKG_VERSION")),
            ca_file: None,
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// How long calls retry connection failures of an endpoint that has never
/// answered in this process (see `Inner::answered`).
pub const UNANSWERED_BUDGET: Duration = Duration::from_secs(10);

/// Client of the HTAP replication API. Cloning is cheap and shares one connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// Shows where the client points and how it authenticates, never a secret.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.base.as_str())
            .field("project_id", &self.inner.project_id)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) project_id: String,
    pub(crate) credentials: Credentials,
    pub(crate) language: String,
    pub(crate) user_agent: String,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    /// The request rate of this endpoint, lowered when the gateway throttles.
    pub(crate) rate: Arc<AdaptiveRate>,
    pub(crate) tokens: TokenCache,
    /// Where E4 rows were last seen, shared by every poll of this client.
    pub(crate) rows: RowHints,
    /// Whether the endpoint has answered at all in this process: until it
    /// has, a connection failure is more likely a wrong endpoint than an
    /// outage, and gives up after [`UNANSWERED_BUDGET`] instead of the whole budget.
    pub(crate) answered: std::sync::atomic::AtomicBool,
    pub(crate) max_response_bytes: usize,
}

/// Checks an endpoint: `https://` with any host, or `http://` only for loopback
/// hosts (the emulator), since a plain-HTTP hop elsewhere would expose tokens
/// and request contents. No user info, query, fragment or path.
pub fn validate_endpoint(endpoint: &str) -> Result<Url, String> {
    super::trust::parse_endpoint(endpoint).map_err(|e| e.to_string())
}

/// The `Host` header of requests to `base`: host, and port unless it is the scheme's default.
fn host_header(base: &Url) -> String {
    let host = base.host_str().unwrap_or_default();
    match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// One API call, before authentication: what the endpoint functions build.
pub(crate) struct Call {
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    /// Decoded path segments after `/v3/{project_id}`.
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(String, String)>,
    /// Serialised body and its content type.
    pub(crate) body: Option<(Vec<u8>, &'static str)>,
    pub(crate) idempotency: Idempotency,
}

impl Client {
    /// Builds a client: validates the endpoint, installs the ring crypto
    /// provider for rustls and creates the connection pool (certificates verified).
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let invalid = |detail: String| {
            ApiError::new(ApiErrorKind::InvalidEndpoint, "client").with_detail(detail)
        };
        let base = validate_endpoint(&cfg.endpoint).map_err(invalid)?;
        let tokens = TokenCache::new(&cfg.credentials, &base).map_err(invalid)?;
        // Another part of the program may have installed it already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let setup =
            |detail: String| ApiError::new(ApiErrorKind::Setup, "client").with_detail(detail);
        let mut builder = reqwest::Client::builder()
            .tls_backend_rustls()
            .connect_timeout(cfg.request_timeout)
            // A redirect would carry credentials somewhere this check never saw.
            .redirect(reqwest::redirect::Policy::none())
            // Proxies come from the environment, minus loopback (see `environment_proxies`).
            .no_proxy();
        for proxy in environment_proxies(&|name| std::env::var(name).ok())
            .map_err(|e| setup(error_chain(&e)))?
        {
            builder = builder.proxy(proxy);
        }
        let extra_roots = match &cfg.ca_file {
            Some(path) => read_ca_file(path).map_err(setup)?,
            None => Vec::new(),
        };
        let speaks_tls = std::iter::once(&base)
            .chain(tokens.iam_base())
            .any(|url| url.scheme() == "https");
        builder = if speaks_tls {
            builder.tls_certs_merge(extra_roots)
        } else {
            // Only plain http:// to loopback (the emulator), with redirects off
            // and loopback never proxied: no TLS session can start, so the
            // system's root certificates (≈ 150 files, ≈ 7 ms) are not loaded.
            builder.tls_certs_only(extra_roots)
        };
        let http = builder.build().map_err(|e| setup(error_chain(&e)))?;
        let rate = rate::for_endpoint(base.as_str());
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                project_id: cfg.project_id,
                credentials: cfg.credentials,
                language: cfg.language,
                user_agent: cfg.user_agent,
                request_timeout: cfg.request_timeout,
                retry: RetryPolicy {
                    max_retries: cfg.max_retries,
                    base: cfg.retry_base,
                    cap: cfg.retry_cap,
                    max_elapsed: cfg.retry_max_elapsed,
                },
                rate,
                tokens,
                rows: RowHints::default(),
                answered: std::sync::atomic::AtomicBool::new(false),
                max_response_bytes: cfg.max_response_bytes,
            }),
        })
    }

    /// Sends `call`, retrying per [`should_retry`], and decodes the 2xx body.
    /// A request that was never sent (its IAM token could not be fetched) is
    /// retried like a safe call, whatever it would have done.
    pub(crate) async fn execute<T: DeserializeOwned>(&self, call: Call) -> Result<T, ApiError> {
        let call = &call;
        let started = std::time::Instant::now();
        let answered = &self.inner.answered;
        // A connection failure of an endpoint that never answered (a typo,
        // a host that does not exist) is reported soon, not after minutes.
        let unreachable = |failed: &FailedAttempt| {
            failed.error.kind == ApiErrorKind::Connect
                && !answered.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() >= UNANSWERED_BUDGET
        };
        let idempotency = |failed: &FailedAttempt| {
            if failed.sent {
                call.idempotency
            } else {
                Idempotency::Safe
            }
        };
        self.inner
            .retry
            .run(
                |attempt| async move {
                    self.attempt(call, attempt).await.map_err(|mut failed| {
                        failed.error.attempts = attempt;
                        failed
                    })
                },
                |failed| {
                    !unreachable(failed)
                        && Failure::of(&failed.error)
                            .is_some_and(|f| should_retry(idempotency(failed), f))
                },
                |failed, wait| {
                    tracing::debug!(operation = call.operation, attempt = failed.error.attempts,
                        wait_ms = wait.as_millis() as u64, error = %failed.error, "retrying");
                },
            )
            .await
            .map_err(|failed| {
                if !unreachable(&failed) {
                    return failed.error;
                }
                let why = format!(
                    "the endpoint has not answered since htapsync started ({} s of retries): check `endpoint`",
                    UNANSWERED_BUDGET.as_secs()
                );
                let detail = match &failed.error.detail {
                    Some(cause) => format!("{cause}; {why}"),
                    None => why,
                };
                failed.error.with_detail(detail)
            })
    }

    /// The backoff settings every retry loop of this client's calls uses.
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// One attempt.
    async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call,
        attempt: u32,
    ) -> Result<T, FailedAttempt> {
        let inner = &self.inner;
        let op = call.operation;
        let mut segments = vec!["v3".to_string(), inner.project_id.clone()];
        segments.extend(call.segments.iter().cloned());
        let path = format!("/{}", segments.join("/"));
        let wire_path: Vec<String> = segments.iter().map(|s| percent_encode(s)).collect();
        let base = inner.base.as_str().trim_end_matches('/');
        let mut url = format!("{base}/{}", wire_path.join("/"));
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&canonical_query(&call.query));
        }

        let mut headers = vec![
            // Sent explicitly so the value signed is the value sent.
            ("Host".to_string(), host_header(&inner.base)),
            ("User-Agent".to_string(), inner.user_agent.clone()),
            ("X-Language".to_string(), inner.language.clone()),
            ("X-Project-Id".to_string(), inner.project_id.clone()),
        ];
        if let Some((_, content_type)) = &call.body {
            headers.push(("Content-Type".to_string(), content_type.to_string()));
        }
        let secret_headers = self
            .auth_headers(call, &path, &mut headers)
            .await
            .map_err(FailedAttempt::unsent)?;

        let mut request = inner
            .http
            .request(call.method.clone(), &url)
            .timeout(inner.request_timeout);
        for (name, value) in &headers {
            request = request.header(
                header_name(op, name).map_err(FailedAttempt::unsent)?,
                header_value(op, name, value, false).map_err(FailedAttempt::unsent)?,
            );
        }
        for (name, value) in &secret_headers {
            request = request.header(
                header_name(op, name).map_err(FailedAttempt::unsent)?,
                header_value(op, name, value.expose_secret(), true)
                    .map_err(FailedAttempt::unsent)?,
            );
        }
        if let Some((body, _)) = &call.body {
            request = request.body(body.clone());
        }

        let sent = inner.rate.acquire().await;
        let response = request
            .send()
            .await
            .map_err(|e| FailedAttempt::sent(transport_error(op, &e)))?;
        let status = response.status();
        inner
            .answered
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let request_id = response_header(&response, "x-request-id");
        let retry_after = response_header(&response, "retry-after")
            .and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let body = read_body(response, inner.max_response_bytes, op)
            .await
            .map_err(|mut err| {
                err.status = Some(status.as_u16());
                err.request_id = request_id.clone();
                FailedAttempt::sent(err)
            })?;
        tracing::debug!(operation = op, method = %call.method, path = %path, status = status.as_u16(),
            request_id = request_id.as_deref().unwrap_or("-"), attempt, "api request");

        if status.is_success() {
            inner.rate.passed(sent);
            return serde_json::from_slice(&body).map_err(|e| {
                let mut err = ApiError::new(ApiErrorKind::Decode, op).with_detail(e.to_string());
                err.status = Some(status.as_u16());
                err.request_id = request_id;
                FailedAttempt::sent(err)
            });
        }
        if status.as_u16() == 401 {
            // A cached IAM token the server no longer accepts must not be reused.
            inner.tokens.forget().await;
        }
        let mut error = error_from_response(op, status, request_id, &body);
        error.retry_after = retry_after;
        if is_throttled(status.as_u16(), error.code()) {
            inner.rate.throttled(sent);
        } else {
            inner.rate.passed(sent);
        }
        Err(FailedAttempt::sent(error))
    }

    /// Adds `X-Sdk-Date` to `headers` (AK/SK) and returns the secret headers:
    /// `X-Auth-Token`, or `Authorization` (+ `X-Security-Token`). Secrets stay
    /// in [`SecretString`]s until they become header values; AK/SK signatures
    /// cover every header sent, `Host` and `Content-Type` included.
    async fn auth_headers(
        &self,
        call: &Call,
        path: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<Vec<(&'static str, SecretString)>, ApiError> {
        match &self.inner.credentials {
            Credentials::Token(token) => Ok(vec![("X-Auth-Token", token.clone())]),
            Credentials::Password { .. } => {
                let token = self.inner.tokens.token(self, call.operation).await?;
                Ok(vec![("X-Auth-Token", token)])
            }
            Credentials::AkSk {
                ak,
                sk,
                security_token,
            } => {
                // A fresh date per attempt: the gateway rejects signatures older than 15 minutes.
                let date = format_sdk_date(chrono::Utc::now());
                headers.push(("X-Sdk-Date".into(), date.clone()));
                let mut to_sign = Zeroizing::new(headers.clone());
                if let Some(st) = security_token {
                    // Signed like the SDKs do, so it joins the signed headers.
                    to_sign.push((
                        "X-Security-Token".to_string(),
                        st.expose_secret().to_string(),
                    ));
                }
                let body = call.body.as_ref().map_or(&[][..], |(b, _)| b.as_slice());
                let signed = sign_every_header(
                    ak,
                    sk.expose_secret(),
                    &date,
                    call.method.as_str(),
                    path,
                    &call.query,
                    &to_sign,
                    body,
                );
                let mut secret = vec![("Authorization", SecretString::from(signed.authorization))];
                if let Some(st) = security_token {
                    secret.push(("X-Security-Token", st.clone()));
                }
                Ok(secret)
            }
        }
    }

    /// The validated base URL (scheme, host, port).
    pub fn endpoint(&self) -> &Url {
        &self.inner.base
    }
}

/// A failed attempt, and whether its request left this process.
struct FailedAttempt {
    error: ApiError,
    sent: bool,
}

impl FailedAttempt {
    fn sent(error: ApiError) -> FailedAttempt {
        FailedAttempt { error, sent: true }
    }

    fn unsent(error: ApiError) -> FailedAttempt {
        FailedAttempt { error, sent: false }
    }
}

impl std::borrow::Borrow<ApiError> for FailedAttempt {
    fn borrow(&self) -> &ApiError {
        &self.error
    }
}

fn header_name(op: &'static str, name: &str) -> Result<HeaderName, ApiError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        ApiError::new(ApiErrorKind::Setup, op).with_detail(format!("invalid header name {name}"))
    })
}

/// Secret values are marked sensitive so no `Debug` of the request shows them;
/// the error for an invalid one names the header, never the value.
fn header_value(
    op: &'static str,
    name: &str,
    value: &str,
    secret: bool,
) -> Result<HeaderValue, ApiError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        let detail = format!("the value of header {name} contains characters HTTP does not allow");
        ApiError::new(ApiErrorKind::Setup, op).with_detail(detail)
    })?;
    v.set_sensitive(secret);
    Ok(v)
}

/// Reads a response body of at most `limit` bytes, refusing a longer one as
/// soon as its `Content-Length` or its bytes so far exceed the limit.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    op: &'static str,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(ApiErrorKind::ResponseTooLarge, op)
            .with_detail(format!("more than {limit} bytes"))
    };
    let declared = response.content_length().unwrap_or(0);
    if usize::try_from(declared).map_or(true, |n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(op, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The proxies `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` (or their lowercase
/// forms) name, each honouring `NO_PROXY` plus loopback, which is never proxied.
fn environment_proxies(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<reqwest::Proxy>, reqwest::Error> {
    let first = |names: [&str; 2]| {
        names
            .into_iter()
            .filter_map(env)
            .find(|v| !v.trim().is_empty())
    };
    let mut no_proxy = first(["NO_PROXY", "no_proxy"]).unwrap_or_default();
    no_proxy.push(',');
    no_proxy.push_str(LOOPBACK_NO_PROXY);
    type MakeProxy = fn(String) -> reqwest::Result<reqwest::Proxy>;
    let kinds: [([&str; 2], MakeProxy); 3] = [
        (["HTTPS_PROXY", "https_proxy"], reqwest::Proxy::https),
        (["HTTP_PROXY", "http_proxy"], reqwest::Proxy::http),
        (["ALL_PROXY", "all_proxy"], reqwest::Proxy::all),
    ];
    let mut proxies = Vec::new();
    for (names, make) in kinds {
        if let Some(url) = first(names) {
            let proxy = make(url)?.no_proxy(reqwest::NoProxy::from_string(&no_proxy));
            proxies.push(proxy);
        }
    }
    Ok(proxies)
}

/// The certificates of a PEM file of trusted CAs; the error names the file.
fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("ca_file {}: {}", path.display(), error_chain(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn response_header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The error and its causes, joined, e.g. `error sending request: connection refused`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) fn transport_error(op: &'static str, e: &reqwest::Error) -> ApiError {
    // A certificate the client does not trust stays untrusted on every retry.
    let kind = if is_certificate_error(e) {
        ApiErrorKind::Certificate
    } else if e.is_connect() {
        // Before timeouts: a connect timeout still means nothing was sent.
        ApiErrorKind::Connect
    } else if e.is_timeout() {
        ApiErrorKind::Timeout
    } else if e.is_builder() {
        ApiErrorKind::Setup
    } else {
        ApiErrorKind::Transport
    };
    ApiError::new(kind, op).with_detail(error_chain(e))
}

/// Whether the TLS handshake failed because the server's certificate was
/// rejected. `io::Error` hides its inner error from `source()`, so each one
/// met on the way down is opened with `get_ref`.
fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>() {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// Decodes `{error_code, error_msg}`; any other body is kept as a short excerpt.
pub(crate) fn error_from_response(
    op: &'static str,
    status: reqwest::StatusCode,
    request_id: Option<String>,
    body: &[u8],
) -> ApiError {
    let mut err = ApiError::new(ApiErrorKind::Api, op);
    err.status = Some(status.as_u16());
    err.request_id = request_id;
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        err.error_code = Some(parsed.error_code).filter(|c| !c.is_empty());
        err.error_msg = Some(parsed.error_msg).filter(|m| !m.is_empty());
        if err.request_id.is_none() {
            err.request_id = parsed.request_id;
        }
        return err;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        let reason = status.canonical_reason().unwrap_or("error");
        err.error_msg = Some(format!("{reason}: {excerpt}"));
    }
    err
}

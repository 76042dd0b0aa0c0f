//! IAM tokens for password credentials: `POST {iam}/v3/auth/tokens` returns
//! the token in `X-Subject-Token` and its expiry in `token.expires_at`. The
//! token is cached in memory and reused until five minutes before it expires,
//! so a run makes one IAM call however many API calls it makes.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::{Host, Url};

use super::auth::Credentials;
use super::client::{
    Client, JSON_UTF8, error_chain, error_from_response, read_body, transport_error,
    validate_endpoint,
};
use super::error::{ApiError, ApiErrorKind};

/// Refresh this long before the token expires, so no request carries a token
/// that expires while in flight.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Assumed lifetime when IAM's `expires_at` is missing or unreadable (tokens
/// normally live 24 h; an hour keeps the guess on the safe side).
const FALLBACK_LIFETIME: Duration = Duration::from_secs(60 * 60);

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

/// The token cache of one client (empty and unused for other credential types).
pub(crate) struct TokenCache {
    iam_base: Option<Url>,
    cached: Mutex<Option<CachedToken>>,
}

/// Where password credentials without an explicit IAM endpoint will be sent:
/// derived from the API endpoint (which the configuration names), so callers
/// must check it as they check the endpoint. `None` for other credentials.
pub fn derived_iam_endpoint(credentials: &Credentials, api: &Url) -> Option<Url> {
    match credentials {
        Credentials::Password {
            iam_endpoint: None, ..
        } => derive_iam_endpoint(api),
        _ => None,
    }
}

/// `https://gaussdb.{region}.myhuaweicloud.com` → `https://iam.{region}.myhuaweicloud.com`.
fn derive_iam_endpoint(api: &Url) -> Option<Url> {
    let Some(Host::Domain(host)) = api.host() else {
        return None;
    };
    let (_, rest) = host.split_once('.')?;
    if rest.split('.').count() < 2 {
        return None;
    }
    Url::parse(&format!("https://iam.{rest}")).ok()
}

impl TokenCache {
    /// Resolves the IAM endpoint for password credentials (explicit, or derived
    /// from the API endpoint); the error says what to set.
    pub(crate) fn new(credentials: &Credentials, api: &Url) -> Result<TokenCache, String> {
        let iam_base = match credentials {
            Credentials::Password {
                iam_endpoint: Some(e),
                ..
            } => Some(validate_endpoint(e)?),
            Credentials::Password {
                iam_endpoint: None, ..
            } => Some(derive_iam_endpoint(api).ok_or_else(|| {
                format!("cannot derive the IAM endpoint from {api}; set HTAPSYNC_IAM_ENDPOINT")
            })?),
            _ => None,
        };
        Ok(TokenCache {
            iam_base,
            cached: Mutex::new(None),
        })
    }

    /// Where tokens are bought, if anywhere.
    pub(crate) fn iam_base(&self) -> Option<&Url> {
        self.iam_base.as_ref()
    }

    /// Drops the cached token (after the API answered 401).
    pub(crate) async fn forget(&self) {
        if self.iam_base.is_some() {
            *self.cached.lock().await = None;
        }
    }

    /// A valid token: the cached one, or a fresh one from IAM. The lock is held
    /// during the fetch so concurrent callers wait for one IAM call.
    pub(crate) async fn token(
        &self,
        client: &Client,
        op: &'static str,
    ) -> Result<SecretString, ApiError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch(client, op).await?;
        let refresh_in = lifetime.saturating_sub(REFRESH_MARGIN);
        *cached = (!refresh_in.is_zero()).then(|| CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + refresh_in,
        });
        Ok(token)
    }

    async fn fetch(
        &self,
        client: &Client,
        op: &'static str,
    ) -> Result<(SecretString, Duration), ApiError> {
        let inner = &client.inner;
        let (
            Some(iam),
            Credentials::Password {
                user,
                password,
                domain,
                ..
            },
        ) = (&self.iam_base, &inner.credentials)
        else {
            return Err(
                ApiError::new(ApiErrorKind::Auth, op).with_detail("no password credentials")
            );
        };
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "password": password.expose_secret(), "domain": {"name": domain}}}},
            "scope": {"project": {"id": inner.project_id}}}});
        let url = format!("{}/v3/auth/tokens", iam.as_str().trim_end_matches('/'));
        let response = inner
            .http
            .post(&url)
            .timeout(inner.request_timeout)
            .header("Content-Type", JSON_UTF8)
            .header("User-Agent", &inner.user_agent)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                transport_error(op, &e).with_detail(format!("IAM: {}", error_chain(&e)))
            })?;
        let status = response.status();
        tracing::debug!(
            operation = op,
            status = status.as_u16(),
            "iam token request"
        );
        let token = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(|v| SecretString::from(v.to_string()));
        let bytes = read_body(response, inner.max_response_bytes, op).await?;
        if !status.is_success() {
            let mut err = error_from_response(op, status, None, &bytes);
            // A transient answer (5xx, throttling) is retried like any call
            // (see `Client::execute`); any other is a refusal of the credentials.
            if err.is_transient() {
                err.detail = Some("IAM could not issue a token".into());
            } else {
                err.kind = ApiErrorKind::Auth;
                err.detail = Some("IAM refused the password credentials".into());
            }
            return Err(err);
        }
        let token = token.ok_or_else(|| {
            ApiError::new(ApiErrorKind::Auth, op)
                .with_detail("IAM response has no X-Subject-Token header")
        })?;
        Ok((token, lifetime_from_body(&bytes)))
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenExpiry,
}

#[derive(Deserialize)]
struct TokenExpiry {
    expires_at: String,
}

/// Time until `token.expires_at`, or [`FALLBACK_LIFETIME`] when unreadable.
fn lifetime_from_body(body: &[u8]) -> Duration {
    serde_json::from_slice::<TokenBody>(body)
        .ok()
        .and_then(|b| chrono::DateTime::parse_from_rfc3339(&b.token.expires_at).ok())
        .map(|at| {
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        })
        .unwrap_or(FALLBACK_LIFETIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_endpoint_is_derived_from_regional_endpoints_only() {
        let api = Url::parse("https://gaussdb.ap-southeast-1.myhuaweicloud.com").unwrap();
        assert_eq!(
            derive_iam_endpoint(&api).unwrap().as_str(),
            "https://iam.ap-southeast-1.myhuaweicloud.com/"
        );
        assert!(derive_iam_endpoint(&Url::parse("http://127.0.0.1:8080").unwrap()).is_none());
        assert!(derive_iam_endpoint(&Url::parse("http://localhost:8080").unwrap()).is_none());
    }

    #[test]
    fn lifetime_comes_from_expires_at() {
        let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let body = format!(r#"{{"token": {{"expires_at": "{at}"}}}}"#);
        let life = lifetime_from_body(body.as_bytes());
        assert!(life > Duration::from_secs(7000) && life <= Duration::from_secs(7200));
        assert_eq!(lifetime_from_body(b"{}"), FALLBACK_LIFETIME);
        let past = r#"{"token": {"expires_at": "2000-01-01T00:00:00.000000Z"}}"#;
        assert_eq!(lifetime_from_body(past.as_bytes()), Duration::ZERO);
    }
}

//! Which endpoints htapsync talks to, and which of them may receive
//! credentials. `plan` runs on pull requests with the pipeline's credentials
//! in its environment, on configuration the pull request controls: so the
//! configuration alone must not be able to send those credentials to a host
//! of its choosing. Credentials go only to official Huawei Cloud API hosts,
//! to loopback, or to hosts allowed from outside the repository
//! (`HTAPSYNC_ALLOWED_ENDPOINTS`, `--allow-endpoint`). See docs/ci.md.

use url::{Host, Url};

/// Comma-separated hosts that may receive credentials besides the official ones.
pub const ALLOWED_ENDPOINTS_VAR: &str = "HTAPSYNC_ALLOWED_ENDPOINTS";

/// The documented API host families, `{service}.{region}.myhuaweicloud.com`
/// (shared/api/htap-replication-api.md), plus IAM, where password
/// credentials buy their token.
const OFFICIAL_SERVICES: &[&str] = &["gaussdb", "gaussdbformysql", "gaussdb-mysql", "iam"];
const OFFICIAL_DOMAIN: &str = ".myhuaweicloud.com";

/// What a valid endpoint looks like, for error messages.
const ALLOWED_FORMS: &str = "use an https:// URL, or http:// to a loopback host \
                             (127.0.0.0/8, localhost, [::1]), as scheme://host[:port]";

/// Why an endpoint URL is invalid. No variant carries the URL itself: it may
/// hold a password in its user info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("not a URL ({0}); {ALLOWED_FORMS}")]
    NotUrl(url::ParseError),
    #[error("the URL has no host; {ALLOWED_FORMS}")]
    NoHost,
    #[error("http:// is only allowed for loopback hosts; {ALLOWED_FORMS}")]
    PlainHttp,
    #[error("scheme `{0}` is not supported; {ALLOWED_FORMS}")]
    Scheme(String),
    #[error(
        "the URL contains user info (a user name or password); credentials never go in the endpoint: \
         set them in the environment (see docs/authentication.md)"
    )]
    UserInfo,
    #[error("the URL has a path, query or fragment; {ALLOWED_FORMS}")]
    PathOrQuery,
}

/// The one syntax rule for an endpoint URL, used by `validate` and by every
/// command that connects: `https://`, or `http://` to loopback only (plain
/// HTTP elsewhere would expose tokens), without user info, path, query or fragment.
pub fn parse_endpoint(value: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(value.trim()).map_err(EndpointError::NotUrl)?;
    let host = url.host().ok_or(EndpointError::NoHost)?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(EndpointError::PlainHttp),
        other => return Err(EndpointError::Scheme(other.to_string())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::UserInfo);
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(EndpointError::PathOrQuery);
    }
    Ok(url)
}

/// `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// `value` with any user info of a URL replaced by `***`, for messages. Works
/// on text that is not a valid URL too, since that is when it gets printed.
pub fn redact_userinfo(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &value[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!(
            "{}***{}",
            &value[..authority_start],
            &value[authority_start + at..]
        ),
        None => value.to_string(),
    }
}

/// An entry of `HTAPSYNC_ALLOWED_ENDPOINTS` or `--allow-endpoint` that is not a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{origin}: {entry:?} is not a host name; give bare host names or IP addresses, e.g. gaussdb.example.internal"
)]
pub struct BadAllowedHost {
    pub origin: &'static str,
    pub entry: String,
}

/// A host that may not receive credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "credentials may not be sent to `{host}`: it is not an official Huawei Cloud API host \
     ({{gaussdb,gaussdbformysql,gaussdb-mysql,iam}}.REGION.myhuaweicloud.com) nor loopback; \
     to trust it, allow it outside the repository with {ALLOWED_ENDPOINTS_VAR}={host} or --allow-endpoint {host}"
)]
pub struct UntrustedHost {
    pub host: String,
}

/// The hosts credentials may be sent to.
#[derive(Debug, Clone, Default)]
pub struct TrustedHosts {
    /// Hosts allowed from outside the repository (environment, command line).
    extra: Vec<Host<String>>,
}

impl TrustedHosts {
    /// The official hosts and loopback, plus `flags` (`--allow-endpoint`) and
    /// the comma-separated hosts of `env` (`HTAPSYNC_ALLOWED_ENDPOINTS`).
    pub fn new(flags: &[String], env: Option<&str>) -> Result<TrustedHosts, BadAllowedHost> {
        let from_flags = flags.iter().map(|f| ("--allow-endpoint", f.as_str()));
        let from_env = env
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(|e| (ALLOWED_ENDPOINTS_VAR, e));
        let mut extra = Vec::new();
        for (origin, entry) in from_flags.chain(from_env) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            extra.push(parse_host(entry).ok_or_else(|| BadAllowedHost {
                origin,
                entry: entry.to_string(),
            })?);
        }
        Ok(TrustedHosts { extra })
    }

    /// `Ok` when credentials may be sent to `url`'s host.
    pub fn check(&self, url: &Url) -> Result<(), UntrustedHost> {
        let Some(host) = url.host() else {
            return Err(UntrustedHost {
                host: String::new(),
            });
        };
        if is_loopback(&host) || is_official(&host) || self.extra.contains(&host.to_owned()) {
            return Ok(());
        }
        Err(UntrustedHost {
            host: url.host_str().unwrap_or_default().to_string(),
        })
    }
}

/// A bare host: a domain name, an IPv4 address, or an IPv6 address with or
/// without brackets. Anything with a scheme, port or path is refused.
fn parse_host(entry: &str) -> Option<Host<String>> {
    if entry.contains(['/', '@', '?', '#']) {
        return None;
    }
    let bracketed = if entry.contains(':') && !entry.starts_with('[') {
        format!("[{entry}]")
    } else {
        entry.to_string()
    };
    Host::parse(&bracketed).ok()
}

/// `{service}.{region}.myhuaweicloud.com` for a documented service.
fn is_official(host: &Host<&str>) -> bool {
    let Host::Domain(domain) = host else {
        return false;
    };
    let domain = domain.to_ascii_lowercase();
    let Some(prefix) = domain.strip_suffix(OFFICIAL_DOMAIN) else {
        return false;
    };
    let Some((service, region)) = prefix.split_once('.') else {
        return false;
    };
    OFFICIAL_SERVICES.contains(&service)
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn endpoint_rule() {
        assert!(parse_endpoint("https://gaussdb.ap-southeast-1.myhuaweicloud.com").is_ok());
        assert!(parse_endpoint("https://gaussdb.ap-southeast-1.myhuaweicloud.com/").is_ok());
        assert!(parse_endpoint("http://127.3.0.1:8080").is_ok());
        assert!(parse_endpoint("http://localhost:8080").is_ok());
        assert!(parse_endpoint("http://[::1]:8080").is_ok());
        assert_eq!(
            parse_endpoint("http://example.com"),
            Err(EndpointError::PlainHttp)
        );
        assert!(matches!(
            parse_endpoint("ftp://example.com"),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            parse_endpoint("not a url"),
            Err(EndpointError::NotUrl(_))
        ));
        assert_eq!(
            parse_endpoint("http://alice:pw@127.0.0.1:1"),
            Err(EndpointError::UserInfo)
        );
        assert_eq!(
            parse_endpoint("https://alice@example.com"),
            Err(EndpointError::UserInfo)
        );
        for bad in ["https://h/v3", "https://h/?a=1", "https://h/#x"] {
            assert_eq!(
                parse_endpoint(bad),
                Err(EndpointError::PathOrQuery),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_never_show_the_url() {
        let err = parse_endpoint("http://alice:pw-123@127.0.0.1:1").unwrap_err();
        assert!(!err.to_string().contains("pw-123"), "{err}");
    }

    #[test]
    fn user_info_is_redacted_even_in_broken_urls() {
        assert_eq!(
            redact_userinfo("http://alice:pw@127.0.0.1:1/x"),
            "http://***@127.0.0.1:1/x"
        );
        assert_eq!(redact_userinfo("http://al:p@w@[bad"), "http://***@[bad");
        assert_eq!(
            redact_userinfo("https://example.com/a@b"),
            "https://example.com/a@b"
        );
        assert_eq!(redact_userinfo("embedded"), "embedded");
    }

    #[test]
    fn official_hosts_and_loopback_are_trusted() {
        let trusted = TrustedHosts::default();
        for ok in [
            "https://gaussdb.ap-southeast-1.myhuaweicloud.com",
            "https://gaussdbformysql.tr-west-1.myhuaweicloud.com",
            "https://gaussdb-mysql.af-south-1.myhuaweicloud.com",
            "https://IAM.cn-north-4.myhuaweicloud.com",
            "http://127.0.0.1:9",
            "http://localhost:9",
            "http://[::1]:9",
        ] {
            assert!(trusted.check(&url(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example.com",
            "https://gaussdb.ap-southeast-1.myhuaweicloud.com.evil.example",
            "https://evil.myhuaweicloud.com",
            "https://gaussdb.a.b.myhuaweicloud.com",
            "https://0.0.0.0:9",
        ] {
            let err = trusted.check(&url(bad)).unwrap_err();
            assert!(err.to_string().contains(ALLOWED_ENDPOINTS_VAR), "{err}");
        }
    }

    #[test]
    fn hosts_allowed_from_outside_the_repository() {
        let trusted = TrustedHosts::new(
            &["api.internal".to_string()],
            Some(" proxy.corp , ::ffff:7f00:1,10.0.0.5"),
        )
        .unwrap();
        for ok in [
            "https://api.internal",
            "https://PROXY.corp:8443",
            "https://[::ffff:7f00:1]",
            "https://10.0.0.5",
        ] {
            assert!(trusted.check(&url(ok)).is_ok(), "{ok}");
        }
        assert!(trusted.check(&url("https://other.corp")).is_err());
        let bad = TrustedHosts::new(&[], Some("https://x.corp")).unwrap_err();
        assert_eq!(bad.origin, ALLOWED_ENDPOINTS_VAR);
    }
}

//! Which project and region a request addresses, so that one emulator can
//! serve several HTAP estates: the project is the `{project_id}` of the path,
//! the region comes from the host the request was sent to, read as the
//! documented endpoints are built (`{service}.{region}.{domain}`, API
//! reference §8). A request to an address that names no region (an IP,
//! `localhost`) is not limited to a region.
//!
//! The gateway sets the scope for the duration of a request (a task-local),
//! so every lookup of an instance or a job sees it without each handler
//! passing it along.

use std::future::Future;

/// The services of the documented endpoint table (API reference §8).
const SERVICES: &[&str] = &["gaussdb", "gaussdbformysql", "gaussdb-mysql"];

/// The project and region of one request; `None` = not limited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestScope {
    pub project_id: Option<String>,
    pub region: Option<String>,
}

tokio::task_local! {
    static SCOPE: RequestScope;
}

impl RequestScope {
    /// The scope of a request for `path` sent to `host` (the `Host` header or
    /// the URI's authority).
    pub fn of(path: &str, host: Option<&str>) -> RequestScope {
        RequestScope {
            project_id: project_of_path(path),
            region: host.and_then(region_of_host),
        }
    }

    /// The scope of the request being handled (unlimited outside a request).
    pub fn current() -> RequestScope {
        SCOPE.try_with(Clone::clone).unwrap_or_default()
    }

    /// Runs `f` with `self` as the current scope.
    pub async fn enter<F: Future>(self, f: F) -> F::Output {
        SCOPE.scope(self, f).await
    }

    /// Whether something placed in `project_id` and `region` (`None` = any)
    /// is visible to this request.
    pub fn sees(&self, project_id: Option<&str>, region: Option<&str>) -> bool {
        let matches = |wanted: &Option<String>, placed: Option<&str>| match (wanted, placed) {
            (Some(w), Some(p)) => w == p,
            _ => true,
        };
        matches(&self.project_id, project_id) && matches(&self.region, region)
    }
}

/// `/v3/{project_id}/...` → the project id.
fn project_of_path(path: &str) -> Option<String> {
    let project = path.strip_prefix("/v3/")?.split('/').next()?;
    (!project.is_empty()).then(|| project.to_string())
}

/// `gaussdb.cn-north-4.myhuaweicloud.com[:port]` → `cn-north-4`.
pub fn region_of_host(host: &str) -> Option<String> {
    if host.starts_with('[') {
        return None; // an IPv6 literal
    }
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let labels: Vec<&str> = name.split('.').collect();
    match labels.as_slice() {
        [service, region, _domain, ..]
            if SERVICES.iter().any(|s| s.eq_ignore_ascii_case(service)) && !region.is_empty() =>
        {
            Some(region.to_ascii_lowercase())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_documented_endpoint_hosts_only() {
        for (host, region) in [
            ("gaussdb.cn-north-4.myhuaweicloud.com", Some("cn-north-4")),
            (
                "gaussdbformysql.ap-southeast-1.myhuaweicloud.com:443",
                Some("ap-southeast-1"),
            ),
            (
                "gaussdb-mysql.af-south-1.myhuaweicloud.com",
                Some("af-south-1"),
            ),
            ("gaussdb.eu-west-101.myhuaweicloud.eu", Some("eu-west-101")),
            ("127.0.0.1:8780", None),
            ("localhost:8780", None),
            ("[::1]:8780", None),
            ("iam.cn-north-4.myhuaweicloud.com", None),
        ] {
            assert_eq!(region_of_host(host).as_deref(), region, "{host}");
        }
    }

    #[test]
    fn scope_limits_only_what_both_sides_name() {
        let scope = RequestScope::of("/v3/p1/instances/x", Some("gaussdb.r1.example.com"));
        assert_eq!(scope.project_id.as_deref(), Some("p1"));
        assert!(scope.sees(Some("p1"), Some("r1")));
        assert!(scope.sees(None, None));
        assert!(!scope.sees(Some("p2"), Some("r1")));
        assert!(!scope.sees(Some("p1"), Some("r2")));
        let anywhere = RequestScope::of("/_emulator/stats", Some("127.0.0.1:1"));
        assert!(anywhere.sees(Some("p2"), Some("r2")));
    }
}

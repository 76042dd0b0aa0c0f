//! Where to connect: `HTAPSYNC_PG_CONN` and the libpq variables, never the
//! configuration file (which is committed; a connection string may hold a password).
//!
//! Rule: each parameter comes from `HTAPSYNC_PG_CONN` when it names it, else
//! from its libpq variable (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`), else from
//! the default (host `localhost`, port 5432, user `$USER`, database = user),
//! as libpq treats its variables: defaults for what the string leaves out.

use super::super::StateError;
use secrecy::SecretString;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The variable holding a whole connection string.
pub const CONN_VAR: &str = "HTAPSYNC_PG_CONN";

/// How a connection is to be secured (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Host {
    Tcp(String),
    /// A directory holding the server's Unix socket (a host starting with `/`).
    Socket(PathBuf),
}

impl Host {
    /// Traffic that never leaves this machine: may go unencrypted.
    fn is_local(&self) -> bool {
        match self {
            Host::Socket(_) => true,
            Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
        }
    }
}

/// What the TLS layer must check of the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verify {
    /// Encrypted, not authenticated (libpq's `require` without a CA file).
    Nothing,
    /// A chain to a trusted root, any host name (`verify-ca`).
    Chain,
    /// A chain to a trusted root, for this host name (`verify-full`).
    Full,
}

/// How bytes reach the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Transport {
    Plain,
    /// TLS when the server offers it, else plain: only to this machine.
    PreferTls,
    /// TLS or no connection; roots from `ca_file`, else the system's.
    Tls {
        verify: Verify,
        ca_file: Option<PathBuf>,
    },
}

/// A connection's parameters, read from the environment. The password is a
/// [`SecretString`]: `Debug` redacts it and no message prints it.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub(super) host: Host,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) password: Option<SecretString>,
    pub(super) dbname: String,
    /// `None`: not given (libpq's default, `prefer`).
    pub(super) sslmode: Option<SslMode>,
    pub(super) sslrootcert: Option<PathBuf>,
    pub(super) connect_timeout: Duration,
}

/// The parameters htapsync reads, with their libpq variables.
const PARAMS: [(&str, &str); 8] = [
    ("host", "PGHOST"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("dbname", "PGDATABASE"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
];

/// Parameters of a connection string, by key (values unchecked).
type Params = Vec<(String, String)>;

impl PgSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<PgSettings, StateError> {
        PgSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<PgSettings, StateError> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let conn = match var(CONN_VAR) {
            Some(text) => parse_conn(&text)?,
            None => Params::new(),
        };
        let get = |key: &str| -> Option<(String, String)> {
            if let Some((_, value)) = conn.iter().rev().find(|(k, _)| k == key) {
                return Some((value.clone(), CONN_VAR.to_string()));
            }
            let env = PARAMS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, env)| *env)?;
            var(env).map(|value| (value, env.to_string()))
        };
        let host = match get("host") {
            Some((h, from)) if h.contains(',') => {
                return Err(invalid(&from, "lists several hosts; give exactly one"));
            }
            Some((h, _)) if h.starts_with('/') => Host::Socket(PathBuf::from(h)),
            Some((h, _)) => Host::Tcp(h.trim_start_matches('[').trim_end_matches(']').into()),
            None => Host::Tcp("localhost".into()),
        };
        let port = match get("port") {
            Some((p, from)) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                invalid(&from, &format!("port {p:?} is not a TCP port (1-65535)"))
            })?,
            None => 5432,
        };
        let user = get("user")
            .map(|(u, _)| u)
            .or_else(|| var("USER"))
            .unwrap_or_else(|| "postgres".into());
        let dbname = get("dbname").map_or_else(|| user.clone(), |(d, _)| d);
        let sslmode = match get("sslmode") {
            Some((mode, from)) => Some(SslMode::parse(&mode).ok_or_else(|| {
                invalid(
                    &from,
                    &format!(
                        "sslmode {mode:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    ),
                )
            })?),
            None => None,
        };
        let connect_timeout = match get("connect_timeout") {
            Some((t, from)) => t
                .parse::<u64>()
                .ok()
                .filter(|t| *t > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    invalid(
                        &from,
                        &format!("connect_timeout {t:?} is not a whole number of seconds above 0"),
                    )
                })?,
            None => Duration::from_secs(10),
        };
        Ok(PgSettings {
            host,
            port,
            user,
            password: get("password").map(|(p, _)| SecretString::from(p)),
            dbname,
            sslmode,
            sslrootcert: get("sslrootcert").map(|(c, _)| PathBuf::from(c)),
            connect_timeout,
        })
    }

    /// `postgresql://user@host:port/db`: where, as whom; never the password.
    pub fn endpoint(&self) -> String {
        match &self.host {
            Host::Tcp(host) if host.contains(':') => {
                format!(
                    "postgresql://{}@[{host}]:{}/{}",
                    self.user, self.port, self.dbname
                )
            }
            Host::Tcp(host) => {
                format!(
                    "postgresql://{}@{host}:{}/{}",
                    self.user, self.port, self.dbname
                )
            }
            Host::Socket(dir) => format!(
                "postgresql://{}@/{}?host={}&port={}",
                self.user,
                self.dbname,
                dir.display(),
                self.port
            ),
        }
    }

    /// How to reach the server, or why not: plain text only to this machine
    /// unless `sslmode=disable` says so.
    pub(super) fn transport(&self) -> Result<Transport, StateError> {
        let ca_file = self.sslrootcert.clone();
        if let Host::Socket(_) = self.host {
            // A Unix socket never leaves this machine (libpq does not use TLS on one either).
            return Ok(Transport::Plain);
        }
        let tls = |verify| Transport::Tls {
            verify,
            ca_file: ca_file.clone(),
        };
        Ok(match self.sslmode {
            Some(SslMode::Disable) => Transport::Plain,
            None | Some(SslMode::Allow | SslMode::Prefer) if self.host.is_local() => {
                Transport::PreferTls
            }
            // To another machine, "prefer" must not fall back to plain text.
            None | Some(SslMode::Allow | SslMode::Prefer) => tls(Verify::Nothing),
            // As libpq: `require` with a root certificate file verifies the chain.
            Some(SslMode::Require) if ca_file.is_some() => tls(Verify::Chain),
            Some(SslMode::Require) => tls(Verify::Nothing),
            Some(SslMode::VerifyCa) => tls(Verify::Chain),
            Some(SslMode::VerifyFull) => tls(Verify::Full),
        })
    }
}

impl fmt::Display for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.endpoint())
    }
}

fn invalid(from: &str, problem: &str) -> StateError {
    StateError::PgSettings {
        source_name: from.to_string(),
        problem: problem.to_string(),
    }
}

/// A libpq connection string: `key=value ...` or a `postgres://` URL.
fn parse_conn(text: &str) -> Result<Params, StateError> {
    let text = text.trim();
    let params = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        parse_url(text)?
    } else {
        parse_key_values(text)?
    };
    for (key, _) in &params {
        if !PARAMS.iter().any(|(k, _)| k == key) {
            let known: Vec<&str> = PARAMS.iter().map(|(k, _)| *k).collect();
            return Err(invalid(
                CONN_VAR,
                &format!(
                    "the parameter {key:?} is not supported; htapsync reads {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(params)
}

/// `key=value` pairs separated by spaces; a value may be single-quoted, with
/// `\'` and `\\` inside (libpq's rules).
fn parse_key_values(text: &str) -> Result<Params, StateError> {
    let mut params = Params::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(invalid(
                CONN_VAR,
                &format!("expected `{key}=value` (a libpq key=value string or a postgres:// URL)"),
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(invalid(
                            CONN_VAR,
                            &format!("the quoted value of {key:?} is not closed"),
                        ));
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        params.push((key, value));
    }
}

/// `postgres[ql]://[user[:password]@][host][:port][/dbname][?key=value&...]`.
fn parse_url(text: &str) -> Result<Params, StateError> {
    // The URL may hold a password: describe the problem, never echo the text.
    let url = url::Url::parse(text)
        .map_err(|e| invalid(CONN_VAR, &format!("not a valid postgres:// URL ({e})")))?;
    let decode = |s: &str| -> Result<String, StateError> {
        url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| invalid(CONN_VAR, "a URL part is not valid percent-encoding"))
    };
    let mut params = Params::new();
    if !url.username().is_empty() {
        params.push(("user".into(), decode(url.username())?));
    }
    if let Some(password) = url.password() {
        params.push(("password".into(), decode(password)?));
    }
    if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
        params.push(("host".into(), decode(host)?));
    }
    if let Some(port) = url.port() {
        params.push(("port".into(), port.to_string()));
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() {
        params.push(("dbname".into(), decode(path)?));
    }
    params.extend(
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<PgSettings, StateError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PgSettings::from_lookup(|name| map.get(name).cloned())
    }

    fn password(s: &PgSettings) -> Option<&str> {
        s.password.as_ref().map(|p| p.expose_secret())
    }

    #[test]
    fn key_value_strings_are_read_with_libpq_quoting() {
        let s = settings(&[(
            CONN_VAR,
            "host=db.example.com port = 6543 user=ci dbname='my db' password='it\\'s secret' sslmode=verify-full",
        )])
        .unwrap();
        assert_eq!(s.host, Host::Tcp("db.example.com".into()));
        assert_eq!(s.port, 6543);
        assert_eq!(s.user, "ci");
        assert_eq!(s.dbname, "my db");
        assert_eq!(password(&s), Some("it's secret"));
        assert_eq!(s.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(s.endpoint(), "postgresql://ci@db.example.com:6543/my db");
        assert_eq!(s.to_string(), s.endpoint());
    }

    /// libpq waits for ever on 0; a CI job must not, so 0 is refused.
    #[test]
    fn connect_timeout_is_whole_seconds_above_zero() {
        let timeout = |conn: &str| settings(&[(CONN_VAR, conn)]).map(|s| s.connect_timeout);
        assert_eq!(
            timeout("host=h connect_timeout=5").unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(timeout("host=h").unwrap(), Duration::from_secs(10));
        for bad in ["0", "-1", "1.5", "soon"] {
            let err = timeout(&format!("host=h connect_timeout={bad}")).unwrap_err();
            assert!(err.to_string().contains("above 0"), "{bad}: {err}");
        }
    }

    #[test]
    fn urls_are_read_with_percent_decoding_and_query_parameters() {
        let s = settings(&[(
            CONN_VAR,
            "postgresql://ci:p%40ss%2Bword@[::1]:5433/state?sslmode=require&sslrootcert=/ca.pem",
        )])
        .unwrap();
        assert_eq!(s.host, Host::Tcp("::1".into()));
        assert_eq!(s.port, 5433);
        assert_eq!(s.user, "ci");
        assert_eq!(password(&s), Some("p@ss+word"));
        assert_eq!(s.dbname, "state");
        assert_eq!(s.sslmode, Some(SslMode::Require));
        assert_eq!(s.sslrootcert, Some(PathBuf::from("/ca.pem")));
        assert_eq!(s.endpoint(), "postgresql://ci@[::1]:5433/state");
        let socket = settings(&[(CONN_VAR, "postgres://u@%2Frun%2Fpg/db")]).unwrap();
        assert_eq!(socket.host, Host::Socket("/run/pg".into()));
    }

    #[test]
    fn the_connection_string_wins_over_the_libpq_variables_which_fill_the_rest() {
        let s = settings(&[
            (CONN_VAR, "host=primary user=from_conn"),
            ("PGHOST", "ignored"),
            ("PGUSER", "ignored"),
            ("PGPORT", "7000"),
            ("PGPASSWORD", "from-env"),
            ("PGDATABASE", "states"),
        ])
        .unwrap();
        assert_eq!(s.host, Host::Tcp("primary".into()));
        assert_eq!(s.user, "from_conn");
        assert_eq!(s.port, 7000);
        assert_eq!(password(&s), Some("from-env"));
        assert_eq!(s.dbname, "states");
    }

    #[test]
    fn libpq_variables_alone_and_defaults() {
        let s = settings(&[("PGHOST", "/var/run/postgresql"), ("USER", "alice")]).unwrap();
        assert_eq!(s.host, Host::Socket("/var/run/postgresql".into()));
        assert_eq!(
            (s.port, s.user.as_str(), s.dbname.as_str()),
            (5432, "alice", "alice")
        );
        assert_eq!(s.transport().unwrap(), Transport::Plain);
        let s = settings(&[]).unwrap();
        assert_eq!(s.host, Host::Tcp("localhost".into()));
    }

    #[test]
    fn plain_text_goes_only_to_this_machine_unless_disable_is_explicit() {
        let transport = |vars: &[(&str, &str)]| settings(vars).unwrap().transport().unwrap();
        for local in ["localhost", "127.0.0.1", "127.8.9.10", "::1"] {
            assert_eq!(
                transport(&[("PGHOST", local)]),
                Transport::PreferTls,
                "{local}"
            );
        }
        let encrypted = Transport::Tls {
            verify: Verify::Nothing,
            ca_file: None,
        };
        for remote in ["db.example.com", "10.0.0.5", "192.168.1.2", "::2"] {
            assert_eq!(transport(&[("PGHOST", remote)]), encrypted, "{remote}");
            assert_eq!(
                transport(&[("PGHOST", remote), ("PGSSLMODE", "prefer")]),
                encrypted
            );
            assert_eq!(
                transport(&[("PGHOST", remote), ("PGSSLMODE", "allow")]),
                encrypted
            );
            assert_eq!(
                transport(&[("PGHOST", remote), ("PGSSLMODE", "disable")]),
                Transport::Plain
            );
        }
    }

    #[test]
    fn sslmodes_choose_what_is_verified() {
        let transport = |vars: &[(&str, &str)]| settings(vars).unwrap().transport().unwrap();
        let ca = Some(PathBuf::from("/ca.pem"));
        assert_eq!(
            transport(&[(CONN_VAR, "host=db sslmode=require")]),
            Transport::Tls {
                verify: Verify::Nothing,
                ca_file: None
            }
        );
        assert_eq!(
            transport(&[
                (CONN_VAR, "host=db sslmode=require"),
                ("PGSSLROOTCERT", "/ca.pem")
            ]),
            Transport::Tls {
                verify: Verify::Chain,
                ca_file: ca.clone()
            }
        );
        assert_eq!(
            transport(&[(CONN_VAR, "host=db sslmode=verify-ca sslrootcert=/ca.pem")]),
            Transport::Tls {
                verify: Verify::Chain,
                ca_file: ca.clone()
            }
        );
        assert_eq!(
            transport(&[(CONN_VAR, "host=localhost sslmode=verify-full")]),
            Transport::Tls {
                verify: Verify::Full,
                ca_file: None
            }
        );
    }

    #[test]
    fn bad_values_are_named_without_echoing_the_password() {
        let message = |vars: &[(&str, &str)]| settings(vars).unwrap_err().to_string();
        let m = message(&[(CONN_VAR, "host=db password=hunter2 sslmode=maybe")]);
        assert!(m.contains("sslmode \"maybe\""), "{m}");
        assert!(m.contains(CONN_VAR), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        let m = message(&[(CONN_VAR, "host=db password=hunter2 colour=blue")]);
        assert!(m.contains("\"colour\" is not supported"), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        let m = message(&[(CONN_VAR, "postgres://u:hunter2@db:99999/x")]);
        assert!(!m.contains("hunter2"), "{m}");
        let m = message(&[("PGPORT", "x")]);
        assert!(m.contains("PGPORT"), "{m}");
        let m = message(&[(CONN_VAR, "host=a,b")]);
        assert!(m.contains("several hosts"), "{m}");
        let m = message(&[(CONN_VAR, "password='open")]);
        assert!(m.contains("not closed") && !m.contains("open'"), "{m}");
        let s = settings(&[(CONN_VAR, "host=db password=hunter2")]).unwrap();
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}

//! One PostgreSQL session on a thread of its own.
//!
//! The `postgres` client runs its own small tokio runtime and panics when
//! called from inside another one, while [`Backend`](super::super::Backend)
//! methods are called from plain threads and from tokio workers alike. So the
//! client lives on a dedicated OS thread, and callers send it jobs over a
//! channel and wait for the answer. The session is also what holds the
//! advisory lock: one connection for the whole command, never a pool, and the
//! server releases the lock the moment that connection ends.

use super::settings::{PgSettings, Transport};
use super::tls::{RustlsConnect, client_config};
use crate::state::StateError;
use postgres::error::SqlState;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

/// The client and what the jobs need to word their errors.
pub(super) struct Conn {
    pub(super) client: postgres::Client,
    pub(super) endpoint: String,
    /// Statements prepared on this session, by text: a write then costs one
    /// round trip per statement instead of two (parse, then execute).
    statements: HashMap<String, postgres::Statement>,
}

impl Conn {
    /// `sql`, prepared once per session.
    pub(super) fn prepared(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// A handle on the session thread; the thread ends (and the connection
/// closes) when the last handle is dropped.
pub(super) struct Session {
    jobs: mpsc::Sender<Job>,
    endpoint: String,
}

impl Session {
    /// Connects (on the new thread) and returns once the session is open.
    /// `connect_timeout` bounds the whole of it, as in libpq: a server that
    /// accepts the connection but never completes TLS or the login fails the
    /// command instead of hanging it (the thread then ends on its own).
    pub(super) fn open(settings: &PgSettings) -> Result<Session, StateError> {
        let endpoint = settings.endpoint();
        let (config, transport) = client_settings(settings)?;
        let tls = match &transport {
            Transport::Plain => None,
            Transport::PreferTls => Some(client_config(&super::settings::Verify::Nothing, None)),
            Transport::Tls { verify, ca_file } => Some(client_config(verify, ca_file.as_deref())),
        }
        .transpose()
        .map_err(|cause| StateError::PgConnect {
            endpoint: endpoint.clone(),
            cause,
            hint: "Point PGSSLROOTCERT (or sslrootcert) at the PEM file of the CA that signed the server's certificate.",
        })?;
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), StateError>>(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread_endpoint = endpoint.clone();
        std::thread::Builder::new()
            .name("htapsync-postgres".into())
            .spawn(move || {
                let connected = match tls {
                    None => config.connect(postgres::NoTls),
                    Some(tls) => config.connect(RustlsConnect(tls)),
                };
                let client = match connected {
                    Ok(client) => client,
                    Err(e) => {
                        let _ = ready_tx.send(Err(connect_error(&thread_endpoint, &e)));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut conn = Conn {
                    client,
                    endpoint: thread_endpoint,
                    statements: HashMap::new(),
                };
                while let Ok(job) = queue.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StateError::PgConnect {
                endpoint: endpoint.clone(),
                cause: format!("cannot start its thread: {e}"),
                hint: "The system is out of threads or memory.",
            })?;
        let timeout = settings.connect_timeout;
        match ready_rx.recv_timeout(timeout) {
            Ok(connected) => connected?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(StateError::PgConnect {
                    endpoint,
                    cause: format!(
                        "the connection was not established within connect_timeout ({}s)",
                        timeout.as_secs()
                    ),
                    hint: "Check that the server at that host and port is PostgreSQL and answers (TLS and login included),\n\
                           or raise connect_timeout (PGCONNECT_TIMEOUT).",
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(gone(&endpoint, "connecting")),
        }
        Ok(Session { jobs, endpoint })
    }

    /// Runs `job` on the session's thread and waits for its result.
    pub(super) fn run<R: Send + 'static>(
        &self,
        action: &'static str,
        job: impl FnOnce(&mut Conn) -> Result<R, StateError> + Send + 'static,
    ) -> Result<R, StateError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |conn: &mut Conn| {
                let _ = reply.send(job(conn));
            }))
            .map_err(|_| gone(&self.endpoint, action))?;
        answer.recv().map_err(|_| gone(&self.endpoint, action))?
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

fn gone(endpoint: &str, action: &'static str) -> StateError {
    StateError::PgConnectionLost {
        endpoint: endpoint.to_string(),
        action,
        cause: "the session thread stopped".into(),
    }
}

/// The client's configuration and the transport the rules allow.
fn client_settings(settings: &PgSettings) -> Result<(postgres::Config, Transport), StateError> {
    use super::settings::Host;
    use secrecy::ExposeSecret;
    let transport = settings.transport()?;
    let mut config = postgres::Config::new();
    match &settings.host {
        Host::Tcp(host) => config.host(host),
        Host::Socket(dir) => config.host_path(dir),
    };
    config
        .port(settings.port)
        .user(&settings.user)
        .dbname(&settings.dbname)
        .application_name("htapsync")
        .connect_timeout(settings.connect_timeout)
        // A cut network (no reset) fails a call within a minute instead of
        // hanging the command for the kernel's quarter of an hour.
        .keepalives_idle(Duration::from_secs(30))
        .tcp_user_timeout(Duration::from_secs(60))
        .ssl_mode(match transport {
            Transport::Plain => postgres::config::SslMode::Disable,
            Transport::PreferTls => postgres::config::SslMode::Prefer,
            Transport::Tls { .. } => postgres::config::SslMode::Require,
        });
    if let Some(password) = &settings.password {
        config.password(password.expose_secret());
    }
    Ok((config, transport))
}

/// Words a failed connection by its kind (the server's message never holds the password).
fn connect_error(endpoint: &str, e: &postgres::Error) -> StateError {
    let cause = error_chain(e);
    StateError::PgConnect {
        endpoint: endpoint.to_string(),
        hint: connect_hint(e.code(), &cause),
        cause,
    }
}

/// What to check after a failed connection, by the server's code and the
/// error's words (a pure function: tested without a server failing on cue).
fn connect_hint(code: Option<&SqlState>, cause: &str) -> &'static str {
    if code == Some(&SqlState::INVALID_PASSWORD)
        || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        || cause.contains("password")
    {
        "Check the user and its password (PGPASSWORD, or password in HTAPSYNC_PG_CONN) and the server's pg_hba.conf."
    } else if code == Some(&SqlState::INVALID_CATALOG_NAME) {
        "Create the database first (CREATE DATABASE), or point PGDATABASE / dbname at an existing one."
    } else if cause.to_ascii_lowercase().contains("tls")
        || cause.contains("certificate")
        || cause.contains("SSL")
    {
        "Check sslmode and the server's TLS setup: verify-ca and verify-full need the CA that signed\n\
         the server's certificate (PGSSLROOTCERT), verify-full a certificate naming the host."
    } else {
        "Check that the server runs and accepts connections at that host and port, and that\n\
         HTAPSYNC_PG_CONN or PGHOST/PGPORT point at it."
    }
}

/// An error and its causes on one line.
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// Maps a failed statement to the error the caller can act on.
pub(super) fn sql_error(
    endpoint: &str,
    schema: &str,
    action: &'static str,
    e: postgres::Error,
) -> StateError {
    let cause = error_chain(&e);
    let failure = Failure::of(&e);
    if failure.connection_lost() {
        return StateError::PgConnectionLost {
            endpoint: endpoint.to_string(),
            action,
            cause,
        };
    }
    if failure.not_writable() {
        return StateError::PgNotWritable {
            endpoint: endpoint.to_string(),
            schema: schema.to_string(),
            reason: cause,
        };
    }
    StateError::PgQuery {
        endpoint: endpoint.to_string(),
        action,
        cause,
    }
}

/// What [`sql_error`] reads of a failed statement: apart, so that the
/// classification is tested without a server that fails on cue.
#[derive(Debug, Default)]
struct Failure {
    /// The client found the connection closed.
    closed: bool,
    /// The server answered with an error of its own.
    answered: bool,
    /// An I/O error caused it.
    io_cause: bool,
    code: Option<SqlState>,
}

impl Failure {
    fn of(e: &postgres::Error) -> Failure {
        Failure {
            closed: e.is_closed(),
            answered: e.as_db_error().is_some(),
            io_cause: std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
            code: e.code().cloned(),
        }
    }

    /// The session is gone: closed, cut before the server answered, or the
    /// server shutting down or cancelling us from outside.
    fn connection_lost(&self) -> bool {
        self.closed
            || (!self.answered && self.io_cause)
            || self.code.as_ref().is_some_and(|c| {
                *c == SqlState::ADMIN_SHUTDOWN
                    || *c == SqlState::CRASH_SHUTDOWN
                    || *c == SqlState::CANNOT_CONNECT_NOW
            })
    }

    /// The role may not write, or the server is read-only.
    fn not_writable(&self) -> bool {
        self.code == Some(SqlState::INSUFFICIENT_PRIVILEGE)
            || self.code == Some(SqlState::READ_ONLY_SQL_TRANSACTION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_lost_when_closed_cut_or_shut_down_not_when_refused() {
        let lost = |f: Failure| f.connection_lost();
        let code = |c: SqlState| Failure {
            answered: true,
            code: Some(c),
            ..Failure::default()
        };
        assert!(lost(Failure {
            closed: true,
            ..Failure::default()
        }));
        assert!(lost(Failure {
            io_cause: true,
            ..Failure::default()
        }));
        assert!(!lost(Failure {
            answered: true,
            io_cause: true,
            ..Failure::default()
        }));
        assert!(!lost(Failure::default()));
        for shutdown in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ] {
            assert!(lost(code(shutdown.clone())), "{shutdown:?}");
            assert!(!code(shutdown).not_writable());
        }
        assert!(!lost(code(SqlState::UNIQUE_VIOLATION)));
        assert!(!lost(code(SqlState::INSUFFICIENT_PRIVILEGE)));
    }

    #[test]
    fn a_refused_write_is_a_missing_privilege_or_a_read_only_server() {
        let code = |c: SqlState| Failure {
            answered: true,
            code: Some(c),
            ..Failure::default()
        };
        assert!(code(SqlState::INSUFFICIENT_PRIVILEGE).not_writable());
        assert!(code(SqlState::READ_ONLY_SQL_TRANSACTION).not_writable());
        assert!(!code(SqlState::UNIQUE_VIOLATION).not_writable());
        assert!(!Failure::default().not_writable());
    }

    #[test]
    fn a_failed_connection_is_worded_by_its_code_then_by_its_words() {
        let password = "Check the user and its password";
        let database = "Create the database first";
        let tls = "Check sslmode";
        let server = "Check that the server runs";
        let hint = |code: Option<SqlState>, cause: &str| connect_hint(code.as_ref(), cause);
        for (code, cause, wanted) in [
            (Some(SqlState::INVALID_PASSWORD), "refused", password),
            // pg_hba.conf rejecting the role names no password.
            (
                Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
                "no pg_hba.conf entry",
                password,
            ),
            (None, "password authentication failed", password),
            (
                Some(SqlState::INVALID_CATALOG_NAME),
                "database \"x\" does not exist",
                database,
            ),
            (None, "error performing TLS handshake", tls),
            (None, "invalid peer certificate", tls),
            (None, "server does not support SSL", tls),
            (None, "connection refused", server),
        ] {
            let got = hint(code.clone(), cause);
            assert!(got.starts_with(wanted), "{code:?} {cause:?}: {got}");
        }
    }

    #[test]
    fn an_error_chain_adds_each_cause_it_does_not_already_say() {
        #[derive(Debug)]
        struct Layer(&'static str, Option<Box<Layer>>);
        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Layer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|l| l as _)
            }
        }
        let inner = Layer("timed out", None);
        let middle = Layer("connect failed: timed out", Some(Box::new(inner)));
        let outer = Layer("db error", Some(Box::new(middle)));
        assert_eq!(error_chain(&outer), "db error: connect failed: timed out");
    }
}

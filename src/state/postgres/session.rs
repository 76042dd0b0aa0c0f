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
        ready_rx
            .recv()
            .map_err(|_| gone(&endpoint, "connecting"))??;
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
    let code = e.code();
    let hint = if code == Some(&SqlState::INVALID_PASSWORD)
        || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        || error_chain(e).contains("password")
    {
        "Check the user and its password (PGPASSWORD, or password in HTAPSYNC_PG_CONN) and the server's pg_hba.conf."
    } else if code == Some(&SqlState::INVALID_CATALOG_NAME) {
        "Create the database first (CREATE DATABASE), or point PGDATABASE / dbname at an existing one."
    } else if error_chain(e).to_ascii_lowercase().contains("tls")
        || error_chain(e).contains("certificate")
        || error_chain(e).contains("SSL")
    {
        "Check sslmode and the server's TLS setup: verify-ca and verify-full need the CA that signed\n\
         the server's certificate (PGSSLROOTCERT), verify-full a certificate naming the host."
    } else {
        "Check that the server runs and accepts connections at that host and port, and that\n\
         HTAPSYNC_PG_CONN or PGHOST/PGPORT point at it."
    };
    StateError::PgConnect {
        endpoint: endpoint.to_string(),
        cause: error_chain(e),
        hint,
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
    let code = e.code().cloned();
    if e.is_closed()
        || (e.as_db_error().is_none()
            && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()))
        || code.as_ref().is_some_and(|c| {
            // The server is shutting down or cancelled us from outside.
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
    {
        return StateError::PgConnectionLost {
            endpoint: endpoint.to_string(),
            action,
            cause,
        };
    }
    if code == Some(SqlState::INSUFFICIENT_PRIVILEGE)
        || code == Some(SqlState::READ_ONLY_SQL_TRANSACTION)
    {
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

//! Shared state in PostgreSQL (`[state] backend = "postgres"`), for teams and CI.
//!
//! - [`settings`]: the connection comes only from `HTAPSYNC_PG_CONN` (a libpq
//!   `key=value` string or a `postgres://` URL) and the libpq variables
//!   (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
//!   `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`); a parameter in `HTAPSYNC_PG_CONN`
//!   wins over its variable. Plain text only to this machine (loopback or a
//!   Unix socket) unless `sslmode=disable` is explicit; `prefer` or no
//!   `sslmode` to another host means TLS.
//! - [`tls`]: rustls with the ring provider: `require` encrypts, `verify-ca`
//!   checks the chain, `verify-full` the chain and the host name, against
//!   `PGSSLROOTCERT` or else the system's roots.
//! - [`session`]: each backend talks to the server over one session on a
//!   thread of its own (the sync client cannot run inside tokio), which also
//!   holds its advisory lock.
//! - [`schema`]: tables created on first use, versioned, migrated under a lock.
//! - [`backend`]: compare-and-swap writes with history; [`lock`]: advisory locks.
//!
//! The password is held as a `SecretString`, and no message, log line or
//! `describe()` names it: they say `postgresql://user@host:port/db`.
//!
//! Guarantees, and how they are kept:
//! - No lost update, with or without the lock: a write is one transaction
//!   that locks the workspace's row (`SELECT … FOR UPDATE`), compares its
//!   serial with the one this backend last read or wrote, and otherwise
//!   refuses ([`StateError::StaleSerial`]) writing nothing.
//! - No stale lock: the advisory lock belongs to the backend's own session;
//!   the server drops it when the process dies or the connection is cut. A
//!   backend whose session is gone fails every later call, so it never writes
//!   without the lock it took. `force-unlock` only removes the record.
//! - Earlier versions: the replaced row moves to `state_history` in the same
//!   transaction, pruned to the last `history` versions.
//! - A transaction-mode pooler (PgBouncer) would make session locks
//!   meaningless: the lock is checked in `pg_locks` from a second statement,
//!   and the command refused ([`StateError::PgPooled`]).
//!
//! Not supported (refused or ignored, never guessed): several hosts in one
//! string, client certificates (`sslcert`/`sslkey`), `~/.pgpass`, and SCRAM
//! channel binding (over TLS, authentication is plain SCRAM-SHA-256).

mod backend;
mod lock;
mod schema;
mod session;
mod settings;
mod tls;

pub use settings::{CONN_VAR, PgSettings, SslMode};

use super::{Backend, StateError, Store};
use crate::model::DEFAULT_WORKSPACE;
use backend::PgBackend;
use schema::Tables;
use session::{Session, sql_error};
use std::sync::{Arc, Mutex};

/// The workspaces kept in one PostgreSQL schema.
pub struct PgStore {
    settings: PgSettings,
    tables: Tables,
    history: u32,
    /// The session opened to check the schema, handed to the first backend
    /// opened so that a command uses one connection; opened again when needed.
    idle: Mutex<Option<Arc<Session>>>,
}

impl PgStore {
    /// Connects with `HTAPSYNC_PG_CONN` or the libpq variables and creates
    /// `schema`'s tables when missing; keeps `history` earlier versions per workspace.
    pub fn connect(schema: &str, history: u32) -> Result<PgStore, StateError> {
        PgStore::connect_with(&PgSettings::from_env()?, schema, history)
    }

    /// As [`PgStore::connect`], with settings read elsewhere (tests, tools).
    pub fn connect_with(
        settings: &PgSettings,
        schema: &str,
        history: u32,
    ) -> Result<PgStore, StateError> {
        let store = PgStore {
            settings: settings.clone(),
            tables: Tables::new(schema),
            history,
            idle: Mutex::new(None),
        };
        let session = Session::open(settings)?;
        let tables = store.tables.clone();
        session.run("creating the state tables", move |conn| {
            schema::ensure(conn, &tables)
        })?;
        *store.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(session));
        Ok(store)
    }

    /// The kept session (opened again when a backend took it).
    fn session(&self) -> Result<Arc<Session>, StateError> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(session) = &*idle {
            return Ok(session.clone());
        }
        let session = Arc::new(Session::open(&self.settings)?);
        *idle = Some(session.clone());
        Ok(session)
    }

    fn target(&self, session: Arc<Session>, workspace: &str) -> lock::Target {
        lock::Target {
            session,
            tables: self.tables.clone(),
            workspace: workspace.to_string(),
            describe: format!("{} workspace {workspace}", self.describe()),
            held: Default::default(),
        }
    }
}

impl Store for PgStore {
    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let tables = self.tables.clone();
        let mut names: Vec<String> =
            self.session()?.run("listing the workspaces", move |conn| {
                let endpoint = conn.endpoint.clone();
                conn.client
                    .query(&format!("SELECT workspace FROM {}", tables.states), &[])
                    .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                    .map_err(|e| sql_error(&endpoint, &tables.schema, "listing the workspaces", e))
            })?;
        names.push(DEFAULT_WORKSPACE.to_string());
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn open(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError> {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        let session = match taken {
            Some(session) => session,
            None => Arc::new(Session::open(&self.settings)?),
        };
        Ok(Arc::new(PgBackend::new(
            self.target(session, workspace),
            self.history,
        )))
    }

    fn delete_workspace(&self, workspace: &str) -> Result<(), StateError> {
        if workspace == DEFAULT_WORKSPACE {
            return Err(StateError::DefaultWorkspace);
        }
        let target = self.target(self.session()?, workspace);
        let (tables, name) = (self.tables.clone(), workspace.to_string());
        target.while_locked("deleting the workspace", move |conn| {
            let endpoint = conn.endpoint.clone();
            let err = |e| sql_error(&endpoint, &tables.schema, "deleting the workspace", e);
            let mut tx = conn.client.transaction().map_err(err)?;
            for table in [
                &tables.states,
                &tables.tasks,
                &tables.history,
                &tables.locks,
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE workspace = $1"),
                    &[&name],
                )
                .map_err(err)?;
            }
            tx.commit().map_err(err)
        })
    }

    fn describe(&self) -> String {
        format!("{} schema {}", self.settings.endpoint(), self.tables.schema)
    }
}

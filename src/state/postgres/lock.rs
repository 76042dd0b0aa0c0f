//! The state lock: a session-level advisory lock per (schema, workspace), held
//! on the backend's own session, plus a row in `locks` saying who holds it.
//!
//! The server releases an advisory lock when its session ends, so a holder
//! that dies (or whose connection is cut) never leaves a stale lock; a row it
//! leaves behind is only a record, overwritten by the next holder.

use super::schema::Tables;
use super::session::{Conn, Session, sql_error};
use crate::state::{LockGuard, LockHandle, LockInfo, StateError};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stable 64-bit advisory-lock key for `name` in `schema` (the first eight
/// bytes of a SHA-256): no row id, so no global lock is needed to create a workspace.
pub(super) fn key(kind: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("htapsync\0{kind}\0{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The workspace lock's key.
pub(super) fn workspace_key(tables: &Tables, workspace: &str) -> i64 {
    key("workspace", &format!("{}\0{workspace}", tables.schema))
}

/// One attempt to take the advisory lock on this session. A session that
/// already holds it counts as another holder (PostgreSQL would stack it),
/// as a second lock of the same file does locally.
fn try_lock(conn: &mut Conn, tables: &Tables, key: i64, held: bool) -> Result<bool, StateError> {
    if held {
        return Ok(false);
    }
    let endpoint = conn.endpoint.clone();
    let err = |e| sql_error(&endpoint, &tables.schema, "taking the state lock", e);
    let locked: bool = conn
        .client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .map_err(err)?
        .get(0);
    if !locked {
        return Ok(false);
    }
    // A separate statement: behind a transaction pooler it may run on another
    // server session, which does not hold the lock.
    let ours: bool = conn
        .client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND pid = pg_backend_pid()
               AND classid = (($1::bigint >> 32) & 4294967295)::oid
               AND objid = ($1::bigint & 4294967295)::oid
               AND objsubid = 1)",
            &[&key],
        )
        .map_err(err)?
        .get(0);
    if !ours {
        return Err(StateError::PgPooled { endpoint });
    }
    Ok(true)
}

fn unlock(conn: &mut Conn, tables: &Tables, key: i64) -> Result<(), StateError> {
    let endpoint = conn.endpoint.clone();
    conn.client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .map_err(|e| sql_error(&endpoint, &tables.schema, "releasing the state lock", e))?;
    Ok(())
}

/// The record of whoever holds (or last held) the lock.
fn holder(
    conn: &mut Conn,
    tables: &Tables,
    workspace: &str,
) -> Result<Option<LockInfo>, StateError> {
    let endpoint = conn.endpoint.clone();
    let row = conn
        .client
        .query_opt(
            &format!("SELECT info FROM {} WHERE workspace = $1", tables.locks),
            &[&workspace],
        )
        .map_err(|e| sql_error(&endpoint, &tables.schema, "reading the lock record", e))?;
    Ok(row.and_then(|row| serde_json::from_str(row.get::<_, &str>(0)).ok()))
}

/// Everything a lock operation needs, owned, to be sent to the session thread.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) session: Arc<Session>,
    pub(super) tables: Tables,
    pub(super) workspace: String,
    /// For messages: where the state lives.
    pub(super) describe: String,
    /// Whether this backend holds the lock now (shared with its guard).
    pub(super) held: Arc<std::sync::atomic::AtomicBool>,
}

impl Target {
    fn key(&self) -> i64 {
        workspace_key(&self.tables, &self.workspace)
    }

    fn held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn locked(&self, info: Option<LockInfo>) -> StateError {
        StateError::Locked {
            lock_path: PathBuf::from(&self.describe),
            info: info.map(Box::new),
        }
    }

    /// Takes the lock for `operation`, retrying until `timeout` (zero: one attempt).
    pub(super) fn acquire(
        &self,
        operation: &str,
        timeout: Duration,
    ) -> Result<LockGuard, StateError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(50);
        loop {
            let (tables, key, held) = (self.tables.clone(), self.key(), self.held());
            if self.session.run("taking the state lock", move |conn| {
                try_lock(conn, &tables, key, held)
            })? {
                break;
            }
            if Instant::now() >= deadline {
                return Err(self.locked(self.read_holder()?));
            }
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            // The back-off's growth: how often a waiter retries (performance only; mutants.toml skips it).
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        self.held.store(true, std::sync::atomic::Ordering::SeqCst);
        let info = LockInfo::new(operation, &self.describe);
        let handle = PgLock {
            target: self.clone(),
            id: info.id.clone(),
        };
        // Built before the record is written, so that a failure still unlocks.
        let guard = LockGuard::new(info.clone(), Box::new(handle));
        let (tables, workspace) = (self.tables.clone(), self.workspace.clone());
        self.session.run("writing the lock record", move |conn| {
            record(conn, &tables, &workspace, &info)
        })?;
        Ok(guard)
    }

    /// The holder's record. A holder writes it right after taking the lock,
    /// so a run that lost the race by milliseconds waits briefly for it rather
    /// than reporting an anonymous holder (as the local lock does).
    fn read_holder(&self) -> Result<Option<LockInfo>, StateError> {
        for _ in 0..20 {
            let (tables, workspace) = (self.tables.clone(), self.workspace.clone());
            let info = self.session.run("reading the lock record", move |conn| {
                holder(conn, &tables, &workspace)
            })?;
            if info.is_some() {
                return Ok(info);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(None)
    }

    /// Removes a record whose holder is gone (see [`crate::state::Backend::force_unlock`]).
    pub(super) fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        let (tables, workspace, key) = (self.tables.clone(), self.workspace.clone(), self.key());
        let (held, lock_id) = (self.held(), lock_id.to_string());
        let describe = self.describe.clone();
        self.session.run("removing the lock record", move |conn| {
            if !try_lock(conn, &tables, key, held)? {
                let info = holder(conn, &tables, &workspace)?;
                return Err(StateError::LockHeld {
                    lock_path: PathBuf::from(describe),
                    info: info.map(Box::new),
                });
            }
            let outcome = remove_record(conn, &tables, &workspace, &lock_id, &describe);
            unlock(conn, &tables, key)?;
            outcome
        })
    }

    /// Runs `job` on the session while holding the lock, refusing
    /// ([`StateError::Locked`]) when someone else has it.
    pub(super) fn while_locked<R: Send + 'static>(
        &self,
        action: &'static str,
        job: impl FnOnce(&mut Conn) -> Result<R, StateError> + Send + 'static,
    ) -> Result<R, StateError> {
        let (tables, workspace, key, held) = (
            self.tables.clone(),
            self.workspace.clone(),
            self.key(),
            self.held(),
        );
        let describe = self.describe.clone();
        self.session.run(action, move |conn| {
            if !try_lock(conn, &tables, key, held)? {
                let info = holder(conn, &tables, &workspace)?;
                return Err(StateError::Locked {
                    lock_path: PathBuf::from(describe),
                    info: info.map(Box::new),
                });
            }
            let outcome = job(conn);
            unlock(conn, &tables, key)?;
            outcome
        })
    }
}

/// Writes our record, noting a leftover one of a holder that is gone.
fn record(
    conn: &mut Conn,
    tables: &Tables,
    workspace: &str,
    info: &LockInfo,
) -> Result<(), StateError> {
    if let Some(stale) = holder(conn, tables, workspace)? {
        tracing::warn!(
            lock_id = %stale.id, who = %stale.who, pid = stale.pid, operation = %stale.operation,
            "recovered a stale state lock of ID {} (its holder is gone)", stale.id
        );
    }
    let json = serde_json::to_string(info).expect("LockInfo always serializes to JSON");
    let endpoint = conn.endpoint.clone();
    conn.client
        .execute(
            &format!(
                "INSERT INTO {} (workspace, info) VALUES ($1, $2)
                 ON CONFLICT (workspace) DO UPDATE SET info = EXCLUDED.info, locked_at = now()",
                tables.locks
            ),
            &[&workspace, &json],
        )
        .map_err(|e| sql_error(&endpoint, &tables.schema, "writing the lock record", e))?;
    Ok(())
}

fn remove_record(
    conn: &mut Conn,
    tables: &Tables,
    workspace: &str,
    lock_id: &str,
    describe: &str,
) -> Result<(), StateError> {
    let info = holder(conn, tables, workspace)?.ok_or_else(|| StateError::NotLocked {
        lock_path: PathBuf::from(describe),
    })?;
    if info.id != lock_id {
        return Err(StateError::LockIdMismatch {
            requested: lock_id.to_string(),
            actual: info.id,
        });
    }
    let endpoint = conn.endpoint.clone();
    conn.client
        .execute(
            &format!("DELETE FROM {} WHERE workspace = $1", tables.locks),
            &[&workspace],
        )
        .map_err(|e| sql_error(&endpoint, &tables.schema, "removing the lock record", e))?;
    tracing::info!(lock_id, "state lock removed by force-unlock");
    Ok(())
}

/// A held lock: released on its own session (never another one, which the
/// server would refuse: session locks belong to their session).
struct PgLock {
    target: Target,
    id: String,
}

impl LockHandle for PgLock {
    fn release(&mut self) -> Result<(), StateError> {
        let target = &self.target;
        let (tables, workspace, key, id) = (
            target.tables.clone(),
            target.workspace.clone(),
            target.key(),
            self.id.clone(),
        );
        target
            .held
            .store(false, std::sync::atomic::Ordering::SeqCst);
        target.session.run("releasing the state lock", move |conn| {
            let endpoint = conn.endpoint.clone();
            // Delete the record first: no record means "not held" even before the unlock.
            let removed = conn
                .client
                .execute(
                    &format!(
                        "DELETE FROM {} WHERE workspace = $1 AND info::jsonb ->> 'id' = $2",
                        tables.locks
                    ),
                    &[&workspace, &id],
                )
                .map(|_| ())
                .map_err(|e| sql_error(&endpoint, &tables.schema, "removing the lock record", e));
            unlock(conn, &tables, key)?;
            removed
        })
    }
}

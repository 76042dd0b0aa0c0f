//! One workspace's state in PostgreSQL: its row in `states`, earlier versions
//! in `state_history`, its lock (see [`super::lock`]).
//!
//! Every write is one transaction that checks the serial this backend last
//! read or wrote against the row (compare-and-swap under `SELECT … FOR
//! UPDATE`), moves the row it replaces into the history, prunes the history
//! to the kept count and writes the new row; so an update is never lost even
//! by a writer that runs without the lock, and the intents (part of the
//! document) are written exactly when the tasks are.

use super::lock::Target;
use super::schema::Tables;
use super::session::{Conn, sql_error};
use crate::state::{
    Backend, FORMAT_VERSION, Intent, LockGuard, State, StateError, TaskRecord, Version, decode,
    encode,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// See the module documentation.
pub(super) struct PgBackend {
    target: Target,
    /// Earlier versions kept per workspace.
    history: u32,
    /// What this backend last read or wrote; `None` before the first read or
    /// write. Locked across a whole write (the backend is shared).
    seen: Mutex<Option<Seen>>,
}

/// Whether a write keeps the version it replaces in the history: only the
/// first write of a backend (one command) does, as the local file keeps one
/// `.backup` per run. The history then holds the state as each run found it,
/// not the many intermediate writes of one apply, which would push the useful
/// versions out and cost a copy of the whole document per write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeepPrevious {
    Yes,
    No,
}

/// The row as this backend last saw it.
struct Seen {
    /// `None`: there was no row.
    serial: Option<u64>,
    tasks: BTreeMap<String, TaskRecord>,
    intents: Vec<Intent>,
    /// This backend has written (and so kept the version it found).
    wrote: bool,
}

impl Seen {
    fn of(serial: Option<u64>, state: Option<&State>) -> Seen {
        Seen {
            serial,
            tasks: state.map(|s| s.tasks.clone()).unwrap_or_default(),
            intents: state.map(|s| s.intents.clone()).unwrap_or_default(),
            wrote: false,
        }
    }
}

/// A new row, owned so that it can be sent to the session thread.
struct Row {
    workspace: String,
    lineage: String,
    serial: i64,
    tasks: i32,
    document: String,
    written_by: String,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn to_db(serial: u64) -> i64 {
    i64::try_from(serial).unwrap_or(i64::MAX)
}

fn from_db(serial: i64) -> u64 {
    u64::try_from(serial).unwrap_or(0)
}

impl PgBackend {
    pub(super) fn new(target: Target, history: u32) -> PgBackend {
        PgBackend {
            target,
            history,
            seen: Mutex::new(None),
        }
    }

    fn tables(&self) -> Tables {
        self.target.tables.clone()
    }

    /// Where decode errors point: the state's description (no file path).
    fn path(&self) -> PathBuf {
        PathBuf::from(&self.target.describe)
    }

    /// The current row's serial and document.
    fn fetch(&self) -> Result<Option<(u64, State)>, StateError> {
        let (tables, workspace) = (self.tables(), self.target.workspace.clone());
        let row = self.target.session.run("reading the state", move |conn| {
            let endpoint = conn.endpoint.clone();
            conn.client
                .query_opt(
                    &format!(
                        "SELECT serial, document FROM {} WHERE workspace = $1",
                        tables.states
                    ),
                    &[&workspace],
                )
                .map(|row| row.map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1))))
                .map_err(|e| sql_error(&endpoint, &tables.schema, "reading the state", e))
        })?;
        match row {
            Some((serial, document)) => Ok(Some((
                from_db(serial),
                decode(document.as_bytes(), &self.path())?,
            ))),
            None => Ok(None),
        }
    }

    /// Encodes `state` and checks that it reads back identically: never
    /// persist what could not be read.
    fn document(&self, state: &State) -> Result<String, StateError> {
        let bytes = encode(state);
        if decode(&bytes, &self.path())? != *state {
            return Err(StateError::Invalid {
                path: self.path(),
                message: "the encoded state does not read back identically; nothing was written"
                    .into(),
                restore_hint: String::new(),
            });
        }
        Ok(String::from_utf8(bytes).expect("JSON is UTF-8"))
    }
}

/// The write transaction: compare-and-swap on the serial, the replaced row
/// into the history, the history pruned to `keep`.
fn write_row(
    conn: &mut Conn,
    tables: &Tables,
    expected: Option<u64>,
    row: &Row,
    keep: i64,
    keep_previous: KeepPrevious,
) -> Result<(), StateError> {
    let endpoint = conn.endpoint.clone();
    let err = |e| sql_error(&endpoint, &tables.schema, "writing the state", e);
    let stale = |found: Option<i64>| StateError::StaleSerial {
        endpoint: endpoint.clone(),
        workspace: row.workspace.clone(),
        expected,
        found: found.map(from_db),
    };
    let (states, history) = (&tables.states, &tables.history);
    let mut prepare = |sql: String| conn.prepared(&sql).map_err(err);
    let select = prepare(format!(
        "SELECT serial FROM {states} WHERE workspace = $1 FOR UPDATE"
    ))?;
    let copy_previous = prepare(format!(
        "INSERT INTO {history} (workspace, lineage, serial, tasks, document, written_at, written_by)
         SELECT workspace, lineage, serial, tasks, document, written_at, written_by
         FROM {states} WHERE workspace = $1"
    ))?;
    let update = prepare(format!(
        "UPDATE {states} SET lineage = $2, serial = $3, tasks = $4, document = $5,
           written_at = now(), written_by = $6
         WHERE workspace = $1 AND serial = $7"
    ))?;
    let insert = prepare(format!(
        "INSERT INTO {states} (workspace, lineage, serial, tasks, document, written_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace) DO NOTHING"
    ))?;
    let prune = prepare(format!(
        "DELETE FROM {history} WHERE workspace = $1 AND id IN (
           SELECT id FROM {history} WHERE workspace = $1 ORDER BY id DESC OFFSET $2)"
    ))?;
    let mut tx = conn.client.transaction().map_err(err)?;
    let found: Option<i64> = tx
        .query_opt(&select, &[&row.workspace])
        .map_err(err)?
        .map(|r| r.get(0));
    if found != expected.map(to_db) {
        return Err(stale(found));
    }
    let params: [&(dyn postgres::types::ToSql + Sync); 6] = [
        &row.workspace,
        &row.lineage,
        &row.serial,
        &row.tasks,
        &row.document,
        &row.written_by,
    ];
    let written = match found {
        Some(found) => {
            if keep_previous == KeepPrevious::Yes {
                tx.execute(&copy_previous, &[&row.workspace]).map_err(err)?;
            }
            let mut with_expected = params.to_vec();
            with_expected.push(&found);
            tx.execute(&update, &with_expected).map_err(err)?
        }
        None => tx.execute(&insert, &params).map_err(err)?,
    };
    if written != 1 {
        // Inserted by someone else meanwhile (the row did not exist to be locked).
        let now: Option<i64> = tx
            .query_opt(&select, &[&row.workspace])
            .map_err(err)?
            .map(|r| r.get(0));
        return Err(stale(now));
    }
    tx.execute(&prune, &[&row.workspace, &keep]).map_err(err)?;
    tx.commit().map_err(err)
}

impl Backend for PgBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let mut seen = guard(&self.seen);
        let current = self.fetch()?;
        *seen = Some(Seen::of(
            current.as_ref().map(|(serial, _)| *serial),
            current.as_ref().map(|(_, state)| state),
        ));
        Ok(current.map(|(_, state)| state))
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let mut seen = guard(&self.seen);
        let seen = match &mut *seen {
            Some(seen) => seen,
            unseen => {
                // Never read: what is there now is the baseline (as the local file's).
                let current = self.fetch()?;
                unseen.insert(Seen::of(
                    current.as_ref().map(|(serial, _)| *serial),
                    current.as_ref().map(|(_, state)| state),
                ))
            }
        };
        if seen.tasks == state.tasks && seen.intents == state.intents {
            return Ok(());
        }
        let before = (
            state.serial,
            state.format_version,
            std::mem::replace(
                &mut state.htapsync_version,
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        );
        state.serial += 1;
        state.format_version = FORMAT_VERSION;
        let written = self.document(state).and_then(|document| {
            let row = Row {
                workspace: self.target.workspace.clone(),
                lineage: state.lineage.clone(),
                serial: to_db(state.serial),
                tasks: i32::try_from(state.tasks.len()).unwrap_or(i32::MAX),
                document,
                written_by: crate::state::lock::who(),
            };
            let (tables, expected, keep) = (self.tables(), seen.serial, i64::from(self.history));
            let keep_previous = if seen.wrote {
                KeepPrevious::No
            } else {
                KeepPrevious::Yes
            };
            self.target.session.run("writing the state", move |conn| {
                write_row(conn, &tables, expected, &row, keep, keep_previous)
            })
        });
        if let Err(e) = written {
            // The caller's state and what this backend saw stay as they were.
            (state.serial, state.format_version, state.htapsync_version) = before;
            return Err(e);
        }
        *seen = Seen {
            wrote: true,
            ..Seen::of(Some(state.serial), Some(state))
        };
        Ok(())
    }

    /// The session is alive, the server writable and the role allowed to write the tables.
    fn check_writable(&self) -> Result<(), StateError> {
        let tables = self.tables();
        let endpoint = self.target.session.endpoint().to_string();
        let not_writable = |reason: String| StateError::PgNotWritable {
            endpoint: endpoint.clone(),
            schema: tables.schema.clone(),
            reason,
        };
        let job_tables = tables.clone();
        let (read_only, may_write): (bool, bool) = self
            .target
            .session
            .run("checking that the state can be written", move |conn| {
                let endpoint = conn.endpoint.clone();
                conn.client
                    .query_one(
                        "SELECT current_setting('transaction_read_only') = 'on',
                           has_table_privilege($1, 'INSERT, UPDATE')
                           AND has_table_privilege($2, 'INSERT, DELETE')
                           AND has_table_privilege($3, 'INSERT, UPDATE, DELETE')",
                        &[&job_tables.states, &job_tables.history, &job_tables.locks],
                    )
                    .map(|row| (row.get(0), row.get(1)))
                    .map_err(|e| {
                        sql_error(
                            &endpoint,
                            &job_tables.schema,
                            "checking that the state can be written",
                            e,
                        )
                    })
            })
            .map_err(|e| match e {
                StateError::PgNotWritable { .. } => e,
                other => not_writable(other.to_string()),
            })?;
        if read_only {
            return Err(not_writable(
                "the server accepts only reads (a standby, or default_transaction_read_only)"
                    .into(),
            ));
        }
        if !may_write {
            return Err(not_writable(format!(
                "the role may not insert, update and delete in {}, {} and {}",
                tables.states, tables.history, tables.locks
            )));
        }
        Ok(())
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        self.target.acquire(operation, timeout)
    }

    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        self.target.force_unlock(lock_id)
    }

    fn history(&self) -> Result<Vec<Version>, StateError> {
        let (tables, workspace) = (self.tables(), self.target.workspace.clone());
        self.target.session.run("listing the state history", move |conn| {
            let endpoint = conn.endpoint.clone();
            let columns = "serial, lineage,
                 to_char(written_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                 written_by, tasks";
            let rows = conn
                .client
                .query(
                    &format!(
                        "(SELECT {columns}, 0 AS current, NULL::bigint AS id FROM {} WHERE workspace = $1)
                         UNION ALL
                         (SELECT {columns}, 1, id FROM {} WHERE workspace = $1)
                         ORDER BY current, id DESC",
                        tables.states, tables.history
                    ),
                    &[&workspace],
                )
                .map_err(|e| sql_error(&endpoint, &tables.schema, "listing the state history", e))?;
            Ok(rows
                .iter()
                .map(|row| Version {
                    serial: from_db(row.get(0)),
                    lineage: row.get(1),
                    written_at: row.get(2),
                    written_by: Some(row.get(3)),
                    tasks: usize::try_from(row.get::<_, i32>(4)).unwrap_or(0),
                })
                .collect())
        })
    }

    fn read_version(&self, serial: u64) -> Result<Option<State>, StateError> {
        let (tables, workspace) = (self.tables(), self.target.workspace.clone());
        let document = self.target.session.run("reading a state version", move |conn| {
            let endpoint = conn.endpoint.clone();
            conn.client
                .query_opt(
                    &format!(
                        "(SELECT document, 0 AS current, NULL::bigint AS id FROM {} WHERE workspace = $1 AND serial = $2)
                         UNION ALL
                         (SELECT document, 1, id FROM {} WHERE workspace = $1 AND serial = $2)
                         ORDER BY current, id DESC LIMIT 1",
                        tables.states, tables.history
                    ),
                    &[&workspace, &to_db(serial)],
                )
                .map(|row| row.map(|r| r.get::<_, String>(0)))
                .map_err(|e| sql_error(&endpoint, &tables.schema, "reading a state version", e))
        })?;
        document
            .map(|document| decode(document.as_bytes(), &self.path()))
            .transpose()
    }

    fn describe(&self) -> String {
        self.target.describe.clone()
    }
}

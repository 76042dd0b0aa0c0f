//! One workspace's state in PostgreSQL: its header row in `states` (lineage,
//! serial, intents), one row per task in `state_tasks`, the versions commands
//! found in `state_history`, its lock (see [`super::lock`]).
//!
//! Every write is one transaction that checks the serial this backend last
//! read or wrote against the header (compare-and-swap under `SELECT … FOR
//! UPDATE`) and writes only what changed: the task rows added, changed or
//! removed, and the header with the intents. So an update is never lost even
//! by a writer that runs without the lock, the intents are written exactly
//! when the tasks are, and a write of an apply of 1,000 tasks costs what its
//! few changed tasks cost, not the whole document (docs/performance.md).
//! A command's first write also keeps the whole version it found in the
//! history (as the local file keeps one `.backup` per run).

use super::lock::Target;
use super::schema::Tables;
use super::session::{Conn, sql_error};
use crate::state::{
    Backend, Intent, LockGuard, Stamped, State, StateError, TaskRecord, Version, decode, encode,
};
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

/// The workspace as this backend last saw it.
struct Seen {
    /// `None`: there was no header row.
    serial: Option<u64>,
    state: State,
    /// This backend has written, so it has kept the version it found.
    wrote: bool,
}

impl Seen {
    fn of(found: Option<State>) -> Seen {
        Seen {
            serial: found.as_ref().map(|s| s.serial),
            state: found.unwrap_or_default(),
            wrote: false,
        }
    }
}

/// What a write changes against what this backend saw.
struct Changes {
    /// Task rows to insert or replace: (name, record JSON).
    upserts: (Vec<String>, Vec<String>),
    removed: Vec<String>,
}

impl Changes {
    fn between(seen: &State, next: &State) -> Changes {
        let changed = next
            .tasks
            .iter()
            .filter(|(name, record)| seen.tasks.get(*name) != Some(*record));
        let (names, records) = changed
            .map(|(name, record)| (name.clone(), record_json(record)))
            .unzip();
        let removed = seen
            .tasks
            .keys()
            .filter(|name| !next.tasks.contains_key(*name))
            .cloned()
            .collect();
        Changes {
            upserts: (names, records),
            removed,
        }
    }
}

fn record_json(record: &TaskRecord) -> String {
    serde_json::to_string(record).expect("TaskRecord always serializes to JSON")
}

/// The header row and the changed task rows, owned so that they can be sent
/// to the session thread.
struct Write {
    workspace: String,
    lineage: String,
    serial: i64,
    format_version: i32,
    htapsync_version: String,
    tasks: i32,
    intents: String,
    written_by: String,
    changes: Changes,
    /// The whole version this write replaces, for the history: only on a
    /// command's first write over an existing row.
    previous: Option<String>,
}

/// The rows of a workspace as read, before they are decoded.
struct Raw {
    serial: i64,
    lineage: String,
    format_version: i32,
    htapsync_version: String,
    intents: String,
    tasks: Vec<(String, String)>,
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

    /// The current state: its header and task rows, read in one snapshot.
    fn fetch(&self) -> Result<Option<State>, StateError> {
        let (tables, workspace) = (self.tables(), self.target.workspace.clone());
        let raw = self.target.session.run("reading the state", move |conn| {
            let endpoint = conn.endpoint.clone();
            let err = |e| sql_error(&endpoint, &tables.schema, "reading the state", e);
            let header = conn.prepared(&format!(
                "SELECT serial, lineage, format_version, htapsync_version, intents
                 FROM {} WHERE workspace = $1",
                tables.states
            ));
            let rows = conn.prepared(&format!(
                "SELECT name, record FROM {} WHERE workspace = $1",
                tables.tasks
            ));
            let (header, rows) = (header.map_err(err)?, rows.map_err(err)?);
            let mut tx = conn
                .client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(err)?;
            let Some(head) = tx.query_opt(&header, &[&workspace]).map_err(err)? else {
                return Ok(None);
            };
            let tasks = tx
                .query(&rows, &[&workspace])
                .map_err(err)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            tx.commit().map_err(err)?;
            Ok(Some(Raw {
                serial: head.get(0),
                lineage: head.get(1),
                format_version: head.get(2),
                htapsync_version: head.get(3),
                intents: head.get(4),
                tasks,
            }))
        })?;
        raw.map(|raw| self.assemble(raw)).transpose()
    }

    /// The state document of `raw`, decoded as a state file is (format
    /// version, task keys), so that a damaged row is refused the same way.
    fn assemble(&self, raw: Raw) -> Result<State, StateError> {
        let quote = |s: &str| serde_json::to_string(s).expect("strings serialize");
        let mut doc = format!(
            "{{\"format_version\":{},\"htapsync_version\":{},\"lineage\":{},\"serial\":{},\"intents\":{},\"tasks\":{{",
            raw.format_version,
            quote(&raw.htapsync_version),
            quote(&raw.lineage),
            raw.serial,
            raw.intents
        );
        for (i, (name, record)) in raw.tasks.iter().enumerate() {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&quote(name));
            doc.push(':');
            doc.push_str(record);
        }
        doc.push_str("}}");
        decode(doc.as_bytes(), &self.path())
    }

    /// Encodes what changed and checks that it reads back identically: never
    /// persist what could not be read.
    fn check(&self, next: &State, changes: &Changes) -> Result<String, StateError> {
        let invalid = |what: &str| StateError::Invalid {
            path: self.path(),
            message: format!("{what} does not read back identically; nothing was written"),
            restore_hint: String::new(),
        };
        for (name, json) in changes.upserts.0.iter().zip(&changes.upserts.1) {
            let back: Option<TaskRecord> = serde_json::from_str(json).ok();
            if back.as_ref() != next.tasks.get(name) {
                return Err(invalid(&format!("the encoded task {name}")));
            }
        }
        let intents = serde_json::to_string(&next.intents).expect("intents serialize");
        let back: Option<Vec<Intent>> = serde_json::from_str(&intents).ok();
        if back.as_ref() != Some(&next.intents) {
            return Err(invalid("the encoded intents"));
        }
        Ok(intents)
    }
}

/// The write transaction: compare-and-swap on the serial, the version found
/// into the history (first write of a command), the changed task rows, the
/// header; the history pruned to `keep`.
fn write_rows(
    conn: &mut Conn,
    tables: &Tables,
    expected: Option<u64>,
    write: &Write,
    keep: i64,
) -> Result<(), StateError> {
    let endpoint = conn.endpoint.clone();
    let err = |e| sql_error(&endpoint, &tables.schema, "writing the state", e);
    let stale = |found: Option<i64>| StateError::StaleSerial {
        endpoint: endpoint.clone(),
        workspace: write.workspace.clone(),
        expected,
        found: found.map(from_db),
    };
    let (states, history, task_rows) = (&tables.states, &tables.history, &tables.tasks);
    let mut prepare = |sql: String| conn.prepared(&sql).map_err(err);
    let select = prepare(format!(
        "SELECT serial FROM {states} WHERE workspace = $1 FOR UPDATE"
    ))?;
    let keep_previous = prepare(format!(
        "INSERT INTO {history} (workspace, lineage, serial, tasks, document, written_at, written_by)
         SELECT workspace, lineage, serial, tasks, $2, written_at, written_by
         FROM {states} WHERE workspace = $1"
    ))?;
    let update = prepare(format!(
        "UPDATE {states} SET lineage = $2, serial = $3, format_version = $4,
           htapsync_version = $5, tasks = $6, intents = $7, written_at = now(), written_by = $8
         WHERE workspace = $1 AND serial = $9"
    ))?;
    let insert = prepare(format!(
        "INSERT INTO {states} (workspace, lineage, serial, format_version, htapsync_version,
           tasks, intents, written_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (workspace) DO NOTHING"
    ))?;
    let upsert = prepare(format!(
        "INSERT INTO {task_rows} (workspace, name, record)
         SELECT $1, name, record FROM unnest($2::text[], $3::text[]) AS u(name, record)
         ON CONFLICT (workspace, name) DO UPDATE SET record = EXCLUDED.record"
    ))?;
    let remove = prepare(format!(
        "DELETE FROM {task_rows} WHERE workspace = $1 AND name = ANY($2)"
    ))?;
    let prune = prepare(format!(
        "DELETE FROM {history} WHERE workspace = $1 AND id IN (
           SELECT id FROM {history} WHERE workspace = $1 ORDER BY id DESC OFFSET $2)"
    ))?;
    let mut tx = conn.client.transaction().map_err(err)?;
    let found: Option<i64> = tx
        .query_opt(&select, &[&write.workspace])
        .map_err(err)?
        .map(|r| r.get(0));
    if found != expected.map(to_db) {
        return Err(stale(found));
    }
    let header: [&(dyn postgres::types::ToSql + Sync); 8] = [
        &write.workspace,
        &write.lineage,
        &write.serial,
        &write.format_version,
        &write.htapsync_version,
        &write.tasks,
        &write.intents,
        &write.written_by,
    ];
    let written = match found {
        Some(found) => {
            if let Some(previous) = &write.previous {
                tx.execute(&keep_previous, &[&write.workspace, previous])
                    .map_err(err)?;
                tx.execute(&prune, &[&write.workspace, &keep])
                    .map_err(err)?;
            }
            let mut with_expected = header.to_vec();
            with_expected.push(&found);
            tx.execute(&update, &with_expected).map_err(err)?
        }
        None => tx.execute(&insert, &header).map_err(err)?,
    };
    if written != 1 {
        // Inserted by someone else meanwhile (the row did not exist to be locked).
        let now: Option<i64> = tx
            .query_opt(&select, &[&write.workspace])
            .map_err(err)?
            .map(|r| r.get(0));
        return Err(stale(now));
    }
    let (names, records) = &write.changes.upserts;
    if !names.is_empty() {
        tx.execute(&upsert, &[&write.workspace, names, records])
            .map_err(err)?;
    }
    if !write.changes.removed.is_empty() {
        tx.execute(&remove, &[&write.workspace, &write.changes.removed])
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

impl Backend for PgBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let mut seen = guard(&self.seen);
        let current = self.fetch()?;
        *seen = Some(Seen::of(current.clone()));
        Ok(current)
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let mut seen = guard(&self.seen);
        let seen = match &mut *seen {
            Some(seen) => seen,
            // Never read: what is there now is the baseline (as the local file's).
            unseen => unseen.insert(Seen::of(self.fetch()?)),
        };
        if seen.state.tasks == state.tasks && seen.state.intents == state.intents {
            return Ok(());
        }
        let before = Stamped::stamp(state);
        let changes = Changes::between(&seen.state, state);
        let written = self.check(state, &changes).and_then(|intents| {
            let previous = (!seen.wrote && seen.serial.is_some())
                .then(|| String::from_utf8(encode(&seen.state)).expect("JSON is UTF-8"));
            let write = Write {
                workspace: self.target.workspace.clone(),
                lineage: state.lineage.clone(),
                serial: to_db(state.serial),
                format_version: i32::try_from(state.format_version).unwrap_or(i32::MAX),
                htapsync_version: state.htapsync_version.clone(),
                tasks: i32::try_from(state.tasks.len()).unwrap_or(i32::MAX),
                intents,
                written_by: crate::state::lock::who(),
                changes,
                previous,
            };
            let (tables, expected, keep) = (self.tables(), seen.serial, i64::from(self.history));
            self.target.session.run("writing the state", move |conn| {
                write_rows(conn, &tables, expected, &write, keep)
            })
        });
        if let Err(e) = written {
            // The caller's state and what this backend saw stay as they were.
            before.restore(state);
            return Err(e);
        }
        // Brings what was seen up to `state`, copying only what changed.
        let kept = &mut seen.state;
        kept.tasks.retain(|name, _| state.tasks.contains_key(name));
        for (name, record) in &state.tasks {
            if kept.tasks.get(name) != Some(record) {
                kept.tasks.insert(name.clone(), record.clone());
            }
        }
        kept.intents.clone_from(&state.intents);
        kept.lineage.clone_from(&state.lineage);
        kept.serial = state.serial;
        kept.format_version = state.format_version;
        kept.htapsync_version.clone_from(&state.htapsync_version);
        seen.serial = Some(state.serial);
        seen.wrote = true;
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
                           AND has_table_privilege($3, 'INSERT, UPDATE, DELETE')
                           AND has_table_privilege($4, 'INSERT, UPDATE, DELETE')",
                        &[
                            &job_tables.states,
                            &job_tables.history,
                            &job_tables.locks,
                            &job_tables.tasks,
                        ],
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
                "the role may not insert, update and delete in {}, {}, {} and {}",
                tables.states, tables.tasks, tables.history, tables.locks
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
        if let Some(current) = self.fetch()?.filter(|s| s.serial == serial) {
            return Ok(Some(current));
        }
        let (tables, workspace) = (self.tables(), self.target.workspace.clone());
        let document = self
            .target
            .session
            .run("reading a state version", move |conn| {
                let endpoint = conn.endpoint.clone();
                conn.client
                    .query_opt(
                        &format!(
                            "SELECT document FROM {} WHERE workspace = $1 AND serial = $2
                         ORDER BY id DESC LIMIT 1",
                            tables.history
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

//! The tables, created on first use and versioned so that a later release can
//! migrate them: `schema_version` records each migration applied.
//!
//! Migrations run in one transaction under a transaction-level advisory lock
//! (released with the transaction), so two first users never race: the
//! second waits, then finds the tables made.

use super::session::{Conn, sql_error};
use crate::state::StateError;

/// The table version this build writes; a higher one is refused.
pub(super) const VERSION: i32 = 1;

/// Migration N brings the tables from version N-1 to N (`{s}`: the quoted schema).
const MIGRATIONS: [&str; VERSION as usize] = [
    // 1: one header row per workspace (intents included), one row per task,
    // the versions commands found, the lock records.
    "CREATE TABLE {s}.states (
        workspace text PRIMARY KEY,
        lineage text NOT NULL,
        serial bigint NOT NULL,
        format_version integer NOT NULL,
        htapsync_version text NOT NULL,
        tasks integer NOT NULL,
        intents text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(),
        written_by text NOT NULL
     );
     CREATE TABLE {s}.state_tasks (
        workspace text NOT NULL,
        name text NOT NULL,
        record text NOT NULL,
        PRIMARY KEY (workspace, name)
     );
     CREATE TABLE {s}.state_history (
        id bigserial PRIMARY KEY,
        workspace text NOT NULL,
        lineage text NOT NULL,
        serial bigint NOT NULL,
        tasks integer NOT NULL,
        document text NOT NULL,
        written_at timestamptz NOT NULL,
        written_by text NOT NULL
     );
     CREATE INDEX state_history_workspace ON {s}.state_history (workspace, id);
     CREATE TABLE {s}.locks (
        workspace text PRIMARY KEY,
        info text NOT NULL,
        locked_at timestamptz NOT NULL DEFAULT now()
     );",
];

/// The schema's tables, quoted for SQL.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    /// As configured, for messages.
    pub(super) schema: String,
    pub(super) states: String,
    pub(super) tasks: String,
    pub(super) history: String,
    pub(super) locks: String,
    quoted: String,
}

impl Tables {
    pub(super) fn new(schema: &str) -> Tables {
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        Tables {
            schema: schema.to_string(),
            states: format!("{quoted}.states"),
            tasks: format!("{quoted}.state_tasks"),
            history: format!("{quoted}.state_history"),
            locks: format!("{quoted}.locks"),
            quoted,
        }
    }
}

/// Brings the schema to [`VERSION`]; a no-op (one query) when it is there.
pub(super) fn ensure(conn: &mut Conn, tables: &Tables) -> Result<(), StateError> {
    if current_version(conn, tables)? == Some(VERSION) {
        return Ok(());
    }
    let endpoint = conn.endpoint.clone();
    let err = |e| sql_error(&endpoint, &tables.schema, "creating the state tables", e);
    let mut tx = conn.client.transaction().map_err(err)?;
    let key = super::lock::key("migrate", &tables.schema);
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .map_err(err)?;
    let s = &tables.quoted;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.schema_version (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .map_err(err)?;
    let found: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {s}.schema_version"),
            &[],
        )
        .map_err(err)?
        .get(0);
    if found > VERSION {
        return Err(newer(&endpoint, tables, found));
    }
    for (version, sql) in (1..).zip(MIGRATIONS.iter()).skip(found as usize) {
        tx.batch_execute(&sql.replace("{s}", s)).map_err(err)?;
        tx.execute(
            &format!("INSERT INTO {s}.schema_version (version) VALUES ($1)"),
            &[&version],
        )
        .map_err(err)?;
        tracing::info!(schema = %tables.schema, version, "migrated the PostgreSQL state tables");
    }
    tx.commit().map_err(err)
}

/// The recorded version, `None` when the schema has no version table yet.
fn current_version(conn: &mut Conn, tables: &Tables) -> Result<Option<i32>, StateError> {
    let endpoint = conn.endpoint.clone();
    let err = |e| {
        sql_error(
            &endpoint,
            &tables.schema,
            "reading the state table version",
            e,
        )
    };
    let qualified = format!("{}.schema_version", tables.quoted);
    let exists: bool = conn
        .client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&qualified])
        .map_err(err)?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let version: i32 = conn
        .client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {qualified}"),
            &[],
        )
        .map_err(err)?
        .get(0);
    if version > VERSION {
        return Err(newer(&endpoint, tables, version));
    }
    Ok(Some(version))
}

fn newer(endpoint: &str, tables: &Tables, found: i32) -> StateError {
    StateError::PgSchemaNewer {
        endpoint: endpoint.to_string(),
        schema: tables.schema.clone(),
        found,
        supported: VERSION,
    }
}

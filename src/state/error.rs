//! Errors of reading, writing and locking state, worded to say what to do next.

use super::lock::LockInfo;
use std::path::PathBuf;

/// Everything that can go wrong with the state or its lock.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file operation failed; `action` says which one ("reading", "renaming", ...).
    #[error("state {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        /// Part of the message, so not also exposed as `source()`.
        cause: std::io::Error,
    },
    /// The state cannot be written where it lives (read-only directory, full disk, ...).
    #[error(
        "the state {path} cannot be written: {cause}\n\
         Nothing was changed in the cloud. Make its directory writable (or point --state\n\
         elsewhere) and run the command again."
    )]
    NotWritable {
        path: PathBuf,
        /// Part of the message, so not also exposed as `source()`.
        cause: std::io::Error,
    },
    /// A state write of this run failed earlier; later writes are not attempted,
    /// so that the state on disk stays exactly what the run reported.
    #[error("not recorded: an earlier state write of this run failed")]
    WritesStopped,
    /// The bytes are not a valid state document.
    #[error(
        "{path}:{line}:{column}: the state file is not valid: {message}\n\
         Nothing was changed.{restore_hint}"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// " Restore it from ….backup …" when a backup exists, else empty.
        restore_hint: String,
    },
    /// The file exists but holds nothing (an editor or a copy cut short, a full disk).
    #[error("{path}: the state file is empty.\nNothing was changed.{restore_hint}")]
    Empty {
        path: PathBuf,
        /// As in [`StateError::Parse`].
        restore_hint: String,
    },
    /// The document is valid JSON but breaks a rule of the format.
    #[error("{path}: the state file is not valid: {message}\nNothing was changed.{restore_hint}")]
    Invalid {
        path: PathBuf,
        message: String,
        /// As in [`StateError::Parse`]; empty when the file is not to blame.
        restore_hint: String,
    },
    /// A newer htapsync wrote this state; reading it could lose what it recorded.
    #[error(
        "{path}: the state was written by a newer htapsync (format {found}, this build reads up to {supported}).\n\
         Upgrade htapsync to use this state. Nothing was changed."
    )]
    NewerFormat {
        path: PathBuf,
        found: u64,
        supported: u32,
    },
    /// Writing through a symlink could clobber a file elsewhere; the user must point at the real file.
    #[error(
        "{path} is a symbolic link; htapsync refuses to write state through a link.\n\
         Point --state (or [state] path) at the real file. Nothing was written."
    )]
    Symlink { path: PathBuf },
    /// Another process holds the lock.
    #[error("{}", locked_message(lock_path, info.as_deref()))]
    Locked {
        lock_path: PathBuf,
        /// The holder's record; `None` when it had not written one yet.
        info: Option<Box<LockInfo>>,
    },
    /// `force-unlock` found the lock still held: its holder is alive.
    #[error("{}", held_message(lock_path, info.as_deref()))]
    LockHeld {
        lock_path: PathBuf,
        /// The holder's record; `None` when it had not written one yet.
        info: Option<Box<LockInfo>>,
    },
    /// `force-unlock` was given an ID other than the current lock's.
    #[error(
        "Failed to unlock state: the lock ID {requested:?} does not match the existing lock ID {actual:?}.\n\
         Run `htapsync force-unlock {actual}` if that lock is stale."
    )]
    LockIdMismatch { requested: String, actual: String },
    /// Not in this build.
    #[error("{0} is not available in this build")]
    Unsupported(&'static str),
    /// The `default` workspace always exists.
    #[error("the workspace `default` cannot be deleted")]
    DefaultWorkspace,
    /// `force-unlock` found nothing to remove.
    #[error("Failed to unlock state: no lock is held on {lock_path}.")]
    NotLocked { lock_path: PathBuf },
    /// `HTAPSYNC_PG_CONN` or a libpq variable holds a value htapsync cannot use.
    #[error(
        "{source_name}: {problem}.\n\
         The PostgreSQL state is reached through HTAPSYNC_PG_CONN (a libpq key=value string\n\
         or a postgres:// URL) or the variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,\n\
         PGSSLMODE, PGSSLROOTCERT. Correct it and run the command again. Nothing was changed."
    )]
    PgSettings {
        /// The variable the value came from.
        source_name: String,
        problem: String,
    },
    /// No session could be opened (server down, wrong password, TLS refused, ...).
    #[error(
        "cannot connect to the PostgreSQL state at {endpoint}: {cause}\n{hint}\nNothing was changed."
    )]
    PgConnect {
        endpoint: String,
        cause: String,
        /// What to check, for the kind of failure.
        hint: &'static str,
    },
    /// The session ended (server stopped or restarted, network cut) during a call.
    #[error(
        "the connection to the PostgreSQL state at {endpoint} was lost while {action}: {cause}\n\
         The server released this command's state lock with the connection, so nothing more\n\
         is written by this command. A state write is one transaction: the state holds all\n\
         of a write or none of it. Run the command again once the server is reachable."
    )]
    PgConnectionLost {
        endpoint: String,
        action: &'static str,
        cause: String,
    },
    /// A statement failed for another reason.
    #[error("the PostgreSQL state at {endpoint}: {action} failed: {cause}")]
    PgQuery {
        endpoint: String,
        action: &'static str,
        cause: String,
    },
    /// The role may not write the tables, or the server is a read-only standby.
    #[error(
        "the PostgreSQL state at {endpoint} cannot be written: {reason}\n\
         Nothing was changed in the cloud. Grant the role INSERT, UPDATE and DELETE on the\n\
         tables of schema {schema} (and connect to the primary server), then run the command again."
    )]
    PgNotWritable {
        endpoint: String,
        schema: String,
        reason: String,
    },
    /// Compare-and-swap failed: someone wrote the state since this command read it.
    #[error(
        "the state of workspace {workspace} at {endpoint} was written by someone else: this\n\
         command read serial {}, the database now holds serial {}. Nothing was written.\n\
         Run `htapsync plan` again to plan against the current state; keep the state lock on\n\
         (the default) so that runs wait for each other.",
        serial_text(*expected),
        serial_text(*found)
    )]
    StaleSerial {
        endpoint: String,
        workspace: String,
        /// `None`: no state existed when this command read it.
        expected: Option<u64>,
        found: Option<u64>,
    },
    /// A newer htapsync migrated the tables.
    #[error(
        "the PostgreSQL schema {schema} at {endpoint} has table version {found}; this htapsync\n\
         knows versions up to {supported}. Upgrade htapsync to use this state. Nothing was changed."
    )]
    PgSchemaNewer {
        endpoint: String,
        schema: String,
        found: i32,
        supported: i32,
    },
    /// The advisory lock is not visible on this session: a transaction pooler
    /// runs statements on other server sessions, so the lock would not protect anything.
    #[error(
        "the state lock at {endpoint} is not held by this command's own session: a connection\n\
         pooler in transaction mode (PgBouncer, ...) seems to sit between htapsync and PostgreSQL.\n\
         Connect htapsync to the server directly, or through a session-mode pool. Nothing was changed."
    )]
    PgPooled { endpoint: String },
}

impl StateError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        StateError::Io {
            action,
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

fn serial_text(serial: Option<u64>) -> String {
    serial.map_or_else(|| "none (no state yet)".to_string(), |s| s.to_string())
}

fn holder_block(lock_path: &std::path::Path, info: Option<&LockInfo>) -> String {
    match info {
        Some(info) => info.to_string(),
        None => format!(
            "Lock Info:\n  Path:      {}\n  (the holder has not recorded its details yet)\n",
            lock_path.display()
        ),
    }
}

fn held_message(lock_path: &std::path::Path, info: Option<&LockInfo>) -> String {
    format!(
        "Failed to unlock state: the lock is held by a running process; it is not stale.\n\n\
         {}\n\
         force-unlock removes only a lock whose holder is gone (a holder that dies\n\
         releases the lock with it). Wait for that operation to finish, or stop it.\n\
         Nothing was changed.",
        holder_block(lock_path, info)
    )
}

fn locked_message(lock_path: &std::path::Path, info: Option<&LockInfo>) -> String {
    let block = holder_block(lock_path, info);
    let id = info.map_or("LOCK_ID", |info| info.id.as_str());
    format!(
        "Error acquiring the state lock\n\n\
         {block}\n\
         htapsync acquires a state lock to protect the state from being written\n\
         by multiple users at the same time. Wait for the other operation to finish,\n\
         or retry with --lock-timeout=DURATION to wait for it. If you are sure the holder\n\
         is gone, remove the lock with `htapsync force-unlock {id}`."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal of a stale write says which serials it saw, "none" when
    /// there was no state yet.
    #[test]
    fn a_stale_serial_names_both_serials() {
        let err = StateError::StaleSerial {
            endpoint: "postgresql://db".into(),
            workspace: "default".into(),
            expected: None,
            found: Some(3),
        };
        let text = err.to_string();
        assert!(
            text.contains("read serial none (no state yet), the database now holds serial 3."),
            "{text}"
        );
    }
}

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

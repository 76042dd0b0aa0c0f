//! The local state file backend: `<path>`, `<path>.backup`, `<path>.lock`.

use super::atomic::{CrashHooks, StagedFile, write_atomic};
use super::codec::{decode, encode};
use super::{
    Backend, FORMAT_VERSION, Intent, LockGuard, LockInfo, State, StateError, TaskRecord, lock,
};
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// What decides whether a write changes anything (lineage, serial and version do not).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Content {
    tasks: BTreeMap<String, TaskRecord>,
    intents: Vec<Intent>,
}

impl Content {
    fn of(state: &State) -> Content {
        Content {
            tasks: state.tasks.clone(),
            intents: state.intents.clone(),
        }
    }

    /// Whether `state` has exactly this content (no copy made to find out).
    fn matches(&self, state: &State) -> bool {
        self.tasks == state.tasks && self.intents == state.intents
    }
}

/// Identifies one version of a file without reading it: a rename over it
/// (every atomic writer) changes the inode, an edit in place changes the size
/// or the change time (which, unlike the modification time, no tool can set back).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The state file as a write finds it.
enum OnDisk {
    /// No file yet.
    Missing,
    /// Exactly what this backend last wrote (same [`Stamp`]): it was
    /// round-trip checked when written, so it is neither read nor decoded.
    Ours,
    /// Anything else: its bytes (kept as the backup) and decoded state.
    Foreign(Vec<u8>, State),
}

/// State kept in one local JSON file.
///
/// One value serves one command: the first write that replaces a file this
/// backend did not write keeps that file as `<path>.backup`; later writes of
/// the same backend replace only the state file (as Terraform's local backend
/// does), so a run of many operations pays for one backup, not one per write.
#[derive(Debug)]
pub struct LocalBackend {
    path: PathBuf,
    /// The content last read or written; `None` until the first read or write.
    last: Mutex<Option<Content>>,
    /// The stamp of the file this backend last wrote.
    written: Mutex<Option<Stamp>>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LocalBackend {
    pub fn new(path: PathBuf) -> LocalBackend {
        LocalBackend {
            path,
            last: Mutex::new(None),
            written: Mutex::new(None),
        }
    }

    fn backup_path(&self) -> PathBuf {
        suffixed(&self.path, ".backup")
    }

    fn lock_path(&self) -> PathBuf {
        suffixed(&self.path, ".lock")
    }

    /// The current file's bytes and decoded state; `None` when it does not exist.
    fn load(&self) -> Result<Option<(Vec<u8>, State)>, StateError> {
        refuse_symlink(&self.path)?;
        let bytes = match read_optional(&self.path)? {
            Some(bytes) => bytes,
            None => return Ok(None),
        };
        warn_if_readable_by_others(&self.path);
        let state = decode(&bytes, &self.path)?;
        Ok(Some((bytes, state)))
    }

    /// How the file looks to a write: a `stat` when it is still the one this
    /// backend wrote, otherwise a full read and decode (a corrupt file is
    /// refused, never overwritten).
    fn load_for_write(&self) -> Result<OnDisk, StateError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
            Err(e) => return Err(StateError::io("reading", &self.path, e)),
        };
        if guard(&self.written).as_ref() == Some(&Stamp::of(&meta)) {
            return Ok(OnDisk::Ours);
        }
        match self.load()? {
            Some((bytes, state)) => Ok(OnDisk::Foreign(bytes, state)),
            None => Ok(OnDisk::Missing),
        }
    }

    /// Keeps `previous` as the backup, unless the backup already holds exactly it.
    fn keep_backup(&self, previous: &[u8]) -> Result<(), StateError> {
        let backup = self.backup_path();
        refuse_symlink(&backup)?;
        if read_optional(&backup)?.as_deref() == Some(previous) {
            return Ok(());
        }
        warn_if_readable_by_others(&backup);
        write_atomic(&backup, previous).map_err(|e| StateError::io("writing backup", &backup, e))
    }

    /// Encodes `next`, checks that it reads back identically and replaces the
    /// file with it (after keeping a foreign previous file as the backup).
    fn replace(&self, next: &State, on_disk: &OnDisk) -> Result<(), StateError> {
        let bytes = encode(next);
        // Round-trip check before touching disk: never persist what we could not read back.
        if decode(&bytes, &self.path)? != *next {
            return Err(StateError::Invalid {
                path: self.path.clone(),
                message: "the encoded state does not read back identically; nothing was written"
                    .into(),
            });
        }
        let staged = StagedFile::stage(&self.path, &bytes, CrashHooks::State)
            .map_err(|e| StateError::io("writing", &self.path, e))?;
        if let OnDisk::Foreign(previous, _) = on_disk {
            self.keep_backup(previous)?;
        }
        staged
            .commit()
            .map_err(|e| StateError::io("replacing", &self.path, e))?;
        // Without a stamp the next write reads the file again: slower, never wrong.
        *guard(&self.written) = std::fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        Ok(())
    }
}

impl Backend for LocalBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let state = self.load()?.map(|(_, state)| state);
        *guard(&self.last) = Some(state.as_ref().map(Content::of).unwrap_or_default());
        Ok(state)
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        refuse_symlink(&self.path)?;
        let on_disk = self.load_for_write()?;
        let unchanged = match (guard(&self.last).as_ref(), &on_disk) {
            (Some(content), _) => content.matches(state),
            (None, OnDisk::Foreign(_, s)) => s.tasks == state.tasks && s.intents == state.intents,
            // A file this backend wrote was remembered as content too.
            (None, _) => state.tasks.is_empty() && state.intents.is_empty(),
        };
        if unchanged {
            return Ok(());
        }
        let stamped = (
            state.serial,
            state.format_version,
            std::mem::replace(
                &mut state.htapsync_version,
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        );
        state.serial += 1;
        state.format_version = FORMAT_VERSION;
        if let Err(e) = self.replace(state, &on_disk) {
            // Nothing was persisted: the caller's state stays as it was.
            (state.serial, state.format_version, state.htapsync_version) = stamped;
            return Err(e);
        }
        *guard(&self.last) = Some(Content::of(state));
        Ok(())
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        let info = LockInfo::new(operation, &self.path.display().to_string());
        lock::acquire(&self.lock_path(), info, timeout)
    }

    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        lock::force_unlock(&self.lock_path(), lock_id)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Refuses paths that are symlinks: writing through one would replace the link, not its target.
pub(crate) fn refuse_symlink(path: &Path) -> Result<(), StateError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(StateError::Symlink {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io("reading", path, e)),
    }
}

/// State may hold identifiers users consider private; it should be 0600 like the files we create.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "state file is readable by group or others (mode {mode:03o}); run `chmod 600` on it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

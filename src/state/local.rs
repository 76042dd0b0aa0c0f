//! The local state file backend: `<path>`, `<path>.backup`, `<path>.lock`.

use super::atomic::{CrashHooks, StagedFile, write_atomic};
use super::codec::{decode, encode};
use super::{
    Backend, FORMAT_VERSION, Intent, LockGuard, LockInfo, State, StateError, TaskRecord, lock,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

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
}

/// The state file's bytes and, when they had to be decoded, its state.
type OnDisk = (Vec<u8>, Option<State>);

/// State kept in one local JSON file.
#[derive(Debug)]
pub struct LocalBackend {
    path: PathBuf,
    /// The content last read or written; `None` until the first read or write.
    last: Mutex<Option<Content>>,
    /// The bytes this backend last wrote: when the file still holds exactly
    /// them, the next write need not decode it again (they decoded when written).
    written: Mutex<Option<Vec<u8>>>,
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

    fn remember(&self, content: Content) {
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(content);
    }

    fn remembered(&self) -> Option<Content> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
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

    /// The current file's bytes and, unless they are exactly the bytes this
    /// backend last wrote (already known to decode), its decoded state.
    /// `None` when the file does not exist.
    fn load_for_write(&self) -> Result<Option<OnDisk>, StateError> {
        let Some(bytes) = read_optional(&self.path)? else {
            return Ok(None);
        };
        let ours = self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_deref()
            == Some(bytes.as_slice());
        if ours {
            return Ok(Some((bytes, None)));
        }
        warn_if_readable_by_others(&self.path);
        let state = decode(&bytes, &self.path)?;
        Ok(Some((bytes, Some(state))))
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
}

impl Backend for LocalBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let state = self.load()?.map(|(_, state)| state);
        self.remember(state.as_ref().map(Content::of).unwrap_or_default());
        Ok(state)
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        refuse_symlink(&self.path)?;
        let on_disk = self.load_for_write()?;
        let baseline = match (self.remembered(), &on_disk) {
            (Some(content), _) => content,
            (None, Some((_, Some(s)))) => Content::of(s),
            // Bytes this backend wrote were remembered as content too.
            (None, _) => Content::default(),
        };
        let content = Content::of(state);
        if content == baseline {
            return Ok(());
        }
        let mut next = state.clone();
        next.serial += 1;
        next.format_version = FORMAT_VERSION;
        next.htapsync_version = env!("CARGO_PKG_VERSION").to_string();
        let bytes = encode(&next);
        // Round-trip check before touching disk: never persist what we could not read back.
        if decode(&bytes, &self.path)? != next {
            return Err(StateError::Invalid {
                path: self.path.clone(),
                message: "the encoded state does not read back identically; nothing was written"
                    .into(),
            });
        }
        let staged = StagedFile::stage(&self.path, &bytes, CrashHooks::State)
            .map_err(|e| StateError::io("writing", &self.path, e))?;
        if let Some((previous, _)) = &on_disk {
            self.keep_backup(previous)?;
        }
        staged
            .commit()
            .map_err(|e| StateError::io("replacing", &self.path, e))?;
        *state = next;
        self.remember(content);
        *self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(bytes);
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

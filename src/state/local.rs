//! The local state file backend: `<path>`, `<path>.backup`, `<path>.lock`.

use super::atomic::{CrashHooks, StagedFile, write_atomic};
use super::codec::{decode, encode};
use super::fragments::Fragments;
use super::{
    Backend, FORMAT_VERSION, Intent, LockGuard, LockInfo, State, StateError, TaskRecord, lock,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
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

    /// Brings this content up to `state`, copying only what `changes` names.
    fn apply(&mut self, changes: &Changes, state: &State) {
        for name in &changes.removed {
            self.tasks.remove(name);
        }
        for name in &changes.tasks {
            if let Some(record) = state.tasks.get(name) {
                self.tasks.insert(name.clone(), record.clone());
            }
        }
        if changes.intents {
            self.intents = state.intents.clone();
        }
    }
}

/// What a write changes against the content last read or written. Lets a
/// write of a large state copy and check only the records that changed.
#[derive(Debug, Default)]
struct Changes {
    /// Tasks added or modified.
    tasks: Vec<String>,
    removed: Vec<String>,
    intents: bool,
}

impl Changes {
    fn between(before: &Content, state: &State) -> Changes {
        Changes {
            tasks: state
                .tasks
                .iter()
                .filter(|(name, record)| before.tasks.get(*name) != Some(*record))
                .map(|(name, _)| name.clone())
                .collect(),
            removed: before
                .tasks
                .keys()
                .filter(|name| !state.tasks.contains_key(*name))
                .cloned()
                .collect(),
            intents: before.intents != state.intents,
        }
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.removed.is_empty() && !self.intents
    }
}

/// How much of an encoded state to read back before it is written.
enum Check<'a> {
    /// Decode the whole document: the first write of a backend, or over a
    /// file it did not write.
    Full,
    /// Over the file this backend wrote (which was checked): the document is
    /// the same header, records and intents serialised one after another, so
    /// it reads back identically when the header, the changed records and the
    /// intents each do.
    Changed(&'a Changes, &'a Fragments),
}

/// Identifies one version of a file without reading it: a rename over it
/// (every atomic writer) changes the inode, an edit in place changes the size
/// or the change time (which, unlike the modification time, no tool can set back).
/// Limit: where timestamps are coarse (a clock tick), a same-size edit in place
/// within one tick of our write would go unseen; the state lock keeps other
/// htapsync writers out, so only a hand edit racing an apply could do that.
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
    Foreign(Vec<u8>, Box<State>),
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
    /// The task records of the content last written, rendered, so that a
    /// write renders only the records that changed.
    pieces: Mutex<Option<Fragments>>,
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
            pieces: Mutex::new(None),
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
            Some((bytes, state)) => Ok(OnDisk::Foreign(bytes, Box::new(state))),
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
    fn replace(
        &self,
        next: &State,
        bytes: &[u8],
        previous: Option<&[u8]>,
        check: Check<'_>,
    ) -> Result<(), StateError> {
        // Round-trip check before touching disk: never persist what we could not read back.
        let reads_back = match check {
            Check::Full => decode(bytes, &self.path)? == *next,
            Check::Changed(changes, pieces) => self.changes_read_back(next, changes, pieces)?,
        };
        if !reads_back {
            return Err(StateError::Invalid {
                path: self.path.clone(),
                message: "the encoded state does not read back identically; nothing was written"
                    .into(),
                restore_hint: String::new(),
            });
        }
        let staged = StagedFile::stage(&self.path, bytes, CrashHooks::State)
            .map_err(|e| StateError::io("writing", &self.path, e))?;
        if let Some(previous) = previous {
            self.keep_backup(previous)?;
        }
        staged
            .commit()
            .map_err(|e| StateError::io("replacing", &self.path, e))?;
        // Without a stamp the next write reads the file again: slower, never wrong.
        *guard(&self.written) = std::fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        Ok(())
    }

    /// [`Check::Changed`]: the header (through [`decode`], so its version
    /// checks apply), the piece of each changed record (keyed by its own
    /// name, as `decode` demands) and the intents read back identically.
    fn changes_read_back(
        &self,
        next: &State,
        changes: &Changes,
        pieces: &Fragments,
    ) -> Result<bool, StateError> {
        let header = State {
            tasks: BTreeMap::new(),
            intents: Vec::new(),
            lineage: next.lineage.clone(),
            htapsync_version: next.htapsync_version.clone(),
            ..*next
        };
        if decode(&encode(&header), &self.path)? != header {
            return Ok(false);
        }
        let records_ok = changes.tasks.iter().all(|name| {
            next.tasks
                .get(name)
                .is_some_and(|r| r.spec.name == *name && pieces.reads_back(name, r))
        });
        Ok(records_ok && (!changes.intents || round_trips(&next.intents)))
    }
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq>(value: &T) -> bool {
    serde_json::to_vec(value)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<T>(&bytes).ok())
        .is_some_and(|back| back == *value)
}

impl Backend for LocalBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let state = self.load()?.map(|(_, state)| state);
        *guard(&self.pieces) = None;
        *guard(&self.last) = Some(state.as_ref().map(Content::of).unwrap_or_default());
        Ok(state)
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        refuse_symlink(&self.path)?;
        let (previous, found) = match self.load_for_write()? {
            OnDisk::Missing => (None, None),
            OnDisk::Ours => (None, Some(None)),
            OnDisk::Foreign(bytes, state) => (Some(bytes), Some(Some(state))),
        };
        let check_changes_only = matches!(found, Some(None));
        let mut last = guard(&self.last);
        let baseline = last.get_or_insert_with(|| match found.flatten() {
            Some(s) => Content {
                tasks: s.tasks,
                intents: s.intents,
            },
            // Bytes this backend wrote were remembered as content too.
            None => Content::default(),
        });
        let changes = Changes::between(baseline, state);
        if changes.is_empty() {
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
        let mut kept = guard(&self.pieces);
        let pieces = match kept.as_mut() {
            Some(p) if check_changes_only => {
                p.update(&changes.tasks, &changes.removed, &state.tasks);
                p
            }
            _ => kept.insert(Fragments::of(&state.tasks)),
        };
        let bytes = pieces.encode(state);
        let check = if check_changes_only {
            Check::Changed(&changes, pieces)
        } else {
            Check::Full
        };
        if let Err(e) = self.replace(state, &bytes, previous.as_deref(), check) {
            // Nothing was persisted: the caller's state stays as it was, and
            // the pieces (already updated) no longer match what was written.
            (state.serial, state.format_version, state.htapsync_version) = stamped;
            *kept = None;
            return Err(e);
        }
        baseline.apply(&changes, state);
        Ok(())
    }

    /// Creates, syncs and removes a temp file beside the state, as every write does.
    fn check_writable(&self) -> Result<(), StateError> {
        StagedFile::stage(&self.path, b"", CrashHooks::Off)
            .and_then(StagedFile::discard)
            .map_err(|cause| StateError::NotWritable {
                path: self.path.clone(),
                cause,
            })
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
    if is_symlink(path) {
        return Err(StateError::Symlink {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

pub(crate) fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
}

/// Reads a file that may be missing, never through a symbolic link (the check
/// before writing cannot be raced by swapping the path for one meanwhile).
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let mut bytes = Vec::new();
    match options
        .open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
    {
        Ok(_) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) if is_symlink(path) => Err(StateError::Symlink {
            path: path.to_path_buf(),
        }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskSpec;

    fn record(name: &str) -> TaskRecord {
        TaskRecord {
            spec: TaskSpec::sample(name),
            prevent_destroy: false,
            updated_at: String::new(),
        }
    }

    /// The remembered content is updated record by record; after adds,
    /// changes, removals and intents it must equal the state written, or a
    /// later write would be skipped or checked against the wrong baseline.
    #[test]
    fn remembered_content_follows_every_kind_of_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        let backend = LocalBackend::new(path.clone());
        let mut state = State::new();
        let steps: [&dyn Fn(&mut State); 5] = [
            &|s| {
                s.tasks.insert("a".into(), record("a"));
                s.tasks.insert("b".into(), record("b"));
            },
            &|s| s.tasks.get_mut("a").expect("a").spec.paused = true,
            &|s| {
                s.tasks.remove("b");
                s.tasks.insert("c".into(), record("c"));
            },
            &|s| {
                s.intents.push(Intent {
                    id: "i".into(),
                    address: record("d").spec.address(),
                    operation: super::super::IntentOp::Create,
                    spec: record("d").spec,
                    started_at: String::new(),
                })
            },
            &|s| s.intents.clear(),
        ];
        for (i, step) in steps.iter().enumerate() {
            step(&mut state);
            backend.write(&mut state).expect("write");
            assert_eq!(state.serial, i as u64 + 1);
            assert_eq!(
                guard(&backend.last).as_ref(),
                Some(&Content::of(&state)),
                "step {i}"
            );
            assert_eq!(
                LocalBackend::new(path.clone()).read().expect("read"),
                Some(state.clone())
            );
            backend.write(&mut state).expect("unchanged write");
            assert_eq!(state.serial, i as u64 + 1, "step {i}: nothing to write");
        }
    }
}

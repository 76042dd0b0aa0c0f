//! The local state file backend: `<path>`, `<path>.backup`, `<path>.lock`.

use super::atomic::{CrashHooks, StagedFile, write_atomic};
use super::codec::{decode, encode};
use super::fragments::{Fragments, header, splice};
use super::{
    Backend, Intent, LockGuard, LockInfo, Stamped, State, StateError, TaskRecord, Version, lock,
};
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// State kept in one local JSON file.
///
/// One value serves one command: the first write that replaces a file this
/// backend did not write keeps that file as `<path>.backup`; later writes of
/// the same backend replace only the state file (as Terraform's local backend
/// does), so a run of many operations pays for one backup, not one per write.
#[derive(Debug)]
pub struct LocalBackend {
    path: PathBuf,
    /// The only lock: held for a whole write, because a write reads and then
    /// updates what the backend remembers of its file, and `Backend` is shared.
    memory: Mutex<Memory>,
}

/// What a backend remembers of its file between the reads and writes of one command.
#[derive(Debug, Default)]
struct Memory {
    /// The tasks and intents last read or written; `None` before the first
    /// read or write. A write that changes neither writes nothing.
    content: Option<Content>,
    /// The file this backend wrote last; `None` before its first write.
    written: Option<Written>,
}

/// The file a backend wrote last: how to recognise it, and its task records
/// as they were rendered into it, for the next write's splice (see
/// [`super::fragments`]).
#[derive(Debug)]
struct Written {
    stamp: Stamp,
    records: Fragments,
}

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
        for name in &changes.tasks {
            match state.tasks.get(name) {
                Some(record) => self.tasks.insert(name.clone(), record.clone()),
                None => self.tasks.remove(name),
            };
        }
        if changes.intents {
            self.intents = state.intents.clone();
        }
    }
}

/// What a write changes against the content last read or written. Lets a
/// write of a large state copy, render and check only the records that changed.
#[derive(Debug, Default)]
struct Changes {
    /// Tasks added, modified or removed.
    tasks: Vec<String>,
    intents: bool,
}

impl Changes {
    fn between(before: &Content, state: &State) -> Changes {
        let changed = state
            .tasks
            .iter()
            .filter(|(name, record)| before.tasks.get(*name) != Some(*record))
            .map(|(name, _)| name);
        let removed = before
            .tasks
            .keys()
            .filter(|name| !state.tasks.contains_key(*name));
        Changes {
            tasks: changed.chain(removed).cloned().collect(),
            intents: before.intents != state.intents,
        }
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty() && !self.intents
    }
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
    /// Anything else: its bytes (kept as the backup) and decoded content.
    Foreign { bytes: Vec<u8>, content: Content },
}

impl OnDisk {
    /// What a backend that has read and written nothing yet compares a write
    /// with (moved out: it is needed only once).
    fn take_content(&mut self) -> Content {
        match self {
            OnDisk::Foreign { content, .. } => std::mem::take(content),
            // `Ours` needs a write, and a write leaves content behind.
            OnDisk::Missing | OnDisk::Ours => Content::default(),
        }
    }
}

/// A document about to be written.
struct Draft {
    bytes: Vec<u8>,
    /// The records rendered for it: every one, or only the changed ones when
    /// `incremental`.
    fresh: Fragments,
    /// Whether `bytes` are the changed records spliced among the unchanged
    /// ones of the file this backend wrote (which were checked when written),
    /// so that only the header and `fresh` need to be read back.
    incremental: bool,
}

impl Draft {
    /// Encodes `next`. Over the file this backend wrote (`kept`: its records)
    /// only the changed records are rendered: the incremental splice (see
    /// [`super::fragments`] for why, and what keeps it byte-identical to [`encode`]).
    fn of(next: &State, changes: &Changes, kept: Option<&Fragments>) -> Draft {
        if let Some(kept) = kept {
            let fresh = Fragments::of_names(&changes.tasks, &next.tasks);
            if let Some(bytes) = splice(next, &fresh, kept) {
                return Draft {
                    bytes,
                    fresh,
                    incremental: true,
                };
            }
        }
        let fresh = Fragments::of(&next.tasks);
        let bytes = splice(next, &fresh, &Fragments::default()).unwrap_or_else(|| encode(next));
        Draft {
            bytes,
            fresh,
            incremental: false,
        }
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LocalBackend {
    pub fn new(path: PathBuf) -> LocalBackend {
        LocalBackend {
            path,
            memory: Mutex::new(Memory::default()),
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
    /// backend wrote (`written`), otherwise a full read and decode (a corrupt
    /// file is refused, never overwritten).
    fn load_for_write(&self, written: Option<&Stamp>) -> Result<OnDisk, StateError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
            Err(e) => return Err(StateError::io("reading", &self.path, e)),
        };
        if written == Some(&Stamp::of(&meta)) {
            return Ok(OnDisk::Ours);
        }
        match self.load()? {
            Some((bytes, state)) => Ok(OnDisk::Foreign {
                bytes,
                content: Content {
                    tasks: state.tasks,
                    intents: state.intents,
                },
            }),
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

    /// Round-trip check before touching disk: never persist what we could not
    /// read back. The whole document is decoded, or for an incremental draft
    /// the header (through [`decode`], so its version checks apply) and each
    /// changed record (keyed by its own name, as `decode` demands).
    fn check(&self, next: &State, changes: &Changes, draft: &Draft) -> Result<(), StateError> {
        let reads_back = if draft.incremental {
            let header = header(next);
            decode(&encode(&header), &self.path)? == header
                && changes.tasks.iter().all(|name| {
                    next.tasks.get(name).is_none_or(|record| {
                        record.spec.name == *name && draft.fresh.reads_back(name, record)
                    })
                })
        } else {
            decode(&draft.bytes, &self.path)? == *next
        };
        if reads_back {
            return Ok(());
        }
        Err(StateError::Invalid {
            path: self.path.clone(),
            message: "the encoded state does not read back identically; nothing was written".into(),
            restore_hint: String::new(),
        })
    }

    /// Replaces the file with `bytes` (after keeping a foreign `previous`
    /// file as the backup) and returns the new file's stamp.
    fn replace(&self, bytes: &[u8], previous: Option<&[u8]>) -> Result<Option<Stamp>, StateError> {
        let staged = StagedFile::stage(&self.path, bytes, CrashHooks::State)
            .map_err(|e| StateError::io("writing", &self.path, e))?;
        if let Some(previous) = previous {
            self.keep_backup(previous)?;
        }
        staged
            .commit()
            .map_err(|e| StateError::io("replacing", &self.path, e))?;
        // Without a stamp the next write reads the file again: slower, never wrong.
        Ok(std::fs::metadata(&self.path).ok().map(|m| Stamp::of(&m)))
    }
}

impl Backend for LocalBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let state = self.load()?.map(|(_, state)| state);
        guard(&self.memory).content = Some(state.as_ref().map(Content::of).unwrap_or_default());
        Ok(state)
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        refuse_symlink(&self.path)?;
        let mut memory = guard(&self.memory);
        let Memory { content, written } = &mut *memory;
        let mut on_disk = self.load_for_write(written.as_ref().map(|w| &w.stamp))?;
        let content = content.get_or_insert_with(|| on_disk.take_content());
        let changes = Changes::between(content, state);
        if changes.is_empty() {
            return Ok(());
        }
        let versions_before = Stamped::stamp(state);
        // Over its own file the content is that file's, and `records` its rendering.
        let kept = match on_disk {
            OnDisk::Ours => written.as_ref().map(|w| &w.records),
            OnDisk::Missing | OnDisk::Foreign { .. } => None,
        };
        let draft = Draft::of(state, &changes, kept);
        let previous = match &on_disk {
            OnDisk::Foreign { bytes, .. } => Some(bytes.as_slice()),
            OnDisk::Missing | OnDisk::Ours => None,
        };
        let stamp = match self
            .check(state, &changes, &draft)
            .and_then(|()| self.replace(&draft.bytes, previous))
        {
            Ok(stamp) => stamp,
            Err(e) => {
                // The caller's state and this memory stay as they were. (When
                // only the directory sync failed, the file was replaced anyway;
                // its stamp differs from the one kept, so it is read again.)
                versions_before.restore(state);
                return Err(e);
            }
        };
        content.apply(&changes, state);
        let records = match written.take() {
            // Performance only (mutants.toml skips it): a full draft's fresh records are the merge's result.
            Some(mut last) if draft.incremental => {
                last.records.merge(&changes.tasks, draft.fresh);
                last.records
            }
            _ => draft.fresh,
        };
        *written = stamp.map(|stamp| Written { stamp, records });
        Ok(())
    }

    /// Creates, syncs and removes a temp file beside the state, as every write does.
    fn check_writable(&self) -> Result<(), StateError> {
        // Dropped uncommitted, the temp file is removed (or, if that fails, by the next write).
        StagedFile::stage(&self.path, b"", CrashHooks::Off)
            .map(drop)
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

    fn history(&self) -> Result<Vec<Version>, StateError> {
        let mut versions = Vec::new();
        for path in [self.path.clone(), self.backup_path()] {
            if let Some(state) = self.load_version(&path)? {
                versions.push(Version {
                    serial: state.serial,
                    lineage: state.lineage,
                    written_at: modified_at(&path),
                    written_by: None,
                    tasks: state.tasks.len(),
                });
            }
        }
        Ok(versions)
    }

    fn read_version(&self, serial: u64) -> Result<Option<State>, StateError> {
        for path in [self.path.clone(), self.backup_path()] {
            if let Some(state) = self.load_version(&path)?
                && state.serial == serial
            {
                return Ok(Some(state));
            }
        }
        Ok(None)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

impl LocalBackend {
    /// The state in `path` (the file or its backup), without touching what
    /// this backend remembers for its writes.
    fn load_version(&self, path: &Path) -> Result<Option<State>, StateError> {
        refuse_symlink(path)?;
        match read_optional(path)? {
            Some(bytes) => decode(&bytes, path).map(Some),
            None => Ok(None),
        }
    }
}

/// A file's modification time, RFC 3339 (empty when unknown).
fn modified_at(path: &Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default()
}

pub(crate) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
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
        // Only a link swapped in after `refuse_symlink` looked gets here (a race; mutants.toml skips `false`).
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

    fn with_task(name: &str) -> State {
        let mut state = State::new();
        state.tasks.insert(name.into(), record(name));
        state
    }

    /// A state file `s.json` in a new directory, written once with task `name`.
    fn written_with_task(name: &str) -> (tempfile::TempDir, PathBuf, State) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        let mut state = with_task(name);
        LocalBackend::new(path.clone())
            .write(&mut state)
            .expect("write");
        (dir, path, state)
    }

    fn is_read_error(err: &StateError) -> bool {
        matches!(
            err,
            StateError::Io {
                action: "reading",
                ..
            }
        )
    }

    fn record(name: &str) -> TaskRecord {
        TaskRecord {
            spec: TaskSpec::sample(name),
            prevent_destroy: false,
            updated_at: String::new(),
        }
    }

    /// The remembered content and records are updated record by record;
    /// after adds, changes, removals and intents they must equal the state
    /// and the file written, or a later write would be skipped, checked
    /// against the wrong baseline or spliced from stale records.
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
            {
                let memory = guard(&backend.memory);
                let content = memory.content.as_ref().expect("content");
                assert_eq!(content.tasks, state.tasks, "step {i}");
                assert_eq!(content.intents, state.intents, "step {i}");
                let written = memory.written.as_ref().expect("written");
                let spliced = splice(&state, &Fragments::default(), &written.records);
                assert_eq!(
                    spliced,
                    Some(std::fs::read(&path).expect("file")),
                    "step {i}"
                );
            }
            assert_eq!(
                LocalBackend::new(path.clone()).read().expect("read"),
                Some(state.clone())
            );
            backend.write(&mut state).expect("unchanged write");
            assert_eq!(state.serial, i as u64 + 1, "step {i}: nothing to write");
        }
    }

    /// A record kept under another name than its own cannot be read back
    /// (`decode` demands the key be the name): refused before the file is
    /// touched, on the first, whole write and on an incremental one.
    #[test]
    fn a_record_under_another_name_is_refused_and_nothing_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        let mut bad = State::new();
        bad.tasks.insert("a".into(), record("b"));
        let err = LocalBackend::new(path.clone())
            .write(&mut bad)
            .expect_err("refused");
        assert!(matches!(err, StateError::Invalid { .. }), "{err}");
        assert!(!path.exists());

        let backend = LocalBackend::new(path.clone());
        let mut state = with_task("a");
        backend.write(&mut state).expect("write");
        let written = std::fs::read(&path).expect("file");
        state.tasks.insert("c".into(), record("d"));
        let err = backend.write(&mut state).expect_err("refused");
        assert!(matches!(err, StateError::Invalid { .. }), "{err}");
        assert_eq!(std::fs::read(&path).expect("file"), written);
    }

    /// A state read and written back unchanged is not written again: its
    /// serial stays (a `refresh` that finds nothing new leaves the file alone).
    #[test]
    fn a_state_read_and_written_back_unchanged_keeps_its_serial() {
        let (_dir, path, _) = written_with_task("a");
        let backend = LocalBackend::new(path.clone());
        let mut read = backend.read().expect("read").expect("a state");
        backend.write(&mut read).expect("write");
        assert_eq!(read.serial, 1);
        assert_eq!(backend.read().expect("read").expect("a state").serial, 1);
    }

    /// A state file that cannot be looked at is an error of the read, not
    /// taken for a missing file.
    #[test]
    fn a_state_path_that_cannot_be_read_is_an_error_of_the_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").expect("file");
        let mut state = with_task("a");
        let err = LocalBackend::new(file.join("s.json"))
            .write(&mut state)
            .expect_err("under a file");
        assert!(is_read_error(&err), "{err}");
    }

    /// The history of a local state is the file and its backup, each dated
    /// by its modification time.
    #[test]
    fn the_history_dates_the_state_and_its_backup() {
        let (_dir, path, mut state) = written_with_task("a");
        state.tasks.insert("b".into(), record("b"));
        // A new backend over a file it did not write keeps that file as the backup.
        LocalBackend::new(path.clone())
            .write(&mut state)
            .expect("write");
        let history = LocalBackend::new(path).history().expect("history");
        let serials: Vec<u64> = history.iter().map(|v| v.serial).collect();
        assert_eq!(serials, [2, 1]);
        for version in history {
            chrono::DateTime::parse_from_rfc3339(&version.written_at)
                .unwrap_or_else(|e| panic!("{:?}: {e}", version.written_at));
        }
    }

    /// A state path that is a directory is an error of the read, not taken
    /// for a link (links are refused on their own, before any read).
    #[test]
    fn a_state_path_that_is_a_directory_is_a_read_error_not_a_link() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = LocalBackend::new(dir.path().to_path_buf())
            .read()
            .expect_err("a directory");
        assert!(is_read_error(&err), "{err}");
    }

    /// A failed write leaves the caller's state as it was: the next write is
    /// the one after the last that landed, and a state read from an older
    /// htapsync keeps saying so until one lands.
    #[test]
    fn a_failed_write_leaves_the_serial_and_versions_as_they_were() {
        let dir = tempfile::tempdir().expect("temp dir");
        let parent = dir.path().join("states");
        std::fs::create_dir(&parent).expect("dir");
        let backend = LocalBackend::new(parent.join("s.json"));
        let mut state = with_task("a");
        backend.write(&mut state).expect("write");
        state.htapsync_version = "0.0.1".into();
        state.format_version -= 1;
        let landed = state.clone();

        std::fs::remove_dir_all(&parent).expect("remove");
        state.tasks.insert("b".into(), record("b"));
        backend
            .write(&mut state)
            .expect_err("no directory to write in");
        assert_eq!(state.serial, landed.serial);
        assert_eq!(state.format_version, landed.format_version);
        assert_eq!(state.htapsync_version, "0.0.1");

        std::fs::create_dir(&parent).expect("dir");
        backend.write(&mut state).expect("write");
        assert_eq!(state.serial, landed.serial + 1);
    }
}

//! The state lock: who holds it (LockInfo), and a guard that releases it on drop.
//!
//! The local implementation takes an exclusive advisory lock (`File::try_lock`,
//! flock on Unix) on the sidecar `<state>.lock`, not on the state file, whose
//! inode is replaced by every rename. The kernel drops the lock when the holder
//! dies, so a lock file that still holds a record but is not locked is stale and
//! is taken over. The record is written into the lock file for humans.

use super::StateError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Who holds a lock and why, as shown to a second writer (Terraform's lock info).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id; `htapsync force-unlock ID` needs it.
    pub id: String,
    /// The command that took the lock (`apply`, `state rm`, ...).
    pub operation: String,
    /// `user@host`.
    pub who: String,
    pub pid: u32,
    /// htapsync version of the holder.
    pub version: String,
    /// RFC 3339.
    pub created: String,
    /// The state the lock protects.
    pub path: String,
}

impl LockInfo {
    /// A record for a lock this process is about to take.
    pub fn new(operation: &str, path: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: who(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            path: path.to_string(),
        }
    }
}

/// `user@host` of this process, as lock records and state writes name it.
pub(crate) fn who() -> String {
    format!(
        "{}@{}",
        current_user(),
        gethostname::gethostname().to_string_lossy()
    )
}

/// Only wires the environment to [`user_from`], which is tested (tests share
/// the process's environment and cannot set it; mutants.toml skips this).
fn current_user() -> String {
    user_from(|k| std::env::var(k).ok())
}

/// The first of `USER`, `USERNAME`, `LOGNAME` that is set and not empty.
fn user_from(var: impl Fn(&str) -> Option<String>) -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| var(k).filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Lock Info:")?;
        writeln!(f, "  ID:        {}", self.id)?;
        writeln!(f, "  Path:      {}", self.path)?;
        writeln!(f, "  Operation: {}", self.operation)?;
        writeln!(f, "  Who:       {}", self.who)?;
        writeln!(f, "  PID:       {}", self.pid)?;
        writeln!(f, "  Version:   {}", self.version)?;
        writeln!(f, "  Created:   {}", self.created)
    }
}

/// How a backend gives its lock back; lets each backend (file, PostgreSQL
/// advisory lock, ...) hand out the same [`LockGuard`].
pub trait LockHandle: Send {
    /// Releases the lock. Called once, from [`LockGuard`]'s drop.
    fn release(&mut self) -> Result<(), StateError>;
}

/// A held state lock; released when dropped, including on error paths and unwinding.
pub struct LockGuard {
    info: LockInfo,
    handle: Box<dyn LockHandle>,
}

impl LockGuard {
    /// Wraps a lock a backend has just taken.
    pub fn new(info: LockInfo, handle: Box<dyn LockHandle>) -> LockGuard {
        LockGuard { info, handle }
    }

    /// The record written for this lock.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("info", &self.info)
            .finish()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Err(e) = self.handle.release() {
            tracing::warn!(lock_id = %self.info.id, error = %e, "failed to release the state lock");
        }
    }
}

/// The local lock: an open, flock-ed `<state>.lock`.
struct FileLock {
    file: File,
    path: PathBuf,
}

impl LockHandle for FileLock {
    fn release(&mut self) -> Result<(), StateError> {
        // Truncate first: an empty file means "not held", even before the unlock lands.
        let truncated = self.file.set_len(0);
        self.file
            .unlock()
            .map_err(|e| StateError::io("unlocking", &self.path, e))?;
        truncated.map_err(|e| StateError::io("clearing", &self.path, e))
    }
}

/// How many times one [`acquire`] starts over on a lock file removed between
/// its open and its lock. Once is a force-unlock racing it; again and again,
/// something keeps removing the file: reported, not spun on.
const REOPENS: usize = 8;

/// Takes the exclusive lock on `lock_path`, retrying until `timeout` (zero: one attempt).
pub(crate) fn acquire(
    lock_path: &Path,
    info: LockInfo,
    timeout: Duration,
) -> Result<LockGuard, StateError> {
    let mut file = open_lock(lock_path, true)?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(50);
    let mut reopens = 0..REOPENS;
    loop {
        match file.try_lock() {
            // `true` would miss only a force-unlock between the open and the lock (a race; mutants.toml skips it).
            Ok(()) if still_linked(&file, lock_path) => break,
            // The file was removed between our open and our lock: start over on the new one.
            // Only a file removed again and again reaches the bound (a race; mutants.toml skips it).
            Ok(()) if reopens.next().is_some() => file = open_lock(lock_path, true)?,
            Ok(()) => {
                let removed = format!("removed {REOPENS} times while being locked");
                return Err(StateError::io(
                    "locking",
                    lock_path,
                    io::Error::other(removed),
                ));
            }
            // `<=` differs only at the deadline's exact instant (mutants.toml skips it).
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                // The back-off's growth: how often a waiter retries (performance only; mutants.toml skips it).
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    lock_path: lock_path.to_path_buf(),
                    info: read_holder(&mut file).map(Box::new),
                });
            }
            Err(TryLockError::Error(e)) => return Err(StateError::io("locking", lock_path, e)),
        }
    }
    let handle = FileLock {
        file,
        path: lock_path.to_path_buf(),
    };
    record_holder(handle, lock_path, info)
}

/// Writes our record into the locked file, noting a stale record left by a dead holder.
fn record_holder(
    mut handle: FileLock,
    lock_path: &Path,
    info: LockInfo,
) -> Result<LockGuard, StateError> {
    if let Some(stale) = read_info(&mut handle.file) {
        tracing::warn!(
            lock_id = %stale.id, who = %stale.who, pid = stale.pid, operation = %stale.operation,
            "recovered a stale state lock of ID {} (its holder is gone)", stale.id
        );
    }
    let json = serde_json::to_vec_pretty(&info).expect("LockInfo always serializes to JSON");
    let written = (|| -> std::io::Result<()> {
        handle.file.set_len(0)?;
        handle.file.rewind()?;
        handle.file.write_all(&json)?;
        handle.file.write_all(b"\n")?;
        handle.file.sync_all()
    })();
    // Built before checking the write, so that a failure still unlocks the file.
    let guard = LockGuard::new(info, Box::new(handle));
    written.map_err(|e| StateError::io("writing lock info", lock_path, e))?;
    Ok(guard)
}

/// Whether `file` is still the one at `path` (force-unlock replaces it by
/// deleting it; a local user may swap the path for a link): compares the
/// open file with the path itself, not with what a link there points to.
/// (One function for every platform: its mutants are those of the tested one.)
fn still_linked(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::symlink_metadata(path)) {
            (Ok(held), Ok(current)) => held.ino() == current.ino() && held.dev() == current.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// A plain file with one name: a hard link planted at the lock path would
/// make the holder truncate the file it shares an inode with.
fn is_own_file(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.is_file() && meta.nlink() == 1
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Opens the lock file (creating it to hold the lock when `create`, else
/// read-only to probe it) without following a symbolic link at its path or
/// blocking on a FIFO, and checks that what was opened is a plain file: a
/// holder truncates and writes the file, which through a link would clobber
/// whatever the link points to.
fn open_lock(path: &Path, create: bool) -> Result<File, StateError> {
    let mut options = OpenOptions::new();
    // A holder writes its record; a probe (force-unlock) only reads and locks.
    options
        .read(true)
        .write(create)
        .create(create)
        .truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            // Disjoint bits: `^` would be the same (an equivalent mutant).
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        if super::local::is_symlink(path) {
            StateError::Symlink {
                path: path.to_path_buf(),
            }
        } else {
            StateError::io("opening lock", path, e)
        }
    })?;
    if !file.metadata().is_ok_and(|m| is_own_file(&m)) {
        return Err(StateError::io(
            "opening lock",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file with a single link; remove it",
            ),
        ));
    }
    Ok(file)
}

/// The holder's record. A holder writes it right after taking the lock, so a
/// second process that lost the race by microseconds waits briefly for it
/// rather than reporting an anonymous holder (found by tests/reliability_concurrency.rs).
fn read_holder(file: &mut File) -> Option<LockInfo> {
    for _ in 0..20 {
        if let Some(info) = read_info(file) {
            return Some(info);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// The record in a lock file, if it holds a readable one.
fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Removes the lock file if it records `lock_id` and nobody holds it; the
/// next writer then gets a fresh inode.
///
/// The lock is probed by taking it: a holder that is alive still has it (and
/// is refused, named by its record), one that died lost it with its process.
/// The file is removed while we hold the lock, so no writer can take it in between.
pub(crate) fn force_unlock(lock_path: &Path, lock_id: &str) -> Result<(), StateError> {
    let not_locked = || StateError::NotLocked {
        lock_path: lock_path.to_path_buf(),
    };
    let mut file = match open_lock(lock_path, false) {
        Ok(file) => file,
        Err(StateError::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_locked());
        }
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(StateError::LockHeld {
                lock_path: lock_path.to_path_buf(),
                info: read_holder(&mut file).map(Box::new),
            });
        }
        Err(TryLockError::Error(e)) => return Err(StateError::io("locking", lock_path, e)),
    }
    let info = read_info(&mut file).ok_or_else(not_locked)?;
    if info.id != lock_id {
        return Err(StateError::LockIdMismatch {
            requested: lock_id.to_string(),
            actual: info.id,
        });
    }
    if !still_linked(&file, lock_path) {
        // Replaced since we opened it: what we probed is no longer the lock.
        return Err(not_locked());
    }
    fs::remove_file(lock_path).map_err(|e| StateError::io("removing lock", lock_path, e))?;
    tracing::info!(lock_id, "state lock removed by force-unlock");
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn force_unlock_reports_a_lock_path_it_must_not_touch_not_a_missing_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock_path = dir.path().join("s.json.lock");
        assert!(matches!(
            force_unlock(&lock_path, "id"),
            Err(StateError::NotLocked { .. })
        ));
        // A hard link planted at the lock path: refused, and said so.
        let other = dir.path().join("other");
        fs::write(&other, "x").expect("write");
        fs::hard_link(&other, &lock_path).expect("link");
        let err = force_unlock(&lock_path, "id").unwrap_err();
        assert!(err.to_string().contains("single link"), "{err}");
        assert!(lock_path.exists() && other.exists());
    }

    #[test]
    fn the_user_is_the_first_variable_set_and_not_empty() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            user_from(env(&[("USER", "ann"), ("LOGNAME", "bob")])),
            "ann"
        );
        assert_eq!(user_from(env(&[("USER", ""), ("LOGNAME", "bob")])), "bob");
        assert_eq!(
            user_from(env(&[("USERNAME", "cy"), ("LOGNAME", "bob")])),
            "cy"
        );
        assert_eq!(user_from(env(&[])), "unknown");
        assert!(
            who().starts_with(&format!("{}@", current_user())),
            "{}",
            who()
        );
        assert!(!who().ends_with('@'));
    }

    /// A guard shows its holder's record (in `-v` traces of a held lock).
    #[test]
    fn a_guard_shows_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let info = LockInfo::new("apply", "s.json");
        let guard = acquire(&dir.path().join("s.json.lock"), info, Duration::ZERO).unwrap();
        let text = format!("{guard:?}");
        assert!(text.starts_with("LockGuard { info: "), "{text}");
        assert!(text.contains("\"apply\""), "{text}");
    }

    /// The path is checked for a link before opening; a link swapped in
    /// between must still not be followed (and its target not written).
    #[test]
    fn opening_the_lock_never_follows_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        fs::write(&target, b"keep").unwrap();
        let lock_path = dir.path().join("s.json.lock");
        std::os::unix::fs::symlink(&target, &lock_path).unwrap();
        let err = open_lock(&lock_path, true).unwrap_err();
        assert!(matches!(err, StateError::Symlink { .. }), "{err:?}");
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn a_hard_link_at_the_lock_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        fs::write(&target, b"keep").unwrap();
        let lock_path = dir.path().join("s.json.lock");
        fs::hard_link(&target, &lock_path).unwrap();
        let info = LockInfo::new("apply", "s.json");
        assert!(acquire(&lock_path, info, Duration::ZERO).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }

    /// An open lock file is still the lock only while the path itself (not
    /// what a link there points to) is that file.
    #[test]
    fn a_link_to_the_locked_file_is_not_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.lock");
        let file = open_lock(&real, true).unwrap();
        let lock_path = dir.path().join("s.json.lock");
        std::os::unix::fs::symlink(&real, &lock_path).unwrap();
        assert!(!still_linked(&file, &lock_path));
        assert!(still_linked(&file, &real));
    }

    /// `f`'s result, or a failure once `limit` has passed: a lock retried
    /// for ever fails its test instead of hanging it.
    fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (sent, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || sent.send(f()));
        result
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("still retrying after {limit:?}"))
    }

    /// A held lock is waited for until its holder lets go, and refused once
    /// the wait's timeout has passed.
    #[test]
    fn a_held_lock_is_waited_for_until_released_and_refused_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join("s.json.lock");
        let holder = acquire(&lock_path, LockInfo::new("apply", "s.json"), Duration::ZERO).unwrap();
        let holder_id = holder.info().id.clone();
        let attempt = move |path: PathBuf, timeout| {
            move || {
                acquire(&path, LockInfo::new("plan", "s.json"), timeout)
                    .map(|g| g.info().id.clone())
            }
        };

        let refused = within(
            Duration::from_secs(10),
            attempt(lock_path.clone(), Duration::from_millis(150)),
        );
        match refused {
            Err(StateError::Locked { info, .. }) => {
                assert_eq!(info.map(|i| i.id), Some(holder_id));
            }
            other => panic!("a held lock was not refused: {other:?}"),
        }

        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(holder);
        });
        let taken = within(
            Duration::from_secs(15),
            attempt(lock_path, Duration::from_secs(10)),
        );
        assert!(
            taken.is_ok(),
            "the waiter did not get the released lock: {taken:?}"
        );
    }
}

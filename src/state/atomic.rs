//! Atomic file replacement: temp file in the same directory, fsync, rename,
//! fsync of the directory (protocol in the engineering anchors, §2.2).
//!
//! A crash at any step leaves either the old or the new file, never a torn one;
//! a leftover temp file is garbage that the next write of the same file removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Test hook for crash tests: when the environment variable `HTAPSYNC_CRASH_AT`
/// names one of these steps, a *state* write aborts the process right after it
/// (`std::process::abort()`), as a power cut or `kill -9` would.
pub(crate) const CRASH_ENV: &str = "HTAPSYNC_CRASH_AT";

/// The steps of a state write after which [`CRASH_ENV`] can abort the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashPoint {
    TempWritten,
    TempSynced,
    Renamed,
}

impl CrashPoint {
    fn name(self) -> &'static str {
        match self {
            CrashPoint::TempWritten => "state-after-temp-write",
            CrashPoint::TempSynced => "state-after-fsync",
            CrashPoint::Renamed => "state-after-rename",
        }
    }
}

/// Whether a write honours the crash hook (only the state file itself does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashHooks {
    Off,
    State,
}

impl CrashHooks {
    fn reached(self, point: CrashPoint) {
        if self == CrashHooks::State && std::env::var(CRASH_ENV).is_ok_and(|v| v == point.name()) {
            std::process::abort();
        }
    }
}

/// Replaces `path` with `bytes` atomically and durably; the file gets mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), io::Error> {
    StagedFile::stage(path, bytes, CrashHooks::Off)?.commit()
}

/// New content written and synced next to its target, not yet visible under the target's name.
pub(crate) struct StagedFile {
    temp: PathBuf,
    target: PathBuf,
    hooks: CrashHooks,
    committed: bool,
}

impl StagedFile {
    /// Steps 3-4: create the temp file (0600, create_new), write, fsync.
    pub(crate) fn stage(target: &Path, bytes: &[u8], hooks: CrashHooks) -> io::Result<StagedFile> {
        let dir = parent_dir(target);
        let name = file_name(target)?;
        remove_dead_temps(&dir, &name);
        let temp = dir.join(format!(
            ".{name}.tmp-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let staged = StagedFile {
            temp,
            target: target.to_path_buf(),
            hooks,
            committed: false,
        };
        let mut file = create_private(&staged.temp)?;
        file.write_all(bytes)?;
        hooks.reached(CrashPoint::TempWritten);
        file.sync_all()?;
        hooks.reached(CrashPoint::TempSynced);
        Ok(staged)
    }

    /// Steps 6-7: rename over the target, then fsync the directory so the rename survives power loss.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        self.hooks.reached(CrashPoint::Renamed);
        sync_dir(&parent_dir(&self.target))
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Creates `dir` and its missing parents with mode 0700 whatever the umask:
/// htapsync's own directories hold state, locks and emulator data that other
/// local users must not be able to replace (with a link, say). Directories
/// that already exist are left as they are.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .take_while(|p| fs::symlink_metadata(p).is_err())
        .collect();
    for p in missing.into_iter().rev() {
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            builder.mode(0o700);
            match builder.create(p) {
                // The umask can only take bits away; set exactly 0700.
                Ok(()) => fs::set_permissions(p, fs::Permissions::from_mode(0o700))?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        // Not compiled on unix, where mutants run (mutants.toml skips it).
        #[cfg(not(unix))]
        match builder.create(p) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))
}

/// Durability across a power loss only, which no test can cause (mutants.toml skips it).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes `.<name>.tmp-<pid>-*` files whose writer process no longer exists.
/// Best effort: a failure here must not block the write itself.
fn remove_dead_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            match fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::debug!(file = %entry.path().display(), "removed temp file of a dead writer")
                }
                Err(e) => {
                    tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove stale temp file")
                }
            }
        }
    }
}

/// Whether a process exists. Without `/proc` we cannot tell, and keep the file.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return false; // our own leftovers from an earlier, failed write
    }
    let proc_root = Path::new("/proc/self");
    !proc_root.exists() || Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"x").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn temp_of_dead_writer_is_removed_but_live_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0 is never a user process: a dead writer. Our parent is alive.
        let dead = dir.path().join(".f.json.tmp-0-abc");
        let parent = std::os::unix::process::parent_id();
        let live = dir.path().join(format!(".f.json.tmp-{parent}-abc"));
        fs::write(&dead, b"partial").unwrap();
        fs::write(&live, b"partial").unwrap();
        write_atomic(&dir.path().join("f.json"), b"x").unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
    }

    /// Two runs starting at once (CI jobs sharing a checkout) both create
    /// `.htapsync/`: the one that loses the race is fine, but a directory
    /// that cannot be made is an error.
    #[cfg(unix)]
    #[test]
    fn private_dirs_made_at_once_by_many_are_made_and_a_dir_under_a_file_is_an_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for round in 0..40 {
            let deep = dir.path().join(format!("r{round}/a/b/c/d"));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let deep = deep.clone();
                    std::thread::spawn(move || create_private_dir_all(&deep))
                })
                .collect();
            for t in threads {
                t.join().unwrap().expect("made by this thread or another");
            }
            let mode = fs::metadata(&deep).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let err = create_private_dir_all(&file.join("sub")).expect_err("under a file");
        assert_ne!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    /// A bare file name's directory is the current one: the directory
    /// synced after the rename must be `.`, not the empty path (which cannot
    /// be opened).
    #[test]
    fn the_directory_of_a_bare_file_name_is_the_current_one() {
        assert_eq!(parent_dir(Path::new("state.json")), Path::new("."));
        assert_eq!(parent_dir(Path::new("d/state.json")), Path::new("d"));
        sync_dir(&parent_dir(Path::new("state.json"))).expect("`.` can be synced");
    }

    #[test]
    fn uncommitted_stage_is_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        drop(StagedFile::stage(&path, b"x", CrashHooks::Off).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

//! The `--data` file: the mutable cloud as JSON, written atomically after
//! every mutation (temporary file in the same directory, fsync, rename, fsync
//! of the directory, mode 0600) so that a crash never leaves half a file.

use super::EmulatorError;
use super::store::{DATA_VERSION, Store};
use std::io::Write;
use std::path::Path;

/// Loads the store from `path`, or an empty store when the file does not exist.
pub fn load(path: &Path) -> Result<Store, EmulatorError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::new()),
        Err(source) => {
            return Err(EmulatorError::Io {
                path: path.to_path_buf(),
                cause: source,
            });
        }
    };
    let store: Store = serde_json::from_str(&text).map_err(|e| EmulatorError::Data {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    if store.version != DATA_VERSION {
        return Err(EmulatorError::Data {
            path: path.to_path_buf(),
            msg: format!(
                "data format version {} is not supported (expected {DATA_VERSION})",
                store.version
            ),
        });
    }
    Ok(store)
}

/// Replaces `path` with `store`, atomically.
pub fn save(path: &Path, store: &Store) -> Result<(), EmulatorError> {
    let io = |source| EmulatorError::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let json = serde_json::to_vec_pretty(store).map_err(|e| EmulatorError::Data {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".emulator-data")
        .tempfile_in(dir)
        .map_err(io)?;
    restrict_permissions(tmp.as_file()).map_err(io)?;
    tmp.write_all(&json).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    sync_dir(dir).map_err(io)
}

#[cfg(unix)]
fn restrict_permissions(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_permissions(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloud.json");
        assert!(load(&path).unwrap().tasks.is_empty());
        let mut store = Store::new();
        store.stats.deletes = 3;
        save(&path, &store).unwrap();
        assert_eq!(load(&path).unwrap().stats.deletes, 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(load(&path), Err(EmulatorError::Data { .. })));
    }
}

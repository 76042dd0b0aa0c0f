//! Where the states of all workspaces live: a [`Store`] lists and deletes
//! workspaces and opens one workspace's state as a [`Backend`] (Terraform's
//! backend and state manager). [`LocalStore`] keeps one file per workspace.

use super::local::suffixed;
use super::{Backend, LocalBackend, StateError};
use crate::model::DEFAULT_WORKSPACE;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The states of every workspace of one configuration.
pub trait Store: Send + Sync {
    /// Every workspace that holds a state, sorted; `default` always.
    fn workspaces(&self) -> Result<Vec<String>, StateError>;

    /// The state of `workspace` (which need not exist yet).
    fn open(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError>;

    /// Deletes `workspace`'s state and its history. Refuses `default`, and a
    /// workspace whose lock is held ([`StateError::Locked`]). Whether it still
    /// manages tasks is the caller's question.
    fn delete_workspace(&self, workspace: &str) -> Result<(), StateError>;

    /// Where the states live, for messages (a path, a database without credentials).
    fn describe(&self) -> String;
}

/// Local files: the `default` workspace at the configured path, every other
/// one at `<stem>.d/<workspace>/<file name>` beside it (Terraform's
/// `terraform.tfstate.d/<workspace>/`).
#[derive(Debug, Clone)]
pub struct LocalStore {
    default_path: PathBuf,
}

impl LocalStore {
    pub fn new(default_path: PathBuf) -> LocalStore {
        LocalStore { default_path }
    }

    /// The directory holding the other workspaces' directories.
    fn workspaces_dir(&self) -> PathBuf {
        let stem = self
            .default_path
            .file_stem()
            .map_or_else(|| "htapsync".into(), |s| s.to_os_string());
        let mut name = stem;
        name.push(".d");
        self.default_path.with_file_name(name)
    }

    /// The state file of `workspace`.
    pub fn path_of(&self, workspace: &str) -> PathBuf {
        if workspace == DEFAULT_WORKSPACE {
            return self.default_path.clone();
        }
        let file_name = self
            .default_path
            .file_name()
            .map_or_else(|| "htapsync.state.json".into(), |s| s.to_os_string());
        self.workspaces_dir().join(workspace).join(file_name)
    }
}

impl Store for LocalStore {
    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let mut names = vec![DEFAULT_WORKSPACE.to_string()];
        let dir = self.workspaces_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(StateError::io("listing workspaces in", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StateError::io("listing workspaces in", &dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let valid = crate::model::check_workspace_name(&name).is_ok();
            if valid && name != DEFAULT_WORKSPACE && self.path_of(&name).is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError> {
        let path = self.path_of(workspace);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            super::create_private_dir_all(parent)
                .map_err(|e| StateError::io("creating the state directory", parent, e))?;
        }
        Ok(Arc::new(LocalBackend::new(path)))
    }

    fn delete_workspace(&self, workspace: &str) -> Result<(), StateError> {
        if workspace == DEFAULT_WORKSPACE {
            return Err(StateError::DefaultWorkspace);
        }
        let path = self.path_of(workspace);
        let backend = LocalBackend::new(path.clone());
        let lock = backend.lock("workspace delete", Duration::ZERO)?;
        for file in [path.clone(), suffixed(&path, ".backup")] {
            remove_if_present(&file)?;
        }
        drop(lock);
        remove_if_present(&suffixed(&path, ".lock"))?;
        if let Some(dir) = path.parent() {
            // Only when empty: anything a user put there stays.
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.default_path.display().to_string()
    }
}

fn remove_if_present(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io("removing", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    #[test]
    fn a_workspace_file_that_cannot_be_removed_fails_the_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("htapsync.state.json"));
        // A directory where the backup would be: removing it as a file fails.
        let path = store.path_of("prod");
        std::fs::create_dir_all(suffixed(&path, ".backup")).unwrap();
        let err = store.delete_workspace("prod").unwrap_err();
        assert!(err.to_string().contains(".backup"), "{err}");
    }

    #[test]
    fn a_workspaces_directory_that_cannot_be_listed_is_an_error_not_no_workspaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("htapsync.state.json"));
        std::fs::write(dir.path().join("htapsync.state.d"), "not a directory").unwrap();
        let err = store.workspaces().unwrap_err();
        assert!(err.to_string().contains("listing workspaces"), "{err}");
    }

    #[test]
    fn workspaces_live_beside_the_default_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("htapsync.state.json"));
        assert_eq!(
            store.path_of("default"),
            dir.path().join("htapsync.state.json")
        );
        assert_eq!(
            store.path_of("prod"),
            dir.path().join("htapsync.state.d/prod/htapsync.state.json")
        );
        assert_eq!(store.workspaces().unwrap(), ["default"]);
        // Errors about the store (a refused `state migrate`) name the default file.
        let default_file = dir.path().join("htapsync.state.json");
        assert_eq!(store.describe(), default_file.display().to_string());
        let mut state = State::new();
        state.intents.push(crate::state::Intent {
            id: "i".into(),
            address: crate::model::Address::task("t"),
            operation: crate::state::IntentOp::Create,
            spec: crate::model::TaskSpec::sample("t"),
            started_at: String::new(),
        });
        store.open("prod").unwrap().write(&mut state).unwrap();
        assert_eq!(store.workspaces().unwrap(), ["default", "prod"]);
        store.delete_workspace("prod").unwrap();
        assert_eq!(store.workspaces().unwrap(), ["default"]);
        assert!(!dir.path().join("htapsync.state.d/prod").exists());
        assert!(matches!(
            store.delete_workspace("default"),
            Err(StateError::DefaultWorkspace)
        ));
    }
}

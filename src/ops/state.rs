//! `state list|show|rm|mv|history|pull|push|migrate`, `workspace list|delete`
//! and `force-unlock`: operations on the state that need no cloud.

use super::{Error, Result, Workspace};
use crate::model::{Address, Moved, StateBackendKind};
use crate::state::{State, TaskRecord, Version};
use std::time::Duration;

/// The state, or `None` when there is none yet.
pub fn read(ws: &Workspace) -> Result<Option<State>> {
    Ok(ws.backend()?.read()?)
}

/// `state show ADDRESS`: the recorded task.
pub fn show(ws: &Workspace, address: &str) -> Result<TaskRecord> {
    let name = parse(address)?;
    let mut state = read(ws)?.unwrap_or_else(State::new);
    state
        .tasks
        .remove(name.name())
        .ok_or_else(|| Error::Refused(format!("{address} is not in state")))
}

/// `state rm ADDRESS`: forgets the task without deleting it in the cloud
/// (with `dry_run`, only checks that it is there). Returns its address.
pub fn rm(ws: &Workspace, address: &str, dry_run: bool) -> Result<Address> {
    let name = parse(address)?;
    let backend = ws.backend()?;
    let _lock = backend.lock("state rm", Duration::ZERO)?;
    let mut state = backend.read()?.unwrap_or_else(State::new);
    if !state.tasks.contains_key(name.name()) {
        return Err(Error::Refused(format!("{address} is not in state")));
    }
    if !dry_run {
        state.tasks.remove(name.name());
        backend.write(&mut state)?;
    }
    Ok(name)
}

/// `state mv SOURCE DESTINATION`: gives the recorded task at `source` the
/// address `destination` (with `dry_run`, only checks that it can), with no
/// remote call: the cloud task keeps its name, which the record remembers
/// when it is not the new key (write `name = "…"` in the task's new block).
pub fn mv(ws: &Workspace, source: &str, destination: &str, dry_run: bool) -> Result<Moved> {
    let moved = Moved {
        from: parse(source)?,
        to: parse(destination)?,
    };
    if moved.from == moved.to {
        return Err(Error::Refused(format!(
            "{source} and {destination} are the same address"
        )));
    }
    let backend = ws.backend()?;
    let _lock = backend.lock("state mv", Duration::ZERO)?;
    let mut state = backend.read()?.unwrap_or_else(State::new);
    if !state.tasks.contains_key(moved.from.name()) {
        return Err(Error::Refused(format!("{source} is not in state")));
    }
    if state.tasks.contains_key(moved.to.name()) {
        return Err(Error::Refused(format!(
            "{destination} is already in state; remove it with `htapsync state rm {destination}` first"
        )));
    }
    if !dry_run {
        crate::plan::moved::move_record(&mut state.tasks, &moved.from, &moved.to);
        backend.write(&mut state)?;
    }
    Ok(moved)
}

/// `force-unlock LOCK_ID`: removes a lock left by a process that died.
pub fn force_unlock(ws: &Workspace, lock_id: &str) -> Result<()> {
    Ok(ws.backend()?.force_unlock(lock_id)?)
}

fn parse(address: &str) -> Result<Address> {
    Address::parse(address)
        .ok_or_else(|| Error::Refused(format!("invalid address {address:?}: expected task.NAME")))
}

/// `state history`: the kept versions of this workspace's state, newest first.
pub fn history(ws: &Workspace) -> Result<Vec<Version>> {
    Ok(ws.backend()?.history()?)
}

/// `state pull [--serial N]`: the current state, or the kept version `serial`.
pub fn pull(ws: &Workspace, serial: Option<u64>) -> Result<State> {
    let backend = ws.backend()?;
    let found = match serial {
        None => backend.read()?,
        Some(serial) => backend.read_version(serial)?,
    };
    found.ok_or_else(|| {
        Error::Refused(match serial {
            None => format!("no state in workspace {:?} yet", ws.workspace),
            Some(n) => format!(
                "no version with serial {n} is kept for workspace {:?}; `htapsync state history` lists them",
                ws.workspace
            ),
        })
    })
}

/// What `state push` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The serial of the pushed document.
    pub from_serial: u64,
    /// The serial it was written as (`None`: identical to the current state, nothing written).
    pub written_serial: Option<u64>,
}

/// `state push FILE`: replaces the workspace's state with `pushed`. Refuses
/// another lineage, an older serial, or the same serial with other content
/// (someone wrote since it was pulled) unless `force`.
pub fn push(ws: &Workspace, pushed: State, force: bool) -> Result<Pushed> {
    let backend = ws.backend()?;
    let _lock = backend.lock("state push", Duration::ZERO)?;
    let current = backend.read()?;
    let from_serial = pushed.serial;
    let mut next = match current {
        Some(current) => {
            if !force {
                refuse_push(&current, &pushed)?;
            }
            State {
                lineage: current.lineage.clone(),
                serial: current.serial,
                ..pushed
            }
        }
        None => State {
            // Keeps its serial: the write below makes it one higher.
            serial: pushed.serial.saturating_sub(1),
            ..pushed
        },
    };
    let before = next.serial;
    backend.write(&mut next)?;
    Ok(Pushed {
        from_serial,
        written_serial: (next.serial != before).then_some(next.serial),
    })
}

fn refuse_push(current: &State, pushed: &State) -> Result<()> {
    let why = if current.lineage != pushed.lineage {
        format!(
            "its lineage {} is not the workspace's {}: it is the state of other tasks",
            pushed.lineage, current.lineage
        )
    } else if pushed.serial < current.serial {
        format!(
            "its serial {} is older than the workspace's {}: it would undo later applies",
            pushed.serial, current.serial
        )
    } else if pushed.serial == current.serial
        && (pushed.tasks != current.tasks || pushed.intents != current.intents)
    {
        format!(
            "it has the workspace's serial {} but other content: the state changed since it was pulled",
            current.serial
        )
    } else {
        return Ok(());
    };
    Err(Error::Refused(format!(
        "refusing to push: {why}. Nothing was written. Use --force to replace the state anyway."
    )))
}

/// One workspace copied by `state migrate`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    pub workspace: String,
    pub serial: u64,
    pub tasks: usize,
    /// The target already held this version (a migration run again).
    pub already_there: bool,
}

/// `state migrate --to KIND`: copies every workspace's state from the
/// configured backend to `to`, keeping lineage and serial. Checks every
/// workspace before copying any; refuses a target that holds another lineage
/// or a newer serial; reads each copy back and compares it before reporting
/// it. The source is never changed.
pub fn migrate(ws: &Workspace, to: StateBackendKind) -> Result<Vec<Migrated>> {
    let from_kind = ws.loaded.desired.state.backend;
    if from_kind == to {
        return Err(Error::Refused(format!(
            "the state is already in the {} backend ([state] backend)",
            to.as_str()
        )));
    }
    let source = ws.store_of(from_kind)?;
    let target = ws.store_of(to)?;
    let mut copies = Vec::new();
    let mut locks = Vec::new();
    for name in source.workspaces()? {
        let from = source.open(&name)?;
        locks.push(from.lock("state migrate", Duration::ZERO)?);
        let Some(state) = from.read()? else { continue };
        let into = target.open(&name)?;
        locks.push(into.lock("state migrate", Duration::ZERO)?);
        let existing = into.read()?;
        if let Some(existing) = &existing {
            if existing.lineage != state.lineage {
                return Err(Error::Refused(format!(
                    "refusing to migrate: workspace {name:?} in {} holds another state (lineage {}, this one {}). Nothing was copied.",
                    target.describe(),
                    existing.lineage,
                    state.lineage
                )));
            }
            if existing.serial > state.serial {
                return Err(Error::Refused(format!(
                    "refusing to migrate: workspace {name:?} in {} is newer (serial {} > {}). Nothing was copied.",
                    target.describe(),
                    existing.serial,
                    state.serial
                )));
            }
        }
        copies.push((name, state, existing, into));
    }
    let mut migrated = Vec::new();
    for (name, state, existing, into) in copies {
        let already_there = existing.as_ref().is_some_and(|e| same_version(e, &state));
        if !already_there {
            let mut copy = State {
                // The write makes it one higher: the copy keeps the source's serial.
                serial: state.serial.saturating_sub(1),
                ..state.clone()
            };
            into.write(&mut copy)?;
            let verified = target.open(&name)?.read()?;
            if !verified.as_ref().is_some_and(|v| same_version(v, &state)) {
                return Err(Error::Refused(format!(
                    "the copy of workspace {name:?} in {} does not read back as written; the source is unchanged",
                    target.describe()
                )));
            }
        }
        migrated.push(Migrated {
            tasks: state.tasks.len(),
            serial: state.serial,
            workspace: name,
            already_there,
        });
    }
    Ok(migrated)
}

fn same_version(a: &State, b: &State) -> bool {
    a.lineage == b.lineage && a.serial == b.serial && a.tasks == b.tasks && a.intents == b.intents
}

/// One workspace as `workspace list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkspaceEntry {
    pub name: String,
    /// The workspace this command works on.
    pub current: bool,
}

/// `workspace list`.
pub fn workspaces(ws: &Workspace) -> Result<Vec<WorkspaceEntry>> {
    let mut names = ws.store()?.workspaces()?;
    if !names.contains(&ws.workspace) {
        names.push(ws.workspace.clone());
        names.sort();
    }
    Ok(names
        .into_iter()
        .map(|name| WorkspaceEntry {
            current: name == ws.workspace,
            name,
        })
        .collect())
}

/// `workspace delete NAME`: refuses one that still manages tasks (their
/// tasks would be left unmanaged in the cloud) unless `force`.
pub fn delete_workspace(ws: &Workspace, name: &str, force: bool) -> Result<()> {
    crate::model::check_workspace_name(name).map_err(Error::Refused)?;
    if name == crate::model::DEFAULT_WORKSPACE {
        return Err(crate::state::StateError::DefaultWorkspace.into());
    }
    let store = ws.store()?;
    if !store.workspaces()?.iter().any(|w| w == name) {
        return Err(Error::Refused(format!("workspace {name:?} does not exist")));
    }
    if !force {
        let tasks = store.open(name)?.read()?.map_or(0, |s| s.tasks.len());
        if tasks > 0 {
            return Err(Error::Refused(format!(
                "workspace {name:?} still manages {tasks} task(s); run `htapsync destroy --workspace {name}` first, or delete it with --force (the tasks stay in the cloud, unmanaged)"
            )));
        }
    }
    Ok(store.delete_workspace(name)?)
}

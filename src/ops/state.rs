//! `state list|show|rm` and `force-unlock`: operations on the state file
//! that need no cloud.

use super::{Error, Result, Workspace};
use crate::model::Address;
use crate::state::{State, TaskRecord};
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

/// `force-unlock LOCK_ID`: removes a lock left by a process that died.
pub fn force_unlock(ws: &Workspace, lock_id: &str) -> Result<()> {
    Ok(ws.backend()?.force_unlock(lock_id)?)
}

fn parse(address: &str) -> Result<Address> {
    Address::parse(address)
        .ok_or_else(|| Error::Refused(format!("invalid address {address:?}: expected task.NAME")))
}

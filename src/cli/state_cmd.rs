//! `show`, `state ...`, `workspace ...` and `force-unlock`: commands on the
//! state and saved plans that need no cloud.

use super::args::{Cli, Format, StateCommand, WorkspaceCommand};
use super::output::Style;
use super::{CmdResult, Exit, view, workspace};
use crate::ops;
use crate::planfile::SavedPlan;
use crate::render::view::{Human, Json, Markdown, ShowView, StateView, WorkspaceView};
use anyhow::anyhow;
use std::io::{Read, Write};
use std::path::Path;

/// `show [PLANFILE]`: a saved plan in any format, or the state (human or JSON).
pub fn show(cli: &Cli, file: Option<&Path>, format: Format, style: &Style) -> CmdResult {
    let mut view: Box<dyn ShowView> = match format {
        Format::Json => Box::new(Json::new(style.streams())),
        Format::Markdown => Box::new(Markdown::new(style.streams().out)),
        Format::Human => Box::new(Human::new(style.streams())),
    };
    if let Some(file) = file {
        let saved = SavedPlan::read(file).map_err(ops::Error::from)?;
        view.saved_plan(&saved)?;
        return Ok(Exit::Success);
    }
    if format == Format::Markdown {
        return Err(anyhow!("--format markdown shows a saved plan: give the PLANFILE").into());
    }
    let ws = workspace(cli)?;
    view.state(ops::state::read(&ws)?.as_ref())?;
    Ok(Exit::Success)
}

pub fn state(cli: &Cli, cmd: &StateCommand, style: &Style) -> CmdResult {
    let ws = workspace(cli)?;
    let format = |json: bool| if json { Format::Json } else { Format::Human };
    match cmd {
        StateCommand::List { json } => {
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.list(ops::state::read(&ws)?.as_ref())?;
        }
        StateCommand::Show { address, json } => {
            let record = ops::state::show(&ws, address)?;
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.task(&record)?;
        }
        StateCommand::Rm {
            address,
            dry_run,
            json,
        } => {
            let removed = ops::state::rm(&ws, address, *dry_run)?;
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.removed(&removed, *dry_run)?;
        }
        StateCommand::Mv {
            source,
            destination,
            dry_run,
            json,
        } => {
            let moved = ops::state::mv(&ws, source, destination, *dry_run)?;
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.moved(&moved, *dry_run)?;
        }
        StateCommand::History { json } => {
            let versions = ops::state::history(&ws)?;
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.history(&ws.workspace, &versions)?;
        }
        StateCommand::Pull { serial } => {
            let state = ops::state::pull(&ws, *serial)?;
            let mut out = style.streams().out;
            out.write_all(&crate::state::encode(&state))?;
        }
        StateCommand::Push { file, force, json } => {
            let state = read_state_document(file)?;
            let pushed = ops::state::push(&ws, state, *force)?;
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.pushed(&ws.workspace, &pushed)?;
        }
        StateCommand::Migrate { to, json } => {
            let to = crate::model::StateBackendKind::from(*to);
            let migrated = ops::state::migrate(&ws, to)?;
            let mut view: Box<dyn StateView> = view!(format(*json), style);
            view.migrated(to.as_str(), &migrated)?;
        }
    }
    Ok(Exit::Success)
}

/// A state document for `state push`: a file, or stdin for `-`.
fn read_state_document(file: &Path) -> Result<crate::state::State, anyhow::Error> {
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        bytes
    } else {
        std::fs::read(file).map_err(|e| anyhow!("reading {}: {e}", file.display()))?
    };
    Ok(crate::state::decode(&bytes, file)?)
}

pub fn workspace_cmd(cli: &Cli, cmd: &WorkspaceCommand, style: &Style) -> CmdResult {
    let ws = workspace(cli)?;
    let format = |json: bool| if json { Format::Json } else { Format::Human };
    match cmd {
        WorkspaceCommand::List { json } => {
            let entries = ops::state::workspaces(&ws)?;
            let mut view: Box<dyn WorkspaceView> = view!(format(*json), style);
            view.list(&entries)?;
        }
        WorkspaceCommand::Show { json } => {
            let mut view: Box<dyn WorkspaceView> = view!(format(*json), style);
            view.show(&ws.workspace)?;
        }
        WorkspaceCommand::Delete { name, force, json } => {
            ops::state::delete_workspace(&ws, name, *force)?;
            let mut view: Box<dyn WorkspaceView> = view!(format(*json), style);
            view.deleted(name)?;
        }
    }
    Ok(Exit::Success)
}

pub fn force_unlock(cli: &Cli, lock_id: &str, json: bool, style: &Style) -> CmdResult {
    let ws = workspace(cli)?;
    ops::state::force_unlock(&ws, lock_id)?;
    let format = if json { Format::Json } else { Format::Human };
    let mut view: Box<dyn StateView> = view!(format, style);
    view.unlocked(lock_id)?;
    Ok(Exit::Success)
}

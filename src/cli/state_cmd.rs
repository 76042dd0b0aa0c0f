//! `show`, `state list|show|rm` and `force-unlock`: commands on the state
//! file and saved plans that need no cloud.

use super::args::{Cli, Format, StateCommand};
use super::output::Style;
use super::{CmdResult, Exit, view, workspace};
use crate::ops;
use crate::planfile::SavedPlan;
use crate::render::view::{Human, Json, Markdown, ShowView, StateView};
use anyhow::anyhow;
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

//! `show`, `state list|show|rm` and `force-unlock`: commands on the state
//! file and saved plans that need no cloud.

use super::CmdResult;
use super::args::{Cli, Format, StateCommand};
use super::context::Workspace;
use super::output::Style;
use crate::cli::output::{out, outln};
use crate::model::Address;
use crate::planfile::SavedPlan;
use crate::render;
use crate::state::State;
use anyhow::anyhow;
use std::path::Path;
use std::time::Duration;

/// `show [PLANFILE]`: a saved plan in any format, or the state (human or JSON).
pub fn show(cli: &Cli, file: Option<&Path>, format: Format, style: &Style) -> CmdResult {
    if let Some(file) = file {
        let saved = SavedPlan::read(file)?;
        let text = match format {
            Format::Json => {
                serde_json::to_string_pretty(&render::json::saved_plan_document(&saved))? + "\n"
            }
            Format::Markdown => {
                render::markdown::plan_markdown(&saved.plan, Some(&saved.gate), &[])
            }
            Format::Human => render::plan_human(&saved.plan, Some(&saved.gate), &style.render()),
        };
        out!("{text}")?;
        return Ok(0);
    }
    if format == Format::Markdown {
        return Err(anyhow!("--format markdown shows a saved plan: give the PLANFILE").into());
    }
    let ws = Workspace::load(cli)?;
    let state = ws.backend()?.read()?;
    match (state, format) {
        (state, Format::Json) => outln!(
            "{}",
            serde_json::to_string_pretty(&render::json::state_document(state.as_ref()))?
        )?,
        (None, _) => outln!("No state.")?,
        (Some(s), _) => {
            for record in s.tasks.values() {
                print_record(record)?;
            }
        }
    }
    Ok(0)
}

fn print_record(record: &crate::state::TaskRecord) -> std::io::Result<()> {
    outln!("# {}:", record.spec.address())?;
    let value = serde_json::to_value(&record.spec).unwrap_or_default();
    if let serde_json::Value::Object(map) = value {
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in map {
            outln!("    {k:<width$} = {v}")?;
        }
    }
    outln!()
}

pub fn state(cli: &Cli, cmd: &StateCommand) -> CmdResult {
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    match cmd {
        StateCommand::List { json } => {
            let state = backend.read()?;
            if *json {
                let doc = render::json::state_document(state.as_ref());
                outln!("{}", serde_json::to_string_pretty(&doc)?)?;
                return Ok(0);
            }
            for r in state.iter().flat_map(|s| s.tasks.values()) {
                outln!("{}", r.spec.address())?;
            }
            Ok(0)
        }
        StateCommand::Show { address, json } => {
            let name = parse(address)?;
            let s = backend.read()?.unwrap_or_else(State::new);
            let record = s
                .tasks
                .get(name.name())
                .ok_or_else(|| anyhow!("{address} is not in state"))?;
            if *json {
                let doc = render::json::task_document(record);
                outln!("{}", serde_json::to_string_pretty(&doc)?)?;
            } else {
                print_record(record)?;
            }
            Ok(0)
        }
        StateCommand::Rm { address, dry_run } => {
            let name = parse(address)?;
            let _lock = backend.lock("state rm", Duration::ZERO)?;
            let mut s = backend.read()?.unwrap_or_else(State::new);
            if !s.tasks.contains_key(name.name()) {
                return Err(anyhow!("{address} is not in state").into());
            }
            if *dry_run {
                outln!("Would remove {address}")?;
                return Ok(0);
            }
            s.tasks.remove(name.name());
            backend.write(&mut s)?;
            outln!("Removed {address} (the task still exists in the cloud)")?;
            Ok(0)
        }
    }
}

fn parse(address: &str) -> anyhow::Result<Address> {
    Address::parse(address)
        .ok_or_else(|| anyhow!("invalid address {address:?}: expected task.NAME"))
}

pub fn force_unlock(cli: &Cli, lock_id: &str) -> CmdResult {
    let ws = Workspace::load(cli)?;
    ws.backend()?.force_unlock(lock_id)?;
    outln!("htapsync state has been successfully unlocked!")?;
    Ok(0)
}

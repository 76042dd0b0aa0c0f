//! `import`: adopt tasks that already run in the cloud into state, and
//! optionally write the TOML that describes them.

use super::super::CmdResult;
use super::super::args::{Cli, ImportArgs};
use super::super::context::Workspace;
use super::super::output::Style;
use crate::api::Client;
use crate::cli::output::{errln, outln};
use crate::model::fields;
use crate::model::{Address, DbParam, ReplScope, ReplType, TaskDefaults, TaskSpec};
use crate::refresh::spec_from_cloud;
use crate::state::{State, TaskRecord};
use anyhow::{Context as _, anyhow, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub async fn import(cli: &Cli, a: &ImportArgs, _style: &Style) -> CmdResult {
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let _lock = backend.lock("import", a.common.lock_timeout)?;
    let mut state = backend.read()?.unwrap_or_else(State::new);
    let (client, _emulator) = ws.connect().await?;
    let generating = a.generate_config.is_some();
    let found = match (&a.address, a.all) {
        (Some(addr), false) => {
            let instance = a.instance.as_deref();
            vec![import_one(&ws, &client, &state, addr, instance, generating).await?]
        }
        (None, true) => import_all(&ws, &client, &state, a.instance.as_deref()).await?,
        _ => return Err(anyhow!("give either an address (task.NAME) or --all").into()),
    };
    let has_block = |spec: &TaskSpec| ws.loaded.desired.tasks.contains_key(&spec.name);
    // Without a block, the next plan would delete what was just imported.
    let (imported, skipped): (Vec<TaskSpec>, Vec<TaskSpec>) = found
        .into_iter()
        .partition(|spec| generating || has_block(spec));
    for spec in &skipped {
        errln!(
            "{}: not imported: no [task.{}] block in the configuration \
             (add one, or pass --generate-config FILE to write it)",
            spec.address(),
            spec.name
        );
    }
    if let Some(path) = &a.generate_config {
        let mut new_blocks: Vec<&TaskSpec> = imported.iter().filter(|s| !has_block(s)).collect();
        new_blocks.sort_by(|a, b| a.name.cmp(&b.name));
        let defaults = &ws.loaded.defaults;
        for spec in &new_blocks {
            if spec.source_node_id.is_none() && defaults.source_node_id.is_some() {
                errln!(
                    "warning: {} reads from the primary node, but its generated block \
                     inherits source_node_id from [defaults]: review it",
                    spec.address()
                );
            }
        }
        if new_blocks.is_empty() {
            let _ = outln!(
                "Every imported task already has a block in the configuration: {} not written",
                path.display()
            );
        } else {
            write_generated(path, &generate_toml(&new_blocks, defaults))?;
            // Best effort until state is written; the last line reports failures.
            let _ = outln!(
                "Wrote configuration for {} task(s) to {}",
                new_blocks.len(),
                path.display()
            );
        }
    }
    let count = imported.len();
    for spec in imported {
        let _ = outln!("{}: imported", spec.address());
        state.tasks.insert(
            spec.name.clone(),
            TaskRecord {
                spec,
                prevent_destroy: false,
                updated_at: chrono::Utc::now().to_rfc3339(),
            },
        );
    }
    backend.write(&mut state)?;
    outln!("Import successful: {count} task(s) are now managed by htapsync.")?;
    Ok(0)
}

/// Writes `text` to `path`, which must not exist: created exclusively
/// (`O_EXCL`), so that neither a file nor a symbolic link there, even a
/// dangling one, is ever written through or replaced.
fn write_generated(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists (as a file or a symbolic link); --generate-config writes a new file only",
            path.display()
        ),
        opened => opened.with_context(|| format!("creating {}", path.display()))?,
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn skeleton(name: &str, instance_id: &str) -> TaskSpec {
    TaskSpec {
        name: name.to_string(),
        instance_id: instance_id.to_string(),
        source_instance_id: String::new(),
        source_node_id: None,
        source_database_name: String::new(),
        target_database_name: String::new(),
        repl_type: ReplType::IncludeTables,
        repl_scope: ReplScope::All,
        tables: Vec::new(),
        db_configs: Default::default(),
        table_configs: Default::default(),
        paused: false,
    }
}

/// Reads a cloud task. `configured` (the task's block, when it has one) decides
/// which parameters at their default value are kept, as refresh does.
async fn read_task(
    client: &Client,
    instance: &str,
    name: &str,
    configured: Option<&TaskSpec>,
) -> anyhow::Result<TaskSpec> {
    let rows = client.list_tasks(instance).await?;
    let live = rows
        .iter()
        .find(|r| r.task_name == name)
        .ok_or_else(|| anyhow!("no task named {name} on instance {instance}"))?;
    let cfg = client.task_config(instance, name).await?;
    let basis = configured
        .cloned()
        .unwrap_or_else(|| skeleton(name, instance));
    Ok(spec_from_cloud(&basis, &cfg, live))
}

async fn import_one(
    ws: &Workspace,
    client: &Client,
    state: &State,
    addr: &str,
    instance: Option<&str>,
    generating: bool,
) -> anyhow::Result<TaskSpec> {
    let address = Address::parse(addr)
        .ok_or_else(|| anyhow!("invalid address {addr:?}: expected task.NAME"))?;
    let name = address.name();
    if state.tasks.contains_key(name) {
        bail!(
            "{address} is already managed; use `htapsync state rm {address}` first to re-import it"
        );
    }
    if !generating && !ws.loaded.desired.tasks.contains_key(name) {
        bail!(
            "{address} has no [task.{name}] block in the configuration: imported without one, \
             the next plan would delete it. Add the block first, or pass --generate-config FILE \
             to write it"
        );
    }
    let instance = match instance {
        Some(i) => i.to_string(),
        None => ws
            .loaded
            .desired
            .tasks
            .get(name)
            .map(|t| t.spec.instance_id.clone())
            .or_else(|| ws.loaded.defaults.instance_id.clone())
            .ok_or_else(|| anyhow!("{address} is not in the configuration; pass --instance ID"))?,
    };
    let configured = ws.loaded.desired.tasks.get(name).map(|t| &t.spec);
    read_task(client, &instance, name, configured).await
}

async fn import_all(
    ws: &Workspace,
    client: &Client,
    state: &State,
    instance: Option<&str>,
) -> anyhow::Result<Vec<TaskSpec>> {
    let instances: BTreeSet<String> = match instance {
        Some(i) => [i.to_string()].into(),
        None => ws
            .loaded
            .desired
            .tasks
            .values()
            .map(|t| t.spec.instance_id.clone())
            .chain(ws.loaded.defaults.instance_id.clone())
            .collect(),
    };
    if instances.is_empty() {
        bail!("no instance to look in: pass --instance ID");
    }
    let mut out = Vec::new();
    for instance in &instances {
        for row in client.list_tasks(instance).await? {
            if state.tasks.contains_key(&row.task_name) {
                continue;
            }
            let configured = ws.loaded.desired.tasks.get(&row.task_name).map(|t| &t.spec);
            out.push(read_task(client, instance, &row.task_name, configured).await?);
        }
    }
    Ok(out)
}

/// TOML that reproduces `specs` in a directory with these `[defaults]`, in
/// the configuration's own format: a key is written only where the task's
/// value differs from what it would inherit, so the next plan shows no changes.
pub fn generate_toml(specs: &[&TaskSpec], defaults: &TaskDefaults) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    let mut tasks = toml_edit::Table::new();
    tasks.set_implicit(true);
    for spec in specs {
        let mut t = toml_edit::Table::new();
        for field in fields::spec_fields() {
            let Some(value) = field.value else { continue };
            let value = match field.key {
                "db_configs" => fields::string_map(&own_db_configs(spec, defaults)),
                _ => value(spec),
            };
            if value != (field.unwritten)(spec, defaults)
                && let Some(item) = toml_item(&value)
            {
                t[field.key] = item;
            }
        }
        tasks[&spec.name] = toml_edit::Item::Table(t);
    }
    doc["task"] = toml_edit::Item::Table(tasks);
    let text = format!(
        "# Generated by `htapsync import --generate-config`: review before committing.\n{doc}"
    );
    // In the layout `htapsync fmt` gives; the text is valid TOML by construction.
    crate::config::format_source(&text, Path::new("generated.toml")).unwrap_or(text)
}

/// A registry value as TOML: `None` for an absent value or an empty list or map.
fn toml_item(value: &serde_json::Value) -> Option<toml_edit::Item> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(toml_edit::value(s.as_str())),
        Value::Bool(b) => Some(toml_edit::value(*b)),
        Value::Array(list) if !list.is_empty() => {
            let mut array = toml_edit::Array::new();
            array.extend(list.iter().filter_map(Value::as_str));
            Some(toml_edit::value(array))
        }
        Value::Object(map) if !map.is_empty() => {
            let mut table = toml_edit::Table::new();
            for (k, v) in map {
                table[k.as_str()] = toml_item(v)?;
            }
            Some(toml_edit::Item::Table(table))
        }
        _ => None,
    }
}

/// The db_configs a task must write itself: its values that `[defaults]` does
/// not already give, and the documented default of each parameter that
/// `[defaults]` sets otherwise while the cloud keeps it at its default
/// (refresh leaves such a parameter out of `spec`).
fn own_db_configs(spec: &TaskSpec, defaults: &TaskDefaults) -> BTreeMap<String, String> {
    let mut own: BTreeMap<String, String> = spec
        .db_configs
        .iter()
        .filter(|(k, v)| defaults.db_configs.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, inherited) in &defaults.db_configs {
        if let Some(param) = DbParam::lookup(name)
            && !spec.db_configs.contains_key(name)
            && param.default != inherited
        {
            own.insert(name.clone(), param.default.to_string());
        }
    }
    own
}

//! `import`: adopt tasks that already run in the cloud into state, and
//! optionally write the TOML that describes them.

use super::{Error, Result, Workspace};
use crate::api::Clients;
use crate::model::fields;
use crate::model::{Address, DbParam, TaskDefaults, TaskSpec};
use crate::refresh::spec_from_cloud;
use crate::state::{State, TaskRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to adopt.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The address to adopt (`task.NAME`), or `None` with `all`.
    pub address: Option<String>,
    /// Adopt every task of the configured instances that is not yet managed.
    pub all: bool,
    /// HTAP instance to look in (default: the instance_id of the task or `[defaults]`).
    pub instance: Option<String>,
    /// `--provider`: where tasks without a block are looked up (see [`provider_of_instance`]).
    pub provider: Option<String>,
    /// Write TOML for the imported tasks to this file (must not exist).
    pub generate_config: Option<PathBuf>,
    /// How long to wait for the state lock.
    pub lock_timeout: Duration,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    /// Found but not imported: no block in the configuration and no
    /// `--generate-config` (the next plan would delete them).
    pub skipped: Vec<TaskSpec>,
    /// Generated blocks that inherit `source_node_id` from `[defaults]` although
    /// the task reads from the primary node: to review.
    pub review: Vec<Address>,
    /// With `--generate-config`: the file and how many blocks were written
    /// (0: every task already had a block, nothing written).
    pub generated: Option<(PathBuf, usize)>,
    /// The tasks now in state.
    pub imported: Vec<Address>,
}

/// `import`: reads the tasks from the cloud, optionally writes their TOML,
/// and records them in state.
pub async fn import(ws: &Workspace, a: &ImportOptions) -> Result<Imported> {
    let backend = ws.backend()?;
    let _lock = backend.lock("import", a.lock_timeout)?;
    let mut state = backend.read()?.unwrap_or_else(State::new);
    if let Some(name) = &a.provider
        && ws.loaded.desired.providers.get(Some(name)).is_none()
    {
        return Err(refused(format!(
            "--provider {name}: the configuration defines no [provider.{name}]"
        )));
    }
    let (clients, _emulators) = ws.connect().await?;
    let generating = a.generate_config.is_some();
    let found = match (&a.address, a.all) {
        (Some(addr), false) => {
            let scope = (a.instance.as_deref(), a.provider.as_deref());
            vec![import_one(ws, &clients, &state, addr, scope, generating).await?]
        }
        (None, true) => {
            let scope = (a.instance.as_deref(), a.provider.as_deref());
            import_all(ws, &clients, &state, scope).await?
        }
        _ => return Err(refused("give either an address (task.NAME) or --all")),
    };
    let has_block = |spec: &TaskSpec| ws.loaded.desired.tasks.contains_key(&spec.name);
    // Without a block, the next plan would delete what was just imported.
    let (imported, skipped): (Vec<TaskSpec>, Vec<TaskSpec>) = found
        .into_iter()
        .partition(|spec| generating || has_block(spec));
    let mut outcome = Imported {
        skipped,
        ..Imported::default()
    };
    if let Some(path) = &a.generate_config {
        let mut new_blocks: Vec<&TaskSpec> = imported.iter().filter(|s| !has_block(s)).collect();
        new_blocks.sort_by(|a, b| a.name.cmp(&b.name));
        let defaults = &ws.loaded.defaults;
        outcome.review = new_blocks
            .iter()
            .filter(|spec| spec.source_node_id.is_none() && defaults.source_node_id.is_some())
            .map(|spec| spec.address())
            .collect();
        if !new_blocks.is_empty() {
            write_generated(path, &generate_toml(&new_blocks, defaults))?;
        }
        outcome.generated = Some((path.clone(), new_blocks.len()));
    }
    for spec in imported {
        outcome.imported.push(spec.address());
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
    Ok(outcome)
}

/// An import refused for the reason `message` gives.
fn refused(message: impl Into<String>) -> Error {
    Error::Refused(message.into())
}

/// Writes `text` to `path`, which must not exist: created exclusively
/// (`O_EXCL`), so that neither a file nor a symbolic link there, even a
/// dangling one, is ever written through or replaced.
fn write_generated(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(refused(format!(
                "{} already exists (as a file or a symbolic link); --generate-config writes a new file only",
                path.display()
            )));
        }
        opened => opened.map_err(|e| Error::context(format!("creating {}", path.display()), e))?,
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::context(format!("writing {}", path.display()), e))
}

/// Reads a cloud task through the provider of its instance (see
/// [`provider_of_instance`]). `configured` (the task's block, when it has
/// one) decides which parameters at their default value are kept, as refresh does.
pub(super) async fn read_task(
    ws: &Workspace,
    clients: &Clients,
    explicit: Option<&str>,
    instance: &str,
    name: &str,
    configured: Option<&TaskSpec>,
) -> Result<TaskSpec> {
    let provider = match configured {
        Some(spec) => spec.provider.clone(),
        None => provider_of_instance(ws, instance, explicit),
    };
    let client = clients.get(provider.as_deref())?;
    let rows = client.list_tasks(instance).await?;
    let live = rows
        .iter()
        .find(|r| r.task_name == name)
        .ok_or_else(|| refused(format!("no task named {name} on instance {instance}")))?;
    let cfg = client.task_config(instance, name).await?;
    let basis = configured.cloned().unwrap_or_else(|| TaskSpec {
        provider,
        ..TaskSpec::found_on(name, instance)
    });
    Ok(spec_from_cloud(&basis, &cfg, live))
}

/// The provider an instance is reached through: `explicit` (`--provider`),
/// else that of the configured tasks on it, else the one `[defaults]` names.
fn provider_of_instance(ws: &Workspace, instance: &str, explicit: Option<&str>) -> Option<String> {
    if let Some(name) = explicit {
        return Some(name.to_string());
    }
    let desired = &ws.loaded.desired.tasks;
    match desired.values().find(|t| t.spec.instance_id == instance) {
        Some(task) => task.spec.provider.clone(),
        None => ws.loaded.defaults.provider.clone(),
    }
}

async fn import_one(
    ws: &Workspace,
    clients: &Clients,
    state: &State,
    addr: &str,
    (instance, provider): (Option<&str>, Option<&str>),
    generating: bool,
) -> Result<TaskSpec> {
    let address = Address::parse(addr)
        .ok_or_else(|| refused(format!("invalid address {addr:?}: expected task.NAME")))?;
    let name = address.name();
    if state.tasks.contains_key(name) {
        return Err(refused(format!(
            "{address} is already managed; use `htapsync state rm {address}` first to re-import it"
        )));
    }
    if !generating && !ws.loaded.desired.tasks.contains_key(name) {
        return Err(refused(format!(
            "{address} has no [task.{name}] block in the configuration: imported without one, \
             the next plan would delete it. Add the block first, or pass --generate-config FILE \
             to write it"
        )));
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
            .ok_or_else(|| {
                refused(format!(
                    "{address} is not in the configuration; pass --instance ID"
                ))
            })?,
    };
    let configured = ws.loaded.desired.tasks.get(name).map(|t| &t.spec);
    let cloud_name = configured.map_or(name, TaskSpec::task_name);
    read_task(ws, clients, provider, &instance, cloud_name, configured).await
}

async fn import_all(
    ws: &Workspace,
    clients: &Clients,
    state: &State,
    (instance, provider): (Option<&str>, Option<&str>),
) -> Result<Vec<TaskSpec>> {
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
        return Err(refused("no instance to look in: pass --instance ID"));
    }
    let mut out = Vec::new();
    for instance in &instances {
        let found_through = provider_of_instance(ws, instance, provider);
        let client = clients.get(found_through.as_deref())?;
        for row in client.list_tasks(instance).await? {
            let is_it = |spec: &&TaskSpec| {
                spec.task_name() == row.task_name && spec.instance_id == *instance
            };
            if state.tasks.values().map(|r| &r.spec).any(|s| is_it(&s)) {
                continue;
            }
            let configured = ws
                .loaded
                .desired
                .tasks
                .values()
                .map(|t| &t.spec)
                .find(is_it);
            let read = read_task(
                ws,
                clients,
                found_through.as_deref(),
                instance,
                &row.task_name,
                configured,
            );
            out.push(read.await?);
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

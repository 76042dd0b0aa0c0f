//! `import`: adopt tasks that already run in the cloud into state, and
//! optionally write the TOML that describes them.

use super::super::CmdResult;
use super::super::args::{Cli, ImportArgs};
use super::super::context::Workspace;
use super::super::output::Style;
use crate::api::Client;
use crate::cli::output::outln;
use crate::model::{Address, ReplScope, ReplType, TaskSpec};
use crate::refresh::spec_from_cloud;
use crate::state::{State, TaskRecord};
use anyhow::{Context as _, anyhow, bail};
use std::collections::BTreeSet;

pub async fn import(cli: &Cli, a: &ImportArgs, _style: &Style) -> CmdResult {
    let ws = Workspace::load(cli)?;
    let backend = ws.backend()?;
    let _lock = backend.lock("import", a.common.lock_timeout)?;
    let mut state = backend.read()?.unwrap_or_else(State::new);
    let (client, _emulator) = ws.connect().await?;
    let imported = match (&a.address, a.all) {
        (Some(addr), false) => {
            vec![import_one(&ws, &client, &state, addr, a.instance.as_deref()).await?]
        }
        (None, true) => import_all(&ws, &client, &state, a.instance.as_deref()).await?,
        _ => return Err(anyhow!("give either an address (task.NAME) or --all").into()),
    };
    if let Some(path) = &a.generate_config {
        if path.exists() {
            return Err(anyhow!(
                "{} already exists; --generate-config writes a new file only",
                path.display()
            )
            .into());
        }
        std::fs::write(path, generate_toml(&imported))
            .with_context(|| format!("writing {}", path.display()))?;
        // Best effort until state is written; the last line reports failures.
        let _ = outln!(
            "Wrote configuration for {} task(s) to {}",
            imported.len(),
            path.display()
        );
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
) -> anyhow::Result<TaskSpec> {
    let address = Address::parse(addr)
        .ok_or_else(|| anyhow!("invalid address {addr:?}: expected task.NAME"))?;
    let name = address.name();
    if state.tasks.contains_key(name) {
        bail!(
            "{address} is already managed; use `htapsync state rm {address}` first to re-import it"
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

/// TOML that reproduces `specs`, in the configuration's own format.
pub fn generate_toml(specs: &[TaskSpec]) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    let mut tasks = toml_edit::Table::new();
    tasks.set_implicit(true);
    for spec in specs {
        let mut t = toml_edit::Table::new();
        t["instance_id"] = toml_edit::value(&spec.instance_id);
        t["source_instance_id"] = toml_edit::value(&spec.source_instance_id);
        if let Some(node) = &spec.source_node_id {
            t["source_node_id"] = toml_edit::value(node);
        }
        t["source_database_name"] = toml_edit::value(&spec.source_database_name);
        t["target_database_name"] = toml_edit::value(&spec.target_database_name);
        t["repl_type"] = toml_edit::value(spec.repl_type.as_str());
        t["repl_scope"] = toml_edit::value(spec.repl_scope.as_str());
        let mut tables = toml_edit::Array::new();
        tables.extend(spec.tables.iter().map(String::as_str));
        t["tables"] = toml_edit::value(tables);
        if spec.paused {
            t["paused"] = toml_edit::value(true);
        }
        for (key, map) in [
            ("db_configs", &spec.db_configs),
            ("table_configs", &spec.table_configs),
        ] {
            if map.is_empty() {
                continue;
            }
            let mut sub = toml_edit::Table::new();
            for (k, v) in map {
                sub[k] = toml_edit::value(v);
            }
            t[key] = toml_edit::Item::Table(sub);
        }
        tasks[&spec.name] = toml_edit::Item::Table(t);
    }
    doc["task"] = toml_edit::Item::Table(tasks);
    format!("# Generated by `htapsync import --generate-config`: review before committing.\n{doc}")
}

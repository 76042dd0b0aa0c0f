//! The first pass over one file: its TOML tree turned into typed, positioned
//! pieces (`[provider]`, `[state]`, `[defaults]`, each `[task.NAME]`), with
//! every per-value problem reported. Merging files and applying `[defaults]`
//! happen later, in `resolve`.

use super::rules;
use super::walk::{Entry, Origin, Spanned, Walker, entries, suggestion_detail};
use crate::model::fields;
use crate::model::{DB_PARAMS, DbParam, DbParamKind, ReplScope, ReplType, SyncLevel};
use crate::table_config::parse_table_config;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::LazyLock;
use toml_edit::{Item, TableLike, Value};

/// Keys a task inherits from `[defaults]` (the registry's inheritable ones).
pub(crate) static DEFAULTS_KEYS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields::keys(|f| f.inheritable));

/// Keys of `[task.NAME]`: every key of the registry.
pub(crate) static TASK_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| fields::keys(|_| true));

const TOP_LEVEL_KEYS: &[&str] = &[
    "provider", "state", "policy", "defaults", "task", "moved", "import",
];
const MOVED_KEYS: &[&str] = &["from", "to"];
const IMPORT_KEYS: &[&str] = &["to", "id", "instance_id"];

/// A task's own key besides the registry's: the inherited values it drops.
pub(crate) const UNSET_KEY: &str = "unset";

/// What `unset` may name: every inheritable key a task can do without, all
/// of `db_configs`, or one parameter of it.
pub(crate) static UNSETTABLE: LazyLock<Vec<String>> = LazyLock::new(|| {
    fields::keys(|f| f.inheritable && !f.required)
        .into_iter()
        .map(str::to_string)
        .chain(DB_PARAMS.iter().map(|p| format!("db_configs.{}", p.name)))
        .collect()
});
const PROVIDER_KEYS: &[&str] = &[
    "project_id",
    "endpoint",
    "region",
    "emulator_cloud",
    "emulator_data",
    "ca_file",
    "poll_interval",
    "wait_timeout",
    "profile",
];
const STATE_KEYS: &[&str] = &["backend", "path", "schema", "workspace", "history"];
const POLICY_KEYS: &[&str] = &["destructive"];

/// `[provider]` as written in one file.
#[derive(Debug, Default)]
pub(crate) struct RawProvider {
    pub project_id: Option<Spanned<String>>,
    pub endpoint: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub emulator_cloud: Option<Spanned<String>>,
    pub emulator_data: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    /// Durations (`500ms`, `10s`, `2m`), checked by [`positive_duration`].
    pub poll_interval: Option<Spanned<String>>,
    pub wait_timeout: Option<Spanned<String>>,
    /// The credentials file's profile for this provider's calls.
    pub profile: Option<Spanned<String>>,
    /// Keys present, whether or not their value was valid.
    pub written: BTreeSet<&'static str>,
    /// `[provider.NAME]` tables inside this one (only in the unnamed `[provider]`).
    pub named: Vec<(String, Spanned<RawProvider>)>,
}

/// The task keys of `[defaults]` or of one `[task.NAME]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct TaskFields {
    /// `name`: the cloud's task name.
    pub name: Option<Spanned<String>>,
    pub provider: Option<Spanned<String>>,
    pub instance_id: Option<Spanned<String>>,
    pub source_instance_id: Option<Spanned<String>>,
    pub source_node_id: Option<Spanned<String>>,
    pub sync_level: Option<Spanned<SyncLevel>>,
    pub database_scope: Option<Spanned<ReplScope>>,
    pub source_database_name: Option<Spanned<String>>,
    pub target_database_name: Option<Spanned<String>>,
    pub repl_type: Option<Spanned<ReplType>>,
    pub repl_scope: Option<Spanned<ReplScope>>,
    pub table_patterns: Option<Spanned<bool>>,
    /// Sorted; duplicates already reported.
    pub tables: Option<Spanned<Vec<String>>>,
    /// Parameter name -> value as sent.
    pub db_configs: BTreeMap<String, Spanned<String>>,
    /// Table name (spanned at its key) -> config string.
    pub table_configs: Vec<(Spanned<String>, String)>,
    pub paused: Option<Spanned<bool>>,
    pub prevent_destroy: Option<Spanned<bool>>,
    /// `unset`: inherited values this task drops (entries of [`UNSETTABLE`]).
    pub unset: Vec<Spanned<String>>,
    /// Keys present, whether or not their value was valid.
    pub written: BTreeSet<&'static str>,
}

impl TaskFields {
    /// Forgets the value of the single-valued `key` (what `unset` drops).
    pub fn clear(&mut self, key: &str) {
        match key {
            "provider" => self.provider = None,
            "source_node_id" => self.source_node_id = None,
            "target_database_name" => self.target_database_name = None,
            "repl_type" => self.repl_type = None,
            "repl_scope" => self.repl_scope = None,
            "paused" => self.paused = None,
            "prevent_destroy" => self.prevent_destroy = None,
            _ => {}
        }
    }
}

/// One `[task.NAME]` as written in one file.
#[derive(Debug)]
pub(crate) struct RawTask {
    pub name: String,
    /// The table header when there is one, else the name's key.
    pub at: Origin,
    pub fields: TaskFields,
}

/// `[state]` as written.
#[derive(Debug, Default)]
pub(crate) struct RawState {
    pub backend: Option<Spanned<crate::model::StateBackendKind>>,
    pub path: Option<Spanned<String>>,
    pub schema: Option<Spanned<String>>,
    pub workspace: Option<Spanned<String>>,
    pub history: Option<Spanned<i64>>,
}

/// One `[[moved]]` block.
#[derive(Debug)]
pub(crate) struct RawMoved {
    pub at: Origin,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
}

/// One `[[import]]` block.
#[derive(Debug)]
pub(crate) struct RawImport {
    pub at: Origin,
    pub to: Option<Spanned<String>>,
    pub id: Option<Spanned<String>>,
    pub instance_id: Option<Spanned<String>>,
}

/// `[policy]` as written.
#[derive(Debug, Default)]
pub(crate) struct RawPolicy {
    pub destructive: Option<Spanned<crate::model::DestructivePolicy>>,
}

/// Everything one file contributes.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    pub provider: Option<Spanned<RawProvider>>,
    pub state: Option<Spanned<RawState>>,
    pub policy: Option<Spanned<RawPolicy>>,
    pub defaults: Option<Spanned<TaskFields>>,
    pub tasks: Vec<RawTask>,
    pub moved: Vec<RawMoved>,
    pub imports: Vec<RawImport>,
}

/// Where a table "is": its `[header]` when written as one, else its key.
fn table_origin(walker: &Walker, entry: &Entry) -> Origin {
    let span = match entry.item {
        Item::Table(t) if !t.is_implicit() && !t.is_dotted() => t.span(),
        _ => None,
    };
    walker.origin(
        span.filter(|s| !s.is_empty())
            .unwrap_or_else(|| entry.key_span.clone()),
    )
}

/// Reads the root table of one file.
pub(crate) fn read_file(walker: &mut Walker, root: &dyn TableLike) -> RawFile {
    let mut file = RawFile::default();
    for entry in entries(root) {
        let at = table_origin(walker, &entry);
        match entry.name {
            "provider" => {
                if let Some(table) = walker.table("the top level", &entry) {
                    let value = read_provider(walker, "[provider]", table, true);
                    file.provider = Some(Spanned { value, at });
                }
            }
            "state" => {
                if let Some(table) = walker.table("the top level", &entry) {
                    let value = read_state(walker, table);
                    file.state = Some(Spanned { value, at });
                }
            }
            "policy" => {
                if let Some(table) = walker.table("the top level", &entry) {
                    let value = read_policy(walker, table);
                    file.policy = Some(Spanned { value, at });
                }
            }
            "defaults" => {
                if let Some(table) = walker.table("the top level", &entry) {
                    let value = read_task_fields(walker, "[defaults]", table, &DEFAULTS_KEYS);
                    file.defaults = Some(Spanned { value, at });
                }
            }
            "task" => {
                if let Some(table) = walker.table("the top level", &entry) {
                    read_tasks(walker, table, &mut file.tasks);
                }
            }
            "moved" => {
                for (at, block) in blocks(walker, &entry, "[[moved]]") {
                    let mut moved = RawMoved {
                        at,
                        from: None,
                        to: None,
                    };
                    for key in entries(block) {
                        match key.name {
                            "from" => moved.from = address(walker, "[[moved]]", &key),
                            "to" => moved.to = address(walker, "[[moved]]", &key),
                            _ => walker.unknown_key("[[moved]]", &key, MOVED_KEYS),
                        }
                    }
                    file.moved.push(moved);
                }
            }
            "import" => {
                for (at, block) in blocks(walker, &entry, "[[import]]") {
                    let context = "[[import]]";
                    let mut import = RawImport {
                        at,
                        to: None,
                        id: None,
                        instance_id: None,
                    };
                    for key in entries(block) {
                        match key.name {
                            "to" => import.to = address(walker, context, &key),
                            "id" => {
                                import.id = walker.checked_string(context, &key, rules::short_name)
                            }
                            "instance_id" => {
                                import.instance_id =
                                    walker.checked_string(context, &key, rules::instance_id)
                            }
                            _ => walker.unknown_key(context, &key, IMPORT_KEYS),
                        }
                    }
                    file.imports.push(import);
                }
            }
            _ => walker.unknown_key("the top level", &entry, TOP_LEVEL_KEYS),
        }
    }
    file
}

/// The tables of an array of tables (`[[moved]]`), or of an array of inline tables.
fn blocks<'t>(
    walker: &mut Walker,
    entry: &Entry<'t>,
    context: &str,
) -> Vec<(Origin, &'t dyn TableLike)> {
    let mut out: Vec<(Origin, &'t dyn TableLike)> = Vec::new();
    match entry.item {
        Item::ArrayOfTables(array) => {
            for table in array.iter() {
                let span = table.span().unwrap_or_else(|| entry.key_span.clone());
                out.push((walker.origin(span), table));
            }
        }
        Item::Value(Value::Array(array)) => {
            for value in array.iter() {
                let span = value.span().unwrap_or_else(|| entry.value_span());
                match value.as_inline_table() {
                    Some(table) => out.push((walker.origin(span), table)),
                    None => walker.error(
                        span,
                        format!("wrong type in {context}: expected a table"),
                        format!("write each block as {context} with its keys below it"),
                    ),
                }
            }
        }
        _ => walker.wrong_type(context, entry, "an array of tables"),
    }
    out
}

/// A task address (`task.NAME`).
fn address(walker: &mut Walker, context: &str, entry: &Entry) -> Option<Spanned<String>> {
    walker.checked_string(context, entry, |text| {
        let name = text
            .strip_prefix("task.")
            .ok_or_else(|| "expected an address like task.NAME".to_string())?;
        rules::short_name(name)
    })
}

/// Reads `[provider]` (`named`: with its `[provider.NAME]` tables) or one `[provider.NAME]`.
fn read_provider(
    walker: &mut Walker,
    context: &str,
    table: &dyn TableLike,
    named: bool,
) -> RawProvider {
    let mut provider = RawProvider::default();
    for entry in entries(table) {
        let Some(&key) = PROVIDER_KEYS.iter().find(|k| **k == entry.name) else {
            if named && entry.item.is_table_like() {
                read_named_provider(walker, &entry, &mut provider.named);
            } else {
                walker.unknown_key(context, &entry, PROVIDER_KEYS);
            }
            continue;
        };
        provider.written.insert(key);
        let slot = match key {
            "project_id" => {
                provider.project_id = walker.checked_string(context, &entry, rules::project_id);
                continue;
            }
            "endpoint" => {
                provider.endpoint = read_endpoint(walker, context, &entry);
                continue;
            }
            "region" => {
                provider.region = walker.checked_string(context, &entry, rules::region);
                continue;
            }
            "poll_interval" | "wait_timeout" => {
                let value = walker.checked_string(context, &entry, positive_duration);
                if key == "poll_interval" {
                    provider.poll_interval = value;
                } else {
                    provider.wait_timeout = value;
                }
                continue;
            }
            "profile" => {
                provider.profile = walker.checked_string(context, &entry, rules::provider_name);
                continue;
            }
            "emulator_cloud" => &mut provider.emulator_cloud,
            "ca_file" => &mut provider.ca_file,
            _ => &mut provider.emulator_data,
        };
        *slot = walker.checked_string(context, &entry, non_empty_path);
    }
    provider
}

/// One `[provider.NAME]`.
fn read_named_provider(
    walker: &mut Walker,
    entry: &Entry,
    named: &mut Vec<(String, Spanned<RawProvider>)>,
) {
    if let Err(detail) = rules::provider_name(entry.name) {
        let summary = format!("invalid provider name {:?}", entry.name);
        walker.error(entry.key_span.clone(), summary, detail);
        return;
    }
    let context = format!("[provider.{}]", entry.name);
    let at = table_origin(walker, entry);
    if let Some(table) = walker.table("[provider]", entry) {
        let value = read_provider(walker, &context, table, false);
        named.push((entry.name.to_string(), Spanned { value, at }));
    }
}

/// `endpoint`, checked like [`Walker::checked_string`] but never shown as
/// written: a URL's user info may hold a password, so the message redacts it
/// and then quotes no line of the file.
fn read_endpoint(walker: &mut Walker, context: &str, entry: &Entry) -> Option<Spanned<String>> {
    let value = walker.string(context, entry)?;
    if let Err(detail) = rules::endpoint(&value.value) {
        let shown = crate::api::trust::redact_userinfo(&value.value);
        let summary = format!("invalid endpoint {shown:?} in {context}");
        // User info needs an `@`; without one the line is safe to show.
        if value.value.contains('@') {
            walker.error_without_snippet(value.at.span.start, summary, detail);
        } else {
            walker.error(value.at.span.clone(), summary, detail);
        }
        return None;
    }
    Some(value)
}

/// A duration as the command line takes them (`500ms`, `10s`, `2m`, `1h`), above zero.
pub(crate) fn positive_duration(value: &str) -> Result<(), String> {
    match crate::ops::parse_duration(value)? {
        d if d.is_zero() => Err("give a duration above zero, e.g. 500ms, 10s or 2m".to_string()),
        _ => Ok(()),
    }
}

fn non_empty_path(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("give a path relative to the configuration directory".to_string());
    }
    Ok(())
}

fn read_state(walker: &mut Walker, table: &dyn TableLike) -> RawState {
    let context = "[state]";
    let mut state = RawState::default();
    for entry in entries(table) {
        match entry.name {
            "backend" => {
                state.backend = read_enum(
                    walker,
                    context,
                    &entry,
                    crate::model::StateBackendKind::NAMES,
                    crate::model::StateBackendKind::parse,
                );
            }
            "path" => state.path = walker.checked_string(context, &entry, non_empty_path),
            "schema" => state.schema = walker.checked_string(context, &entry, rules::pg_schema),
            "workspace" => {
                state.workspace =
                    walker.checked_string(context, &entry, crate::model::check_workspace_name);
            }
            "history" => state.history = walker.integer(context, &entry, 1..=1000),
            _ => walker.unknown_key(context, &entry, STATE_KEYS),
        }
    }
    state
}

fn read_policy(walker: &mut Walker, table: &dyn TableLike) -> RawPolicy {
    let context = "[policy]";
    let mut policy = RawPolicy::default();
    for entry in entries(table) {
        match entry.name {
            "destructive" => {
                policy.destructive = read_enum(
                    walker,
                    context,
                    &entry,
                    crate::model::DestructivePolicy::NAMES,
                    crate::model::DestructivePolicy::parse,
                );
            }
            _ => walker.unknown_key(context, &entry, POLICY_KEYS),
        }
    }
    policy
}

fn read_tasks(walker: &mut Walker, table: &dyn TableLike, tasks: &mut Vec<RawTask>) {
    for entry in entries(table) {
        if let Err(detail) = rules::short_name(entry.name) {
            walker.error(
                entry.key_span.clone(),
                format!("invalid task name {:?}", entry.name),
                detail,
            );
        }
        let context = format!("[task.{}]", entry.name);
        let at = table_origin(walker, &entry);
        if let Some(body) = walker.table("[task]", &entry) {
            let fields = read_task_fields(walker, &context, body, &TASK_KEYS);
            tasks.push(RawTask {
                name: entry.name.to_string(),
                at,
                fields,
            });
        }
    }
}

/// Reads the task keys of `[defaults]` (`allowed` = [`DEFAULTS_KEYS`]) or of a task.
fn read_task_fields(
    walker: &mut Walker,
    context: &str,
    table: &dyn TableLike,
    allowed: &[&'static str],
) -> TaskFields {
    let mut f = TaskFields::default();
    let is_task = allowed == TASK_KEYS.as_slice();
    for entry in entries(table) {
        if is_task && entry.name == UNSET_KEY {
            f.written.insert(UNSET_KEY);
            f.unset = read_unset(walker, context, &entry);
            continue;
        }
        let Some(&key) = allowed.iter().find(|k| **k == entry.name) else {
            if TASK_KEYS.contains(&entry.name) || entry.name == UNSET_KEY {
                walker.error(
                    entry.key_span.clone(),
                    format!(
                        "`{}` cannot be inherited: set it in each [task.NAME]",
                        entry.name
                    ),
                    suggestion_detail(entry.name, allowed, "Keys allowed in [defaults]"),
                );
            } else {
                walker.unknown_key(context, &entry, allowed);
            }
            continue;
        };
        f.written.insert(key);
        match key {
            "name" => f.name = walker.checked_string(context, &entry, rules::short_name),
            "provider" => f.provider = walker.checked_string(context, &entry, rules::provider_name),
            "instance_id" => {
                f.instance_id = walker.checked_string(context, &entry, rules::instance_id)
            }
            "source_instance_id" => {
                f.source_instance_id =
                    walker.checked_string(context, &entry, rules::source_instance_id)
            }
            "source_node_id" => {
                f.source_node_id = walker.checked_string(context, &entry, rules::source_node_id)
            }
            "source_database_name" => {
                f.source_database_name =
                    walker.checked_string(context, &entry, rules::source_database_name)
            }
            "target_database_name" => {
                f.target_database_name = walker.checked_string(context, &entry, rules::short_name)
            }
            "repl_type" => {
                f.repl_type = read_enum(walker, context, &entry, ReplType::ALLOWED, ReplType::parse)
            }
            "repl_scope" => {
                f.repl_scope = read_enum(
                    walker,
                    context,
                    &entry,
                    ReplScope::ALLOWED,
                    ReplScope::parse,
                )
            }
            "sync_level" => {
                f.sync_level = read_enum(
                    walker,
                    context,
                    &entry,
                    SyncLevel::ALLOWED,
                    SyncLevel::parse,
                )
            }
            "database_scope" => {
                f.database_scope = read_enum(
                    walker,
                    context,
                    &entry,
                    ReplScope::ALLOWED,
                    ReplScope::parse,
                )
            }
            "table_patterns" => f.table_patterns = walker.boolean(context, &entry),
            "tables" => f.tables = read_tables(walker, context, &entry),
            "db_configs" => f.db_configs = read_db_configs(walker, context, &entry),
            "table_configs" => f.table_configs = read_table_configs(walker, context, &entry),
            "paused" => f.paused = walker.boolean(context, &entry),
            "prevent_destroy" => f.prevent_destroy = walker.boolean(context, &entry),
            // A registry key this reader does not handle yet: refused, never misread.
            _ => walker.unknown_key(context, &entry, allowed),
        }
    }
    f
}

fn read_enum<T>(
    walker: &mut Walker,
    context: &str,
    entry: &Entry,
    allowed: &[&str],
    parse: fn(&str) -> Option<T>,
) -> Option<Spanned<T>> {
    let written = walker.string(context, entry)?;
    match parse(&written.value) {
        Some(value) => Some(Spanned {
            value,
            at: written.at,
        }),
        None => {
            walker.error(
                written.at.span,
                format!("invalid {} {:?} in {context}", entry.name, written.value),
                suggestion_detail(&written.value, allowed, "Allowed values"),
            );
            None
        }
    }
}

/// `unset = [...]`: each entry one of [`UNSETTABLE`], once.
fn read_unset(walker: &mut Walker, context: &str, entry: &Entry) -> Vec<Spanned<String>> {
    let Some(array) = entry.item.as_array() else {
        walker.wrong_type(context, entry, "an array of strings");
        return Vec::new();
    };
    let allowed: Vec<&str> = UNSETTABLE.iter().map(String::as_str).collect();
    let mut out: Vec<Spanned<String>> = Vec::new();
    for element in array.iter() {
        let span = element.span().unwrap_or_else(|| entry.value_span());
        let Some(name) = element.as_str() else {
            walker.error(
                span,
                format!("wrong type in `unset` of {context}: expected a string"),
                suggestion_detail("", &allowed, "Allowed entries"),
            );
            continue;
        };
        if !allowed.contains(&name) {
            walker.error(
                span,
                format!("`unset` of {context} names {name:?}, which a task cannot unset"),
                suggestion_detail(
                    name,
                    &allowed,
                    "A task can unset what it inherits from [defaults] and can do without",
                ),
            );
        } else if out.iter().any(|u| u.value == name) {
            walker.error(
                span,
                format!("{name:?} is listed twice in `unset` of {context}"),
                "list each entry once".to_string(),
            );
        } else {
            out.push(Spanned {
                value: name.to_string(),
                at: walker.origin(span),
            });
        }
    }
    out
}

fn read_tables(walker: &mut Walker, context: &str, entry: &Entry) -> Option<Spanned<Vec<String>>> {
    let Some(array) = entry.item.as_array() else {
        walker.wrong_type(context, entry, "an array of strings");
        return None;
    };
    let mut seen: BTreeMap<&str, std::ops::Range<usize>> = BTreeMap::new();
    for element in array.iter() {
        let span = element.span().unwrap_or_else(|| entry.value_span());
        let Some(name) = element.as_str() else {
            walker.error(
                span,
                format!(
                    "wrong type in `tables` of {context}: expected a string, found {}",
                    super::walk::value_type_name(element)
                ),
                String::new(),
            );
            continue;
        };
        if let Err(detail) = rules::table_name(name) {
            walker.error(
                span.clone(),
                format!("invalid table name {name:?} in {context}"),
                detail,
            );
        }
        if let Some(first) = seen.get(name) {
            let first = walker.source.position(first.start);
            walker.error(
                span,
                format!("duplicate table {name:?} in `tables` of {context}"),
                format!(
                    "it is already listed at {}:{}:{}; list each table once",
                    walker.source.path.display(),
                    first.line,
                    first.column
                ),
            );
        } else {
            seen.insert(name, span);
        }
    }
    Some(Spanned {
        value: seen.into_keys().map(str::to_string).collect(),
        at: walker.origin(entry.value_span()),
    })
}

fn read_db_configs(
    walker: &mut Walker,
    context: &str,
    entry: &Entry,
) -> BTreeMap<String, Spanned<String>> {
    let mut configs = BTreeMap::new();
    let Some(table) = walker.table(context, entry) else {
        return configs;
    };
    let context = format!("{}.db_configs]", context.trim_end_matches(']'));
    let names: Vec<&str> = DB_PARAMS.iter().map(|p| p.name).collect();
    for param_entry in entries(table) {
        let Some(param) = DbParam::lookup(param_entry.name) else {
            walker.error(
                param_entry.key_span.clone(),
                format!("unknown db_config `{}` in {context}", param_entry.name),
                suggestion_detail(param_entry.name, &names, "Allowed db_configs"),
            );
            continue;
        };
        if let Some(value) = db_config_value(walker, &context, &param_entry, param) {
            configs.insert(param.name.to_string(), value);
        }
    }
    configs
}

/// A db_config value as the string sent, checked against the parameter's range.
fn db_config_value(
    walker: &mut Walker,
    context: &str,
    entry: &Entry,
    param: &DbParam,
) -> Option<Spanned<String>> {
    let span = entry.value_span();
    let text = match entry.item.as_value() {
        Some(Value::Integer(i)) => i.value().to_string(),
        Some(Value::Boolean(b)) => b.value().to_string(),
        Some(Value::String(s)) => s.value().clone(),
        _ => {
            walker.wrong_type(context, entry, "an integer, boolean or string");
            return None;
        }
    };
    if param.accepts(&text) {
        return Some(Spanned {
            value: text,
            at: walker.origin(span),
        });
    }
    let problem = match param.kind {
        DbParamKind::Bool => "is not true or false",
        DbParamKind::Integer { .. } if text.parse::<i64>().is_err() => "is not an integer",
        DbParamKind::Integer { .. } => "is out of range",
    };
    walker.error(
        span,
        format!("db_config `{}` = {text} {problem} in {context}", param.name),
        format!(
            "allowed: {} (default {})",
            param.value_range(),
            param.default
        ),
    );
    None
}

fn read_table_configs(
    walker: &mut Walker,
    context: &str,
    entry: &Entry,
) -> Vec<(Spanned<String>, String)> {
    let mut configs = Vec::new();
    let Some(table) = walker.table(context, entry) else {
        return configs;
    };
    let context = format!("{}.table_configs]", context.trim_end_matches(']'));
    for table_entry in entries(table) {
        if let Err(detail) = rules::table_name(table_entry.name) {
            walker.error(
                table_entry.key_span.clone(),
                format!("invalid table name {:?} in {context}", table_entry.name),
                detail,
            );
            continue;
        }
        let Some(config) = walker.string(&context, &table_entry) else {
            continue;
        };
        if let Err(detail) = rules::table_config(&config.value) {
            let summary = format!(
                "invalid table config for `{}` in {context}",
                table_entry.name
            );
            walker.error(config.at.span, summary, detail);
            continue;
        }
        if let Err(e) = parse_table_config(&config.value) {
            let span = part_of_string(
                &walker.source.text,
                &config.at.span,
                &config.value,
                e.offset,
            );
            walker.warning(
                span,
                format!("table config for `{}` in {context}: {e}", table_entry.name),
                "htapsync reads table configs with the grammar in docs/configuration.md, which \
                 Huawei does not publish; the cloud's table-config-check decides, and plan \
                 shows its verdict"
                    .to_string(),
            );
        }
        let name = Spanned {
            value: table_entry.name.to_string(),
            at: walker.origin(table_entry.key_span.clone()),
        };
        configs.push((name, config.value));
    }
    configs
}

/// The span, in the file, of the clause that starts at byte `offset` of the
/// string `value` written at `span` (up to its `;` or end). When the string's
/// text differs from its value (escapes, a line-ending backslash), the whole
/// value's span.
fn part_of_string(text: &str, span: &Range<usize>, value: &str, offset: usize) -> Range<usize> {
    let Some(written) = text.get(span.clone()) else {
        return span.clone();
    };
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        let inner = written
            .strip_prefix(quote)
            .and_then(|w| w.strip_suffix(quote));
        if inner == Some(value) {
            let rest = &value[offset..];
            let clause = rest[..rest.find(';').unwrap_or(rest.len())].trim_end();
            let start = span.start + quote.len() + offset;
            return start..start + clause.len();
        }
    }
    span.clone()
}

//! The shared vocabulary: what a replication task *is*, independent of where it
//! was read from (TOML, state file, the cloud) or how it is sent on the wire.
//!
//! Nothing here does I/O. `config`, `state` and `api` translate their formats
//! into these types so that `plan` only ever compares like with like.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub mod fields;
pub mod pattern;
pub mod regions;

/// Address of a managed object, as users type it: `task.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// The address of the task whose `task_name` is `name`.
    pub fn task(name: &str) -> Self {
        Address(format!("task.{name}"))
    }

    /// Parses `task.NAME`; returns `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let name = s.strip_prefix("task.")?;
        (!name.is_empty()).then(|| Address(s.to_string()))
    }

    /// The task name part of the address.
    pub fn name(&self) -> &str {
        self.0.strip_prefix("task.").unwrap_or(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `tables` is a whitelist or a blacklist (API `repl_type`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum ReplType {
    #[default]
    IncludeTables,
    ExcludeTables,
}

impl ReplType {
    pub const ALLOWED: &'static [&'static str] = &["include_tables", "exclude_tables"];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplType::IncludeTables => "include_tables",
            ReplType::ExcludeTables => "exclude_tables",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "include_tables" => Some(ReplType::IncludeTables),
            "exclude_tables" => Some(ReplType::ExcludeTables),
            _ => None,
        }
    }
}

/// Whether every table of the database is replicated or only some (API `repl_scope`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum ReplScope {
    #[default]
    All,
    Part,
}

impl ReplScope {
    pub const ALLOWED: &'static [&'static str] = &["all", "part"];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplScope::All => "all",
            ReplScope::Part => "part",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(ReplScope::All),
            "part" => Some(ReplScope::Part),
            _ => None,
        }
    }
}

/// Whether a task replicates one database or the whole source instance (API
/// `is_instance_level_sync`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum SyncLevel {
    #[default]
    Database,
    Instance,
}

impl SyncLevel {
    pub const ALLOWED: &'static [&'static str] = &["database", "instance"];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncLevel::Database => "database",
            SyncLevel::Instance => "instance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "database" => Some(SyncLevel::Database),
            "instance" => Some(SyncLevel::Instance),
            _ => None,
        }
    }

    fn is_database(&self) -> bool {
        *self == SyncLevel::Database
    }
}

/// The `source_database_name` (and `target_database_name`) of an
/// instance-level task that replicates every database, as the API documents it.
pub const ALL_DATABASES: &str = "ALL";

/// The effective desired (or recorded) configuration of one replication task,
/// after `[defaults]` have been applied. This is what plan compares and what
/// state records as "last applied".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The key of `[task.NAME]`, which addresses the task (`task.NAME`) and
    /// keys it in state.
    pub name: String,
    /// The cloud's `task_name` when it is not `name`: the task table's
    /// `name = "…"`, kept when a `[[moved]]` block or `state mv` re-addresses
    /// a task. Never equal to `name` ([`TaskSpec::with_cloud_name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_name: Option<String>,
    /// The `[provider.NAME]` whose project and region hold the task; `None`:
    /// the unnamed `[provider]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The HTAP (StarRocks) instance that runs the task.
    pub instance_id: String,
    /// The TaurusDB instance replicated from.
    pub source_instance_id: String,
    /// A TaurusDB read replica to read from; `None` = the primary node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_node_id: Option<String>,
    /// One database (default) or the whole instance (API `is_instance_level_sync`).
    #[serde(default, skip_serializing_if = "SyncLevel::is_database")]
    pub sync_level: SyncLevel,
    /// Instance level only: every database or the ones `source_database_name`
    /// lists (API `database_repl_scope`); `None` at database level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_scope: Option<ReplScope>,
    /// The database replicated; at instance level [`ALL_DATABASES`] or the
    /// databases of a partial scope, comma-separated, as the API takes them.
    pub source_database_name: String,
    /// Effective target database: the source database name when not configured.
    pub target_database_name: String,
    pub repl_type: ReplType,
    pub repl_scope: ReplScope,
    /// `tables` and `table_configs` keys may be wildcard patterns (API
    /// `is_support_reg_exp`; see [`pattern`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub table_patterns: bool,
    /// Sorted, de-duplicated table names (order carries no meaning to the API).
    #[serde(default)]
    pub tables: Vec<String>,
    /// API `db_configs`, values as the strings that are sent.
    #[serde(default)]
    pub db_configs: BTreeMap<String, String>,
    /// API `tables_configs`: table name -> table config string.
    #[serde(default)]
    pub table_configs: BTreeMap<String, String>,
    /// Desired run state: `true` keeps the task paused.
    #[serde(default)]
    pub paused: bool,
}

impl TaskSpec {
    pub fn address(&self) -> Address {
        Address::task(&self.name)
    }

    /// The source databases the task reads, when the configuration names
    /// them: its one database, or the listed ones of a partial instance-level
    /// scope; `None` for every database of the instance.
    pub fn named_databases(&self) -> Option<Vec<String>> {
        match (self.sync_level, self.database_scope) {
            (SyncLevel::Database, _) => Some(vec![self.source_database_name.clone()]),
            (SyncLevel::Instance, Some(ReplScope::Part)) => Some(
                self.source_database_name
                    .split(',')
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .collect(),
            ),
            (SyncLevel::Instance, _) => None,
        }
    }

    /// The cloud's `task_name` (API paths and bodies).
    pub fn task_name(&self) -> &str {
        self.cloud_name.as_deref().unwrap_or(&self.name)
    }

    /// The spec addressed as `task.KEY`, still naming the same cloud task.
    pub fn readdressed(mut self, key: &str) -> TaskSpec {
        let cloud = self.task_name().to_string();
        self.name = key.to_string();
        self.with_cloud_name(cloud)
    }

    /// Sets the cloud's task name, recorded only when it differs from the key.
    pub fn with_cloud_name(mut self, cloud: String) -> TaskSpec {
        self.cloud_name = (cloud != self.name).then_some(cloud);
        self
    }

    /// A task known only by its name and the instance it was found on: what
    /// import starts from before reading the cloud's configuration.
    pub fn found_on(name: &str, instance_id: &str) -> TaskSpec {
        TaskSpec {
            name: name.to_string(),
            cloud_name: None,
            provider: None,
            instance_id: instance_id.to_string(),
            source_instance_id: String::new(),
            source_node_id: None,
            sync_level: SyncLevel::Database,
            database_scope: None,
            source_database_name: String::new(),
            target_database_name: String::new(),
            repl_type: ReplType::IncludeTables,
            repl_scope: ReplScope::All,
            table_patterns: false,
            tables: Vec::new(),
            db_configs: BTreeMap::new(),
            table_configs: BTreeMap::new(),
            paused: false,
        }
    }

    /// `db_configs` written out for every documented parameter that `other`
    /// sets and this spec does not, at its default. The one rule for
    /// db_configs: a parameter not written means its documented default, so
    /// that removing one returns it to the default instead of leaving the
    /// cloud's value behind, and writing one at its default changes nothing.
    pub fn db_configs_against(&self, other: &TaskSpec) -> BTreeMap<String, String> {
        let mut out = self.db_configs.clone();
        for name in other.db_configs.keys() {
            if let Some(param) = DbParam::lookup(name) {
                out.entry(name.clone())
                    .or_insert_with(|| param.default.to_string());
            }
        }
        out
    }
}

#[cfg(test)]
impl TaskSpec {
    /// A valid task on the quick start's instances replicating `shop.orders`:
    /// the base of the unit tests' specs.
    pub(crate) fn sample(name: &str) -> TaskSpec {
        TaskSpec {
            name: name.to_string(),
            cloud_name: None,
            provider: None,
            instance_id: "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17".into(),
            source_instance_id: "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07".into(),
            source_node_id: None,
            sync_level: SyncLevel::Database,
            database_scope: None,
            source_database_name: "shop".into(),
            target_database_name: "shop".into(),
            repl_type: ReplType::IncludeTables,
            repl_scope: ReplScope::Part,
            table_patterns: false,
            tables: vec!["orders".into()],
            db_configs: BTreeMap::new(),
            table_configs: BTreeMap::new(),
            paused: false,
        }
    }
}

/// Lifecycle settings that never reach the cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Any plan that would delete or replace the task is an error.
    #[serde(default)]
    pub prevent_destroy: bool,
}

/// One task as the configuration wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredTask {
    pub spec: TaskSpec,
    pub lifecycle: Lifecycle,
}

/// `[defaults]` as written: the task keys a task inherits when it does not set
/// them itself (`None` / empty: not written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDefaults {
    pub provider: Option<String>,
    pub instance_id: Option<String>,
    pub source_instance_id: Option<String>,
    pub source_node_id: Option<String>,
    pub source_database_name: Option<String>,
    pub target_database_name: Option<String>,
    pub repl_type: Option<ReplType>,
    pub repl_scope: Option<ReplScope>,
    pub db_configs: BTreeMap<String, String>,
    pub paused: Option<bool>,
}

/// The providers of a configuration: the unnamed `[provider]` and each
/// `[provider.NAME]`, one project in one region each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Providers {
    pub default: Option<Provider>,
    pub named: BTreeMap<String, Provider>,
}

impl Providers {
    /// The provider a task names (`None`: the unnamed one).
    pub fn get(&self, name: Option<&str>) -> Option<&Provider> {
        match name {
            None => self.default.as_ref(),
            Some(name) => self.named.get(name),
        }
    }

    /// Every provider with its name, the unnamed one first.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &Provider)> {
        let default = self.default.iter().map(|p| (None, p));
        default.chain(self.named.iter().map(|(n, p)| (Some(n.as_str()), p)))
    }
}

/// How messages name a provider: `[provider]` or `[provider.NAME]`.
pub fn provider_label(name: Option<&str>) -> String {
    match name {
        None => "[provider]".to_string(),
        Some(name) => format!("[provider.{name}]"),
    }
}

/// Where htapsync talks to: the cloud, or the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub project_id: String,
    /// `https://...`, `http://127.0.0.1:PORT` (emulator) or `embedded`.
    pub endpoint: String,
    pub region: String,
    /// With `endpoint = "embedded"`: the cloud description file, relative to the configuration dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator_cloud: Option<String>,
    /// With `endpoint = "embedded"`: where the emulated cloud persists between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator_data: Option<String>,
    /// PEM file of a private CA trusted in addition to the system roots, relative to the configuration dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Between two reads of the task list or the jobs while waiting (see
    /// [`crate::api::PollSettings`]); the default depends on the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<std::time::Duration>,
    /// How long one task may take to reach its stage or finish its job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<std::time::Duration>,
    /// The profile of the credentials file that signs this provider's calls
    /// (default: the environment's credentials, else the file's `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// A whole loaded configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub providers: Providers,
    /// `[state]`: where state lives.
    pub state: StateSettings,
    /// `[policy]`: what apply may do without asking.
    pub policy: Policy,
    /// Tasks by name, sorted.
    pub tasks: BTreeMap<String, DesiredTask>,
    /// `[[moved]]` blocks, in file order.
    pub moved: Vec<Moved>,
    /// `[[import]]` blocks, by target address.
    pub imports: Vec<ImportBlock>,
}

/// A `[[moved]]` block (or `state mv`): the task recorded at `from` is now at `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
}

/// An `[[import]]` block: the cloud task `id` on `instance_id` is to be
/// managed as `to`, recorded in state without a remote write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportBlock {
    pub to: Address,
    /// The cloud's task name.
    pub id: String,
    /// The HTAP instance it runs on (default: the target task's `instance_id`).
    pub instance_id: String,
}

/// `[state]`: which backend keeps the state, and its settings. The
/// PostgreSQL connection is never configured here (it holds a password): it
/// comes from `HTAPSYNC_PG_CONN` or the libpq variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    pub backend: StateBackendKind,
    /// The local state file (of the `default` workspace), relative to the configuration dir.
    pub path: String,
    /// PostgreSQL schema holding htapsync's tables.
    pub schema: String,
    /// The workspace when neither `--workspace` nor `HTAPSYNC_WORKSPACE` names one.
    pub workspace: Option<String>,
    /// How many earlier versions of a workspace's state PostgreSQL keeps.
    pub history: u32,
}

/// Where the state is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackendKind {
    /// One JSON file per workspace on this machine.
    #[default]
    Local,
    /// A shared PostgreSQL database (teams, throw-away CI runners).
    Postgres,
}

impl StateBackendKind {
    pub const NAMES: &[&str] = &["local", "postgres"];

    pub fn parse(name: &str) -> Option<StateBackendKind> {
        match name {
            "local" => Some(StateBackendKind::Local),
            "postgres" => Some(StateBackendKind::Postgres),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StateBackendKind::Local => "local",
            StateBackendKind::Postgres => "postgres",
        }
    }
}

/// `[policy]` of a configuration directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub destructive: DestructivePolicy,
}

/// `[policy] destructive`: whether `apply` makes changes that stop
/// replication or fully re-sync a task (see `plan::impact`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DestructivePolicy {
    /// Only with `--allow-destructive`, or a typed `yes` at a prompt that names them.
    #[default]
    RequireFlag,
    /// Like any other change.
    Allow,
    /// Never, not even with `--allow-destructive`.
    Deny,
}

impl DestructivePolicy {
    pub const NAMES: &[&str] = &["require-flag", "allow", "deny"];

    pub fn parse(name: &str) -> Option<DestructivePolicy> {
        match name {
            "require-flag" => Some(DestructivePolicy::RequireFlag),
            "allow" => Some(DestructivePolicy::Allow),
            "deny" => Some(DestructivePolicy::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestructivePolicy::RequireFlag => "require-flag",
            DestructivePolicy::Allow => "allow",
            DestructivePolicy::Deny => "deny",
        }
    }
}

/// The workspace used when none is named.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Workspace names: 1-64 of `[A-Za-z0-9_-]`, so that they are safe as a
/// directory name and in messages.
pub fn check_workspace_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "workspace names are 1 to 64 letters, digits, `_` or `-`; got {name:?}"
        ))
    }
}

/// One tunable of a task's `db_configs`, as E7 (database-parameters) lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbParam {
    pub name: &'static str,
    pub kind: DbParamKind,
    pub default: &'static str,
    pub description: &'static str,
}

/// The type and allowed range of a db_config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbParamKind {
    Bool,
    Integer { min: i64, max: i64 },
}

impl DbParam {
    /// The range as the API prints it in `value_range`: `true|false` or `1000-60000`.
    pub fn value_range(&self) -> String {
        match self.kind {
            DbParamKind::Bool => "true|false".to_string(),
            DbParamKind::Integer { min, max } => format!("{min}-{max}"),
        }
    }

    /// Whether `value` (the string sent on the wire) is allowed.
    pub fn accepts(&self, value: &str) -> bool {
        match self.kind {
            DbParamKind::Bool => value == "true" || value == "false",
            DbParamKind::Integer { min, max } => {
                value.parse::<i64>().is_ok_and(|v| (min..=max).contains(&v))
            }
        }
    }

    pub fn lookup(name: &str) -> Option<&'static DbParam> {
        DB_PARAMS.iter().find(|p| p.name == name)
    }
}

/// The documented db_configs parameters (API reference §6, E7's example response).
pub const DB_PARAMS: &[DbParam] = &[
    DbParam {
        name: "enable_chunk_level_dump",
        kind: DbParamKind::Bool,
        default: "false",
        description: "Enable chunk (shard) level copy during full synchronization.",
    },
    DbParam {
        name: "snapshot_with_lock",
        kind: DbParamKind::Bool,
        default: "true",
        description: "Take a lock while reading the full snapshot.",
    },
    DbParam {
        name: "sync_commit_interval_ms",
        kind: DbParamKind::Integer {
            min: 1000,
            max: 60000,
        },
        default: "5000",
        description: "Batch commit timeout in ms; a batch commits on timeout or when full.",
    },
    DbParam {
        name: "max_sync_commit_rows",
        kind: DbParamKind::Integer {
            min: 500_000,
            max: 2_000_000,
        },
        default: "500000",
        description: "Maximum rows per commit.",
    },
    DbParam {
        name: "max_sync_commit_bytes",
        kind: DbParamKind::Integer {
            min: 10_485_760,
            max: 1_610_612_736,
        },
        default: "268435456",
        description: "Maximum bytes per commit.",
    },
    DbParam {
        name: "max_full_sync_task_threads_num",
        kind: DbParamKind::Integer { min: 1, max: 2 },
        default: "1",
        description: "Number of full-synchronization threads.",
    },
    DbParam {
        name: "max_rows_per_chunk",
        kind: DbParamKind::Integer {
            min: 0,
            max: 1_000_000,
        },
        default: "0",
        description: "Maximum rows per chunk.",
    },
    DbParam {
        name: "max_bytes_per_chunk",
        kind: DbParamKind::Integer {
            min: 33_554_432,
            max: 1_073_741_824,
        },
        default: "268435456",
        description: "Maximum bytes per chunk.",
    },
    DbParam {
        name: "binlog_expire_logs_seconds",
        kind: DbParamKind::Integer {
            min: 0,
            max: 604_800,
        },
        default: "86400",
        description: "Binlog retention in seconds (0 = no limit); must not exceed the source's.",
    },
];

/// Characters allowed in task, source and target database names.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips() {
        let a = Address::task("orders_sync");
        assert_eq!(a.as_str(), "task.orders_sync");
        assert_eq!(Address::parse("task.orders_sync"), Some(a.clone()));
        assert_eq!(a.name(), "orders_sync");
        assert_eq!(Address::parse("orders_sync"), None);
        assert_eq!(Address::parse("task."), None);
    }

    #[test]
    fn db_param_ranges() {
        let p = DbParam::lookup("sync_commit_interval_ms").unwrap();
        assert!(p.accepts("1000") && p.accepts("60000"));
        assert!(!p.accepts("999") && !p.accepts("abc"));
        assert_eq!(p.value_range(), "1000-60000");
        assert!(
            DbParam::lookup("snapshot_with_lock")
                .unwrap()
                .accepts("true")
        );
        assert!(DbParam::lookup("nope").is_none());
    }
}

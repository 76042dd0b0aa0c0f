//! The JSON Schema of one configuration file, for editors (Taplo / Even Better
//! TOML) and CI linters: `htapsync schema` prints it.
//!
//! The structs here mirror the TOML file format only to derive the schema;
//! the loader (`raw`, `resolve`) stays the authority, with positioned
//! diagnostics. The task tables (`[task.NAME]`, `[defaults]`) are built from
//! the field registry ([`crate::model::fields::TASK_FIELDS`]): each key's
//! type, description and constraints are in its entry. A schema cannot
//! express what spans keys or files (required keys that `[defaults]` may
//! supply, `repl_scope` against `tables`), so task keys are all optional
//! here; patterns, enums and ranges follow `rules` and
//! [`crate::model::DB_PARAMS`], and every table rejects unknown keys.
#![allow(dead_code)] // The mirror structs are never built: they only carry the schema.

use super::raw::{UNSET_KEY, UNSETTABLE};
use crate::model::fields::{NAME_PATTERN, TASK_FIELDS, TaskField};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Where the schema says it lives (its `$id`).
pub const SCHEMA_ID: &str = "https://htapsync.dev/schema/htapsync-config.json";

/// The schema of a configuration file, as JSON (draft-07, which every
/// editor's TOML language server understands).
pub fn config_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<ConfigFile>();
    schema.insert("$id".to_string(), SCHEMA_ID.into());
    let mut value = schema.to_value();
    drop_null(&mut value);
    value
}

/// TOML has no null: an absent key is how a value is left out, so the
/// `null` alternatives schemars adds for `Option` fields are removed (editors
/// would otherwise offer them).
fn drop_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(drop_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if let [single] = types.as_slice() {
            let single = single.clone();
            map.insert("type".to_string(), single);
        }
    }
    if let Some(Value::Array(alternatives)) = map.get("anyOf") {
        let kept: Vec<Value> = alternatives
            .iter()
            .filter(|a| a.get("type").is_none_or(|t| t != "null"))
            .cloned()
            .collect();
        if kept.len() < alternatives.len() {
            map.remove("anyOf");
            map.insert("allOf".to_string(), Value::Array(kept));
        }
    }
    if map.get("default").is_some_and(Value::is_null) {
        map.remove("default");
    }
    map.values_mut().for_each(drop_null);
}

/// One htapsync configuration file. A configuration directory holds one or
/// more such files; exactly one of them has [provider]. See docs/configuration.md.
#[derive(JsonSchema)]
#[schemars(title = "htapsync configuration file")]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    provider: Option<Provider>,
    state: Option<StateTable>,
    policy: Option<PolicyTable>,
    defaults: Option<Defaults>,
    /// Replication tasks by name: [task.NAME]. NAME is the task_name in the cloud
    /// API and the address task.NAME: 3-128 of [A-Za-z0-9_].
    #[schemars(extend("propertyNames" = {"pattern": NAME_PATTERN}))]
    task: Option<BTreeMap<String, Task>>,
    /// [[moved]] blocks: a task's new address, with no remote call.
    moved: Option<Vec<MovedBlock>>,
    /// [[import]] blocks: adopt a cloud task as a configured one, reviewed in a plan.
    import: Option<Vec<ImportBlock>>,
}

/// The task recorded at `from` is now configured at `to` (Terraform's
/// `moved`): the plan shows "has moved" and re-addresses it in state, with
/// no remote call. Chains (a -> b, b -> c) are followed; the block is
/// harmless once applied.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct MovedBlock {
    /// The old address, task.NAME (no longer configured).
    #[schemars(regex(pattern = "^task\\.[A-Za-z0-9_]{3,128}$"))]
    from: String,
    /// The new address, task.NAME.
    #[schemars(regex(pattern = "^task\\.[A-Za-z0-9_]{3,128}$"))]
    to: String,
}

/// Adopt the cloud task `id` as the configured task `to`: the plan shows
/// "will be imported" and apply records it with no remote write; harmless
/// once done.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct ImportBlock {
    /// The configured task, task.NAME.
    #[schemars(regex(pattern = "^task\\.[A-Za-z0-9_]{3,128}$"))]
    to: String,
    /// The cloud's task name.
    #[schemars(regex(pattern = "^[A-Za-z0-9_]{3,128}$"))]
    id: String,
    /// The HTAP instance the task runs on (default: the instance_id of `to`).
    #[schemars(regex(pattern = "^[A-Za-z0-9]{32}(in07|in17)$"))]
    instance_id: Option<String>,
}

/// The unnamed default provider's keys, and each [provider.NAME] (a table
/// of the same keys). At most one [provider] in the whole configuration.
#[derive(JsonSchema)]
struct Provider {
    #[serde(flatten)]
    keys: ProviderKeys,
    /// [provider.NAME]: another project or region; tasks name it with
    /// `provider = "NAME"`.
    #[serde(flatten)]
    named: std::collections::BTreeMap<String, ProviderKeys>,
}

/// One provider: a project in a region.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProviderKeys {
    /// The Huawei Cloud project id: 32 letters or digits. When not written:
    /// HTAPSYNC_PROJECT_ID, or HTAPSYNC_PROJECT_ID_<NAME> for [provider.NAME].
    #[schemars(regex(pattern = "^[A-Za-z0-9]{32}$"))]
    project_id: Option<String>,
    /// `https://...`; `http://...` only to a loopback host (127.0.0.0/8,
    /// localhost, [::1]); or "embedded" for the in-process emulator. Default:
    /// the region's documented endpoint.
    #[schemars(regex(
        pattern = r"^(embedded|https://[^/\s]+.*|http://(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|localhost|\[::1\])([:/].*)?)$"
    ))]
    endpoint: Option<String>,
    /// Cloud region, e.g. ap-southeast-1: 1-64 lowercase letters, digits or
    /// `-`. Required for every provider.
    #[schemars(regex(pattern = "^[a-z0-9-]{1,64}$"))]
    region: Option<String>,
    /// The credentials file's profile that signs this provider's calls.
    #[schemars(regex(pattern = "^[a-z][a-z0-9_-]{0,31}$"))]
    profile: Option<String>,
    /// With endpoint = "embedded" (and required then): the emulator's cloud
    /// description file, relative to the configuration directory.
    #[schemars(length(min = 1))]
    emulator_cloud: Option<String>,
    /// With endpoint = "embedded" only: where the emulated cloud persists
    /// between runs, relative to the configuration directory. Default
    /// .htapsync/cloud.json.
    #[schemars(length(min = 1))]
    emulator_data: Option<String>,
    /// PEM file of CA certificates to trust in addition to the system roots
    /// (a private CA in front of the endpoint), relative to the configuration
    /// directory.
    #[schemars(length(min = 1))]
    ca_file: Option<String>,
    /// How long waits sleep between reads of the task list or the jobs
    /// (`500ms`, `10s`, `2m`); rounds without news stretch it up to ten
    /// times, at most 60 s. Default 10s; 100ms with the emulator.
    #[schemars(regex(pattern = "^[0-9]+(ms|s|m|h)?$"))]
    poll_interval: Option<String>,
    /// How long one task may take to reach its stage or finish its job
    /// before the apply reports it as failed. Default 30m.
    #[schemars(regex(pattern = "^[0-9]+(ms|s|m|h)?$"))]
    wait_timeout: Option<String>,
}

/// Where the state lives. At most one [state].
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct StateTable {
    /// `local` (default): a JSON file per workspace; `postgres`: shared state
    /// in PostgreSQL, connected through HTAPSYNC_PG_CONN or the libpq
    /// variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE).
    backend: Option<BackendName>,
    /// State file path of the default workspace (local backend), relative to
    /// the configuration directory. Default htapsync.state.json.
    #[schemars(length(min = 1))]
    path: Option<String>,
    /// PostgreSQL schema for htapsync's tables. Default htapsync.
    #[schemars(regex(pattern = r"^[a-z_][a-z0-9_]{0,62}$"))]
    schema: Option<String>,
    /// Workspace used when neither --workspace nor HTAPSYNC_WORKSPACE names
    /// one. Default `default`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    workspace: Option<String>,
    /// Earlier versions of each workspace's state kept in PostgreSQL. Default 20.
    #[schemars(range(min = 1, max = 1000))]
    history: Option<u32>,
}

/// The state backends.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum BackendName {
    Local,
    Postgres,
}

/// What apply may do without asking. At most one [policy].
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct PolicyTable {
    /// Changes that stop replication (a deleted task, a table leaving the
    /// replicated set) or fully re-sync a task (a replace):
    /// `require-flag` (default) applies them only with --allow-destructive or
    /// a typed `yes` at a prompt that names them; `allow` like any change;
    /// `deny` never, not even with --allow-destructive.
    destructive: Option<DestructiveName>,
}

/// The `[policy] destructive` settings.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum DestructiveName {
    RequireFlag,
    Allow,
    Deny,
}

/// `[defaults]`: the registry's inheritable keys.
struct Defaults;

/// `[task.NAME]`: every key of the registry.
struct Task;

impl JsonSchema for Defaults {
    fn schema_name() -> Cow<'static, str> {
        "Defaults".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        task_table(
            "Task keys every task inherits unless it sets them itself. At most one\n\
             [defaults]; `tables` and `table_configs` are per task.",
            |f| f.inheritable,
        )
    }
}

impl JsonSchema for Task {
    fn schema_name() -> Cow<'static, str> {
        "Task".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = task_table(
            "One replication task. instance_id, source_instance_id and\n\
             source_database_name are required here or in [defaults].",
            |_| true,
        );
        let unset = serde_json::json!({
            "description": "Values this task does not inherit from [defaults]: a key\n\
                (source_node_id, target_database_name, repl_type, repl_scope, paused,\n\
                prevent_destroy), all of db_configs, or one parameter as\n\
                db_configs.NAME. The key then takes its documented default.",
            "type": "array",
            "uniqueItems": true,
            "items": {"type": "string", "enum": *UNSETTABLE},
        });
        if let Some(properties) = schema
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            properties.insert(UNSET_KEY.to_string(), unset);
        }
        schema
    }
}

/// A table of the task keys `pick` selects, each as the registry describes it
/// ([`TaskField::json_schema`]). No key is required: `[defaults]` may supply it.
fn task_table(description: &str, pick: impl Fn(&TaskField) -> bool) -> Schema {
    let properties: serde_json::Map<String, serde_json::Value> = TASK_FIELDS
        .iter()
        .filter(|f| pick(f))
        .map(|f| (f.key.to_string(), f.json_schema()))
        .collect();
    json_schema!({
        "description": description,
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    })
}

//! The JSON Schema of one configuration file, for editors (Taplo / Even Better
//! TOML) and CI linters: `htapsync schema` prints it.
//!
//! The structs here mirror the TOML file format only to derive the schema;
//! the loader (`raw`, `resolve`) stays the authority, with positioned
//! diagnostics. A schema cannot express what spans keys or files (required
//! keys that `[defaults]` may supply, `repl_scope` against `tables`), so task
//! keys are all optional here; patterns, enums and ranges follow `rules` and
//! [`crate::model::DB_PARAMS`], and every table rejects unknown keys.
#![allow(dead_code)] // The mirror structs are never built: they only carry the schema.

use crate::model::{DB_PARAMS, DbParamKind};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
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

const NAME_PATTERN: &str = "^[A-Za-z0-9_]{3,128}$";

/// One htapsync configuration file. A configuration directory holds one or
/// more such files; exactly one of them has [provider]. See docs/configuration.md.
#[derive(JsonSchema)]
#[schemars(title = "htapsync configuration file")]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    provider: Option<Provider>,
    state: Option<StateTable>,
    defaults: Option<Defaults>,
    /// Replication tasks by name: [task.NAME]. NAME is the task_name in the cloud
    /// API and the address task.NAME: 3-128 of [A-Za-z0-9_].
    #[schemars(extend("propertyNames" = {"pattern": NAME_PATTERN}))]
    task: Option<BTreeMap<String, Task>>,
}

/// Where htapsync talks to. Exactly one [provider] in the whole configuration.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct Provider {
    /// The Huawei Cloud project id: 32 letters or digits.
    #[schemars(regex(pattern = "^[A-Za-z0-9]{32}$"))]
    project_id: String,
    /// `https://...`; `http://...` only to a loopback host (127.0.0.0/8,
    /// localhost, [::1]); or "embedded" for the in-process emulator.
    #[schemars(regex(
        pattern = r"^(embedded|https://[^/\s]+.*|http://(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|localhost|\[::1\])([:/].*)?)$"
    ))]
    endpoint: String,
    /// Cloud region, e.g. ap-southeast-1: 1-64 lowercase letters, digits or `-`.
    #[schemars(regex(pattern = "^[a-z0-9-]{1,64}$"))]
    region: String,
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
}

/// Where the state file lives. At most one [state].
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
struct StateTable {
    /// State file path, relative to the configuration directory. Default
    /// htapsync.state.json.
    #[schemars(length(min = 1))]
    path: Option<String>,
}

/// Whether `tables` is a whitelist or a blacklist.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ReplType {
    /// `tables` lists the tables to replicate.
    IncludeTables,
    /// `tables` lists the tables not to replicate.
    ExcludeTables,
}

/// Whether every table of the database is replicated or only some.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ReplScope {
    /// Every table (then `tables` must be empty or absent).
    All,
    /// Only some tables (then `tables` must not be empty).
    Part,
}

/// The task keys shared by [defaults] and [task.NAME], plus `$extra` fields.
macro_rules! task_table {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct $name {
            /// The HTAP (StarRocks) instance that runs the task: 36 letters or
            /// digits ending in in17 or in07.
            #[schemars(regex(pattern = "^[A-Za-z0-9]{32}(in07|in17)$"))]
            instance_id: Option<String>,
            /// The TaurusDB instance replicated from: 36 letters or digits ending in in07.
            #[schemars(regex(pattern = "^[A-Za-z0-9]{32}in07$"))]
            source_instance_id: Option<String>,
            /// A TaurusDB read replica to read from (default: the primary node):
            /// 36 letters or digits ending in no07.
            #[schemars(regex(pattern = "^[A-Za-z0-9]{32}no07$"))]
            source_node_id: Option<String>,
            /// The TaurusDB database replicated: 3-1024 of [A-Za-z0-9_].
            #[schemars(regex(pattern = "^[A-Za-z0-9_]{3,1024}$"))]
            source_database_name: Option<String>,
            /// The StarRocks database written to (default: source_database_name):
            /// 3-128 of [A-Za-z0-9_].
            #[schemars(regex(pattern = NAME_PATTERN))]
            target_database_name: Option<String>,
            /// include_tables (default) or exclude_tables.
            repl_type: Option<ReplType>,
            /// all, or part (default part when `tables` is non-empty, else all).
            repl_scope: Option<ReplScope>,
            /// Database parameters, sent as strings; a parameter not written is not sent.
            #[serde(default)]
            #[schemars(schema_with = "db_configs_schema")]
            db_configs: Option<BTreeMap<String, String>>,
            /// Desired run state: true keeps the task paused. Default false.
            paused: Option<bool>,
            /// Lifecycle only (never sent): any plan that would delete or replace
            /// the task is an error. Default false.
            prevent_destroy: Option<bool>,
            $($extra)*
        }
    };
}

task_table! {
    /// Task keys every task inherits unless it sets them itself. At most one
    /// [defaults]; `tables` and `table_configs` are per task.
    Defaults {}
}

task_table! {
    /// One replication task. instance_id, source_instance_id and
    /// source_database_name are required here or in [defaults].
    Task {
        /// Tables to include or exclude (see repl_type); order does not matter.
        #[schemars(inner(length(min = 1, max = 128)), extend("uniqueItems" = true))]
        tables: Option<Vec<String>>,
        /// Table name -> table config string (1-1024 characters), e.g.
        /// "order by id;key columns id". Only replicated tables may be named.
        #[schemars(extend(
            "propertyNames" = {"minLength": 1, "maxLength": 128},
            "additionalProperties" = {"type": "string", "minLength": 1, "maxLength": 1024}
        ))]
        table_configs: Option<BTreeMap<String, String>>,
    }
}

/// `db_configs`: one property per documented parameter, with its type,
/// range, default and description taken from [`DB_PARAMS`].
fn db_configs_schema(_: &mut SchemaGenerator) -> Schema {
    let properties: serde_json::Map<String, serde_json::Value> = DB_PARAMS
        .iter()
        .map(|param| {
            let value = match param.kind {
                DbParamKind::Bool => json_schema!({
                    "description": param.description,
                    "default": param.default == "true",
                    "anyOf": [
                        {"type": "boolean"},
                        {"type": "string", "enum": ["true", "false"]}
                    ]
                }),
                DbParamKind::Integer { min, max } => json_schema!({
                    "description": format!("{} Range {}.", param.description, param.value_range()),
                    "default": param.default.parse::<i64>().unwrap_or_default(),
                    "anyOf": [
                        {"type": "integer", "minimum": min, "maximum": max},
                        {"type": "string", "pattern": "^[0-9]+$"}
                    ]
                }),
            };
            (param.name.to_string(), value.to_value())
        })
        .collect();
    json_schema!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    })
}

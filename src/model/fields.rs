//! The field registry: one entry per task key says everything the rest of the
//! program needs to know about it, so that adding a field starts here.
//!
//! Read by: the configuration's key lists and required keys (`config::raw`,
//! `config::resolve`), the JSON Schema's `[task.NAME]` and `[defaults]`
//! (`config::schema`: each entry's shape, description and constraints), the
//! diff (`plan::fields`: display order, what forces replacement), the plan
//! renderer (`render::block`), import's generated TOML (`ops::import`: which
//! keys to write, what a task inherits), and the request body and its inverse
//! (`api::task_map` walks the registry; each key's way there and back sits in
//! its `WIRE` entry beside the wire types, so `model` depends on nothing).
//! Checked against it by tests: the loader's typed readers and inheritance,
//! that the wire table names every key once, that each key writes exactly its
//! `request` paths and the cloud reports at the `response` paths, a
//! round-trip property (spec -> request -> cloud -> spec), and
//! docs/configuration.md's key list and replacement table.
//!
//! Adding a field: the [`TaskSpec`] field, one entry here (with its schema
//! description and constraints and wire paths), its `WIRE` entry in
//! `api::task_map`, its typed reader in `config::raw`/`resolve`, and a way to
//! change it in this module's tests; the tests name whichever is missing.

use super::{
    ALL_DATABASES, DB_PARAMS, DbParamKind, ReplScope, ReplType, SyncLevel, TaskDefaults, TaskSpec,
};
use serde_json::{Value, json};

/// The value type a key takes in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string.
    Text,
    /// One of these strings.
    Choice(&'static [&'static str]),
    Bool,
    /// An array of strings (a set: stored sorted, shown element by element).
    List,
    /// A table of strings, compared and shown per key.
    Map,
}

/// How a change of the key reaches the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The cloud cannot change it in place (E8 takes it not): delete, then create.
    Replace,
    /// Modified in place (E8).
    Modify,
    /// In place, through pause (E9) / resume (E10).
    PauseResume,
    /// Never sent: it only guards plans.
    NotSent,
}

impl Applied {
    /// The sentence docs/configuration.md gives for this way of applying a change.
    pub fn describe(self) -> &'static str {
        match self {
            Applied::Replace => "**replace**: delete the task, then create it anew (shown `-/+`)",
            Applied::Modify => "modified in place (E8, modify)",
            Applied::PauseResume => "in place, through pause (E9) / resume (E10)",
            Applied::NotSent => "nothing is sent; it only guards plans",
        }
    }
}

/// One key of `[task.NAME]`.
#[derive(Debug, Clone, Copy)]
pub struct TaskField {
    /// The TOML key, which is also the attribute's name in plans and state.
    pub key: &'static str,
    /// What the key means and takes, as the JSON Schema tells editors.
    pub description: &'static str,
    pub shape: Shape,
    /// JSON Schema keywords beyond what `shape` says (patterns, lengths,
    /// known map keys), merged over the shape's own.
    pub constraints: fn() -> Value,
    /// A task cannot be created without it (written in the task or in `[defaults]`).
    pub required: bool,
    /// `[defaults]` may set it for every task.
    pub inheritable: bool,
    pub applied: Applied,
    /// Where the value travels in the E1/E2/E8 request body (JSON paths).
    /// Empty: not in the body (`instance_id` is in the URL, `paused` is E9/E10).
    pub request: &'static [&'static str],
    /// Where E5 (task configuration) reports it back (JSON paths). Empty: E5
    /// does not say (the instance is where the task was found; the run state
    /// is E4's `stage`).
    pub response: &'static [&'static str],
    /// Import can read the value back from the cloud (E4/E5 or where the task was found).
    pub importable: bool,
    /// The value in a spec as plans show it; `Null` = absent. `None`: the key
    /// is lifecycle only and not part of [`TaskSpec`].
    pub value: Option<fn(&TaskSpec) -> Value>,
    /// The value a task that does not write the key ends with, given
    /// `[defaults]` and the rest of the task (`Null`: none; the key is required
    /// or optional without a default).
    pub unwritten: fn(&TaskSpec, &TaskDefaults) -> Value,
}

impl TaskField {
    pub fn forces_replacement(&self) -> bool {
        self.applied == Applied::Replace
    }

    /// The key's JSON Schema property: the shape's type, the description and
    /// the constraints.
    pub fn json_schema(&self) -> Value {
        let mut schema = match self.shape {
            Shape::Text => json!({"type": "string"}),
            Shape::Choice(allowed) => json!({"type": "string", "enum": allowed}),
            Shape::Bool => json!({"type": "boolean"}),
            Shape::List => json!({"type": "array", "items": {"type": "string"}}),
            Shape::Map => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        };
        schema["description"] = Value::from(self.description);
        if let (Value::Object(schema), Value::Object(extra)) = (&mut schema, (self.constraints)()) {
            schema.extend(extra);
        }
        schema
    }

    /// Whether `spec` has a value for this key worth showing (not absent, not an empty map).
    pub fn is_present(&self, spec: &TaskSpec) -> bool {
        match self.value.map(|value| value(spec)) {
            None | Some(Value::Null) => false,
            Some(Value::Object(map)) => !map.is_empty(),
            Some(_) => true,
        }
    }
}

/// A task or database name in the StarRocks instance: 3-128 of [A-Za-z0-9_].
pub const NAME_PATTERN: &str = "^[A-Za-z0-9_]{3,128}$";

/// A provider name, the `NAME` of `[provider.NAME]`: 1-32 lowercase letters,
/// digits, `_` or `-`, starting with a letter.
pub const PROVIDER_NAME_PATTERN: &str = "^[a-z][a-z0-9_-]{0,31}$";

fn no_constraints() -> Value {
    Value::Null
}

/// `db_configs`: one property per documented parameter, with its type,
/// range, default and description taken from [`DB_PARAMS`].
fn db_params_schema() -> Value {
    let properties: serde_json::Map<String, Value> = DB_PARAMS
        .iter()
        .map(|param| {
            let value = match param.kind {
                DbParamKind::Bool => json!({
                    "description": param.description,
                    "default": param.default == "true",
                    "anyOf": [
                        {"type": "boolean"},
                        {"type": "string", "enum": ["true", "false"]}
                    ]
                }),
                DbParamKind::Integer { min, max } => json!({
                    "description": format!("{} Range {}.", param.description, param.value_range()),
                    "default": param.default.parse::<i64>().unwrap_or_default(),
                    "anyOf": [
                        {"type": "integer", "minimum": min, "maximum": max},
                        {"type": "string", "pattern": "^[0-9]+$"}
                    ]
                }),
            };
            (param.name.to_string(), value)
        })
        .collect();
    json!({"properties": properties, "additionalProperties": false})
}

fn text(s: &str) -> Value {
    Value::from(s)
}

fn optional(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

/// A map of strings as the registry's values show it.
pub fn string_map(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// Every task key, in the order plans show them and error messages list them.
pub const TASK_FIELDS: &[TaskField] = &[
    TaskField {
        key: "instance_id",
        description: "The HTAP (StarRocks) instance that runs the task: 36 letters or\ndigits ending in in17 or in07.",
        constraints: || json!({"pattern": "^[A-Za-z0-9]{32}(in07|in17)$"}),
        shape: Shape::Text,
        required: true,
        inheritable: true,
        applied: Applied::Replace,
        request: &[],
        response: &[],
        importable: true,
        value: Some(|s| text(&s.instance_id)),
        unwritten: |_, d| optional(d.instance_id.as_deref()),
    },
    TaskField {
        key: "name",
        description: "The cloud's task_name (default: the table key NAME of [task.NAME]):\n3-128 of [A-Za-z0-9_]. Set it to give a task a new address without\nreplacing it (with a [[moved]] block), or to manage a task whose cloud\nname is not a convenient key.",
        constraints: || json!({"pattern": NAME_PATTERN}),
        shape: Shape::Text,
        required: false,
        inheritable: false,
        applied: Applied::Replace,
        request: &["task_name"],
        response: &[],
        importable: true,
        value: Some(|s| optional(s.cloud_name.as_deref())),
        unwritten: |_, _| Value::Null,
    },
    TaskField {
        key: "provider",
        description: "The [provider.NAME] whose project and region hold the task (default:\nthe unnamed [provider]). Moving a task to another provider replaces it.",
        constraints: || json!({"pattern": PROVIDER_NAME_PATTERN}),
        shape: Shape::Text,
        required: false,
        inheritable: true,
        applied: Applied::Replace,
        request: &[],
        response: &[],
        importable: true,
        value: Some(|s| optional(s.provider.as_deref())),
        unwritten: |_, d| optional(d.provider.as_deref()),
    },
    TaskField {
        key: "source_instance_id",
        description: "The TaurusDB instance replicated from: 36 letters or digits ending in in07.",
        constraints: || json!({"pattern": "^[A-Za-z0-9]{32}in07$"}),
        shape: Shape::Text,
        required: true,
        inheritable: true,
        applied: Applied::Replace,
        request: &["source_instance_id"],
        response: &["source_instance_id"],
        importable: true,
        value: Some(|s| text(&s.source_instance_id)),
        unwritten: |_, d| optional(d.source_instance_id.as_deref()),
    },
    TaskField {
        key: "source_node_id",
        description: "A TaurusDB read replica to read from (default: the primary node):\n36 letters or digits ending in no07.",
        constraints: || json!({"pattern": "^[A-Za-z0-9]{32}no07$"}),
        shape: Shape::Text,
        required: false,
        inheritable: true,
        applied: Applied::Modify,
        request: &["source_node_id"],
        response: &["source_node_id"],
        importable: true,
        value: Some(|s| optional(s.source_node_id.as_deref())),
        unwritten: |_, d| optional(d.source_node_id.as_deref()),
    },
    TaskField {
        key: "sync_level",
        description: "database (default): the task replicates source_database_name; or\ninstance: the whole source instance (API is_instance_level_sync), every\ndatabase unless database_scope = \"part\".",
        constraints: no_constraints,
        shape: Shape::Choice(SyncLevel::ALLOWED),
        required: false,
        inheritable: false,
        applied: Applied::Modify,
        request: &["is_instance_level_sync"],
        response: &["is_instance_level_sync"],
        importable: true,
        value: Some(|s| match s.sync_level {
            SyncLevel::Database => Value::Null,
            level => text(level.as_str()),
        }),
        unwritten: |_, _| Value::Null,
    },
    TaskField {
        key: "database_scope",
        description: "With sync_level = \"instance\" only: all (default): every database of\nthe source instance; or part: the databases source_database_name lists,\ncomma-separated (API database_repl_scope).",
        constraints: no_constraints,
        shape: Shape::Choice(ReplScope::ALLOWED),
        required: false,
        inheritable: false,
        applied: Applied::Modify,
        request: &["database_repl_scope"],
        response: &["database_repl_scope"],
        importable: true,
        value: Some(|s| s.database_scope.map_or(Value::Null, |d| text(d.as_str()))),
        unwritten: |s, _| match s.sync_level {
            SyncLevel::Database => Value::Null,
            SyncLevel::Instance => text(ReplScope::All.as_str()),
        },
    },
    TaskField {
        key: "source_database_name",
        description: "The TaurusDB database replicated: 3-1024 of [A-Za-z0-9_]. With\nsync_level = \"instance\": \"ALL\" (the default), or with\ndatabase_scope = \"part\" the databases, comma-separated.",
        constraints: || json!({"pattern": "^[A-Za-z0-9_,]{3,1024}$"}),
        shape: Shape::Text,
        required: true,
        inheritable: true,
        applied: Applied::Modify,
        request: &["source_database_name"],
        response: &["database_info.database_name"],
        importable: true,
        value: Some(|s| text(&s.source_database_name)),
        // An instance-level task of every database ignores an inherited name.
        unwritten: |s, d| match (s.sync_level, s.database_scope) {
            (SyncLevel::Instance, Some(ReplScope::All) | None) => text(ALL_DATABASES),
            _ => optional(d.source_database_name.as_deref()),
        },
    },
    TaskField {
        key: "target_database_name",
        description: "The StarRocks database written to (default: source_database_name;\n\"ALL\" with sync_level = \"instance\"): 3-128 of [A-Za-z0-9_].",
        constraints: || json!({"pattern": NAME_PATTERN}),
        shape: Shape::Text,
        required: false,
        inheritable: true,
        applied: Applied::Modify,
        request: &["target_database_name"],
        response: &["target_database_name"],
        importable: true,
        value: Some(|s| text(&s.target_database_name)),
        unwritten: |s, d| match s.sync_level {
            SyncLevel::Database => text(
                d.target_database_name
                    .as_deref()
                    .unwrap_or(&s.source_database_name),
            ),
            SyncLevel::Instance => text(d.target_database_name.as_deref().unwrap_or(ALL_DATABASES)),
        },
    },
    TaskField {
        key: "repl_type",
        description: "include_tables (default): `tables` lists the tables to replicate; or\nexclude_tables: `tables` lists the tables not to replicate.",
        constraints: no_constraints,
        shape: Shape::Choice(ReplType::ALLOWED),
        required: false,
        inheritable: true,
        applied: Applied::Modify,
        request: &["table_repl_config.repl_type"],
        response: &["table_repl_config.repl_type"],
        importable: true,
        value: Some(|s| text(s.repl_type.as_str())),
        unwritten: |_, d| text(d.repl_type.unwrap_or_default().as_str()),
    },
    TaskField {
        key: "repl_scope",
        description: "all: every table (then `tables` must be empty or absent); or part:\nonly some tables (then `tables` must not be empty). Default part when\n`tables` is non-empty, else all.",
        constraints: no_constraints,
        shape: Shape::Choice(ReplScope::ALLOWED),
        required: false,
        inheritable: true,
        applied: Applied::Modify,
        request: &["table_repl_config.repl_scope"],
        response: &["table_repl_config.repl_scope"],
        importable: true,
        value: Some(|s| text(s.repl_scope.as_str())),
        unwritten: |s, d| {
            let inferred = if s.tables.is_empty() {
                ReplScope::All
            } else {
                ReplScope::Part
            };
            text(d.repl_scope.unwrap_or(inferred).as_str())
        },
    },
    TaskField {
        key: "table_patterns",
        description: "true: entries of `tables` and keys of `table_configs` may be wildcard\npatterns, `*` for any run of characters and `?` for one (API\nis_support_reg_exp). Default false.",
        constraints: no_constraints,
        shape: Shape::Bool,
        required: false,
        inheritable: false,
        applied: Applied::Modify,
        request: &["is_support_reg_exp"],
        response: &["is_support_reg_exp"],
        importable: true,
        value: Some(|s| {
            if s.table_patterns {
                Value::from(true)
            } else {
                Value::Null
            }
        }),
        unwritten: |_, _| Value::Null,
    },
    TaskField {
        key: "tables",
        description: "Tables to include or exclude (see repl_type); order does not matter.\nWith table_patterns = true, entries may be patterns such as \"orders_*\";\nwith sync_level = \"instance\", names are DATABASE.TABLE.",
        constraints: || json!({"items": {"type": "string", "minLength": 1, "maxLength": 128}, "uniqueItems": true}),
        shape: Shape::List,
        required: false,
        inheritable: false,
        applied: Applied::Modify,
        request: &["table_repl_config.tables"],
        response: &["table_repl_config.tables"],
        importable: true,
        value: Some(|s| Value::from(s.tables.clone())),
        unwritten: |_, _| Value::Array(Vec::new()),
    },
    TaskField {
        key: "db_configs",
        description: "Database parameters, sent as strings; a parameter not written is not sent.",
        constraints: db_params_schema,
        shape: Shape::Map,
        required: false,
        inheritable: true,
        applied: Applied::Modify,
        request: &["db_configs"],
        response: &["database_info.db_config_check_results"],
        importable: true,
        value: Some(|s| string_map(&s.db_configs)),
        unwritten: |_, d| string_map(&d.db_configs),
    },
    TaskField {
        key: "table_configs",
        description: "Table name -> table config string (1-1024 characters), e.g.\n\"order by id;key columns id\". Only replicated tables may be named.",
        constraints: || json!({"propertyNames": {"minLength": 1, "maxLength": 128}, "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 1024}}),
        shape: Shape::Map,
        required: false,
        inheritable: false,
        applied: Applied::Modify,
        request: &["tables_configs"],
        response: &["table_infos"],
        importable: true,
        value: Some(|s| string_map(&s.table_configs)),
        unwritten: |_, _| Value::Object(Default::default()),
    },
    TaskField {
        key: "paused",
        description: "Desired run state: true keeps the task paused. Default false.",
        constraints: no_constraints,
        shape: Shape::Bool,
        required: false,
        inheritable: true,
        applied: Applied::PauseResume,
        request: &[],
        response: &[],
        importable: true,
        value: Some(|s| Value::from(s.paused)),
        unwritten: |_, d| Value::from(d.paused.unwrap_or(false)),
    },
    TaskField {
        key: "prevent_destroy",
        description: "Lifecycle only (never sent): any plan that would delete or replace\nthe task is an error. Default false.",
        constraints: no_constraints,
        shape: Shape::Bool,
        required: false,
        inheritable: true,
        applied: Applied::NotSent,
        request: &[],
        response: &[],
        importable: false,
        value: None,
        unwritten: |_, _| Value::from(false),
    },
];

/// The entry of `key`, if it is a task key.
pub fn field(key: &str) -> Option<&'static TaskField> {
    TASK_FIELDS.iter().find(|f| f.key == key)
}

/// The keys of the fields `filter` selects, in registry order.
pub fn keys(filter: impl Fn(&TaskField) -> bool) -> Vec<&'static str> {
    TASK_FIELDS
        .iter()
        .filter(|f| filter(f))
        .map(|f| f.key)
        .collect()
}

/// The fields that are part of a [`TaskSpec`] (plan attributes), in display order.
pub fn spec_fields() -> impl Iterator<Item = &'static TaskField> {
    TASK_FIELDS.iter().filter(|f| f.value.is_some())
}

/// The rows of docs/configuration.md's "Which changes replace a task" table.
pub fn replacement_table() -> String {
    let mut out = String::from("| key | how a change is applied |\n|---|---|\n");
    for field in TASK_FIELDS {
        out.push_str(&format!(
            "| `{}` | {} |\n",
            field.key,
            field.applied.describe()
        ));
    }
    out
}

#[cfg(test)]
mod tests;

//! Request and response bodies of the HTAP replication API family (E1–E15),
//! with the exact wire names the cloud documents.
//!
//! Serialisation emits the documented form; deserialisation accepts every form
//! that has been observed (numbers as strings or numbers, booleans as strings,
//! camelCase keys in `database_info`, stage in any case). Tests at the bottom
//! check these types against the seed page's JSON, field for field.

use serde::{Deserialize, Deserializer, Serialize};

/// `{param_name, value}`: one db_config. Values are always strings on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbConfig {
    pub param_name: String,
    #[serde(deserialize_with = "string_or_scalar")]
    pub value: String,
}

/// `{table_name, table_config}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablesConfig {
    pub table_name: String,
    pub table_config: String,
}

/// `{repl_type, repl_scope, tables}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReplConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repl_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repl_scope: Option<String>,
    #[serde(default)]
    pub tables: Vec<String>,
}

/// Body of E1 (database-config-check), E2 (table-config-check) and E8 (modify).
/// E1 ignores `tables_configs` and `is_create_task`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfigRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_database_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_configs: Option<Vec<DbConfig>>,
    /// The seed page's example sends a single object here; the schema says an array.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "one_or_many"
    )]
    pub tables_configs: Option<Vec<TablesConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_repl_config: Option<TableReplConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_database_name: Option<String>,
    /// `"true"` registers the task (E2 only). A string on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_create_task: Option<String>,
    /// `"true"`: the task replicates the whole source instance (absent: `"false"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_instance_level_sync: Option<String>,
    /// Instance level: `all` databases or `part` (absent: `part`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_repl_scope: Option<String>,
    /// `"true"`: table names may be wildcard patterns (absent: `"false"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_support_reg_exp: Option<String>,
}

/// `{table_name, table_config, check_result}`: `success` | `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableConfigCheckResult {
    pub table_name: String,
    #[serde(default)]
    pub table_config: String,
    pub check_result: String,
}

impl TableConfigCheckResult {
    pub fn passed(&self) -> bool {
        self.check_result.eq_ignore_ascii_case("success")
    }
}

/// `{param_name, value, check_result}`: `success` | `fail` (also seen: `failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbConfigCheckResult {
    pub param_name: String,
    #[serde(default, deserialize_with = "string_or_scalar")]
    pub value: String,
    pub check_result: String,
}

impl DbConfigCheckResult {
    pub fn passed(&self) -> bool {
        self.check_result.eq_ignore_ascii_case("success")
    }
}

/// E2 response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableConfigCheckResponse {
    #[serde(default)]
    pub source_database_name: String,
    #[serde(default)]
    pub target_database_name: String,
    #[serde(default)]
    pub task_name: String,
    #[serde(default)]
    pub tbl_config_check_results: Vec<TableConfigCheckResult>,
}

/// E1 response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbConfigCheckResponse {
    #[serde(default)]
    pub source_database_name: String,
    #[serde(default)]
    pub target_database_name: String,
    #[serde(default)]
    pub task_name: String,
    #[serde(default)]
    pub source_db_config_check_results: Vec<DbConfigCheckResult>,
    #[serde(default)]
    pub target_db_config_check_results: Vec<DbConfigCheckResult>,
}

/// E8 response: check results plus the job that applies the change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyResponse {
    #[serde(default)]
    pub source_database_name: String,
    #[serde(default)]
    pub target_database_name: String,
    #[serde(default)]
    pub task_name: String,
    #[serde(default)]
    pub source_db_config_check_results: Vec<DbConfigCheckResult>,
    #[serde(default)]
    pub tbl_config_check_results: Vec<TableConfigCheckResult>,
    #[serde(default)]
    pub job_id: String,
}

/// E3 body: note `source_database` / `target_database`, not `*_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRequest {
    pub source_instance_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_node_id: Option<String>,
    pub source_database: String,
    pub target_database: String,
    pub task_name: String,
}

/// E9, E10, E11 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskNameRequest {
    pub task_name: String,
}

/// Response of every asynchronous call (E3, E9, E10, E11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIdResponse {
    pub job_id: String,
}

/// E4 response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReplicationsResponse {
    #[serde(default, deserialize_with = "u64_from_string_or_number")]
    pub total_count: u64,
    #[serde(default)]
    pub replications: Vec<ReplicationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_text: Option<String>,
}

/// One row of E4: live status of a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationInfo {
    #[serde(default)]
    pub source_database: String,
    #[serde(default)]
    pub target_database: String,
    pub task_name: String,
    /// `Yes` (normal) | `No` (abnormal).
    #[serde(default)]
    pub status: String,
    /// `Wait|Full|Incremental|Paused|Cancelled`; compare with [`Stage::parse`].
    #[serde(default)]
    pub stage: String,
    #[serde(default, deserialize_with = "string_or_scalar")]
    pub percentage: String,
    #[serde(default)]
    pub catchup_stage: String,
    #[serde(default, deserialize_with = "string_or_scalar")]
    pub catchup_percentage: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_need_repair: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_main_task: Option<String>,
}

/// A task's sync stage, parsed case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Wait,
    Full,
    Incremental,
    Paused,
    Cancelled,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        match s.to_ascii_lowercase().as_str() {
            "wait" => Some(Stage::Wait),
            "full" => Some(Stage::Full),
            "incremental" => Some(Stage::Incremental),
            "paused" => Some(Stage::Paused),
            "cancelled" | "canceled" => Some(Stage::Cancelled),
            _ => None,
        }
    }

    /// The capitalised form the cloud has been observed to send.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Wait => "Wait",
            Stage::Full => "Full",
            Stage::Incremental => "Incremental",
            Stage::Paused => "Paused",
            Stage::Cancelled => "Cancelled",
        }
    }

    /// Replicating (the goal of a start or a resume).
    pub fn is_running(self) -> bool {
        matches!(self, Stage::Full | Stage::Incremental)
    }
}

/// `database_info` of E5/E6. Terraform's provider reads camelCase keys
/// (`databaseName`, `dbCfgCheckResults`); accept both forms, also both at
/// once (then a non-empty snake_case value wins), which serde's aliases
/// would refuse as a duplicate field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "DatabaseInfoWire")]
pub struct DatabaseInfo {
    pub database_name: String,
    pub db_config_check_results: Vec<DbConfigCheckResult>,
}

/// Every spelling of `database_info`'s keys seen on the wire.
#[derive(Deserialize)]
struct DatabaseInfoWire {
    #[serde(default)]
    database_name: Option<String>,
    #[serde(default, rename = "databaseName")]
    database_name_camel: Option<String>,
    #[serde(default)]
    db_config_check_results: Option<Vec<DbConfigCheckResult>>,
    #[serde(default, rename = "dbCfgCheckResults")]
    db_cfg_check_results_camel: Option<Vec<DbConfigCheckResult>>,
    #[serde(default, rename = "dbConfigCheckResults")]
    db_config_check_results_camel: Option<Vec<DbConfigCheckResult>>,
}

impl From<DatabaseInfoWire> for DatabaseInfo {
    fn from(w: DatabaseInfoWire) -> Self {
        let database_name = [w.database_name, w.database_name_camel]
            .into_iter()
            .flatten()
            .find(|n| !n.is_empty())
            .unwrap_or_default();
        let db_config_check_results = [
            w.db_config_check_results,
            w.db_cfg_check_results_camel,
            w.db_config_check_results_camel,
        ]
        .into_iter()
        .flatten()
        .find(|r| !r.is_empty())
        .unwrap_or_default();
        DatabaseInfo {
            database_name,
            db_config_check_results,
        }
    }
}

/// E5/E6 response: a task's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationConfigResponse {
    #[serde(default)]
    pub source_instance_id: String,
    #[serde(default)]
    pub source_node_id: String,
    #[serde(default)]
    pub database_info: DatabaseInfo,
    #[serde(default)]
    pub table_infos: Vec<TableConfigCheckResult>,
    #[serde(default)]
    pub table_repl_config: TableReplConfig,
    #[serde(default)]
    pub new_table_repl_config: TableReplConfig,
    #[serde(default)]
    pub target_database_name: String,
    #[serde(default, deserialize_with = "bool_from_string_or_bool")]
    pub is_tables_change: bool,
    #[serde(default)]
    pub last_error_of_alter_table: String,
    /// `"true"` for an instance-level task (a string or a boolean is accepted).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_instance_level_sync: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_repl_scope: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_or_scalar"
    )]
    pub is_support_reg_exp: Option<String>,
}

/// One row of E7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbParameter {
    pub param_name: String,
    pub data_type: String,
    #[serde(default)]
    pub default_value: String,
    #[serde(default)]
    pub value_range: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "string_or_scalar")]
    pub is_modifiable: String,
}

/// E7 response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbParametersResponse {
    #[serde(default)]
    pub db_parameters: Vec<DbParameter>,
}

/// E12 response (StarRocks, target side).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabasesResponse {
    #[serde(default)]
    pub databases: Vec<String>,
    #[serde(default, deserialize_with = "u64_from_string_or_number")]
    pub total_count: u64,
    #[serde(default, deserialize_with = "u64_from_string_or_number")]
    pub timestamp: u64,
}

/// E13 response (TaurusDB, source side): `ShowInstanceDatabasesForHtapResponse`,
/// a type of its own in the SDK. `total_count` and `timestamp` are int32 numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDatabasesResponse {
    #[serde(default)]
    pub databases: Vec<String>,
    #[serde(default, deserialize_with = "u64_from_string_or_number")]
    pub total_count: u64,
    #[serde(default, deserialize_with = "u64_from_string_or_number")]
    pub timestamp: u64,
}

/// E13 body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDatabasesRequest {
    #[serde(default)]
    pub databases: Vec<String>,
    pub source_instance_id: String,
}

/// `{database, tables}` of E14.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseTables {
    pub database: String,
    #[serde(default)]
    pub tables: Vec<String>,
}

/// E14 body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTablesRequest {
    pub source_instance_id: String,
    #[serde(default)]
    pub database_tables: Vec<DatabaseTables>,
    #[serde(default)]
    pub selected_tables: Vec<DatabaseTables>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_type: Option<String>,
}

/// E14 response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablesResponse {
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default, deserialize_with = "u64_from_string_or_number")]
    pub total_count: u64,
}

/// E15 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResponse {
    pub job: Job,
}

/// A job: `Pending|Running|Completed|Failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub ended: String,
    #[serde(default)]
    pub process: String,
    #[serde(default)]
    pub instance: JobInstance,
    #[serde(default)]
    pub entities: serde_json::Value,
    #[serde(default)]
    pub fail_reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInstance {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// Every error the API returns: `{error_code, error_msg}` (gateway errors add `request_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_code: String,
    pub error_msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

fn scalar_to_string(v: serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(format!("expected a string, found {other}")),
    }
}

fn string_or_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar_to_string(serde_json::Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn opt_string_or_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => scalar_to_string(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn u64_from_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = string_or_scalar(d)?;
    if s.is_empty() {
        return Ok(0);
    }
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("expected a count, found {s:?}")))
}

fn bool_from_string_or_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = string_or_scalar(d)?;
    Ok(s.eq_ignore_ascii_case("true"))
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<TablesConfig>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(TablesConfig),
        Many(Vec<TablesConfig>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(c)) => Some(vec![c]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The seed page's example request, verbatim.
    const SEED_REQUEST: &str = r#"{ "source_database_name" : "source_database_name", "target_database_name" : "target_database_name", "db_configs" : [ { "param_name" : "enable_chunk_level_dump", "value" : "false" }, { "param_name" : "snapshot_with_lock", "value" : "true" }, { "param_name" : "sync_commit_interval_ms", "value" : "5000" }, { "param_name" : "max_sync_commit_rows", "value" : "500000" }, { "param_name" : "max_sync_commit_bytes", "value" : "268435456" }, { "param_name" : "max_full_sync_task_threads_num", "value" : "1" }, { "param_name" : "max_rows_per_chunk", "value" : "0" }, { "param_name" : "max_bytes_per_chunk", "value" : "268435456" }, { "param_name" : "binlog_expire_logs_seconds", "value" : "0" } ], "table_repl_config" : { "repl_type" : "include_tables", "repl_scope" : "all", "tables" : [ ] }, "tables_configs" : { "table_name" : "tableName", "table_config" : "tableConfig" }, "source_instance_id" : "source_instance_id", "is_create_task" : "true", "source_node_id" : "source_node_id" }"#;

    /// The seed page's example 200 response, verbatim.
    const SEED_RESPONSE: &str = r#"{ "source_database_name" : "source_database_name", "target_database_name" : "", "task_name" : "task", "tbl_config_check_results" : [ { "table_name" : "table", "table_config" : "order by id", "check_result" : "success" } ] }"#;

    #[test]
    fn seed_request_parses_field_for_field() {
        let r: TaskConfigRequest = serde_json::from_str(SEED_REQUEST).unwrap();
        assert_eq!(
            r.source_database_name.as_deref(),
            Some("source_database_name")
        );
        assert_eq!(
            r.target_database_name.as_deref(),
            Some("target_database_name")
        );
        assert_eq!(r.source_instance_id.as_deref(), Some("source_instance_id"));
        assert_eq!(r.source_node_id.as_deref(), Some("source_node_id"));
        assert_eq!(r.is_create_task.as_deref(), Some("true"));
        let dbc = r.db_configs.as_ref().unwrap();
        assert_eq!(dbc.len(), 9);
        assert_eq!(dbc[2].param_name, "sync_commit_interval_ms");
        assert_eq!(dbc[2].value, "5000");
        let trc = r.table_repl_config.as_ref().unwrap();
        assert_eq!(trc.repl_type.as_deref(), Some("include_tables"));
        assert_eq!(trc.repl_scope.as_deref(), Some("all"));
        assert!(trc.tables.is_empty());
        let tc = r.tables_configs.as_ref().unwrap();
        assert_eq!(tc[0].table_name, "tableName");
        assert_eq!(tc[0].table_config, "tableConfig");
    }

    #[test]
    fn request_serialises_with_documented_names_and_string_values() {
        let r = TaskConfigRequest {
            source_instance_id: Some("s".into()),
            task_name: Some("t01".into()),
            db_configs: Some(vec![DbConfig {
                param_name: "max_rows_per_chunk".into(),
                value: "0".into(),
            }]),
            tables_configs: Some(vec![TablesConfig {
                table_name: "orders".into(),
                table_config: "order by id".into(),
            }]),
            is_create_task: Some("false".into()),
            ..Default::default()
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({
                "source_instance_id": "s",
                "task_name": "t01",
                "db_configs": [{"param_name": "max_rows_per_chunk", "value": "0"}],
                "tables_configs": [{"table_name": "orders", "table_config": "order by id"}],
                "is_create_task": "false"
            })
        );
    }

    #[test]
    fn seed_response_parses_and_round_trips() {
        let r: TableConfigCheckResponse = serde_json::from_str(SEED_RESPONSE).unwrap();
        assert_eq!(r.task_name, "task");
        assert_eq!(r.target_database_name, "");
        assert_eq!(r.tbl_config_check_results.len(), 1);
        assert!(r.tbl_config_check_results[0].passed());
        assert_eq!(r.tbl_config_check_results[0].table_config, "order by id");
        let back: serde_json::Value = serde_json::to_value(&r).unwrap();
        let orig: serde_json::Value = serde_json::from_str(SEED_RESPONSE).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn tolerant_forms_are_accepted() {
        let list: ListReplicationsResponse = serde_json::from_value(json!({
            "total_count": 2,
            "replications": [{"task_name": "a", "stage": "INCREMENTAL", "percentage": 100,
                               "is_need_repair": false}]
        }))
        .unwrap();
        assert_eq!(list.total_count, 2);
        assert_eq!(list.replications[0].percentage, "100");
        assert_eq!(
            list.replications[0].is_need_repair.as_deref(),
            Some("false")
        );
        assert_eq!(
            Stage::parse(&list.replications[0].stage),
            Some(Stage::Incremental)
        );
        let list: ListReplicationsResponse =
            serde_json::from_value(json!({"total_count": "1", "replications": []})).unwrap();
        assert_eq!(list.total_count, 1);

        let cfg: ReplicationConfigResponse = serde_json::from_value(json!({
            "database_info": {"databaseName": "shop", "dbCfgCheckResults": [
                {"param_name": "max_rows_per_chunk", "value": 0, "check_result": "success"}]},
            "is_tables_change": "false"
        }))
        .unwrap();
        assert_eq!(cfg.database_info.database_name, "shop");
        assert_eq!(cfg.database_info.db_config_check_results[0].value, "0");
        assert!(!cfg.is_tables_change);
    }

    #[test]
    fn error_body_matches_seed() {
        let e: ErrorBody = serde_json::from_str(
            r#"{ "error_code" : "DBS.200022", "error_msg" : "Instance not found." }"#,
        )
        .unwrap();
        assert_eq!(e.error_code, "DBS.200022");
        assert_eq!(e.error_msg, "Instance not found.");
    }
}

//! The emulated cloud's fixed inventory: HTAP instances, TaurusDB source
//! instances and, from their DDL files, the databases, tables, columns and
//! primary keys the checks judge against.
//!
//! The cloud file is TOML (format in `docs/emulator.md`); DDL files are MySQL
//! `CREATE DATABASE` / `USE` / `CREATE TABLE` statements parsed with
//! `sqlparser`, so fixtures can be copied from a real `mysqldump --no-data`.

use super::EmulatorError;
use super::sizes::max_bytes_of_type;
use serde::Deserialize;
use sqlparser::ast::{ColumnOption, ObjectName, Statement, TableConstraint, Use};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The parsed cloud file: everything the emulator serves that is not a task or a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudSpec {
    pub htap_instances: Vec<HtapInstance>,
    pub source_instances: Vec<SourceInstance>,
}

/// A StarRocks (HTAP) instance: the `instance_id` in every path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtapInstance {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The project it is found in (`None` = every project).
    #[serde(default)]
    pub project_id: Option<String>,
    /// The region it is found in (`None` = every region).
    #[serde(default)]
    pub region: Option<String>,
}

/// A TaurusDB instance that tasks replicate from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInstance {
    pub id: String,
    pub name: String,
    /// The project and region it is found in, as for [`HtapInstance`].
    pub project_id: Option<String>,
    pub region: Option<String>,
    /// Node ids (`...no07`) a task may read from via `source_node_id`.
    pub nodes: Vec<String>,
    /// Databases by name (case-sensitive, as on HTAP).
    pub databases: BTreeMap<String, Database>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Database {
    pub name: String,
    /// Tables by name (case-sensitive).
    pub tables: BTreeMap<String, Table>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Primary key column names in key order; empty = no primary key.
    pub primary_key: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as written in the DDL, e.g. `VARCHAR(64)`.
    pub sql_type: String,
    /// Upper bound of the value's size in bytes (utf8mb4 for character types).
    pub max_bytes: u64,
}

impl Table {
    /// Column names are case-insensitive in HTAP, so lookups are too.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Largest possible primary-key value; `None` when the table has no primary key.
    pub fn primary_key_max_bytes(&self) -> Option<u64> {
        if self.primary_key.is_empty() {
            return None;
        }
        Some(
            self.primary_key
                .iter()
                .filter_map(|k| self.column(k))
                .map(|c| c.max_bytes)
                .fold(0u64, u64::saturating_add),
        )
    }
}

impl CloudSpec {
    /// An instance id used twice (tasks and jobs are keyed by instance id).
    fn duplicate_id(&self) -> Option<&str> {
        let mut seen = std::collections::BTreeSet::new();
        let ids = self.htap_instances.iter().map(|i| i.id.as_str());
        ids.chain(self.source_instances.iter().map(|i| i.id.as_str()))
            .find(|id| !seen.insert(*id))
    }

    pub fn htap_instance(&self, id: &str) -> Option<&HtapInstance> {
        self.htap_instances.iter().find(|i| i.id == id)
    }

    pub fn source_instance(&self, id: &str) -> Option<&SourceInstance> {
        self.source_instances.iter().find(|i| i.id == id)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudFile {
    /// The default project and region of the instances that name none.
    project_id: Option<String>,
    region: Option<String>,
    #[serde(default)]
    htap_instance: Vec<HtapInstance>,
    #[serde(default)]
    source_instance: Vec<SourceInstanceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceInstanceFile {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    nodes: Vec<String>,
    #[serde(default)]
    ddl: Vec<PathBuf>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

/// Reads a cloud file; DDL paths in it are relative to the file's directory.
pub fn load_cloud(path: &Path) -> Result<CloudSpec, EmulatorError> {
    let text = read(path)?;
    let file: CloudFile = toml::from_str(&text).map_err(|e| EmulatorError::CloudFile {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut source_instances = Vec::with_capacity(file.source_instance.len());
    for src in file.source_instance {
        let mut databases = BTreeMap::new();
        for ddl in &src.ddl {
            let ddl_path = base.join(ddl);
            parse_ddl_into(&read(&ddl_path)?, &mut databases).map_err(|msg| {
                EmulatorError::Ddl {
                    path: ddl_path.clone(),
                    msg,
                }
            })?;
        }
        source_instances.push(SourceInstance {
            id: src.id,
            name: src.name,
            project_id: src.project_id.or_else(|| file.project_id.clone()),
            region: src.region.or_else(|| file.region.clone()),
            nodes: src.nodes,
            databases,
        });
    }
    let htap_instances: Vec<HtapInstance> = file
        .htap_instance
        .into_iter()
        .map(|i| HtapInstance {
            project_id: i.project_id.or_else(|| file.project_id.clone()),
            region: i.region.or_else(|| file.region.clone()),
            ..i
        })
        .collect();
    let cloud = CloudSpec {
        htap_instances,
        source_instances,
    };
    if let Some(id) = cloud.duplicate_id() {
        return Err(EmulatorError::CloudFile {
            path: path.to_path_buf(),
            msg: format!(
                "instance id {id} appears twice; ids are unique across projects and regions"
            ),
        });
    }
    Ok(cloud)
}

fn read(path: &Path) -> Result<String, EmulatorError> {
    std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
        path: path.to_path_buf(),
        cause: source,
    })
}

/// Adds the databases and tables of one DDL script to `databases`.
/// A table name may be qualified (`shop.orders`); otherwise the last `USE` applies.
pub fn parse_ddl_into(sql: &str, databases: &mut BTreeMap<String, Database>) -> Result<(), String> {
    let statements = Parser::parse_sql(&MySqlDialect {}, sql).map_err(|e| e.to_string())?;
    let mut current: Option<String> = None;
    for statement in statements {
        match statement {
            Statement::CreateDatabase { db_name, .. } => {
                let name = last_part(&db_name);
                databases.entry(name.clone()).or_insert_with(|| Database {
                    name,
                    ..Database::default()
                });
            }
            Statement::Use(Use::Object(name) | Use::Database(name) | Use::Schema(name)) => {
                current = Some(last_part(&name));
            }
            Statement::CreateTable(create) => {
                let (db, table_name) = split_table_name(&create.name, current.as_deref())
                    .ok_or_else(|| {
                        format!("CREATE TABLE {} without a database (add USE)", create.name)
                    })?;
                let table = table_from(table_name, &create.columns, &create.constraints);
                databases
                    .entry(db.clone())
                    .or_insert_with(|| Database {
                        name: db,
                        ..Database::default()
                    })
                    .tables
                    .insert(table.name.clone(), table);
            }
            _ => {}
        }
    }
    Ok(())
}

fn table_from(
    name: String,
    columns: &[sqlparser::ast::ColumnDef],
    constraints: &[TableConstraint],
) -> Table {
    let mut primary_key = Vec::new();
    let columns = columns
        .iter()
        .map(|c| {
            let inline_pk = c.options.iter().any(|o| {
                matches!(
                    o.option,
                    ColumnOption::Unique {
                        is_primary: true,
                        ..
                    }
                )
            });
            if inline_pk {
                primary_key.push(c.name.value.clone());
            }
            let sql_type = c.data_type.to_string();
            Column {
                name: c.name.value.clone(),
                max_bytes: max_bytes_of_type(&sql_type),
                sql_type,
            }
        })
        .collect();
    for constraint in constraints {
        if let TableConstraint::PrimaryKey { columns, .. } = constraint {
            primary_key = columns
                .iter()
                .map(|c| unquote(&c.column.expr.to_string()))
                .collect();
        }
    }
    Table {
        name,
        columns,
        primary_key,
    }
}

fn split_table_name(name: &ObjectName, current: Option<&str>) -> Option<(String, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect();
    match parts.as_slice() {
        [db, table] => Some((db.clone(), table.clone())),
        [table] => current.map(|db| (db.to_string(), table.clone())),
        _ => None,
    }
}

fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident().map(|i| i.value.clone()))
        .unwrap_or_else(|| unquote(&name.to_string()))
}

fn unquote(s: &str) -> String {
    s.trim_matches('`').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_gives_columns_sizes_and_both_primary_key_forms() {
        let mut dbs = BTreeMap::new();
        parse_ddl_into(
            "CREATE DATABASE shop; USE shop;
             CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(100));
             CREATE TABLE `order_items` (order_id BIGINT, line INT, sku CHAR(8),
                 PRIMARY KEY (order_id, `line`));
             CREATE TABLE other.logs (msg TEXT);",
            &mut dbs,
        )
        .unwrap();
        let shop = &dbs["shop"];
        assert_eq!(shop.tables["customers"].primary_key, vec!["id"]);
        assert_eq!(shop.tables["customers"].primary_key_max_bytes(), Some(8));
        let items = &shop.tables["order_items"];
        assert_eq!(items.primary_key, vec!["order_id", "line"]);
        assert_eq!(items.primary_key_max_bytes(), Some(12));
        assert_eq!(items.column("SKU").map(|c| c.max_bytes), Some(32));
        assert_eq!(dbs["other"].tables["logs"].primary_key_max_bytes(), None);
    }

    #[test]
    fn table_without_database_is_an_error() {
        let err = parse_ddl_into("CREATE TABLE t (id INT)", &mut BTreeMap::new()).unwrap_err();
        assert!(err.contains("without a database"), "{err}");
        assert!(parse_ddl_into("CREATE TABLE (", &mut BTreeMap::new()).is_err());
    }
}

//! The verdicts of database-config-check (E1) and table-config-check (E2, E8):
//! which tables a task covers, and whether each table and db_config is
//! acceptable. The rules are documented in `docs/emulator.md`.
//!
//! Every verdict carries the reason a table or parameter failed; the cloud's
//! wire format has no room for it, but E8 errors and logs use it.

use super::cloud::Database;
use super::db_params::DocumentedParam;
use crate::api::wire::{
    DbConfig, DbConfigCheckResult, TableConfigCheckResult, TableReplConfig, TablesConfig,
};
use crate::model::pattern;
use crate::model::{ReplScope, ReplType};
use crate::table_config::parse_table_config;
use std::collections::BTreeSet;

/// Largest primary-key value HTAP can replicate (TaurusDB constraints page).
pub const MAX_PRIMARY_KEY_BYTES: u64 = 128;

/// One table's result plus, when it failed, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableVerdict {
    pub result: TableConfigCheckResult,
    pub reason: Option<String>,
}

/// One db_config's result plus, when it failed, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfigVerdict {
    pub result: DbConfigCheckResult,
    pub reason: Option<String>,
}

/// Which tables of a database a `table_repl_config` selects.
struct Scope<'a> {
    repl_type: ReplType,
    repl_scope: ReplScope,
    listed: &'a [String],
    /// `is_support_reg_exp`: listed names and config keys may be wildcard patterns.
    patterns: bool,
}

impl<'a> Scope<'a> {
    /// Absent or unknown values take the API defaults (include_tables, all);
    /// request validation has already rejected unknown values.
    fn of(repl: &'a TableReplConfig, patterns: bool) -> Self {
        Scope {
            repl_type: repl
                .repl_type
                .as_deref()
                .and_then(ReplType::parse)
                .unwrap_or_default(),
            repl_scope: repl
                .repl_scope
                .as_deref()
                .and_then(ReplScope::parse)
                .unwrap_or_default(),
            listed: &repl.tables,
            patterns,
        }
    }

    /// Whether the listed name (or, with patterns, the pattern) `entry` names `table`.
    fn names(&self, entry: &str, table: &str) -> bool {
        entry == table || (self.patterns && pattern::matches(entry, table))
    }

    fn contains(&self, table: &str) -> bool {
        let listed = self.listed.iter().any(|t| self.names(t, table));
        match (self.repl_type, self.repl_scope) {
            (ReplType::IncludeTables, ReplScope::Part) => listed,
            (ReplType::IncludeTables, ReplScope::All) => true,
            (ReplType::ExcludeTables, _) => !listed,
        }
    }

    /// The tables to report on: the listed ones for a whitelist of part of the
    /// database (even if missing, so they fail), else every selected table.
    fn tables(&self, db: &Database) -> Vec<String> {
        match (self.repl_type, self.repl_scope) {
            (ReplType::IncludeTables, ReplScope::Part) => {
                let mut seen = BTreeSet::new();
                let named = self
                    .listed
                    .iter()
                    .filter(|t| !self.patterns || !pattern::is_pattern(t))
                    .filter(|t| seen.insert(t.as_str()))
                    .cloned()
                    .collect::<Vec<_>>();
                // A pattern reports the tables it matches; one that matches none reports nothing.
                let matched = db
                    .tables
                    .keys()
                    .filter(|t| self.patterns && !seen.contains(t.as_str()) && self.contains(t))
                    .cloned()
                    .collect::<Vec<_>>();
                named.into_iter().chain(matched).collect()
            }
            _ => db
                .tables
                .keys()
                .filter(|t| self.contains(t))
                .cloned()
                .collect(),
        }
    }
}

/// Judges every table of the task's scope and every `tables_configs` entry:
/// scope tables first (with their configuration, `""` when none), then
/// configuration entries for tables outside the scope.
///
/// With `patterns` (`is_support_reg_exp`), listed names and configuration
/// keys may be wildcard patterns: each matched table is judged on its own,
/// with the configuration of its own name, else of the first pattern that
/// matches it; a configuration pattern that matches no table of the scope fails.
pub fn check_tables(
    db: &Database,
    repl: &TableReplConfig,
    configs: &[TablesConfig],
    patterns: bool,
) -> Vec<TableVerdict> {
    let scope = Scope::of(repl, patterns);
    let config_of = |table: &str| {
        configs
            .iter()
            .find(|c| c.table_name == table)
            .or_else(|| configs.iter().find(|c| scope.names(&c.table_name, table)))
            .map_or("", |c| c.table_config.as_str())
    };
    let mut reported = BTreeSet::new();
    let mut verdicts = Vec::new();
    for table in scope.tables(db) {
        let config = config_of(&table).to_string();
        verdicts.push(verdict(db, &scope, &table, &config));
        reported.insert(table);
    }
    for c in configs {
        let is_pattern = patterns && pattern::is_pattern(&c.table_name);
        if is_pattern && reported.iter().any(|t| pattern::matches(&c.table_name, t)) {
            continue;
        }
        if reported.insert(c.table_name.clone()) {
            verdicts.push(verdict(db, &scope, &c.table_name, &c.table_config));
        }
    }
    verdicts
}

fn verdict(db: &Database, scope: &Scope, table: &str, config: &str) -> TableVerdict {
    let reason = table_failure(db, scope, table, config);
    TableVerdict {
        result: TableConfigCheckResult {
            table_name: table.to_string(),
            table_config: config.to_string(),
            check_result: if reason.is_none() {
                "success"
            } else {
                "failed"
            }
            .to_string(),
        },
        reason,
    }
}

/// Why `table` with `config` cannot be replicated, or `None` when it can.
fn table_failure(db: &Database, scope: &Scope, table: &str, config: &str) -> Option<String> {
    let Some(t) = db.tables.get(table) else {
        if scope.patterns && pattern::is_pattern(table) {
            return Some(format!(
                "pattern {table} matches no table of the task in {}",
                db.name
            ));
        }
        return Some(format!(
            "table {table} does not exist in database {}",
            db.name
        ));
    };
    if !scope.contains(table) {
        return Some(format!(
            "table {table} is not in the task's replication scope"
        ));
    }
    let clauses = match parse_table_config(config) {
        Ok(c) => c,
        Err(e) => return Some(format!("table_config of {table} does not parse: {e}")),
    };
    for clause in &clauses {
        if let Some(col) = clause.columns().iter().find(|c| t.column(c).is_none()) {
            return Some(format!("table {table} has no column {col}"));
        }
    }
    match t.primary_key_max_bytes() {
        Some(bytes) if bytes > MAX_PRIMARY_KEY_BYTES => Some(format!(
            "primary key of {table} can reach {bytes} bytes (limit {MAX_PRIMARY_KEY_BYTES})"
        )),
        _ => None,
    }
}

/// Judges each db_config against the documented parameter table (E7), the
/// emulator's own copy of it ([`DocumentedParam`]).
pub fn check_db_configs(configs: &[DbConfig]) -> Vec<DbConfigVerdict> {
    configs
        .iter()
        .map(|c| {
            let reason = match DocumentedParam::lookup(&c.param_name) {
                None => Some(format!("unknown parameter {}", c.param_name)),
                Some(p) if !p.accepts(&c.value) => Some(format!(
                    "{} = {:?} is outside {}",
                    c.param_name, c.value, p.value_range
                )),
                Some(_) => None,
            };
            DbConfigVerdict {
                result: DbConfigCheckResult {
                    param_name: c.param_name.clone(),
                    value: c.value.clone(),
                    check_result: if reason.is_none() { "success" } else { "fail" }.to_string(),
                },
                reason,
            }
        })
        .collect()
}

/// The reasons of all failed verdicts, `; `-joined, or `None` when all passed.
pub fn failures(tables: &[TableVerdict], dbs: &[DbConfigVerdict]) -> Option<String> {
    let reasons: Vec<&str> = tables
        .iter()
        .filter_map(|v| v.reason.as_deref())
        .chain(dbs.iter().filter_map(|v| v.reason.as_deref()))
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::cloud::parse_ddl_into;
    use std::collections::BTreeMap;

    fn shop() -> Database {
        let mut dbs = BTreeMap::new();
        parse_ddl_into(
            "CREATE TABLE shop.a (id INT PRIMARY KEY, name VARCHAR(10));
             CREATE TABLE shop.b (id INT PRIMARY KEY);
             CREATE TABLE shop.wide (code VARCHAR(40) PRIMARY KEY);
             CREATE TABLE shop.nopk (msg VARCHAR(1000));",
            &mut dbs,
        )
        .unwrap();
        dbs.remove("shop").unwrap()
    }

    fn repl(t: &str, s: &str, tables: &[&str]) -> TableReplConfig {
        TableReplConfig {
            repl_type: Some(t.into()),
            repl_scope: Some(s.into()),
            tables: tables.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn tc(table: &str, config: &str) -> TablesConfig {
        TablesConfig {
            table_name: table.into(),
            table_config: config.into(),
        }
    }

    fn summary(v: &[TableVerdict]) -> Vec<(String, String)> {
        v.iter()
            .map(|v| (v.result.table_name.clone(), v.result.check_result.clone()))
            .collect()
    }

    #[test]
    fn scopes_select_the_documented_tables() {
        let db = shop();
        let all = check_tables(&db, &repl("include_tables", "all", &[]), &[], false);
        assert_eq!(all.len(), 4);
        let part = check_tables(
            &db,
            &repl("include_tables", "part", &["b", "zz"]),
            &[],
            false,
        );
        assert_eq!(
            summary(&part),
            vec![
                ("b".into(), "success".into()),
                ("zz".into(), "failed".into())
            ]
        );
        let excl = check_tables(
            &db,
            &repl("exclude_tables", "all", &["wide", "nopk"]),
            &[],
            false,
        );
        assert_eq!(summary(&excl).len(), 2);
        assert!(excl.iter().all(|v| v.reason.is_none()));
    }

    #[test]
    fn each_failure_rule_fails_only_its_table() {
        let db = shop();
        let r = repl("include_tables", "part", &["a", "wide", "nopk"]);
        let v = check_tables(
            &db,
            &r,
            &[
                tc("a", "order by name;key columns id"),
                tc("nopk", "order by missing_col"),
                tc("b", "order by id"),
            ],
            false,
        );
        let s = summary(&v);
        assert_eq!(s[0], ("a".into(), "success".into()));
        assert_eq!(s[1], ("wide".into(), "failed".into()));
        assert!(v[1].reason.as_deref().unwrap().contains("160 bytes"));
        assert_eq!(s[2], ("nopk".into(), "failed".into()));
        assert!(v[2].reason.as_deref().unwrap().contains("no column"));
        assert_eq!(s[3], ("b".into(), "failed".into()));
        assert!(v[3].reason.as_deref().unwrap().contains("scope"));
        assert_eq!(v[0].result.table_config, "order by name;key columns id");
        assert_eq!(v[1].result.table_config, "");
    }

    #[test]
    fn patterns_select_and_configure_each_matched_table() {
        let db = shop();
        let r = repl("include_tables", "part", &["?", "wid*", "zz*"]);
        let configs = [tc("?", "order by id"), tc("n*", "order by id")];
        let v = check_tables(&db, &r, &configs, true);
        let s = summary(&v);
        assert_eq!(
            s,
            vec![
                ("a".into(), "success".into()),
                ("b".into(), "success".into()),
                ("wide".into(), "failed".into()),
                ("n*".into(), "failed".into()),
            ]
        );
        assert_eq!(v[0].result.table_config, "order by id");
        assert!(v[3].reason.as_deref().unwrap().contains("matches no table"));
        let literal = check_tables(&db, &r, &[], false);
        assert!(literal.iter().all(|v| v.reason.is_some()), "{literal:?}");
    }

    #[test]
    fn db_configs_fail_when_unknown_unparseable_or_out_of_range() {
        let v = check_db_configs(&[
            DbConfig {
                param_name: "max_rows_per_chunk".into(),
                value: "0".into(),
            },
            DbConfig {
                param_name: "nope".into(),
                value: "1".into(),
            },
            DbConfig {
                param_name: "sync_commit_interval_ms".into(),
                value: "fast".into(),
            },
            DbConfig {
                param_name: "sync_commit_interval_ms".into(),
                value: "999".into(),
            },
        ]);
        let results: Vec<&str> = v.iter().map(|v| v.result.check_result.as_str()).collect();
        assert_eq!(results, vec!["success", "fail", "fail", "fail"]);
        assert!(
            failures(&[], &v)
                .unwrap()
                .contains("unknown parameter nope")
        );
        assert_eq!(failures(&[], &v[..1]), None);
    }
}

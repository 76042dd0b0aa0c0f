//! What each wildcard pattern of a task (`table_patterns = true`) matches
//! among the source tables today, for the plan to show: one E14 listing per
//! source database (paged, and shared by every task that reads it), at
//! instance level after one E13 listing of the instance's databases.

use crate::api::{ApiError, Client, Clients};
use crate::model::{Address, SyncLevel, TaskSpec, pattern};
use std::collections::{BTreeMap, BTreeSet};

/// One pattern of one task and the tables it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub address: Address,
    pub pattern: String,
    /// Where the tables were looked up: the database, or the databases of an
    /// instance-level task (whose table names are `DATABASE.TABLE`).
    pub source: String,
    pub matched: Vec<String>,
}

/// Source tables by (HTAP instance, source instance, database), each listed once.
#[derive(Default)]
pub struct SourceTables {
    listed: BTreeMap<(String, String, String), Vec<String>>,
    databases: BTreeMap<(String, String), Vec<String>>,
}

impl SourceTables {
    /// The tables `spec` can replicate: those of its database, or at instance
    /// level of each of its databases, named `DATABASE.TABLE`.
    pub async fn of(&mut self, client: &Client, spec: &TaskSpec) -> Result<Vec<String>, ApiError> {
        let instance = (spec.instance_id.clone(), spec.source_instance_id.clone());
        let databases = match spec.named_databases() {
            Some(named) => named,
            None => match self.databases.get(&instance) {
                Some(all) => all.clone(),
                None => {
                    let all = client
                        .source_database_names(&instance.0, &instance.1)
                        .await?;
                    self.databases.insert(instance.clone(), all.clone());
                    all
                }
            },
        };
        let mut tables = Vec::new();
        for database in databases {
            let key = (instance.0.clone(), instance.1.clone(), database.clone());
            if !self.listed.contains_key(&key) {
                let names = client
                    .source_table_names(&instance.0, &instance.1, &database)
                    .await?;
                self.listed.insert(key.clone(), names);
            }
            let names = &self.listed[&key];
            match spec.sync_level {
                SyncLevel::Database => tables.extend(names.iter().cloned()),
                SyncLevel::Instance => {
                    tables.extend(names.iter().map(|t| format!("{database}.{t}")))
                }
            }
        }
        Ok(tables)
    }
}

/// The patterns of `spec` (its `tables` entries and `table_configs` keys
/// that hold a wildcard), each once, in order.
pub fn patterns(spec: &TaskSpec) -> Vec<&str> {
    if !spec.table_patterns {
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    spec.tables
        .iter()
        .chain(spec.table_configs.keys())
        .map(String::as_str)
        .filter(|name| pattern::is_pattern(name) && seen.insert(*name))
        .collect()
}

/// What each pattern of each of `specs` matches today.
pub async fn expand(clients: &Clients, specs: &[&TaskSpec]) -> Result<Vec<Expansion>, ApiError> {
    let mut sources = SourceTables::default();
    let mut out = Vec::new();
    for spec in specs {
        let patterns = patterns(spec);
        if patterns.is_empty() {
            continue;
        }
        let tables = sources.of(clients.of(spec)?, spec).await?;
        for p in patterns {
            out.push(Expansion {
                address: spec.address(),
                pattern: p.to_string(),
                source: spec.source_database_name.clone(),
                matched: pattern::expand(p, &tables).into_iter().cloned().collect(),
            });
        }
    }
    Ok(out)
}

impl Expansion {
    /// One line for the plan: the count and the first and last tables matched.
    pub fn describe(&self) -> String {
        const SHOWN: usize = 4;
        let list = match self.matched.as_slice() {
            [] => String::new(),
            few if few.len() <= SHOWN + 1 => format!(": {}", few.join(", ")),
            many => format!(": {}, … {}", many[..SHOWN].join(", "), many[many.len() - 1]),
        };
        let count = self.matched.len();
        format!(
            "{}: pattern {:?} matches {count} table{} of {}{list}",
            self.address,
            self.pattern,
            if count == 1 { "" } else { "s" },
            self.source
        )
    }

    /// The warning of a pattern that matches nothing today.
    pub fn nothing_matched(&self) -> Option<String> {
        self.matched.is_empty().then(|| {
            format!(
                "{}: pattern {:?} matches no table of {} today; the task replicates \
                 what it matches once such tables exist",
                self.address, self.pattern, self.source
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expansion(matched: usize) -> Expansion {
        Expansion {
            address: Address::task("t"),
            pattern: "orders_*".into(),
            source: "shop".into(),
            matched: (0..matched).map(|i| format!("orders_{i:03}")).collect(),
        }
    }

    #[test]
    fn lines_show_the_count_and_the_ends_of_the_list() {
        assert_eq!(
            expansion(256).describe(),
            "task.t: pattern \"orders_*\" matches 256 tables of shop: orders_000, orders_001, orders_002, orders_003, … orders_255"
        );
        assert_eq!(
            expansion(1).describe(),
            "task.t: pattern \"orders_*\" matches 1 table of shop: orders_000"
        );
        // Up to five are listed whole (the shortened form would hide none).
        assert!(expansion(5).describe().ends_with("orders_003, orders_004"));
        assert!(
            expansion(6)
                .describe()
                .ends_with("orders_003, … orders_005")
        );
        assert!(expansion(0).nothing_matched().is_some());
        assert!(expansion(2).nothing_matched().is_none());
    }

    #[test]
    fn patterns_are_the_wildcard_entries_and_keys_once() {
        let mut spec = TaskSpec::sample("t");
        spec.tables = vec!["orders".into(), "orders_*".into()];
        spec.table_configs = [
            ("orders_*".to_string(), "order by id".to_string()),
            ("items_?".to_string(), "order by id".to_string()),
        ]
        .into();
        assert!(patterns(&spec).is_empty(), "only with table_patterns");
        spec.table_patterns = true;
        assert_eq!(patterns(&spec), ["orders_*", "items_?"]);
    }
}

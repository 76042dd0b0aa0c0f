//! The `TaskSpec` fixture builder: a valid task, changed only where a test
//! cares, so that a new task field is added here once and not in every test.

use super::{HTAP, SRC};
use htapsync::model::{ReplScope, ReplType, TaskSpec};

/// A task on [`HTAP`] replicating `shop.orders` from [`SRC`] into `shop`
/// (include tables, part scope, no node, no configs, running).
pub fn spec(name: &str) -> SpecBuilder {
    SpecBuilder(TaskSpec {
        name: name.to_string(),
        cloud_name: None,
        provider: None,
        instance_id: HTAP.into(),
        source_instance_id: SRC.into(),
        source_node_id: None,
        sync_level: Default::default(),
        database_scope: None,
        table_patterns: false,
        source_database_name: "shop".into(),
        target_database_name: "shop".into(),
        repl_type: ReplType::IncludeTables,
        repl_scope: ReplScope::Part,
        tables: vec!["orders".into()],
        db_configs: Default::default(),
        table_configs: Default::default(),
        paused: false,
    })
}

/// Built by [`spec`]; each setter replaces one attribute.
#[derive(Debug, Clone)]
pub struct SpecBuilder(TaskSpec);

impl SpecBuilder {
    pub fn instance(mut self, id: &str) -> Self {
        self.0.instance_id = id.into();
        self
    }

    pub fn source_instance(mut self, id: &str) -> Self {
        self.0.source_instance_id = id.into();
        self
    }

    pub fn source_node(mut self, id: Option<&str>) -> Self {
        self.0.source_node_id = id.map(str::to_string);
        self
    }

    pub fn source_database(mut self, name: &str) -> Self {
        self.0.source_database_name = name.into();
        self
    }

    pub fn target(mut self, name: &str) -> Self {
        self.0.target_database_name = name.into();
        self
    }

    pub fn repl_type(mut self, repl_type: ReplType) -> Self {
        self.0.repl_type = repl_type;
        self
    }

    pub fn scope(mut self, scope: ReplScope) -> Self {
        self.0.repl_scope = scope;
        self
    }

    /// The replicated tables, in this order (the config loader sorts them).
    pub fn tables<S: AsRef<str>>(mut self, tables: impl IntoIterator<Item = S>) -> Self {
        self.0.tables = tables.into_iter().map(|t| t.as_ref().to_string()).collect();
        self
    }

    /// All db_configs, replacing any set before.
    pub fn db_configs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        configs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.0.db_configs = pairs(configs);
        self
    }

    /// All table_configs, replacing any set before.
    pub fn table_configs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        configs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.0.table_configs = pairs(configs);
        self
    }

    pub fn paused(mut self, paused: bool) -> Self {
        self.0.paused = paused;
        self
    }

    pub fn build(self) -> TaskSpec {
        self.0
    }
}

impl From<SpecBuilder> for TaskSpec {
    fn from(builder: SpecBuilder) -> TaskSpec {
        builder.build()
    }
}

fn pairs<K: AsRef<str>, V: AsRef<str>>(
    items: impl IntoIterator<Item = (K, V)>,
) -> std::collections::BTreeMap<String, String> {
    items
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
        .collect()
}

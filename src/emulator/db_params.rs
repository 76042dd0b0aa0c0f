//! The db_configs parameters as the API reference documents them (§6 of
//! shared/api/htap-replication-api.md, E7's example response), copied from
//! the document and not taken from `model::DB_PARAMS`: the emulator judges
//! requests on its own, so a wrong range in the configuration loader's table
//! is caught by the test below that compares the two, instead of being agreed
//! by both sides. Ranges are kept in E7's `value_range` text and read from it.

/// One parameter as E7 lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentedParam {
    pub name: &'static str,
    /// `Integer`, or `String` for the true|false switches.
    pub data_type: &'static str,
    pub default_value: &'static str,
    /// `true|false` or `MIN-MAX`, as E7 prints it.
    pub value_range: &'static str,
    pub description: &'static str,
}

/// The documented table, in the document's order.
pub const DOCUMENTED_PARAMS: &[DocumentedParam] = &[
    DocumentedParam {
        name: "enable_chunk_level_dump",
        data_type: "String",
        default_value: "false",
        value_range: "true|false",
        description: "enable chunk (shard) level copy in full sync",
    },
    DocumentedParam {
        name: "snapshot_with_lock",
        data_type: "String",
        default_value: "true",
        value_range: "true|false",
        description: "take a lock when reading the full snapshot",
    },
    DocumentedParam {
        name: "sync_commit_interval_ms",
        data_type: "Integer",
        default_value: "5000",
        value_range: "1000-60000",
        description: "batch commit timeout; commit on timeout or full buffer",
    },
    DocumentedParam {
        name: "max_sync_commit_rows",
        data_type: "Integer",
        default_value: "500000",
        value_range: "500000-2000000",
        description: "max rows per commit",
    },
    DocumentedParam {
        name: "max_sync_commit_bytes",
        data_type: "Integer",
        default_value: "268435456",
        value_range: "10485760-1610612736",
        description: "max bytes per commit",
    },
    DocumentedParam {
        name: "max_full_sync_task_threads_num",
        data_type: "Integer",
        default_value: "1",
        value_range: "1-2",
        description: "full-sync thread count",
    },
    DocumentedParam {
        name: "max_rows_per_chunk",
        data_type: "Integer",
        default_value: "0",
        value_range: "0-1000000",
        description: "max rows per chunk",
    },
    DocumentedParam {
        name: "max_bytes_per_chunk",
        data_type: "Integer",
        default_value: "268435456",
        value_range: "33554432-1073741824",
        description: "max bytes per chunk",
    },
    DocumentedParam {
        name: "binlog_expire_logs_seconds",
        data_type: "Integer",
        default_value: "86400",
        value_range: "0-604800",
        description: "binlog retention, 0 = no limit; must be <= source MySQL retention",
    },
];

/// The parameters a sub-task shares with its main task, so E7 reports them
/// not modifiable (`is_modifiable: "false"`) when asked for the
/// add-sub-task scenario (`add_task_scenario=true&main_task_name=...`). The
/// API documents only that the scenario decides `is_modifiable`, not which
/// parameters; the emulator's choice: the binlog reader and its commit
/// batching are the main task's, the full copy (chunks, threads, snapshot
/// lock) is each sub-task's own.
pub const SHARED_WITH_MAIN_TASK: &[&str] = &[
    "sync_commit_interval_ms",
    "max_sync_commit_rows",
    "max_sync_commit_bytes",
    "binlog_expire_logs_seconds",
];

impl DocumentedParam {
    /// The documented parameter called `name`.
    pub fn lookup(name: &str) -> Option<&'static DocumentedParam> {
        DOCUMENTED_PARAMS.iter().find(|p| p.name == name)
    }

    /// Whether `value` lies in `value_range`: one of the `|`-separated words,
    /// or for an `Integer` an integer from MIN to MAX inclusive.
    pub fn accepts(&self, value: &str) -> bool {
        match self.integer_range() {
            Some((min, max)) => value.parse::<i64>().is_ok_and(|v| (min..=max).contains(&v)),
            None => self.value_range.split('|').any(|allowed| allowed == value),
        }
    }

    fn integer_range(&self) -> Option<(i64, i64)> {
        if self.data_type != "Integer" {
            return None;
        }
        let (min, max) = self.value_range.split_once('-')?;
        Some((min.parse().ok()?, max.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DB_PARAMS, DbParamKind};

    #[test]
    fn the_loaders_table_agrees_with_the_documented_one() {
        let documented: Vec<_> = DOCUMENTED_PARAMS.iter().map(|p| p.name).collect();
        let loader: Vec<_> = DB_PARAMS.iter().map(|p| p.name).collect();
        assert_eq!(loader, documented, "same parameters, in the same order");
        for p in DB_PARAMS {
            let doc = DocumentedParam::lookup(p.name).unwrap();
            assert_eq!(p.default, doc.default_value, "default of {}", p.name);
            assert_eq!(p.value_range(), doc.value_range, "range of {}", p.name);
            let data_type = match p.kind {
                DbParamKind::Bool => "String",
                DbParamKind::Integer { .. } => "Integer",
            };
            assert_eq!(data_type, doc.data_type, "type of {}", p.name);
            // And both judge the edges alike.
            if let DbParamKind::Integer { min, max } = p.kind {
                for v in [min - 1, min, max, max + 1] {
                    let v = v.to_string();
                    assert_eq!(p.accepts(&v), doc.accepts(&v), "{} = {v}", p.name);
                }
            }
        }
    }

    #[test]
    fn values_are_judged_against_the_documented_range() {
        let interval = DocumentedParam::lookup("sync_commit_interval_ms").unwrap();
        assert!(interval.accepts("1000") && interval.accepts("60000"));
        for bad in ["999", "60001", "5s", "", "true"] {
            assert!(!interval.accepts(bad), "{bad}");
        }
        let lock = DocumentedParam::lookup("snapshot_with_lock").unwrap();
        assert!(lock.accepts("true") && lock.accepts("false"));
        assert!(!lock.accepts("TRUE") && !lock.accepts("1"));
        assert!(DocumentedParam::lookup("enable_snapshots").is_none());
    }
}

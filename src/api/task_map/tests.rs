//! The request and its inverse against the registry, and against each other.

use super::*;
use crate::api::wire::{DatabaseInfo, DbConfigCheckResult, TableConfigCheckResult};
use crate::model::fields::spec_fields;
use crate::model::{DB_PARAMS, DbParam, ReplScope, ReplType};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn row(stage: &str) -> ReplicationInfo {
    ReplicationInfo {
        task_name: "t".into(),
        stage: stage.into(),
        ..Default::default()
    }
}

/// A spec in which every optional attribute is set, so every wire path has a value.
fn full_spec() -> TaskSpec {
    TaskSpec {
        source_node_id: Some("node".into()),
        target_database_name: "shop_olap".into(),
        db_configs: [("max_sync_commit_rows".to_string(), "600000".to_string())].into(),
        table_configs: [("orders".to_string(), "order by id".to_string())].into(),
        sync_level: crate::model::SyncLevel::Instance,
        database_scope: Some(ReplScope::Part),
        source_database_name: "shop,billing".into(),
        table_patterns: true,
        ..TaskSpec::sample("t")
    }
}

/// The value at a dotted JSON path, `Null` when any step is missing.
fn at<'a>(json: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .try_fold(json, |value, key| value.get(key))
        .unwrap_or(&Value::Null)
}

/// What an emulated cloud keeps of a registered task and reports back: the
/// E5 configuration (built from the request the way the emulator builds it,
/// every replicated table listed, those without a config with an empty one)
/// and the E4 row with the stage of the wanted run state.
fn cloud_rows(
    req: &TaskConfigRequest,
    paused: bool,
) -> (ReplicationConfigResponse, ReplicationInfo) {
    let repl = req.table_repl_config.clone().unwrap_or_default();
    let configs: BTreeMap<String, String> = req
        .tables_configs
        .iter()
        .flatten()
        .map(|t| (t.table_name.clone(), t.table_config.clone()))
        .collect();
    let mut table_infos: BTreeMap<String, String> = repl
        .tables
        .iter()
        .map(|t| (t.clone(), String::new()))
        .collect();
    table_infos.extend(configs);
    let cfg = ReplicationConfigResponse {
        source_instance_id: req.source_instance_id.clone().unwrap_or_default(),
        source_node_id: req.source_node_id.clone().unwrap_or_default(),
        database_info: DatabaseInfo {
            database_name: req.source_database_name.clone().unwrap_or_default(),
            db_config_check_results: req
                .db_configs
                .iter()
                .flatten()
                .map(|c| DbConfigCheckResult {
                    param_name: c.param_name.clone(),
                    value: c.value.clone(),
                    check_result: "success".into(),
                })
                .collect(),
        },
        table_infos: table_infos
            .into_iter()
            .map(|(table_name, table_config)| TableConfigCheckResult {
                table_name,
                table_config,
                check_result: "success".into(),
            })
            .collect(),
        table_repl_config: repl,
        target_database_name: req.target_database_name.clone().unwrap_or_default(),
        is_instance_level_sync: req.is_instance_level_sync.clone(),
        database_repl_scope: req.database_repl_scope.clone(),
        is_support_reg_exp: req.is_support_reg_exp.clone(),
        ..Default::default()
    };
    (cfg, row(if paused { "Paused" } else { "Incremental" }))
}

#[test]
fn a_stage_that_does_not_say_keeps_the_recorded_run_state() {
    let cfg = ReplicationConfigResponse::default();
    for recorded_paused in [false, true] {
        let recorded = TaskSpec {
            paused: recorded_paused,
            ..TaskSpec::sample("t")
        };
        for stage in ["Wait", "Cancelled", "Unheard"] {
            let live = spec_from_cloud(&recorded, &cfg, &row(stage));
            assert_eq!(live.paused, recorded_paused, "stage {stage}");
        }
        assert!(spec_from_cloud(&recorded, &cfg, &row("Paused")).paused);
        assert!(!spec_from_cloud(&recorded, &cfg, &row("Full")).paused);
    }
}

/// Each entry's `to_request` writes its value at its `request` paths and
/// nowhere else, and the body holds nothing but the entries' parts and the name.
#[test]
fn each_field_writes_the_request_where_the_registry_says_and_nothing_else() {
    let spec = full_spec();
    let mut claimed = vec!["task_name"];
    for field in TASK_FIELDS {
        let mut own = TaskConfigRequest::default();
        (super::wire(field).to_request)(&spec, &mut own);
        let body = serde_json::to_value(own).unwrap();
        let heads: Vec<&str> = field
            .request
            .iter()
            .map(|path| path.split('.').next().unwrap_or(path))
            .collect();
        for path in field.request {
            assert!(
                !at(&body, path).is_null(),
                "{}: nothing at {path} in {body}",
                field.key
            );
        }
        for key in body.as_object().unwrap().keys() {
            assert!(
                heads.contains(&key.as_str()),
                "{} writes `{key}`, which its `request` paths do not name",
                field.key
            );
        }
        claimed.extend(heads);
    }
    let body = serde_json::to_value(task_request(&spec)).unwrap();
    for key in body.as_object().unwrap().keys() {
        assert!(
            claimed.contains(&key.as_str()),
            "the request sends `{key}`, which no registry field names"
        );
    }
}

#[test]
fn the_cloud_reports_each_field_where_the_registry_says() {
    let (cfg, _) = cloud_rows(&task_request(&full_spec()), false);
    let body = serde_json::to_value(&cfg).unwrap();
    for field in TASK_FIELDS {
        for path in field.response {
            let value = at(&body, path);
            let empty =
                value.is_null() || value == "" || value.as_array().is_some_and(Vec::is_empty);
            assert!(!empty, "{}: nothing at {path} in {body}", field.key);
        }
    }
}

fn any_spec() -> impl Strategy<Value = TaskSpec> {
    let names: Vec<&str> = DB_PARAMS.iter().map(|p| p.name).collect();
    let text = "[a-z0-9_]{1,12}";
    (
        (text, text, proptest::option::of(text), text, text),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::collection::btree_set("[a-z]{1,6}", 0..4),
        proptest::collection::btree_map(
            proptest::sample::select(names),
            "true|false|0|1|5000|600000|268435456",
            0..4,
        ),
        proptest::collection::btree_map("[a-z]{1,6}", "[a-z ;]{1,10}", 0..3),
    )
        .prop_map(
            |(
                (instance, source, node, db, target),
                (exclude, all, paused),
                tables,
                db_configs,
                table_configs,
            )| {
                TaskSpec {
                    name: "t".into(),
                    cloud_name: None,
                    provider: None,
                    instance_id: instance,
                    source_instance_id: source,
                    source_node_id: node,
                    sync_level: if all && exclude {
                        crate::model::SyncLevel::Instance
                    } else {
                        crate::model::SyncLevel::Database
                    },
                    database_scope: (all && exclude).then_some(ReplScope::Part),
                    table_patterns: paused && !all,
                    source_database_name: db,
                    target_database_name: target,
                    repl_type: if exclude {
                        ReplType::ExcludeTables
                    } else {
                        ReplType::IncludeTables
                    },
                    repl_scope: if all { ReplScope::All } else { ReplScope::Part },
                    tables: tables.into_iter().collect(),
                    db_configs: db_configs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    table_configs: table_configs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    paused,
                }
            },
        )
}

proptest! {
    /// spec -> request -> what the cloud keeps and reports -> spec: import
    /// reads back every field the registry says it can, from nothing but
    /// the task's name and instance. (A db_config at its documented default
    /// reads back as unwritten, which means the same: see
    /// [`TaskSpec::db_configs_against`].)
    #[test]
    fn import_reads_back_what_was_sent(spec in any_spec()) {
        let (cfg, live) = cloud_rows(&task_request(&spec), spec.paused);
        let back = spec_from_cloud(&TaskSpec::found_on(&spec.name, &spec.instance_id), &cfg, &live);
        let mut expected = spec.clone();
        expected
            .db_configs
            .retain(|k, v| DbParam::lookup(k).is_none_or(|p| p.default != v));
        for field in spec_fields().filter(|f| f.importable) {
            let value = field.value.expect("spec field");
            prop_assert_eq!(value(&back), value(&expected), "{}", field.key);
        }
        prop_assert!(spec_fields().all(|f| f.importable), "a field import cannot read: compare the rest here");
        prop_assert_eq!(back, expected);
    }
}

/// The wire table and the registry name the same keys, in the same order, once each.
#[test]
fn every_registry_key_has_one_wire_mapping() {
    let wire: Vec<&str> = super::WIRE.iter().map(|w| w.key).collect();
    let registry: Vec<&str> = TASK_FIELDS.iter().map(|f| f.key).collect();
    assert_eq!(wire, registry);
}

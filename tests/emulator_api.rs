//! The emulator's API behaviour through its router (no socket): the seed page's
//! example, every check rule, the error codes, and the task lifecycle.

mod support;

use axum::http::StatusCode;
use htapsync::emulator::{Emulator, EmulatorConfig, app, load_cloud};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::router::*;

/// The seed page's example request, verbatim.
const SEED_REQUEST: &str = r#"{ "source_database_name" : "source_database_name", "target_database_name" : "target_database_name", "db_configs" : [ { "param_name" : "enable_chunk_level_dump", "value" : "false" }, { "param_name" : "snapshot_with_lock", "value" : "true" }, { "param_name" : "sync_commit_interval_ms", "value" : "5000" }, { "param_name" : "max_sync_commit_rows", "value" : "500000" }, { "param_name" : "max_sync_commit_bytes", "value" : "268435456" }, { "param_name" : "max_full_sync_task_threads_num", "value" : "1" }, { "param_name" : "max_rows_per_chunk", "value" : "0" }, { "param_name" : "max_bytes_per_chunk", "value" : "268435456" }, { "param_name" : "binlog_expire_logs_seconds", "value" : "0" } ], "table_repl_config" : { "repl_type" : "include_tables", "repl_scope" : "all", "tables" : [ ] }, "tables_configs" : { "table_name" : "tableName", "table_config" : "tableConfig" }, "source_instance_id" : "source_instance_id", "is_create_task" : "true", "source_node_id" : "source_node_id" }"#;

/// The seed page's example 200 response, verbatim.
const SEED_RESPONSE: &str = r#"{ "source_database_name" : "source_database_name", "target_database_name" : "", "task_name" : "task", "tbl_config_check_results" : [ { "table_name" : "table", "table_config" : "order by id", "check_result" : "success" } ] }"#;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn verdicts(body: &Value) -> Vec<(String, String, String)> {
    body["tbl_config_check_results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|r| {
            (
                r["table_name"].as_str().unwrap_or_default().to_string(),
                r["table_config"].as_str().unwrap_or_default().to_string(),
                r["check_result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn v(t: &str, c: &str, r: &str) -> (String, String, String) {
    (t.into(), c.into(), r.into())
}

#[tokio::test]
async fn seed_example_request_gets_a_seed_shaped_response() {
    let emu = Emulator::new(EmulatorConfig::new(
        load_cloud(&fixture("seed.toml")).unwrap(),
    ))
    .unwrap();
    let app = app(emu.clone());
    let body: Value = serde_json::from_str(SEED_REQUEST).unwrap();
    let uri =
        "/v3/project_id/instances/instance_id/starrocks/databases/replication/table-config-check";
    let r = call(&app, "POST", uri, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seed: Value = serde_json::from_str(SEED_RESPONSE).unwrap();
    assert_eq!(keys(&r.body), keys(&seed));
    let seed_row = &seed["tbl_config_check_results"][0];
    for row in r.body["tbl_config_check_results"].as_array().unwrap() {
        assert_eq!(keys(row), keys(seed_row));
    }
    assert_eq!(r.body["source_database_name"], "source_database_name");
    assert_eq!(r.body["target_database_name"], "target_database_name");
    assert_eq!(
        verdicts(&r.body),
        vec![
            v("table", "", "success"),
            v("tableName", "tableConfig", "failed")
        ]
    );
    // A failed table means nothing was registered.
    assert!(emu.stats().creates_per_task.is_empty());
}

#[tokio::test]
async fn every_table_check_rule() {
    let (emu, app) = shop_app();
    let body = check_body(
        "shop_sync",
        "include_tables",
        "part",
        &[
            "customers",
            "orders",
            "order_items",
            "coupon_codes",
            "audit_log",
            "ghost",
        ],
        &[
            ("customers", "order by email;key columns id"),
            ("orders", "order by placed_on"),
            ("order_items", "sort by order_id"),
            (
                "audit_log",
                "order by happened_at;distributed by hash(actor) buckets 4",
            ),
            ("products", "order by sku"),
        ],
        true,
    );
    let r = call(&app, "POST", &repl("/table-config-check"), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        verdicts(&r.body),
        vec![
            v("customers", "order by email;key columns id", "success"),
            v("orders", "order by placed_on", "failed"), // no such column
            v("order_items", "sort by order_id", "failed"), // does not parse
            v("coupon_codes", "", "failed"),             // primary key up to 256 bytes
            v(
                "audit_log",
                "order by happened_at;distributed by hash(actor) buckets 4",
                "success"
            ),
            v("ghost", "", "failed"),                // not in the database
            v("products", "order by sku", "failed"), // outside the scope
        ]
    );
    assert_eq!(r.body["task_name"], "shop_sync");
    assert_eq!(r.body["source_database_name"], "shop");
    assert_eq!(r.body["target_database_name"], "shop_ap");
    assert!(
        emu.stats().creates_per_task.is_empty(),
        "failed check must not register"
    );
    assert!(list_row(&app, "shop_sync").await.is_none());
}

#[tokio::test]
async fn passing_check_with_create_registers_once() {
    let (emu, app) = shop_app();
    let body = check_body(
        "shop_sync",
        "exclude_tables",
        "all",
        &["coupon_codes"],
        &[("orders", "order by created_at")],
        true,
    );
    let r = call(
        &app,
        "POST",
        &repl("/table-config-check"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let names: Vec<String> = verdicts(&r.body)
        .into_iter()
        .map(|(t, _, res)| {
            assert_eq!(res, "success");
            t
        })
        .collect();
    assert_eq!(
        names,
        vec![
            "audit_log",
            "customers",
            "order_items",
            "orders",
            "products"
        ]
    );

    let list = call(&app, "GET", &repl("?limit=10&offset=0"), None).await;
    assert_eq!(
        list.body["total_count"], "1",
        "total_count is the schema's string"
    );
    let row = &list.body["replications"][0];
    assert_eq!(
        (
            &row["task_name"],
            &row["status"],
            &row["stage"],
            &row["percentage"]
        ),
        (
            &json!("shop_sync"),
            &json!("Yes"),
            &json!("Wait"),
            &json!("0")
        )
    );
    assert_eq!(
        (&row["source_database"], &row["target_database"]),
        (&json!("shop"), &json!("shop_ap"))
    );

    let again = call(&app, "POST", &repl("/table-config-check"), Some(body)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error().0, "DBS.280239");
    assert_eq!(emu.stats().creates_per_task.get("shop_sync"), Some(&1));

    // A check without is_create_task registers nothing, even for a new name.
    let dry = check_body("other_task", "include_tables", "all", &[], &[], false);
    assert_eq!(
        call(&app, "POST", &repl("/table-config-check"), Some(dry))
            .await
            .status,
        StatusCode::OK
    );
    assert!(list_row(&app, "other_task").await.is_none());
}

#[tokio::test]
async fn database_config_check_verdicts_and_registration() {
    let (emu, app) = shop_app();
    let mut body = json!({
        "source_instance_id": SRC,
        "source_database_name": "crm",
        "task_name": "crm_sync",
        "db_configs": [
            {"param_name": "sync_commit_interval_ms", "value": "5000"},
            {"param_name": "sync_commit_interval_ms", "value": "999"},
            {"param_name": "snapshot_with_lock", "value": "yes"},
            {"param_name": "no_such_param", "value": "1"}
        ],
        "table_repl_config": {"repl_type": "include_tables", "repl_scope": "all", "tables": []}
    });
    let r = call(
        &app,
        "POST",
        &repl("/database-config-check"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results: Vec<&str> = r.body["source_db_config_check_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["check_result"].as_str().unwrap())
        .collect();
    assert_eq!(results, vec!["success", "fail", "fail", "fail"]);
    assert_eq!(r.body["target_db_config_check_results"], json!([]));
    assert_eq!(
        (&r.body["task_name"], &r.body["source_database_name"]),
        (&json!("crm_sync"), &json!("crm"))
    );
    assert!(
        emu.stats().creates_per_task.is_empty(),
        "a failing db_config must not register"
    );

    body["db_configs"] = json!([{"param_name": "binlog_expire_logs_seconds", "value": "86400"}]);
    let ok = call(&app, "POST", &repl("/database-config-check"), Some(body)).await;
    assert_eq!(
        ok.body["source_db_config_check_results"][0]["check_result"],
        "success"
    );
    assert_eq!(emu.stats().creates_per_task.get("crm_sync"), Some(&1));
    let cfg = call(
        &app,
        "GET",
        &repl("/configuration?task_name=crm_sync"),
        None,
    )
    .await;
    assert_eq!(cfg.status, StatusCode::OK, "{}", cfg.body);
    assert_eq!(cfg.body["database_info"]["database_name"], "crm");
    assert_eq!(
        cfg.body["database_info"]["db_config_check_results"][0]["param_name"],
        "binlog_expire_logs_seconds"
    );
    assert_eq!(
        cfg.body["target_database_name"], "crm",
        "target defaults to the source name"
    );
    assert_eq!(cfg.body["is_tables_change"], false);
    assert_eq!(cfg.body["last_error_of_alter_table"], "");
    assert_eq!(cfg.body["table_infos"][0]["table_name"], "contacts");
    let by_db = call(&app, "GET", &repl("/configuration/crm"), None).await;
    assert_eq!(by_db.body, cfg.body);
}

#[tokio::test]
async fn documented_error_codes() {
    let (_, app) = shop_app();
    let expect = |r: Reply, status: StatusCode, code: &str| {
        assert_eq!((r.status, r.error().0), (status, code), "{}", r.body);
        assert!(r.headers.contains_key("x-request-id"));
        assert!(!r.error().1.is_empty());
    };
    let bad = StatusCode::BAD_REQUEST;
    let other_instance = format!(
        "/v3/{PROJECT}/instances/ffffffffffffffffffffffffffffffffin17/starrocks/databases/replication"
    );
    let r = call(&app, "GET", &other_instance, None).await;
    assert_eq!(
        r.body,
        json!({"error_code": "DBS.200022", "error_msg": "Instance not found."})
    );
    let other_project = repl("").replace(PROJECT, "11111111111111111111111111111111");
    expect(
        call(&app, "GET", &other_project, None).await,
        bad,
        "DBS.200022",
    );

    let mut body = check_body("t_err", "include_tables", "all", &[], &[], false);
    body["source_instance_id"] = json!("nonexistent00000000000000000000in07");
    expect(
        call(
            &app,
            "POST",
            &repl("/table-config-check"),
            Some(body.clone()),
        )
        .await,
        bad,
        "DBS.200022",
    );
    body["source_instance_id"] = json!(SRC);
    body["source_database_name"] = json!("warehouse");
    expect(
        call(
            &app,
            "POST",
            &repl("/table-config-check"),
            Some(body.clone()),
        )
        .await,
        bad,
        "DBS.280238",
    );
    body["source_database_name"] = json!("shop");
    body["source_node_id"] = json!("not_a_node");
    expect(
        call(
            &app,
            "POST",
            &repl("/table-config-check"),
            Some(body.clone()),
        )
        .await,
        bad,
        "DBS.280001",
    );
    body["source_node_id"] = json!(NODE);
    body["db_configs"] = json!([{"param_name": "max_full_sync_task_threads_num", "value": "4"}]);
    expect(
        call(
            &app,
            "POST",
            &repl("/table-config-check"),
            Some(body.clone()),
        )
        .await,
        bad,
        "DBS.280240",
    );

    for (field, value) in [
        ("task_name", json!("ab")),
        ("task_name", json!("bad-name")),
        ("is_create_task", json!("yes")),
    ] {
        let mut b = check_body("t_err", "include_tables", "all", &[], &[], false);
        b[field] = value;
        let r = call(&app, "POST", &repl("/table-config-check"), Some(b)).await;
        assert!(r.error().1.contains(field), "{}", r.body);
        expect(r, bad, "DBS.280001");
    }
    let mut b = check_body("t_err", "include_tables", "all", &[], &[], false);
    b["table_repl_config"]["repl_type"] = json!("whitelist");
    expect(
        call(&app, "POST", &repl("/table-config-check"), Some(b)).await,
        bad,
        "DBS.280001",
    );
    expect(
        call(&app, "POST", &repl("/table-config-check"), None).await,
        bad,
        "DBS.280001",
    );

    let name = Some(json!({"task_name": "missing_task"}));
    expect(
        call(
            &app,
            "GET",
            &repl("/configuration?task_name=missing_task"),
            None,
        )
        .await,
        bad,
        "DBS.270022",
    );
    expect(
        call(&app, "GET", &repl("/configuration/missing_db"), None).await,
        bad,
        "DBS.270022",
    );
    expect(
        call(&app, "DELETE", &repl(""), name.clone()).await,
        bad,
        "DBS.05000091",
    );
    expect(
        call(&app, "POST", &repl("/pause"), name.clone()).await,
        bad,
        "DBS.270022",
    );
    expect(
        call(&app, "POST", &repl("/resume"), name.clone()).await,
        bad,
        "DBS.270022",
    );
    expect(call(&app, "PUT", &repl(""), name).await, bad, "DBS.270022");
    let start = json!({"source_instance_id": SRC, "source_database": "shop", "target_database": "shop", "task_name": "missing_task"});
    expect(
        call(&app, "POST", &repl(""), Some(start)).await,
        bad,
        "DBS.270022",
    );
    expect(
        call(
            &app,
            "GET",
            &format!("/v3/{PROJECT}/jobs?id=no-such-job"),
            None,
        )
        .await,
        bad,
        "DBS.280242",
    );
    expect(
        call(&app, "GET", &format!("/v3/{PROJECT}/nothing/here"), None).await,
        StatusCode::NOT_FOUND,
        "APIGW.0101",
    );
}

#[tokio::test]
async fn full_lifecycle_through_jobs_and_list() {
    let (emu, app) = shop_app();
    let create = check_body(
        "shop_sync",
        "include_tables",
        "part",
        &["customers", "orders"],
        &[("orders", "order by id")],
        true,
    );
    assert_eq!(
        call(&app, "POST", &repl("/table-config-check"), Some(create))
            .await
            .status,
        StatusCode::OK
    );
    wait_stage(&app, "shop_sync", "Wait").await;

    let start = json!({"source_instance_id": SRC, "source_node_id": NODE, "source_database": "shop", "target_database": "shop_ap", "task_name": "shop_sync"});
    let r = call(&app, "POST", &repl(""), Some(start.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let job = wait_job(&app, r.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["job"]["instance"]["id"], HTAP);
    assert!(job["job"]["ended"].as_str().unwrap().ends_with("+0000"));
    let full = wait_stage(&app, "shop_sync", "Full").await;
    assert_ne!(full["percentage"], "0");
    assert_eq!(
        wait_stage(&app, "shop_sync", "Incremental").await["percentage"],
        "100"
    );
    let again = call(&app, "POST", &repl(""), Some(start)).await;
    assert_eq!(again.error().0, "DBS.280302");

    let task = Some(json!({"task_name": "shop_sync"}));
    let r = call(&app, "POST", &repl("/resume"), task.clone()).await;
    assert_eq!(r.error().0, "DBS.280304", "resume of a running task");
    let r = call(&app, "POST", &repl("/pause"), task.clone()).await;
    wait_job(&app, r.body["job_id"].as_str().unwrap()).await;
    wait_stage(&app, "shop_sync", "Paused").await;
    let r = call(&app, "POST", &repl("/resume"), task.clone()).await;
    wait_job(&app, r.body["job_id"].as_str().unwrap()).await;
    wait_stage(&app, "shop_sync", "Incremental").await;

    let mut modify = check_body(
        "shop_sync",
        "include_tables",
        "part",
        &["customers", "orders", "products"],
        &[("products", "order by title")],
        false,
    );
    modify.as_object_mut().unwrap().remove("is_create_task");
    let r = call(&app, "PUT", &repl(""), Some(modify.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(verdicts(&r.body).len(), 3);
    assert_eq!(
        r.body["source_db_config_check_results"][0]["check_result"],
        "success"
    );
    wait_job(&app, r.body["job_id"].as_str().unwrap()).await;
    let cfg = call(
        &app,
        "GET",
        &repl("/configuration?task_name=shop_sync"),
        None,
    )
    .await;
    assert_eq!(
        cfg.body["table_repl_config"]["tables"],
        json!(["customers", "orders", "products"])
    );

    modify["tables_configs"] =
        json!([{"table_name": "products", "table_config": "order by colour"}]);
    let r = call(&app, "PUT", &repl(""), Some(modify)).await;
    assert_eq!(r.error().0, "DBS.280240");
    assert!(r.error().1.contains("colour"), "{}", r.body);
    let unchanged = call(
        &app,
        "GET",
        &repl("/configuration?task_name=shop_sync"),
        None,
    )
    .await;
    assert_eq!(unchanged.body, cfg.body, "a refused modify changes nothing");

    let r = call(&app, "DELETE", &repl(""), task.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    let busy = call(&app, "DELETE", &repl(""), task).await;
    assert_eq!(
        (busy.status, busy.error().0),
        (StatusCode::CONFLICT, "DBS.201014")
    );
    wait_job(&app, r.body["job_id"].as_str().unwrap()).await;
    poll("task gone", || async {
        list_row(&app, "shop_sync").await.is_none().then_some(())
    })
    .await;
    let s = emu.stats();
    assert_eq!(
        (s.starts, s.pauses, s.resumes, s.modifies, s.deletes),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(s.creates_per_task.get("shop_sync"), Some(&1));
}

#[tokio::test]
async fn parameter_and_database_listings() {
    let (_, app) = shop_app();
    let params = call(&app, "GET", &repl("/database-parameters"), None).await;
    let rows = params.body["db_parameters"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let interval = rows
        .iter()
        .find(|p| p["param_name"] == "sync_commit_interval_ms")
        .unwrap();
    assert_eq!(
        (&interval["data_type"], &interval["value_range"]),
        (&json!("Integer"), &json!("1000-60000"))
    );

    let create = check_body(
        "shop_sync",
        "include_tables",
        "part",
        &["customers"],
        &[],
        true,
    );
    call(&app, "POST", &repl("/table-config-check"), Some(create)).await;
    let dbs = format!("/v3/{PROJECT}/instances/{HTAP}/starrocks/databases?database_name=ap");
    let r = call(&app, "GET", &dbs, None).await;
    assert_eq!(
        (&r.body["databases"], &r.body["total_count"]),
        (&json!(["shop_ap"]), &json!(1))
    );
    assert!(r.body["timestamp"].as_u64().unwrap() > 1_700_000_000);

    let src_dbs = format!("/v3/{PROJECT}/instances/{HTAP}/htap/databases?limit=1");
    let r = call(
        &app,
        "POST",
        &src_dbs,
        Some(json!({"databases": [], "source_instance_id": SRC})),
    )
    .await;
    assert_eq!(
        (&r.body["databases"], &r.body["total_count"]),
        (&json!(["crm"]), &json!(2))
    );
    let r = call(
        &app,
        "POST",
        &src_dbs.replace("?limit=1", ""),
        Some(json!({"databases": ["sh"], "source_instance_id": SRC})),
    )
    .await;
    assert_eq!(r.body["databases"], json!(["shop"]));

    let tables = format!("/v3/{PROJECT}/instances/{HTAP}/htap/tables");
    let body = json!({
        "source_instance_id": SRC,
        "database_tables": [{"database": "shop", "tables": ["order"]}],
        "selected_tables": [{"database": "shop", "tables": ["orders"]}],
        "filter_type": "exclude_tables"
    });
    let r = call(&app, "POST", &tables, Some(body)).await;
    assert_eq!(
        (&r.body["tables"], &r.body["total_count"]),
        (&json!(["order_items"]), &json!(1))
    );
}

//! The real client against the real emulator over loopback HTTP: every
//! endpoint, both auth modes, error codes, throttling and injected faults.

use htapsync::api::wire::{
    DatabaseTables, DbConfig, SourceDatabasesRequest, SourceTablesRequest, Stage, StartRequest,
    TableReplConfig, TablesConfig, TaskConfigRequest,
};
use htapsync::api::{Client, ClientConfig, Credentials};
use htapsync::emulator::{self, AuthMode, Emulator, EmulatorConfig};
use secrecy::SecretString;
use std::time::Duration;

mod support;
use support::router::{quickstart_config, serve as start};
use support::{HTAP, PROJECT, SRC};

fn config() -> EmulatorConfig {
    EmulatorConfig {
        stage_step: Duration::from_millis(20),
        job_duration: Duration::from_millis(20),
        ..quickstart_config()
    }
}

fn client(url: &str, credentials: Credentials) -> Client {
    let mut cfg = ClientConfig::new(url, PROJECT, credentials);
    cfg.retry_base = Duration::from_millis(5);
    cfg.retry_cap = Duration::from_millis(50);
    // A cloud that always fails is retried this long, not the default minutes.
    cfg.retry_max_elapsed = Duration::from_secs(2);
    Client::new(cfg).unwrap()
}

fn token() -> Credentials {
    Credentials::Token(SecretString::from("test-token"))
}

fn task(name: &str, tables: &[&str], configs: &[(&str, &str)]) -> TaskConfigRequest {
    TaskConfigRequest {
        source_instance_id: Some(SRC.into()),
        source_database_name: Some("shop".into()),
        target_database_name: Some("shop_olap".into()),
        task_name: Some(name.into()),
        db_configs: Some(vec![DbConfig {
            param_name: "sync_commit_interval_ms".into(),
            value: "5000".into(),
        }]),
        tables_configs: Some(
            configs
                .iter()
                .map(|(t, c)| TablesConfig {
                    table_name: t.to_string(),
                    table_config: c.to_string(),
                })
                .collect(),
        ),
        table_repl_config: Some(TableReplConfig {
            repl_type: Some("include_tables".into()),
            repl_scope: Some("part".into()),
            tables: tables.iter().map(|t| t.to_string()).collect(),
        }),
        ..Default::default()
    }
}

const LONG: Duration = Duration::from_secs(10);

#[tokio::test]
async fn full_lifecycle_over_http() {
    let emu = start(config()).await;
    let c = client(&emu.url(), token());

    // E2 check, then register.
    let mut req = task(
        "orders_sync",
        &["orders", "order_items"],
        &[("orders", "order by id")],
    );
    req.is_create_task = Some("false".into());
    let resp = c.check_tables(HTAP, &req).await.unwrap();
    assert_eq!(resp.task_name, "orders_sync");
    assert!(
        resp.tbl_config_check_results.iter().all(|r| r.passed()),
        "{resp:?}"
    );
    assert!(
        c.list_tasks(HTAP).await.unwrap().is_empty(),
        "a check registers nothing"
    );
    req.is_create_task = Some("true".into());
    c.check_tables(HTAP, &req).await.unwrap();
    let rows = c.list_tasks(HTAP).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(Stage::parse(&rows[0].stage), Some(Stage::Wait));

    // E1 (without the scope: a complete body would register the task).
    let mut db_only = req.clone();
    db_only.table_repl_config = None;
    let db = c.check_db_config(HTAP, &db_only).await.unwrap();
    assert!(
        db.source_db_config_check_results
            .iter()
            .chain(&db.target_db_config_check_results)
            .all(|r| r.passed())
    );

    // E3 start → running.
    let start = StartRequest {
        source_instance_id: SRC.into(),
        source_node_id: None,
        source_database: "shop".into(),
        target_database: "shop_olap".into(),
        task_name: "orders_sync".into(),
    };
    c.start(HTAP, &start).await.unwrap();
    let row = c
        .wait_task(
            HTAP,
            "orders_sync",
            |r| {
                r.and_then(|r| Stage::parse(&r.stage))
                    .is_some_and(Stage::is_running)
            },
            LONG,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "Yes");

    // E5 / E6 configuration.
    let cfg = c.task_config(HTAP, "orders_sync").await.unwrap();
    assert_eq!(cfg.target_database_name, "shop_olap");
    assert_eq!(cfg.source_instance_id, SRC);
    assert!(
        cfg.table_infos
            .iter()
            .any(|t| t.table_name == "orders" && t.table_config == "order by id")
    );
    let by_db = c.task_config_by_database(HTAP, "shop_olap").await.unwrap();
    assert_eq!(by_db.target_database_name, "shop_olap");

    // E7, E12, E13, E14.
    let params = c.db_parameters(HTAP).await.unwrap();
    assert!(
        params
            .iter()
            .any(|p| p.param_name == "max_sync_commit_rows" && p.value_range == "500000-2000000")
    );
    assert!(
        c.target_databases(HTAP)
            .await
            .unwrap()
            .contains(&"shop_olap".to_string())
    );
    let dbs = c
        .source_databases(
            HTAP,
            &SourceDatabasesRequest {
                databases: vec![],
                source_instance_id: SRC.into(),
            },
        )
        .await
        .unwrap();
    assert!(dbs.databases.contains(&"shop".to_string()));
    let tables = c
        .source_tables(
            HTAP,
            &SourceTablesRequest {
                source_instance_id: SRC.into(),
                database_tables: vec![DatabaseTables {
                    database: "shop".into(),
                    tables: vec![],
                }],
                selected_tables: vec![],
                filter_type: Some("include_tables".into()),
            },
        )
        .await
        .unwrap();
    assert!(
        tables.tables.iter().any(|t| t.contains("orders")),
        "{tables:?}"
    );

    // E8 modify → job (E15).
    let mut modify = task(
        "orders_sync",
        &["orders", "order_items"],
        &[("orders", "order by customer_id,id")],
    );
    modify.is_create_task = None;
    let m = c.modify(HTAP, &modify).await.unwrap();
    let job = c.wait_job(&m.job_id, LONG).await.unwrap();
    assert_eq!(job.status, "Completed");
    let cfg = c.task_config(HTAP, "orders_sync").await.unwrap();
    assert!(
        cfg.table_infos
            .iter()
            .any(|t| t.table_config == "order by customer_id,id")
    );

    // E9 pause / E10 resume.
    c.pause(HTAP, "orders_sync").await.unwrap();
    c.wait_task(
        HTAP,
        "orders_sync",
        |r| r.is_some_and(|r| Stage::parse(&r.stage) == Some(Stage::Paused)),
        LONG,
    )
    .await
    .unwrap();
    c.resume(HTAP, "orders_sync").await.unwrap();
    c.wait_task(
        HTAP,
        "orders_sync",
        |r| {
            r.and_then(|r| Stage::parse(&r.stage))
                .is_some_and(Stage::is_running)
        },
        LONG,
    )
    .await
    .unwrap();

    // E11 delete → gone; deleting again is the documented not-found.
    c.delete(HTAP, "orders_sync").await.unwrap();
    c.wait_task(HTAP, "orders_sync", |r| r.is_none(), LONG)
        .await
        .unwrap();
    let err = c.delete(HTAP, "orders_sync").await.unwrap_err();
    assert_eq!(err.code(), Some("DBS.05000091"));
    assert!(err.is_not_found());
    let err = c.task_config(HTAP, "orders_sync").await.unwrap_err();
    assert_eq!(err.code(), Some("DBS.270022"));
    emu.shutdown().await;
}

#[tokio::test]
async fn check_failures_and_unknown_instance() {
    let emu = start(config()).await;
    let c = client(&emu.url(), token());
    let mut req = task(
        "bad_task",
        &["orders", "refunds", "audit_log", "customers"],
        &[
            ("orders", "order by placed_at"),
            ("customers", "order by"),
            ("products", "order by id"),
        ],
    );
    req.is_create_task = Some("false".into());
    let resp = c.check_tables(HTAP, &req).await.unwrap();
    let verdict = |t: &str| {
        resp.tbl_config_check_results
            .iter()
            .find(|r| r.table_name == t)
            .map(|r| r.passed())
    };
    assert_eq!(verdict("orders"), Some(false), "unknown column");
    assert_eq!(verdict("refunds"), Some(false), "missing table");
    assert_eq!(
        verdict("audit_log"),
        Some(false),
        "primary key over 128 bytes"
    );
    assert_eq!(verdict("customers"), Some(false), "unparseable config");
    assert_eq!(
        verdict("products"),
        Some(false),
        "config for a table outside the scope"
    );
    req.is_create_task = Some("true".into());
    c.check_tables(HTAP, &req).await.unwrap();
    assert!(
        c.list_tasks(HTAP).await.unwrap().is_empty(),
        "failed checks register nothing"
    );

    let err = c
        .check_tables("00000000000000000000000000000000in17", &req)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DBS.200022"));
    assert_eq!(err.status, Some(400));
    assert!(err.to_string().contains("Instance not found."), "{err}");

    let mut bad = req.clone();
    bad.table_repl_config = None;
    bad.db_configs = Some(vec![DbConfig {
        param_name: "max_sync_commit_rows".into(),
        value: "5".into(),
    }]);
    let db = c.check_db_config(HTAP, &bad).await.unwrap();
    assert!(
        db.source_db_config_check_results
            .iter()
            .chain(&db.target_db_config_check_results)
            .any(|r| !r.passed())
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn auth_modes() {
    let mut cfg = config();
    cfg.auth = AuthMode::Token("right".into());
    let emu = start(cfg).await;
    let ok = client(&emu.url(), Credentials::Token(SecretString::from("right")));
    ok.list_tasks(HTAP).await.unwrap();
    let wrong = client(&emu.url(), Credentials::Token(SecretString::from("wrong")));
    let err = wrong.list_tasks(HTAP).await.unwrap_err();
    assert_eq!(err.status, Some(401));
    emu.shutdown().await;

    let mut cfg = config();
    cfg.auth = AuthMode::AkSk {
        ak: "AK123".into(),
        sk: "SK-secret".into(),
    };
    let emu = start(cfg).await;
    let signed = client(
        &emu.url(),
        Credentials::AkSk {
            ak: "AK123".into(),
            sk: SecretString::from("SK-secret"),
            security_token: None,
        },
    );
    signed.list_tasks(HTAP).await.unwrap();
    let mut req = task("signed_task", &["orders"], &[]);
    req.is_create_task = Some("false".into());
    signed.check_tables(HTAP, &req).await.unwrap();
    let bad = client(
        &emu.url(),
        Credentials::AkSk {
            ak: "AK123".into(),
            sk: SecretString::from("not-the-sk"),
            security_token: None,
        },
    );
    let err = bad.list_tasks(HTAP).await.unwrap_err();
    assert_eq!(err.status, Some(401));
    assert_eq!(err.code(), Some("APIGW.0301"));

    // No credentials at all: a raw request.
    let resp = reqwest::get(format!(
        "{}/v3/{PROJECT}/instances/{HTAP}/starrocks/databases/replication",
        emu.url()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    emu.shutdown().await;
}

#[tokio::test]
async fn throttling_and_errors_are_retried_then_reported() {
    let mut cfg = config();
    cfg.throttle_rate = 0.3;
    cfg.error_rate = 0.1;
    cfg.seed = 7;
    let emu = start(cfg).await;
    let c = client(&emu.url(), token());
    for _ in 0..10 {
        c.list_tasks(HTAP).await.unwrap();
    }
    let stats: serde_json::Value = reqwest::get(format!("{}/_emulator/stats", emu.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults = stats["throttled"].as_u64().unwrap() + stats["injected_errors"].as_u64().unwrap();
    assert!(faults > 0, "faults were injected and retried: {stats}");
    assert_eq!(stats["requests"].as_u64().unwrap(), 10 + faults, "{stats}");
    emu.shutdown().await;

    let mut cfg = config();
    cfg.throttle_rate = 1.0;
    let emu = start(cfg).await;
    let c = client(&emu.url(), token());
    let err = c.list_tasks(HTAP).await.unwrap_err();
    assert_eq!(
        (err.status, err.code()),
        (Some(429), Some("APIGW.0308")),
        "{err}"
    );
    assert!(err.attempts > 1, "throttling is retried: {err}");
    emu.shutdown().await;

    let mut cfg = config();
    cfg.error_rate = 1.0;
    let emu = start(cfg).await;
    let c = client(&emu.url(), token());
    let err = c.list_tasks(HTAP).await.unwrap_err();
    assert_eq!(err.status, Some(500));
    assert!(err.attempts > 1, "retried: {err}");
    emu.shutdown().await;
}

async fn register(c: &Client, names: std::ops::Range<usize>) {
    for i in names {
        let mut req = task(&format!("task_{i:03}"), &["orders"], &[]);
        req.target_database_name = Some(format!("olap_{i:03}"));
        req.is_create_task = Some("true".into());
        c.check_tables(HTAP, &req).await.unwrap();
    }
}

/// `find_task` reads the E4 page around where the row is likely first (where
/// it was last seen; for a task never seen, where new rows have been turning
/// up), then around the whole list: a row elsewhere is still found, and a
/// task that is not listed costs every page.
#[tokio::test]
async fn find_task_reads_the_likely_page_first() {
    let emu = Emulator::new(config()).unwrap();
    let running = emulator::spawn(emu.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let c = client(&running.url(), token());
    register(&c, 0..150).await;
    let requests_for = |name: &'static str| {
        let (c, emu) = (c.clone(), emu.clone());
        async move {
            let before = emu.stats().requests;
            let row = c.find_task(HTAP, name).await.unwrap();
            (row.map(|r| r.task_name), emu.stats().requests - before)
        }
    };
    // Nothing known yet: from the first page on, stopping at the row.
    assert_eq!(requests_for("task_000").await, (Some("task_000".into()), 1));
    assert_eq!(requests_for("task_149").await, (Some("task_149".into()), 2));
    // Seen before: straight to its page.
    assert_eq!(requests_for("task_149").await, (Some("task_149".into()), 1));
    // New rows turned up at the end, so a new task is looked for there first.
    register(&c, 150..152).await;
    assert_eq!(requests_for("task_151").await, (Some("task_151".into()), 1));
    // Not listed: the page around the end, then from the start up to it.
    assert_eq!(requests_for("missing_task").await, (None, 3));
    // Never seen and not where new rows turn up: found after wrapping around.
    assert_eq!(requests_for("task_001").await, (Some("task_001".into()), 2));
    // The page is centred on the hint, so a row that moved a little (a task
    // before it was deleted) is still found in one request.
    c.delete(HTAP, "task_000").await.unwrap();
    c.wait_task(HTAP, "task_000", |r| r.is_none(), LONG)
        .await
        .unwrap();
    assert_eq!(requests_for("task_149").await, (Some("task_149".into()), 1));
    running.shutdown().await;
}

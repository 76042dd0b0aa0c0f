//! The client reads every documented spelling of what the cloud answers:
//! `database_info` with the camelCase keys Huawei's Terraform provider reads
//! (`databaseName`, `dbCfgCheckResults`), alone or beside the snake_case
//! ones, and E13's own response type. The emulator answers in snake_case
//! only, so the camelCase answers come from a small fixture server on
//! 127.0.0.1:0.

mod support;

use axum::Json;
use axum::extract::Query;
use axum::routing::get;
use htapsync::api::wire::SourceDatabasesRequest;
use htapsync::api::{Client, ClientConfig, Credentials};
use htapsync::emulator::{Emulator, EmulatorConfig, load_cloud, spawn};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashMap;
use support::router::fixture;
use support::{HTAP, PROJECT, SRC};

/// E5 as a cloud that spells `database_info` the way `?form=` says.
async fn task_config(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let results =
        json!([{"param_name": "max_rows_per_chunk", "value": "1000", "check_result": "success"}]);
    let database_info = match q.get("task_name").map(String::as_str) {
        Some("camel") => json!({"databaseName": "shop", "dbCfgCheckResults": results}),
        // Both spellings at once, the snake_case ones empty (a cloud in transition).
        _ => json!({
            "database_name": "", "databaseName": "shop",
            "db_config_check_results": [], "dbCfgCheckResults": results,
        }),
    };
    Json(json!({
        "source_instance_id": SRC,
        "source_node_id": "",
        "database_info": database_info,
        "table_infos": [],
        "table_repl_config": {"repl_type": "include_tables", "repl_scope": "all", "tables": []},
        "new_table_repl_config": {},
        "target_database_name": "shop",
        "is_tables_change": false,
        "last_error_of_alter_table": "",
    }))
}

fn client(url: &str) -> Client {
    let creds = Credentials::Token(SecretString::from("any-token"));
    Client::new(ClientConfig::new(url, PROJECT, creds)).expect("client")
}

#[tokio::test]
async fn camel_case_database_info_is_read_alone_and_beside_snake_case() {
    let path =
        format!("/v3/{PROJECT}/instances/{HTAP}/starrocks/databases/replication/configuration");
    let app = axum::Router::new().route(&path, get(task_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = client(&url);
    for task in ["camel", "both"] {
        let cfg = client
            .task_config(HTAP, task)
            .await
            .unwrap_or_else(|e| panic!("{task}: {e}"));
        assert_eq!(cfg.database_info.database_name, "shop", "{task}");
        let results = &cfg.database_info.db_config_check_results;
        assert_eq!(results.len(), 1, "{task}");
        assert_eq!(
            (results[0].param_name.as_str(), results[0].value.as_str()),
            ("max_rows_per_chunk", "1000")
        );
    }
    server.abort();
}

#[tokio::test]
async fn client_reads_e13_from_the_emulator_with_its_own_type() {
    let cloud = load_cloud(&fixture("shop.toml")).expect("shop cloud");
    let emu = Emulator::new(EmulatorConfig::new(cloud)).expect("emulator");
    let server = spawn(emu, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("listens");
    let client = client(&server.url());
    let req = SourceDatabasesRequest {
        databases: vec!["cr".into()],
        source_instance_id: SRC.into(),
    };
    let page = client.source_databases(HTAP, &req).await.expect("E13");
    assert_eq!(page.databases, vec!["crm".to_string()]);
    assert_eq!(page.total_count, 1);
    assert!(page.timestamp > 0);
    server.shutdown().await;
}

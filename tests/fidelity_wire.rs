//! Fidelity of the emulator's wire to the API reference, over real HTTP:
//! the gaps found by driving the emulator with Huawei's SDK (E14 paging, E7's
//! sub-task scenario, E13's own response, E5's `new_table_repl_config`,
//! E15's `entities`, `X-Language: zh-cn`) and unknown request fields, which
//! the emulator refuses instead of dropping.

mod support;

use htapsync::emulator::{Emulator, EmulatorConfig, Running, load_cloud, spawn};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::router::fixture;
use support::{HTAP, PROJECT, SRC};

/// The shop cloud served on a loopback socket, and an HTTP client of it.
struct Cloud {
    server: Running,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn error(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error_code"], code, "{}", self.body);
        self.body["error_msg"]
            .as_str()
            .expect("error_msg is a string")
    }

    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body
    }
}

impl Cloud {
    async fn shop() -> Cloud {
        let cloud = load_cloud(&fixture("shop.toml")).expect("shop cloud");
        // reqwest is built without a default TLS crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emu = Emulator::new(EmulatorConfig::new(cloud)).expect("emulator");
        let server = spawn(emu, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("listens");
        Cloud {
            server,
            http: reqwest::Client::new(),
        }
    }

    /// `METHOD /v3/{PROJECT}/instances/{HTAP}{rest}` with `body` and `headers`.
    async fn call(
        &self,
        method: &str,
        rest: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}/v3/{PROJECT}/instances/{HTAP}{rest}", self.server.url());
        self.send(method, &url, body, headers).await
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("X-Auth-Token", "any-token");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// Registers `task` (E2 with `is_create_task`) replicating `customers` only.
    async fn register(&self, task: &str, db_configs: Value, repl: Value) {
        let body = json!({
            "source_instance_id": SRC,
            "source_database_name": "shop",
            "target_database_name": task,
            "task_name": task,
            "db_configs": db_configs,
            "table_repl_config": repl,
            "is_create_task": "true",
        });
        let r = self
            .call(
                "POST",
                "/starrocks/databases/replication/table-config-check",
                Some(body),
                &[],
            )
            .await;
        r.ok();
        let config = self
            .call(
                "GET",
                &format!("/starrocks/databases/replication/configuration?task_name={task}"),
                None,
                &[],
            )
            .await;
        config.ok();
    }
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn customers_only() -> Value {
    json!({"repl_type": "include_tables", "repl_scope": "part", "tables": ["customers"]})
}

#[tokio::test]
async fn e14_pages_tables_by_limit_and_offset() {
    let cloud = Cloud::shop().await;
    let body = json!({
        "source_instance_id": SRC,
        "database_tables": [{"database": "shop", "tables": []}],
        "selected_tables": [],
        "filter_type": "include_tables",
    });
    let all = cloud
        .call("POST", "/htap/tables", Some(body.clone()), &[])
        .await;
    let all_tables: Vec<Value> = all.ok()["tables"].as_array().unwrap().clone();
    assert_eq!(all.body["total_count"], json!(all_tables.len()));
    assert!(all_tables.len() >= 4, "{}", all.body);

    let mut paged = Vec::new();
    for offset in (0..all_tables.len()).step_by(2) {
        let page = cloud
            .call(
                "POST",
                &format!("/htap/tables?limit=2&offset={offset}"),
                Some(body.clone()),
                &[],
            )
            .await;
        let tables = page.ok()["tables"].as_array().unwrap().clone();
        assert!(tables.len() <= 2, "limit=2 gave {}", page.body);
        assert_eq!(
            page.body["total_count"],
            json!(all_tables.len()),
            "total_count counts every match, not the page"
        );
        paged.extend(tables);
    }
    assert_eq!(paged, all_tables, "the pages together are the whole list");

    let past_end = cloud
        .call(
            "POST",
            &format!("/htap/tables?offset={}", all_tables.len()),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(past_end.ok()["tables"], json!([]));
    let bad = cloud
        .call("POST", "/htap/tables?limit=0", Some(body), &[])
        .await;
    assert!(bad.error(400, "DBS.280001").contains("limit"));
}

#[tokio::test]
async fn e7_sub_task_scenario_fixes_the_main_tasks_shared_parameters() {
    let cloud = Cloud::shop().await;
    let configs = json!([{"param_name": "sync_commit_interval_ms", "value": "10000"}]);
    cloud.register("main_task", configs, customers_only()).await;
    let params = |r: &Reply| -> Vec<(String, String, String)> {
        r.ok()["db_parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["param_name"].as_str().unwrap().to_string(),
                    p["default_value"].as_str().unwrap().to_string(),
                    p["is_modifiable"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let path = "/starrocks/databases/replication/database-parameters";

    let plain = cloud.call("GET", path, None, &[]).await;
    assert!(
        params(&plain).iter().all(|(_, _, m)| m == "true"),
        "{}",
        plain.body
    );

    let sub = cloud
        .call(
            "GET",
            &format!("{path}?add_task_scenario=true&main_task_name=main_task"),
            None,
            &[],
        )
        .await;
    let sub = params(&sub);
    let find = |name: &str| sub.iter().find(|(n, _, _)| n == name).unwrap().clone();
    // Shared with the main task: its value, not modifiable.
    assert_eq!(
        find("sync_commit_interval_ms"),
        (
            "sync_commit_interval_ms".into(),
            "10000".into(),
            "false".into()
        )
    );
    assert_eq!(find("binlog_expire_logs_seconds").2, "false");
    // The sub-task's own full copy: modifiable, the documented default.
    assert_eq!(
        find("max_rows_per_chunk"),
        ("max_rows_per_chunk".into(), "0".into(), "true".into())
    );

    let unknown_main = cloud
        .call(
            "GET",
            &format!("{path}?add_task_scenario=true&main_task_name=no_such_task"),
            None,
            &[],
        )
        .await;
    unknown_main.error(400, "DBS.270022");
    let no_main = cloud
        .call("GET", &format!("{path}?add_task_scenario=true"), None, &[])
        .await;
    assert!(no_main.error(400, "DBS.280001").contains("main_task_name"));
    let bad_flag = cloud
        .call("GET", &format!("{path}?add_task_scenario=maybe"), None, &[])
        .await;
    assert!(
        bad_flag
            .error(400, "DBS.280001")
            .contains("add_task_scenario")
    );
}

#[tokio::test]
async fn e13_answers_with_its_own_documented_shape() {
    let cloud = Cloud::shop().await;
    let all = cloud
        .call(
            "POST",
            "/htap/databases",
            Some(json!({"source_instance_id": SRC, "databases": []})),
            &[],
        )
        .await;
    let body = all.ok();
    assert_eq!(
        keys(body),
        BTreeSet::from(["databases", "total_count", "timestamp"])
    );
    assert_eq!(body["databases"], json!(["crm", "shop"]));
    assert!(body["total_count"].is_i64(), "int32, not a string: {body}");
    assert!(body["timestamp"].is_i64(), "int32, not a string: {body}");

    let page = cloud
        .call(
            "POST",
            "/htap/databases?limit=1&offset=1",
            Some(json!({"source_instance_id": SRC, "databases": []})),
            &[],
        )
        .await;
    assert_eq!(page.ok()["databases"], json!(["shop"]));
    assert_eq!(page.body["total_count"], json!(2));

    let fuzzy = cloud
        .call(
            "POST",
            "/htap/databases",
            Some(json!({"source_instance_id": SRC, "databases": ["sho"]})),
            &[],
        )
        .await;
    assert_eq!(fuzzy.ok()["databases"], json!(["shop"]));
    let two = cloud
        .call(
            "POST",
            "/htap/databases",
            Some(json!({"source_instance_id": SRC, "databases": ["shop", "crm"]})),
            &[],
        )
        .await;
    assert!(two.error(400, "DBS.280001").contains("databases"));
}

#[tokio::test]
async fn e5_new_table_repl_config_always_carries_type_and_scope() {
    let cloud = Cloud::shop().await;
    cloud
        .register("part_task", json!([]), customers_only())
        .await;
    // Registered without repl_scope: the API default (all) is reported.
    cloud
        .register(
            "excl_task",
            json!([]),
            json!({"repl_type": "exclude_tables", "tables": ["coupon_codes"]}),
        )
        .await;
    for (task, repl_type, repl_scope) in [
        ("part_task", "include_tables", "part"),
        ("excl_task", "exclude_tables", "all"),
    ] {
        let r = cloud
            .call(
                "GET",
                &format!("/starrocks/databases/replication/configuration?task_name={task}"),
                None,
                &[],
            )
            .await;
        let body = r.ok();
        let new = &body["new_table_repl_config"];
        assert_eq!(
            keys(new),
            BTreeSet::from(["repl_type", "repl_scope", "tables"]),
            "{body}"
        );
        assert_eq!(new["repl_type"], repl_type, "{body}");
        assert_eq!(new["repl_scope"], repl_scope, "{body}");
        assert_eq!(body["table_repl_config"]["repl_type"], repl_type);
        assert_eq!(body["table_repl_config"]["repl_scope"], repl_scope);
    }
}

#[tokio::test]
async fn e15_job_entities_follow_the_documented_shape() {
    let cloud = Cloud::shop().await;
    cloud
        .register("job_task", json!([]), customers_only())
        .await;
    let start = cloud
        .call(
            "POST",
            "/starrocks/databases/replication",
            Some(json!({
                "source_instance_id": SRC,
                "source_database": "shop",
                "target_database": "job_task",
                "task_name": "job_task",
            })),
            &[],
        )
        .await;
    let job_id = start.ok()["job_id"].as_str().unwrap().to_string();
    let url = format!("{}/v3/{PROJECT}/jobs?id={job_id}", cloud.server.url());
    let r = cloud.send("GET", &url, None, &[]).await;
    let job = &r.ok()["job"];
    let entities = &job["entities"];
    assert_eq!(
        keys(entities),
        BTreeSet::from(["instance", "resource_ids", "task_name"]),
        "{job}"
    );
    assert_eq!(entities["instance"]["datastore"]["type"], "starrocks");
    assert_eq!(entities["resource_ids"], json!([HTAP]));
    assert_eq!(entities["task_name"], "job_task");
    assert_eq!(job["instance"]["id"], HTAP);
}

#[tokio::test]
async fn zh_cn_answers_in_chinese_where_the_api_documents_it() {
    let cloud = Cloud::shop().await;
    let url = format!(
        "{}/v3/{PROJECT}/instances/nope/starrocks/databases/replication",
        cloud.server.url()
    );
    let zh = cloud
        .send("GET", &url, None, &[("X-Language", "zh-cn")])
        .await;
    assert_eq!(zh.error(400, "DBS.200022"), "实例不存在");
    assert_eq!(keys(&zh.body), BTreeSet::from(["error_code", "error_msg"]));
    let en = cloud
        .send("GET", &url, None, &[("X-Language", "en-us")])
        .await;
    assert_eq!(en.error(400, "DBS.200022"), "Instance not found.");
    let default = cloud.send("GET", &url, None, &[]).await;
    assert_eq!(default.error(400, "DBS.200022"), "Instance not found.");
    // A message documented only in English stays English.
    let task = cloud
        .call(
            "GET",
            "/starrocks/databases/replication/configuration?task_name=missing",
            None,
            &[("X-Language", "zh-cn")],
        )
        .await;
    assert!(task.error(400, "DBS.270022").contains("missing"));
}

#[tokio::test]
async fn unknown_request_fields_are_refused_naming_the_field() {
    let cloud = Cloud::shop().await;
    let check = "/starrocks/databases/replication/table-config-check";
    let base = json!({
        "source_instance_id": SRC,
        "source_database_name": "shop",
        "task_name": "typo_task",
        "table_repl_config": customers_only(),
        "is_create_task": "true",
    });
    let with = |extra: (&str, Value)| {
        let mut body = base.clone();
        body[extra.0] = extra.1;
        body
    };
    // A misspelt top-level field (the API's is `tables_configs`).
    let typo = cloud
        .call(
            "POST",
            check,
            Some(with((
                "tables_config",
                json!([{"table_name": "customers", "table_config": "order by id"}]),
            ))),
            &[],
        )
        .await;
    let msg = typo.error(400, "DBS.280001");
    assert!(
        msg.contains("tables_config") && msg.contains("unknown"),
        "{msg}"
    );
    // A misspelt nested field.
    let mut nested = base.clone();
    nested["table_repl_config"]["repl_tpye"] = json!("include_tables");
    let nested = cloud.call("POST", check, Some(nested), &[]).await;
    assert!(
        nested
            .error(400, "DBS.280001")
            .contains("table_repl_config.repl_tpye")
    );
    // A field of the future (undeclared) on E9 and E3.
    let pause = cloud
        .call(
            "POST",
            "/starrocks/databases/replication/pause",
            Some(json!({"task_name": "typo_task", "force": "true"})),
            &[],
        )
        .await;
    assert!(pause.error(400, "DBS.280001").contains("force"));
    let start = cloud
        .call(
            "POST",
            "/starrocks/databases/replication",
            Some(json!({
                "source_instance_id": SRC, "source_database": "shop",
                "target_database": "typo_task", "task_name": "typo_task",
                "sync_mode": "full",
            })),
            &[],
        )
        .await;
    assert!(start.error(400, "DBS.280001").contains("sync_mode"));
    // Nothing was registered by the refused check.
    let stats: Value = cloud
        .http
        .get(format!("{}/_emulator/stats", cloud.server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["creates_per_task"], json!({}));

    // Declared fields, also a declared one sent as null, pass.
    let ok = cloud
        .call(
            "POST",
            check,
            Some(with(("source_node_id", Value::Null))),
            &[],
        )
        .await;
    assert_eq!(ok.ok()["task_name"], "typo_task");
}

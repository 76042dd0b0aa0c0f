//! Table patterns and instance-level sync on the wire: the real binary
//! against an in-process emulator behind a loopback recorder, so that each
//! new field is asserted in the request bodies as sent, and in what the
//! emulator keeps and reports back.

mod support;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use htapsync::emulator::{Emulator, EmulatorConfig, app, load_cloud};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Workspace;

/// One request as the emulator received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: Value,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn record(State(log): State<Log>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("body");
    log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The sharded example's cloud, served on loopback behind the recorder, in
/// a runtime of its own that lives as long as the returned value.
struct Recorded {
    url: String,
    log: Log,
    _rt: tokio::runtime::Runtime,
}

impl Recorded {
    fn start() -> Recorded {
        let cloud = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sharded/cloud/cloud.toml");
        let cfg = EmulatorConfig {
            stage_step: Duration::from_millis(20),
            job_duration: Duration::from_millis(20),
            ..EmulatorConfig::new(load_cloud(&cloud).expect("the sharded cloud loads"))
        };
        let log: Log = Arc::default();
        let router = app(Emulator::new(cfg).expect("emulator"))
            .layer(from_fn_with_state(log.clone(), record));
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(async move { axum::serve(listener, router).await.unwrap() });
        Recorded { url, log, _rt: rt }
    }

    /// The requests to the path ending in `suffix` and with `method`, in order, then forgets them all.
    fn take(&self, method: &str, suffix: &str) -> Vec<Seen> {
        let mut log = self.log.lock().unwrap();
        let seen = log
            .iter()
            .filter(|s| s.method == method && s.path.ends_with(suffix))
            .cloned()
            .collect();
        log.clear();
        seen
    }
}

const HEAD: &str = r#"
[provider]
project_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
region = "ap-southeast-1"
endpoint = "URL"

[defaults]
instance_id = "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17"
source_instance_id = "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07"
source_database_name = "shop"
"#;

fn workspace(emu: &Recorded, tasks: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write(
        "htapsync.toml",
        &format!("{}{tasks}", HEAD.replace("URL", &emu.url)),
    );
    ws
}

#[track_caller]
fn run(ws: &Workspace, args: &[&str], code: i32) -> String {
    let mut cmd = ws.std_cmd(args);
    cmd.env("HTAPSYNC_TOKEN", "scope-test-token");
    let (got, out, err) = support::process::output(&mut cmd);
    assert_eq!(got, code, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
    format!("{out}{err}")
}

const CHECK: &str = "/replication/table-config-check";

#[test]
fn patterns_are_sent_with_is_support_reg_exp_and_each_database_is_listed_once() {
    let emu = Recorded::start();
    let ws = workspace(
        &emu,
        r#"
[task.orders_shards]
table_patterns = true
tables = ["orders_*"]
table_configs = { "orders_*" = "order by id" }

[task.customer_tables]
table_patterns = true
tables = ["customer?"]
"#,
    );
    let out = run(&ws, &["plan"], 0);
    assert!(
        out.contains("pattern \"orders_*\" matches 256 tables of shop"),
        "{out}"
    );
    assert!(
        out.contains("pattern \"customer?\" matches 1 table of shop: customers"),
        "{out}"
    );
    let log = emu.log.lock().unwrap().clone();
    let listings: Vec<&Seen> = log
        .iter()
        .filter(|s| s.path.ends_with("/htap/tables"))
        .collect();
    // One paged listing for two tasks on shop: its tables in 3 pages.
    let pages: Vec<&str> = listings.iter().map(|s| s.query.as_str()).collect();
    assert_eq!(
        pages,
        [
            "limit=100&offset=0",
            "limit=100&offset=100",
            "limit=100&offset=200"
        ],
        "one E14 listing for two tasks on shop: {listings:?}"
    );
    for listing in &listings {
        assert_eq!(
            listing.body["database_tables"],
            json!([{"database": "shop", "tables": []}])
        );
    }
    let checks = emu.take("POST", CHECK);
    let orders = checks
        .iter()
        .find(|c| c.body["task_name"] == "orders_shards")
        .expect("orders_shards checked");
    assert_eq!(orders.body["is_support_reg_exp"], "true");
    assert_eq!(
        orders.body["table_repl_config"]["tables"],
        json!(["orders_*"])
    );
    assert_eq!(
        orders.body["tables_configs"],
        json!([{"table_name": "orders_*", "table_config": "order by id"}])
    );
    assert!(
        orders.body.get("is_instance_level_sync").is_none(),
        "{:?}",
        orders.body
    );

    run(&ws, &["apply", "--auto-approve"], 0);
    let registered = emu.take("POST", CHECK);
    let create = registered
        .iter()
        .find(|c| c.body["task_name"] == "orders_shards" && c.body["is_create_task"] == "true")
        .expect("orders_shards registered through E2");
    assert_eq!(create.body["is_support_reg_exp"], "true");
    let out = run(&ws, &["plan", "--detailed-exitcode"], 0);
    assert!(
        out.contains("No changes."),
        "the cloud reports the patterns back: {out}"
    );

    // Turning patterns off is an E8 that leaves the flag out (its documented
    // default), and the emulator takes the names literally from then on.
    ws.write(
        "htapsync.toml",
        &format!(
            "{}{}",
            HEAD.replace("URL", &emu.url),
            "[task.orders_shards]\ntables = [\"orders_000\"]\n\n[task.customer_tables]\ntable_patterns = true\ntables = [\"customer?\"]\n"
        ),
    );
    run(&ws, &["apply", "--auto-approve", "--allow-destructive"], 0);
    let modify = emu.take("PUT", "/databases/replication");
    let body = &modify.last().expect("an E8").body;
    assert!(body.get("is_support_reg_exp").is_none(), "{body}");
    assert_eq!(body["table_repl_config"]["tables"], json!(["orders_000"]));
    let out = run(&ws, &["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn instance_level_sync_is_sent_kept_by_the_emulator_and_read_back() {
    let emu = Recorded::start();
    let ws = workspace(&emu, "[task.whole]\nsync_level = \"instance\"\n");
    let out = run(&ws, &["apply", "--auto-approve"], 0);
    assert!(out.contains("Apply complete! Resources: 1 added"), "{out}");
    let checks = emu.take("POST", CHECK);
    let create = checks.last().expect("E2").body.clone();
    assert_eq!(create["is_instance_level_sync"], "true");
    assert_eq!(create["database_repl_scope"], "all");
    assert_eq!(create["source_database_name"], "ALL");
    assert_eq!(create["target_database_name"], "ALL");
    assert_eq!(create["table_repl_config"]["repl_scope"], "all");
    let out = run(&ws, &["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");

    // E8 keeps the scope it is sent (it used to drop these fields and answer 200).
    ws.edit(
        "htapsync.toml",
        "sync_level = \"instance\"\n",
        "sync_level = \"instance\"\ndatabase_scope = \"part\"\nsource_database_name = \"shop,billing\"\n",
    );
    let out = run(&ws, &["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(out.contains("~ database_scope"), "{out}");
    let modify = emu.take("PUT", "/databases/replication");
    let body = &modify.last().expect("an E8").body;
    assert_eq!(body["is_instance_level_sync"], "true");
    assert_eq!(body["database_repl_scope"], "part");
    assert_eq!(body["source_database_name"], "shop,billing");
    let out = run(&ws, &["plan", "--detailed-exitcode"], 0);
    assert!(
        out.contains("No changes."),
        "E5 reports the new scope: {out}"
    );
    let reads = emu.take("GET", "/replication/configuration");
    assert!(!reads.is_empty(), "refresh read E5");
}

#[test]
fn an_unknown_database_of_a_partial_instance_scope_is_refused_by_the_gate() {
    let emu = Recorded::start();
    let ws = workspace(
        &emu,
        "[task.two]\nsync_level = \"instance\"\ndatabase_scope = \"part\"\nsource_database_name = \"shop,nowhere\"\n",
    );
    let out = run(&ws, &["plan"], 1);
    assert!(out.contains("Database not found: nowhere."), "{out}");
}

#[test]
fn an_instance_level_pattern_lists_the_databases_once_then_each_database_once() {
    let emu = Recorded::start();
    let ws = workspace(
        &emu,
        "[task.shards]\nsync_level = \"instance\"\ntable_patterns = true\ntables = [\"*.orders_00?\", \"billing.*\"]\n",
    );
    let out = run(&ws, &["plan"], 0);
    assert!(
        out.contains("pattern \"*.orders_00?\" matches 10 tables of ALL: shop.orders_000"),
        "{out}"
    );
    assert!(
        out.contains("pattern \"billing.*\" matches 2 tables of ALL"),
        "{out}"
    );
    let log = emu.log.lock().unwrap().clone();
    let databases: Vec<&Seen> = log
        .iter()
        .filter(|s| s.path.ends_with("/htap/databases"))
        .collect();
    assert_eq!(databases.len(), 1, "{databases:?}");
    assert_eq!(databases[0].query, "limit=100&offset=0");
    // Each database listed once, from its first page on (shop has 3).
    let listed: Vec<(&Value, &str)> = log
        .iter()
        .filter(|s| s.path.ends_with("/htap/tables"))
        .map(|s| (&s.body["database_tables"][0]["database"], s.query.as_str()))
        .collect();
    let (billing, shop) = (json!("billing"), json!("shop"));
    assert_eq!(
        listed,
        [
            (&billing, "limit=100&offset=0"),
            (&shop, "limit=100&offset=0"),
            (&shop, "limit=100&offset=100"),
            (&shop, "limit=100&offset=200"),
        ]
    );
    let check = emu.take("POST", CHECK);
    let body = &check.last().expect("E2").body;
    assert_eq!(body["is_instance_level_sync"], "true");
    assert_eq!(body["is_support_reg_exp"], "true");
    assert_eq!(
        body["table_repl_config"]["tables"],
        json!(["*.orders_00?", "billing.*"])
    );
}

//! One emulator serving a multi-region estate
//! (`examples/multi-region/cloud/cloud.toml`): requests are routed by the
//! `{project_id}` of the path and by the region of the host they were sent
//! to, and an instance is found only in its own project and region. Driven
//! over HTTP against the `htapsync emulator` process, and by the binary from
//! two configuration directories, one per project.

mod support;

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use support::TOKEN;
use support::process::spawn_emulator;
use support::project::Project;

const PROJECT_CN: &str = "0a29066749a9aac55bef5f6b1e70e871";
const PROJECT_SG: &str = "adb1e95719a7ca623e73d3985526bd23";
const PROJECT_CRM: &str = "0976257816971677e6deca9e7a9243d1";
const HTAP_CN: &str = "02bdb1fcba7fb0435f0df3b83b9b22c7in17";
const HTAP_SG: &str = "5c919a1d921f38e8d52f9d184c5903acin17";
const HTAP_CRM: &str = "833eb7135761aeb1b9201db9229ad090in17";
const SRC_CN: &str = "15d34d570e8d608a96f9d4954e8be481in07";
const SRC_SG: &str = "3393e646d0a5e43fcc669bed46372615in07";

const BEIJING: &str = "gaussdb.cn-north-4.myhuaweicloud.com";
const SINGAPORE: &str = "gaussdbformysql.ap-southeast-1.myhuaweicloud.com";

fn cloud_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/multi-region/cloud/cloud.toml")
}

/// The emulator process and a client that reaches it under the documented
/// endpoint names of two regions (resolved to the loopback address).
struct Estate {
    _process: support::process::Emulator,
    url: String,
    port: u16,
    http: reqwest::Client,
}

impl Estate {
    fn start() -> Estate {
        let process = spawn_emulator(&cloud_file(), &["--token", TOKEN], &[]);
        // reqwest is built without a default TLS crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = process.url.clone();
        let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
        let http = reqwest::Client::builder()
            .resolve(BEIJING, addr)
            .resolve(SINGAPORE, addr)
            .build()
            .unwrap();
        Estate {
            _process: process,
            url,
            port: addr.port(),
            http,
        }
    }

    /// `METHOD /v3/{project}{rest}` sent to `host` (`None`: the loopback address).
    async fn call(
        &self,
        host: Option<&str>,
        method: &str,
        project: &str,
        rest: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let base = match host {
            Some(host) => format!("http://{host}:{}", self.port),
            None => self.url.clone(),
        };
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{base}/v3/{project}{rest}"),
            )
            .header("X-Auth-Token", TOKEN);
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    async fn list(&self, host: Option<&str>, project: &str, htap: &str) -> (u16, Value) {
        let rest = format!("/instances/{htap}/starrocks/databases/replication");
        self.call(host, "GET", project, &rest, None).await
    }

    async fn register(
        &self,
        host: Option<&str>,
        project: &str,
        htap: &str,
        src: &str,
        task: &str,
    ) -> (u16, Value) {
        let rest = format!("/instances/{htap}/starrocks/databases/replication/table-config-check");
        let body = json!({
            "source_instance_id": src, "source_database_name": "shop",
            "target_database_name": "shop_olap", "task_name": task,
            "table_repl_config": {"repl_type": "include_tables", "repl_scope": "part",
                                  "tables": ["orders"]},
            "is_create_task": "true",
        });
        self.call(host, "POST", project, &rest, Some(body)).await
    }
}

#[track_caller]
fn not_found((status, body): (u16, Value)) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_code"], "DBS.200022", "{body}");
}

fn task_names((status, body): (u16, Value)) -> Vec<String> {
    assert_eq!(status, 200, "{body}");
    body["replications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn instances_are_found_only_in_their_project_and_region() {
    let estate = Estate::start();
    // Each instance in its own project, in its region or from an address naming none.
    assert_eq!(estate.list(Some(BEIJING), PROJECT_CN, HTAP_CN).await.0, 200);
    assert_eq!(estate.list(None, PROJECT_CN, HTAP_CN).await.0, 200);
    assert_eq!(
        estate.list(Some(SINGAPORE), PROJECT_SG, HTAP_SG).await.0,
        200
    );
    assert_eq!(
        estate.list(Some(BEIJING), PROJECT_CRM, HTAP_CRM).await.0,
        200
    );
    // Another project, even in the same region.
    not_found(estate.list(None, PROJECT_SG, HTAP_CN).await);
    not_found(estate.list(Some(BEIJING), PROJECT_CRM, HTAP_CN).await);
    // Its project, but sent to another region's endpoint.
    not_found(estate.list(Some(SINGAPORE), PROJECT_CN, HTAP_CN).await);
    not_found(estate.list(Some(BEIJING), PROJECT_SG, HTAP_SG).await);
}

#[tokio::test]
async fn tasks_and_jobs_stay_in_their_project() {
    let estate = Estate::start();
    // The same task name in both regions, each from its own source instance.
    let (status, body) = estate
        .register(Some(BEIJING), PROJECT_CN, HTAP_CN, SRC_CN, "orders")
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = estate
        .register(Some(SINGAPORE), PROJECT_SG, HTAP_SG, SRC_SG, "orders")
        .await;
    assert_eq!(status, 200, "{body}");
    // A source instance of another project and region is not found.
    not_found(
        estate
            .register(Some(BEIJING), PROJECT_CN, HTAP_CN, SRC_SG, "cross")
            .await,
    );
    assert_eq!(
        task_names(estate.list(Some(BEIJING), PROJECT_CN, HTAP_CN).await),
        ["orders"]
    );
    assert_eq!(
        task_names(estate.list(Some(SINGAPORE), PROJECT_SG, HTAP_SG).await),
        ["orders"]
    );
    assert!(task_names(estate.list(Some(BEIJING), PROJECT_CRM, HTAP_CRM).await).is_empty());

    // A job is found only in the project (and region) it was made in.
    let rest = format!("/instances/{HTAP_CN}/starrocks/databases/replication/pause");
    let start = json!({"source_instance_id": SRC_CN, "source_database": "shop",
                       "target_database": "shop_olap", "task_name": "orders"});
    let started = estate
        .call(
            Some(BEIJING),
            "POST",
            PROJECT_CN,
            &format!("/instances/{HTAP_CN}/starrocks/databases/replication"),
            Some(start),
        )
        .await;
    assert_eq!(started.0, 200, "{}", started.1);
    let job = started.1["job_id"].as_str().unwrap().to_string();
    let jobs = format!("/jobs?id={job}");
    assert_eq!(
        estate
            .call(Some(BEIJING), "GET", PROJECT_CN, &jobs, None)
            .await
            .0,
        200
    );
    for (host, project) in [(Some(BEIJING), PROJECT_SG), (Some(SINGAPORE), PROJECT_CN)] {
        let (status, body) = estate.call(host, "GET", project, &jobs, None).await;
        assert_eq!((status, &body["error_code"]), (400, &json!("DBS.280242")));
    }
    // And a task operation under another project does not reach the task.
    not_found(
        estate
            .call(
                None,
                "POST",
                PROJECT_SG,
                &rest,
                Some(json!({"task_name": "orders"})),
            )
            .await,
    );
}

/// A configuration directory for one project of the estate.
fn project_dir(url: &str, project: &str, htap: &str, src: &str) -> Project {
    Project::new(&format!(
        r#"[provider]
project_id = "{project}"
endpoint = "{url}"
region = "cn-north-4"

[state]
path = "state.json"

[defaults]
instance_id = "{htap}"
source_instance_id = "{src}"
source_database_name = "shop"

[task.orders]
target_database_name = "shop_olap"
repl_type = "include_tables"
repl_scope = "part"
tables = ["orders", "order_items"]
"#
    ))
}

#[test]
fn two_configurations_apply_against_one_emulator_in_their_own_projects() {
    let estate = Estate::start();
    let cn = project_dir(&estate.url, PROJECT_CN, HTAP_CN, SRC_CN);
    let sg = project_dir(&estate.url, PROJECT_SG, HTAP_SG, SRC_SG);
    cn.run_ok(&["apply", "--auto-approve"], 0);
    sg.run_ok(&["apply", "--auto-approve"], 0);
    cn.run_ok(&["plan", "--detailed-exitcode"], 0);
    sg.run_ok(&["plan", "--detailed-exitcode"], 0);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let cn_tasks = rt.block_on(estate.list(None, PROJECT_CN, HTAP_CN));
    let sg_tasks = rt.block_on(estate.list(None, PROJECT_SG, HTAP_SG));
    assert_eq!(task_names(cn_tasks), ["orders"]);
    assert_eq!(task_names(sg_tasks), ["orders"]);

    // Singapore's project does not see Beijing's instance: the plan says so.
    let wrong = project_dir(&estate.url, PROJECT_SG, HTAP_CN, SRC_CN);
    let (code, out, err) = wrong.run(&["plan"]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(format!("{out}{err}").contains("DBS.200022"), "{out}\n{err}");
}

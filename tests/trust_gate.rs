//! The table-config-check gate never passes a task it did not check, and a
//! gate that could not run (wrong credentials, throttling) says so once, in
//! every output format, instead of blaming each task's tables.

mod support;

use htapsync::api::{Client, ClientConfig, Credentials, ServiceFailure};
use htapsync::check::run_gate;
use htapsync::model::{Address, DesiredTask, Lifecycle};
use htapsync::plan::{self, Plan};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{Config, EmulatorProcess, TOKEN, clean_cmd, output, tasks};

use support::PROJECT;
use support::router::{quickstart_config as emulator_config, serve as start};

fn client(url: &str) -> Client {
    let mut cfg = ClientConfig::new(
        url,
        PROJECT,
        Credentials::Token(SecretString::from("test-token")),
    );
    cfg.max_retries = 2;
    cfg.retry_base = Duration::from_millis(5);
    cfg.retry_cap = Duration::from_millis(20);
    Client::new(cfg).unwrap()
}

/// A plan that creates one valid task per name.
fn create_plan(names: &[&str]) -> Plan {
    let desired: BTreeMap<String, DesiredTask> = names
        .iter()
        .map(|name| {
            let spec = support::spec(name).target(&format!("olap_{name}")).build();
            let task = DesiredTask {
                spec,
                lifecycle: Lifecycle::default(),
            };
            (name.to_string(), task)
        })
        .collect();
    plan::diff(&desired, &BTreeMap::new(), &[]).unwrap()
}

#[tokio::test]
async fn a_check_that_panics_fails_the_gate_and_names_its_task() {
    let running = start(emulator_config()).await;
    let plan = create_plan(&["alpha", "beta", "gamma"]);
    let report = run_gate(
        &htapsync::api::Clients::single(client(&running.url())),
        &plan,
        4,
        |verdict| {
            if verdict.address.name() == "beta" {
                panic!("progress display failed");
            }
        },
    )
    .await;
    let beta = Address::task("beta");
    assert_eq!(report.required.len(), 3, "{report:?}");
    assert!(
        !report.passed(),
        "a task whose check panicked passed: {report:?}"
    );
    let error = report.verdicts[&beta].error.as_deref().unwrap_or_default();
    assert!(
        error.contains("task.beta") && error.contains("panicked"),
        "{error}"
    );
    let failed: Vec<_> = report.failed().map(|v| v.address.clone()).collect();
    assert_eq!(failed, [beta]);
    assert!(report.verdicts[&Address::task("alpha")].passed());
}

#[tokio::test]
async fn a_throttled_gate_could_not_run_and_has_no_verdicts() {
    let mut cfg = emulator_config();
    cfg.throttle_rate = 1.0;
    let running = start(cfg).await;
    let plan = create_plan(&["alpha", "beta"]);
    let report = run_gate(
        &htapsync::api::Clients::single(client(&running.url())),
        &plan,
        2,
        |_| {},
    )
    .await;
    let unavailable = report.unavailable.as_ref().expect("the gate could not run");
    assert_eq!(unavailable.reason, ServiceFailure::Throttling);
    assert!(report.verdicts.is_empty(), "{report:?}");
    assert!(!report.passed());
}

/// Runs `plan` in `args`' format with the given environment: (exit, stdout, stderr).
fn plan_with(cfg: &Config, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = clean_cmd();
    cmd.arg("-C")
        .arg(cfg.dir.path())
        .arg("plan")
        .args(args)
        .envs(envs.iter().copied());
    output(&mut cmd)
}

/// The gate's outcome is said once, names the credentials, and blames no table.
#[track_caller]
fn assert_could_not_run(what: &str, (code, out, err): &(i32, String, String)) {
    assert_eq!(*code, 1, "{what}\n--- stdout\n{out}\n--- stderr\n{err}");
    assert_eq!(
        out.matches("table-config-check gate could not run").count(),
        1,
        "{what}: said once\n{out}"
    );
    assert!(
        out.contains("the credentials were refused") && out.contains("APIGW.0301"),
        "{what}\n{out}"
    );
    for per_task in ["check_result", "table-config-check failed", "Failed checks"] {
        assert!(!out.contains(per_task), "{what}: {per_task:?} in\n{out}");
    }
    for secret in [TOKEN, "wrong-token"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{what}");
    }
}

#[test]
fn a_wrong_token_says_the_gate_could_not_run_in_every_format() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[("HTAPSYNC_EMULATOR_TOKEN", TOKEN)]);
    let cfg = Config::new(&emu.url, &tasks(3));
    let wrong = [("HTAPSYNC_TOKEN", "wrong-token")];
    let human = plan_with(&cfg, &[], &wrong);
    assert_could_not_run("human", &human);
    assert!(human.1.contains("docs/authentication.md"), "{}", human.1);

    let json = plan_with(&cfg, &["--json"], &wrong);
    assert_could_not_run("json", &json);
    let messages: Vec<serde_json::Value> = json
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let unavailable: Vec<_> = messages
        .iter()
        .filter(|m| m["type"] == "check_unavailable")
        .collect();
    assert_eq!(unavailable.len(), 1, "{}", json.1);
    assert_eq!(unavailable[0]["@level"], "error");
    assert_eq!(
        unavailable[0]["check_unavailable"]["reason"],
        "authentication"
    );
    assert!(
        !messages.iter().any(|m| m["type"] == "diagnostic"),
        "no second message blames the tables: {}",
        json.1
    );

    let markdown = plan_with(&cfg, &["--format", "markdown"], &wrong);
    assert_could_not_run("markdown", &markdown);

    let right = plan_with(&cfg, &[], &[("HTAPSYNC_TOKEN", TOKEN)]);
    assert_eq!(right.0, 0, "{}\n{}", right.1, right.2);
    assert!(right.1.contains("table-config-check passed"), "{}", right.1);
}

#[test]
fn a_wrong_secret_key_says_the_gate_could_not_run() {
    let work = tempfile::tempdir().unwrap();
    let ak = "AKTRUSTGATE123456789";
    let emu = EmulatorProcess::quickstart(
        work.path(),
        &["--ak", ak],
        &[("HTAPSYNC_EMULATOR_SK", "the-right-secret")],
    );
    let cfg = Config::new(&emu.url, &tasks(2));
    let wrong = [
        ("HTAPSYNC_ACCESS_KEY", ak),
        ("HTAPSYNC_SECRET_KEY", "wrong-token"),
    ];
    assert_could_not_run("ak/sk", &plan_with(&cfg, &[], &wrong));
    let (code, out, err) = output(
        cfg.cmd(&["apply", "--auto-approve"])
            .env_remove("HTAPSYNC_TOKEN")
            .envs(wrong),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("gate could not run; nothing was changed"),
        "{err}"
    );
    assert_eq!(emu.stats()["creates_per_task"], serde_json::json!({}));
}

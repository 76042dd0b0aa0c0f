//! Named providers through the real binary: the multi-region example end to
//! end (embedded, and against `htapsync emulator` so that each project's
//! tasks are read back over HTTP), a provider move planned and applied as a
//! replacement, a recorded task whose provider is gone, and the loader's
//! rules (unknown names, endpoints from regions, project ids from the environment).

mod support;

use htapsync::api::{Client, ClientConfig, Credentials};
use secrecy::SecretString;
use support::Workspace;
use support::process::spawn_emulator;

const CONFIG: &str = "htapsync.toml";
const CN_PROJECT: &str = "0a29066749a9aac55bef5f6b1e70e871";
const SG_PROJECT: &str = "adb1e95719a7ca623e73d3985526bd23";
const CN_HTAP: &str = "02bdb1fcba7fb0435f0df3b83b9b22c7in17";
const SG_HTAP: &str = "5c919a1d921f38e8d52f9d184c5903acin17";

#[test]
fn the_multi_region_example_applies_and_converges_with_the_embedded_emulator() {
    let ws = Workspace::example("multi-region");
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("+ provider             = \"sg\""), "{out}");
    assert!(out.contains("Plan: 3 to add"), "{out}");
    let out = ws.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("Apply complete! Resources: 3 added"), "{out}");
    let state = ws.state();
    assert_eq!(state["tasks"]["orders_sg"]["spec"]["provider"], "sg");
    assert_eq!(state["tasks"]["crm"]["spec"]["provider"], "crm");
    assert!(state["tasks"]["orders_cn"]["spec"]["provider"].is_null());
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
}

/// The example pointed at an emulator process: every provider at its URL.
fn on_emulator(ws: &Workspace, url: &str) {
    let text = ws
        .read(CONFIG)
        .replace("endpoint = \"embedded\"", &format!("endpoint = \"{url}\""));
    let text = text.replace("emulator_cloud = \"cloud/cloud.toml\"\n", "");
    ws.write(CONFIG, &text);
}

fn client(url: &str, project: &str) -> Client {
    let token = Credentials::Token(SecretString::from("test-token"));
    Client::new(ClientConfig::new(url, project, token)).expect("client")
}

fn task_names(url: &str, project: &str, instance: &str) -> Result<Vec<String>, String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt
        .block_on(client(url, project).list_tasks(instance))
        .map_err(|e| e.to_string())?;
    Ok(rows.into_iter().map(|r| r.task_name).collect())
}

#[test]
fn each_task_is_created_in_its_providers_project() {
    let ws = Workspace::example("multi-region");
    let emulator = spawn_emulator(&ws.path("cloud/cloud.toml"), &[], &[]);
    on_emulator(&ws, &emulator.url);
    ws.cmd(&["apply", "--auto-approve"])
        .env("HTAPSYNC_TOKEN", "test-token")
        .assert()
        .success();
    // Each instance exists only in its own project: a call sent through the
    // wrong provider would have failed with "instance not found".
    assert_eq!(
        task_names(&emulator.url, CN_PROJECT, CN_HTAP).unwrap(),
        ["orders_cn"]
    );
    assert_eq!(
        task_names(&emulator.url, SG_PROJECT, SG_HTAP).unwrap(),
        ["orders_sg"]
    );
    let other = task_names(&emulator.url, CN_PROJECT, SG_HTAP).unwrap_err();
    assert!(other.contains("DBS.200022"), "{other}");
}

#[test]
fn moving_a_task_to_another_provider_replaces_it_through_both() {
    let ws = Workspace::example("multi-region");
    // A second name for the Singapore project: the move is real, the instance stays reachable.
    ws.edit(
        CONFIG,
        "[state]",
        &format!(
            "[provider.sg2]\nproject_id = \"{SG_PROJECT}\"\nregion = \"ap-southeast-1\"\n\
             endpoint = \"embedded\"\nemulator_cloud = \"cloud/cloud.toml\"\npoll_interval = \"100ms\"\n\n[state]"
        ),
    );
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(CONFIG, "provider = \"sg\"", "provider = \"sg2\"");
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("task.orders_sg must be replaced"), "{out}");
    assert!(
        out.contains("~ provider = \"sg\" -> \"sg2\" # forces replacement"),
        "{out}"
    );
    // A new task means a full resync: destructive, so it needs the flag.
    let out = ws.run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert!(out.contains("1 added, 0 changed, 1 destroyed"), "{out}");
    assert_eq!(ws.state()["tasks"]["orders_sg"]["spec"]["provider"], "sg2");
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], 0);
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn a_recorded_task_whose_provider_is_gone_stops_the_plan_naming_both() {
    let ws = Workspace::example("multi-region");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    let text = ws.read(CONFIG);
    let text = text[..text.find("[task.crm]").unwrap()].to_string();
    let start = text.find("# Beijing, the analytics").unwrap();
    let end = text.find("[state]").unwrap();
    ws.write(CONFIG, &format!("{}{}", &text[..start], &text[end..]));
    let (code, out, err) = ws.run(&["plan"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(
            "task.crm is recorded through [provider.crm], which the configuration does not define"
        ),
        "{err}"
    );
    // Nothing was changed: the task is still recorded.
    assert_eq!(ws.state()["tasks"]["crm"]["spec"]["provider"], "crm");
}

/// An empty configuration directory with `text` as its only file.
fn config(text: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write(CONFIG, text);
    ws
}

const TASK: &str = "[task.orders]\ninstance_id = \"02bdb1fcba7fb0435f0df3b83b9b22c7in17\"\n\
    source_instance_id = \"15d34d570e8d608a96f9d4954e8be481in07\"\nsource_database_name = \"shop\"\n";

#[test]
fn a_task_naming_an_undefined_provider_is_an_error_with_the_defined_ones() {
    let ws = config(&format!(
        "[provider.sg]\nproject_id = \"{SG_PROJECT}\"\nregion = \"ap-southeast-1\"\n\
         [provider.cn]\nproject_id = \"{CN_PROJECT}\"\nregion = \"cn-north-4\"\n\
         {TASK}provider = \"sgp\"\n\n[task.other]\ninstance_id = \"{CN_HTAP}\"\n\
         source_instance_id = \"15d34d570e8d608a96f9d4954e8be481in07\"\nsource_database_name = \"shop\"\n"
    ));
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("[task.orders] names provider \"sgp\", which is not defined"),
        "{err}"
    );
    assert!(
        err.contains("htapsync.toml:11:12"),
        "the task's provider line: {err}"
    );
    assert!(
        err.contains("did you mean `sg`? Defined providers: `cn`, `sg`"),
        "{err}"
    );
    // Only named providers: a task must name one.
    assert!(
        err.contains("[task.other] names no provider, and there is no unnamed [provider]"),
        "{err}"
    );
}

#[test]
fn the_endpoint_follows_the_region_and_an_unknown_region_needs_one() {
    let ws = config(&format!(
        "[provider]\nproject_id = \"{CN_PROJECT}\"\nregion = \"cn-north-4\"\n\
         [provider.sg]\nproject_id = \"{SG_PROJECT}\"\nregion = \"ap-southeast-1\"\n{TASK}"
    ));
    let loaded = htapsync::config::load_dir(ws.dir.path()).expect("valid");
    let providers = &loaded.desired.providers;
    assert_eq!(
        providers.default.as_ref().unwrap().endpoint,
        "https://gaussdb.cn-north-4.myhuaweicloud.com"
    );
    assert_eq!(
        providers.named["sg"].endpoint,
        "https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com"
    );
    let ws = config(&format!(
        "[provider]\nproject_id = \"{CN_PROJECT}\"\nregion = \"eu-west-101\"\n{TASK}"
    ));
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("region \"eu-west-101\" of [provider] has no documented endpoint"),
        "{err}"
    );
    assert!(err.contains("htapsync.toml:3:"), "{err}");
}

#[test]
fn project_ids_come_from_fixed_environment_variables_when_not_written() {
    let ws = config(&format!(
        "[provider]\nregion = \"cn-north-4\"\n[provider.sg-east]\nregion = \"ap-southeast-1\"\n{TASK}"
    ));
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("HTAPSYNC_PROJECT_ID in the environment"),
        "{err}"
    );
    assert!(
        err.contains("HTAPSYNC_PROJECT_ID_SG_EAST in the environment"),
        "{err}"
    );
    ws.cmd(&["validate"])
        .env("HTAPSYNC_PROJECT_ID", CN_PROJECT)
        .env("HTAPSYNC_PROJECT_ID_SG_EAST", SG_PROJECT)
        .assert()
        .success();
    let out = ws
        .cmd(&["validate"])
        .env("HTAPSYNC_PROJECT_ID", CN_PROJECT)
        .env("HTAPSYNC_PROJECT_ID_SG_EAST", "not-a-project")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "HTAPSYNC_PROJECT_ID_SG_EAST (the project_id of [provider.sg-east]) is invalid"
        ),
        "{err}"
    );
}

#[test]
fn a_provider_defined_twice_across_files_is_an_error_naming_the_first() {
    let ws = config(&format!(
        "[provider]\nproject_id = \"{CN_PROJECT}\"\nregion = \"cn-north-4\"\n\
         [provider.sg]\nproject_id = \"{SG_PROJECT}\"\nregion = \"ap-southeast-1\"\n{TASK}"
    ));
    ws.write(
        "sg.toml",
        &format!("[provider.sg]\nproject_id = \"{SG_PROJECT}\"\nregion = \"ap-southeast-1\"\n"),
    );
    let (code, _, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("duplicate [provider.sg] table"), "{err}");
    assert!(err.contains("already defined at"), "{err}");
}

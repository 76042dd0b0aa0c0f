//! Snapshots of what `htapsync plan` prints (stdout, no colour), run by the
//! real binary against the embedded emulator: no changes, create, update in
//! place, replace, delete, and a plan whose table-config-check gate fails.
//! Review changed snapshots as a Terraform user would read them.

mod support;
use support::Workspace;

const CONFIG: &str = "htapsync.toml";

/// `plan --detailed-exitcode` in `ws`: asserts the exit code and returns
/// stdout with the workspace path replaced by `[DIR]`, and the stage and
/// progress the emulator's clock reached by `[STAGE]` and `[N]`.
fn plan(ws: &Workspace, code: i32) -> String {
    let out = ws.run_ok(&["plan", "--detailed-exitcode"], code);
    let out = out.replace(&ws.dir.path().display().to_string(), "[DIR]");
    out.lines()
        .map(|line| match line.split_once("stage ") {
            Some((head, tail)) if tail.contains("progress ") => {
                format!("{head}stage [STAGE], progress [N]%)\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

/// The quick start with its two tasks applied.
fn applied_quickstart() -> Workspace {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws
}

#[test]
fn no_changes() {
    let ws = applied_quickstart();
    insta::assert_snapshot!(plan(&ws, 0));
}

#[test]
fn create() {
    let ws = Workspace::example("quickstart");
    insta::assert_snapshot!(plan(&ws, 2));
}

#[test]
fn update_in_place() {
    let ws = applied_quickstart();
    ws.edit(
        CONFIG,
        r#"tables = ["orders", "order_items"]"#,
        r#"tables = ["orders", "order_items", "customers"]"#,
    );
    ws.edit(
        CONFIG,
        "max_sync_commit_rows = 500000",
        "max_sync_commit_rows = 600000",
    );
    ws.edit(
        CONFIG,
        r#"orders = "order by id""#,
        r#"orders = "order by customer_id,id""#,
    );
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\n",
        "[task.catalog_sync]\npaused = true\n",
    );
    insta::assert_snapshot!(plan(&ws, 2));
}

#[test]
fn replace() {
    let ws = Workspace::example("quickstart");
    let cloud = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cli/two-htap/cloud.toml"
    );
    ws.write("cloud/cloud.toml", &std::fs::read_to_string(cloud).unwrap());
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(
        CONFIG,
        "[task.orders_sync]\n",
        "[task.orders_sync]\ninstance_id = \"7e2b1d7f5a2c5f1a0d3b8c4e6f9a2b3cin17\"\n",
    );
    insta::assert_snapshot!(plan(&ws, 2));
}

#[test]
fn delete() {
    let ws = applied_quickstart();
    let config = ws.read(CONFIG);
    let start = config.find("# The catalogue").expect("catalog_sync block");
    ws.write(CONFIG, &config[..start]);
    insta::assert_snapshot!(plan(&ws, 2));
}

#[test]
fn failed_gate() {
    let ws = Workspace::example("failing-check");
    insta::assert_snapshot!(plan(&ws, 1));
}

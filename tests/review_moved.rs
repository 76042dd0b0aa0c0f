//! Issue 13, renames and adoptions reviewed like any change: a task's `name`
//! (the cloud's task name) lets its address change; `[[moved]]` blocks and
//! `state mv` re-address a recorded task, and `[[import]]` blocks adopt a
//! cloud task, all with no remote write (counted by the emulator's
//! /_emulator/stats) and all harmless once applied (the next plan shows no
//! changes). `-replace` forces a replacement, gated as destructive, and a
//! saved plan keeps it. Run by the real binary against an emulator process.

mod support;

use serde_json::Value;
use support::{EmulatorProcess, HTAP, Project, header, task};

/// The emulator's counters of remote writes: registrations, starts,
/// modifies, pauses, resumes and deletes.
fn writes(emu: &EmulatorProcess) -> Value {
    let stats = emu.stats();
    let keys = [
        "creates_per_task",
        "starts",
        "modifies",
        "pauses",
        "resumes",
        "deletes",
    ];
    keys.iter()
        .map(|k| (k.to_string(), stats[k].clone()))
        .collect()
}

/// An emulator, and a project with orders_sync applied to it.
fn applied() -> (tempfile::TempDir, EmulatorProcess, Project) {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[]);
    let project = Project::new(&format!(
        "{}{}",
        header(&emu.url),
        task("orders_sync", "shop_olap", &["orders"])
    ));
    project.run_ok(&["apply", "--auto-approve"], 0);
    (work, emu, project)
}

/// The JSON lines of `plan --json`.
fn plan_json(project: &Project) -> Vec<Value> {
    project
        .run_ok(&["plan", "--json"], 0)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn planned_changes(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "planned_change")
        .map(|l| &l["change"])
        .collect()
}

/// orders_sync renamed to orders_eu in the configuration, keeping the cloud task.
const RENAMED: &str = "[task.orders_eu]\nname = \"orders_sync\"\n";

#[test]
fn a_moved_block_renames_a_task_without_any_remote_write() {
    let (_work, emu, project) = applied();
    let before = writes(&emu);
    project.edit("[task.orders_sync]\n", RENAMED);
    project.edit(
        "[defaults]",
        "[[moved]]\nfrom = \"task.orders_sync\"\nto = \"task.orders_eu\"\n\n[defaults]",
    );

    let human = project.run_ok(&["plan", "-detailed-exitcode"], 2);
    assert!(
        human.contains("# task.orders_sync has moved to task.orders_eu"),
        "{human}"
    );
    assert!(
        human.contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move."),
        "{human}"
    );
    let json = plan_json(&project);
    let changes = planned_changes(&json);
    assert_eq!(changes.len(), 1, "{json:#?}");
    assert_eq!(changes[0]["action"], "move");
    assert_eq!(changes[0]["address"], "task.orders_eu");
    assert_eq!(changes[0]["previous_address"], "task.orders_sync");
    let summary = json.iter().find(|l| l["type"] == "change_summary").unwrap();
    assert_eq!(summary["changes"]["move"], 1);
    let markdown = project.run_ok(&["plan", "--format", "markdown"], 0);
    assert!(
        markdown.contains("- task.orders\\_sync has moved to task.orders\\_eu")
            || markdown.contains("- task.orders_sync has moved to task.orders_eu"),
        "{markdown}"
    );

    let out = project.run_ok(&["apply", "--auto-approve"], 0);
    assert!(out.contains("Apply complete!"), "{out}");
    let state = project.state();
    let record = &state["tasks"]["orders_eu"];
    assert_eq!(record["spec"]["cloud_name"], "orders_sync", "{state:#}");
    assert!(state["tasks"].get("orders_sync").is_none(), "{state:#}");
    // The block stays and is harmless: no change, and the task is read by its cloud name.
    let again = project.run_ok(&["plan", "-detailed-exitcode"], 0);
    assert!(again.contains("No changes."), "{again}");
    assert_eq!(writes(&emu), before, "a move writes nothing to the cloud");
}

#[test]
fn a_moved_block_whose_source_is_not_recorded_is_an_error_with_a_hint() {
    let (_work, emu, project) = applied();
    let before = writes(&emu);
    project.edit(
        "[defaults]",
        "[[moved]]\nfrom = \"task.nowhere\"\nto = \"task.elsewhere\"\n\n[defaults]",
    );
    let (code, out, err) = project.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "moved block from task.nowhere to task.elsewhere: neither address is recorded"
        ) && err.contains("[[import]]"),
        "{err}"
    );
    // A source still configured is refused at its file:line:column.
    project.edit("task.nowhere", "task.orders_sync");
    let (code, _, err) = project.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "moved block from task.orders_sync: [task.orders_sync] is still in the configuration"
        ),
        "{err}"
    );
    assert!(err.contains("htapsync.toml:"), "{err}");
    assert_eq!(writes(&emu), before);
}

#[test]
fn state_mv_re_addresses_a_task_by_hand() {
    let (_work, emu, project) = applied();
    let before = writes(&emu);
    let dry = project.run_ok(
        &[
            "state",
            "mv",
            "--dry-run",
            "task.orders_sync",
            "task.orders_eu",
        ],
        0,
    );
    assert!(
        dry.contains("Would move task.orders_sync to task.orders_eu"),
        "{dry}"
    );
    assert!(project.state()["tasks"].get("orders_sync").is_some());
    let out = project.run_ok(&["state", "mv", "task.orders_sync", "task.orders_eu"], 0);
    assert!(
        out.contains("Moved task.orders_sync to task.orders_eu"),
        "{out}"
    );
    assert_eq!(
        project.state()["tasks"]["orders_eu"]["spec"]["cloud_name"],
        "orders_sync"
    );
    project.edit("[task.orders_sync]\n", RENAMED);
    let plan = project.run_ok(&["plan", "-detailed-exitcode"], 0);
    assert!(plan.contains("No changes."), "{plan}");
    // Refused: a source not recorded, a destination that is.
    let (code, _, err) = project.run(&["state", "mv", "task.orders_sync", "task.other"]);
    assert_eq!(code, 1);
    assert!(err.contains("task.orders_sync is not in state"), "{err}");
    project.run_ok(&["state", "mv", "task.orders_eu", "task.orders_two"], 0);
    project.edit("orders_eu", "orders_two");
    let serial = project.state()["serial"].clone();
    let (code, _, err) = project.run(&["state", "mv", "task.orders_two", "task.orders_two"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        project.state()["serial"],
        serial,
        "a refused move writes nothing"
    );
    assert_eq!(writes(&emu), before, "state mv writes nothing to the cloud");
}

#[test]
fn an_import_block_adopts_a_cloud_task_without_any_remote_write() {
    let (_work, emu, first) = applied();
    // Another directory, with no state, adopts the task the first one made.
    let config = format!(
        "{}{}\n[[import]]\nto = \"task.orders\"\nid = \"orders_sync\"\n",
        header(&emu.url),
        task("orders", "shop_olap", &["orders"])
    );
    let project = Project::new(&config);
    project.edit("[task.orders]\n", "[task.orders]\nname = \"orders_sync\"\n");
    drop(first);
    let before = writes(&emu);

    let human = project.run_ok(&["plan", "-detailed-exitcode"], 2);
    assert!(human.contains("# task.orders will be imported"), "{human}");
    assert!(
        human.contains("Plan: 1 to import, 0 to add, 0 to change, 0 to destroy."),
        "{human}"
    );
    assert!(!project.path("state.json").exists(), "plan records nothing");
    let json = plan_json(&project);
    let changes = planned_changes(&json);
    assert_eq!(changes.len(), 1, "{json:#?}");
    assert_eq!(changes[0]["action"], "import");
    assert_eq!(changes[0]["importing"]["id"], "orders_sync");
    let markdown = project.run_ok(&["plan", "--format", "markdown"], 0);
    assert!(markdown.contains("will be imported"), "{markdown}");

    project.run_ok(&["apply", "--auto-approve"], 0);
    let state = project.state();
    assert_eq!(
        state["tasks"]["orders"]["spec"]["cloud_name"],
        "orders_sync"
    );
    assert_eq!(state["tasks"]["orders"]["spec"]["instance_id"], HTAP);
    let again = project.run_ok(&["plan", "-detailed-exitcode"], 0);
    assert!(again.contains("No changes."), "{again}");
    assert_eq!(
        writes(&emu),
        before,
        "an import writes nothing to the cloud"
    );
}

#[test]
fn an_import_block_must_name_a_configured_task() {
    let (_work, _emu, project) = applied();
    project.edit(
        "[defaults]",
        "[[import]]\nto = \"task.missing\"\nid = \"orders_sync\"\n\n[defaults]",
    );
    let (code, _, err) = project.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("import block to task.missing: no [task.missing] in the configuration"),
        "{err}"
    );
    assert!(err.contains("htapsync.toml:"), "{err}");
}

#[test]
fn replace_forces_a_gated_replacement_that_a_saved_plan_keeps() {
    let (_work, emu, project) = applied();
    let human = project.run_ok(&["plan", "-replace", "task.orders_sync"], 0);
    assert!(
        human.contains("task.orders_sync will be replaced, as requested"),
        "{human}"
    );
    assert!(human.contains("full resync"), "{human}");
    assert!(
        human.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{human}"
    );

    project.run_ok(
        &["plan", "-replace", "task.orders_sync", "-out", "p.plan"],
        0,
    );
    let (code, _, err) = project.run(&["apply", "p.plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-destructive"), "{err}");
    assert_eq!(
        emu.creates("orders_sync"),
        1,
        "a refused plan changes nothing"
    );
    let (code, _, err) = project.run(&["apply", "-replace", "task.orders_sync", "p.plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the saved plan already holds them"), "{err}");
    let out = project.run_ok(&["apply", "--allow-destructive", "p.plan"], 0);
    assert!(out.contains("1 added, 0 changed, 1 destroyed"), "{out}");
    assert_eq!(emu.creates("orders_sync"), 2, "replaced: registered again");
    let after = project.run_ok(&["plan", "-detailed-exitcode"], 0);
    assert!(after.contains("No changes."), "{after}");

    let (code, _, err) = project.run(&["plan", "-replace", "task.unknown"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("-replace task.unknown"), "{err}");
}

#[test]
fn saved_plans_apply_moves_and_imports_as_shown() {
    let (_work, emu, project) = applied();
    let before = writes(&emu);
    project.edit("[task.orders_sync]\n", RENAMED);
    project.edit(
        "[defaults]",
        "[[moved]]\nfrom = \"task.orders_sync\"\nto = \"task.orders_eu\"\n\n[defaults]",
    );
    project.run_ok(&["plan", "-out", "moved.plan"], 0);
    let shown = project.run_ok(&["show", "moved.plan"], 0);
    assert!(
        shown.contains("task.orders_sync has moved to task.orders_eu"),
        "{shown}"
    );
    assert!(
        project.state()["tasks"].get("orders_sync").is_some(),
        "plan moves nothing"
    );
    project.run_ok(&["apply", "moved.plan"], 0);
    assert!(project.state()["tasks"].get("orders_eu").is_some());

    // Forgotten, then adopted again through a saved plan.
    project.run_ok(&["state", "rm", "task.orders_eu"], 0);
    project.edit(
        "[defaults]",
        "[[import]]\nto = \"task.orders_eu\"\nid = \"orders_sync\"\n\n[defaults]",
    );
    project.run_ok(&["plan", "-out", "import.plan"], 0);
    assert!(
        project.state()["tasks"].get("orders_eu").is_none(),
        "plan imports nothing"
    );
    project.run_ok(&["apply", "import.plan"], 0);
    assert_eq!(
        project.state()["tasks"]["orders_eu"]["spec"]["cloud_name"],
        "orders_sync"
    );
    let again = project.run_ok(&["plan", "-detailed-exitcode"], 0);
    assert!(again.contains("No changes."), "{again}");
    assert_eq!(writes(&emu), before, "nothing was written to the cloud");
}

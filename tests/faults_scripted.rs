//! Issue 18: the exactly-once path under faults a test names one by one
//! (`/_emulator/faults`): which call fails, how, and whether it took effect
//! first. The emulator's counters (`calls` per kind, `creates_per_task`,
//! `starts`) then show what the cloud saw: one registration and one start
//! per task; a call sent again only when a lookup showed it took no effect;
//! a failed refresh read reported as a failed read, never as a deleted task.
//! Run by the real binary against `htapsync emulator`.

mod support;

use serde_json::{Value, json};
use support::{EmulatorProcess, Project, header, task};

const NAME: &str = "orders_sync";

/// One task, not yet applied. A wait that never ends (a start wrongly taken
/// for done, say) fails the test in seconds: the emulator's stages take 20 ms.
fn project(emu: &EmulatorProcess) -> Project {
    let header = header(&emu.url).replace("wait_timeout = \"30s\"", "wait_timeout = \"20s\"");
    Project::new(&(header + &task(NAME, "shop_olap", &["orders"])))
}

fn starts(emu: &EmulatorProcess) -> u64 {
    emu.stats()["starts"].as_u64().unwrap()
}

#[test]
fn a_registration_that_took_effect_before_its_answer_was_lost_is_looked_up_not_resent() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    emu.script(json!([{"call": "register", "task": NAME, "when": "after", "status": 500}]));
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.calls("register"), 1, "sent once");
    assert_eq!(emu.creates(NAME), 1);
    assert_eq!(starts(&emu), 1);
    assert_eq!(emu.stats()["scripted_faults"], 1);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_start_refused_before_doing_anything_is_sent_again_and_starts_once() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    emu.script(json!([{"call": "start", "task": NAME, "when": "before", "status": 503}]));
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.calls("start"), 2, "the lookup showed it did nothing");
    assert_eq!(starts(&emu), 1);
    assert_eq!(emu.calls("register"), 1);
    assert_eq!(emu.creates(NAME), 1);
}

#[test]
fn a_lost_registration_whose_lookup_fails_is_not_resent_and_the_next_run_adopts_it() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    // The registration takes effect and its answer is lost; the task list
    // read that would tell then fails (not a transient error: no retry).
    emu.script(json!([
        {"call": "register", "task": NAME, "when": "after", "status": 500},
        {"call": "list-tasks", "when": "before", "status": 403, "error_code": "DBS.280007"},
    ]));
    let (code, _, err) = p.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(emu.calls("register"), 1, "not sent again blindly");
    assert_eq!(emu.creates(NAME), 1);
    assert_eq!(starts(&emu), 0);

    // The intent recorded before the call makes the next run adopt the task.
    p.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(emu.calls("register"), 1, "adopted, not registered again");
    assert_eq!(emu.creates(NAME), 1);
    assert_eq!(starts(&emu), 1);
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_refresh_read_that_keeps_failing_is_a_failed_read_never_a_deleted_task() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    let registered = emu.calls("register");

    for (status, code) in [(500, "DBS.200001"), (401, "APIGW.0301")] {
        emu.script(
            json!([{"call": "task-config", "task": NAME, "status": status,
                    "error_code": code, "times": 1000}]),
        );
        let mut cmd = p.cmd(&["plan", "--detailed-exitcode"]);
        // A short retry budget, where the client measures it in time.
        cmd.env("HTAPSYNC_RETRY_MAX_ELAPSED", "2s");
        let (exit, out, err) = p.run_cmd(cmd);
        assert_eq!(exit, 1, "{status}: {out}\n{err}");
        assert!(
            err.contains(NAME),
            "{status}: the failed read names the task: {err}"
        );
        assert!(
            !out.contains("will be created") && !out.contains("deleted outside"),
            "{status}: a failed read was taken for absence:\n{out}"
        );
        assert_eq!(emu.calls("register"), registered);
        let url = format!("{}/_emulator/faults", emu.url);
        emu.block_on(reqwest::Client::new().delete(url).send())
            .expect("faults cleared");
    }
    p.run_ok(&["plan", "--detailed-exitcode"], 0);
}

/// E8 may answer 200 with failed table checks and a job id all at once (the
/// API documents every field of that answer together): the modify is
/// refused, naming the table, and its job is never waited for.
#[test]
fn a_modify_answered_with_a_failed_table_check_is_refused_even_with_a_job() {
    let emu = EmulatorProcess::start();
    let p = project(&emu);
    p.run_ok(&["apply", "--auto-approve"], 0);
    p.edit(
        "tables = [\"orders\"]",
        "tables = [\"orders\", \"customers\"]",
    );
    let answer = json!({
        "task_name": NAME,
        "job_id": "7d0ea1b8-0000-4000-8000-00000000e8e8",
        "tbl_config_check_results": [
            {"table_name": "orders", "table_config": "", "check_result": "success"},
            {"table_name": "customers", "table_config": "", "check_result": "failed"},
        ],
    });
    emu.script(json!([{"call": "modify", "task": NAME, "status": 200, "body": answer}]));
    let jobs_before = emu.calls("job");
    let (code, out, err) = p.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("rejected") && err.contains("customers"),
        "{out}\n{err}"
    );
    assert_eq!(emu.calls("modify"), 1);
    assert_eq!(emu.calls("job"), jobs_before, "the job is not polled");
}

#[test]
fn the_fault_endpoint_refuses_rules_it_cannot_answer() {
    let emu = EmulatorProcess::start();
    let url = format!("{}/_emulator/faults", emu.url);
    for body in [
        json!({"rules": [{"call": "start", "status": 200}]}),
        json!({"rules": [{"call": "start", "times": 0}]}),
        json!({"rules": [{"call": "teleport"}]}),
        json!({"rules": [{"call": "start", "unknown": true}]}),
    ] {
        let status = emu
            .block_on(reqwest::Client::new().post(&url).json(&body).send())
            .expect("answers")
            .status();
        assert_eq!(status.as_u16(), 400, "{body}");
    }
    let pending = emu
        .block_on(async { reqwest::get(&url).await?.json::<Value>().await })
        .expect("lists");
    assert_eq!(pending["rules"], json!([]));
}

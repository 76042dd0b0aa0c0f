//! Calls that may create a task are sent again only when the cloud shows they
//! took no effect, through the real binary: scripted faults of the emulator
//! process (`/_emulator/faults`) fail chosen calls, either before handling
//! them (the call did nothing) or after (the call took effect, its answer was
//! lost), and the emulator's counters show what the cloud did.

mod support;
use support::{EmulatorProcess, Project, header, task};

use serde_json::json;

const NAME: &str = "orders_sync";

/// The emulator process and a project using it.
struct Setup {
    emu: EmulatorProcess,
    project: Project,
}

impl Setup {
    /// A wait that never ends (a start wrongly taken for done, say) fails
    /// the test in seconds: the emulator's stages take 20 ms.
    fn new() -> Setup {
        let emu = EmulatorProcess::start();
        let header = header(&emu.url).replace("wait_timeout = \"30s\"", "wait_timeout = \"20s\"");
        let project = Project::new(&(header + &task(NAME, "shop_olap", &["orders"])));
        Setup { emu, project }
    }

    /// Fails the next `times` calls of `call` ("register", "start",
    /// "delete") for the task: `when` "before" handling them or "after".
    fn fail(&self, call: &str, when: &str, status: u16, code: &str, times: u32) {
        let rules = json!([{"call": call, "task": NAME, "when": when, "status": status,
                            "error_code": code, "times": times}]);
        self.emu.script(rules);
    }

    /// How many calls of `kind` the emulator received, faulted ones included.
    fn sent(&self, kind: &str) -> u64 {
        self.emu.stats()["calls"][kind].as_u64().unwrap_or(0)
    }

    fn starts(&self) -> u64 {
        self.emu.stats()["starts"].as_u64().unwrap()
    }
}

/// The call took effect; its answer was lost.
fn lost_500(s: &Setup, call: &str) {
    s.fail(call, "after", 500, "DBS.200001", 1);
}

/// The call did nothing, `times` times.
fn unsent_503(s: &Setup, call: &str, times: u32) {
    s.fail(call, "before", 503, "DBS.200001", times);
}

#[test]
fn a_registration_that_failed_before_taking_effect_is_sent_again() {
    let s = Setup::new();
    unsent_503(&s, "register", 2);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(s.sent("register"), 3);
    assert_eq!(s.emu.creates(NAME), 1);
    assert_eq!(s.starts(), 1);
    s.project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_registration_whose_answer_was_lost_is_not_sent_again() {
    let s = Setup::new();
    lost_500(&s, "register");
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(s.sent("register"), 1, "the lookup found the task");
    assert_eq!(s.emu.creates(NAME), 1);
    assert_eq!(s.starts(), 1);
    s.project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_refused_registration_is_not_sent_again() {
    let s = Setup::new();
    s.fail("register", "before", 400, "DBS.280001", 1);
    let (code, _, err) = s.project.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("DBS.280001"), "{err}");
    assert_eq!(s.sent("register"), 1);
    assert_eq!(s.emu.creates(NAME), 0);
}

#[test]
fn a_registration_failing_every_time_stops_when_the_retry_budget_is_spent() {
    let s = Setup::new();
    unsent_503(&s, "register", 10_000);
    let mut apply = s.project.cmd(&["apply", "--auto-approve"]);
    apply.env("HTAPSYNC_RETRY_MAX_ELAPSED", "3s");
    let (code, _, err) = s.project.run_cmd(apply);
    assert_eq!(code, 1, "{err}");
    // Each answer is a 503 the backend may have acted on: looked up, found
    // absent, sent again, until the budget of time ends the call.
    let sent = s.sent("register");
    assert!(sent > 1 && sent < 10_000, "{sent} registrations sent");
    assert_eq!(s.emu.creates(NAME), 0);
}

#[test]
fn a_start_that_failed_before_taking_effect_is_sent_again() {
    let s = Setup::new();
    unsent_503(&s, "start", 1);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    assert_eq!(s.sent("start"), 2);
    assert_eq!(s.starts(), 1);
    assert_eq!(s.emu.creates(NAME), 1);
}

#[test]
fn a_start_whose_answer_was_lost_is_not_sent_again() {
    let s = Setup::new();
    lost_500(&s, "start");
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    // A started task stays in stage Wait for a moment, where the lookup
    // cannot tell it from one never started: then the start is sent again
    // and the cloud refuses it as one of a started task, which counts as done.
    assert!((1..=2).contains(&s.sent("start")), "{}", s.sent("start"));
    assert_eq!(s.starts(), 1, "started once");
    s.project.run_ok(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_delete_waits_while_the_task_is_busy_but_not_after_a_refusal() {
    let s = Setup::new();
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    s.fail("delete", "before", 409, "DBS.200019", 2);
    let config = s.project.config();
    s.project
        .write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    assert!(!s.project.config().contains(NAME));
    s.project
        .run_ok(&["apply", "--auto-approve", "--allow-destructive"], 0);
    assert_eq!(s.sent("delete"), 3);
    assert_eq!(s.emu.stats()["deletes"], 1);

    s.project.write_config(&config);
    s.project.run_ok(&["apply", "--auto-approve"], 0);
    s.fail("delete", "before", 400, "DBS.280001", 1);
    s.project
        .write_config(&config.replace(&task(NAME, "shop_olap", &["orders"]), ""));
    let (code, _, err) = s
        .project
        .run(&["apply", "--auto-approve", "--allow-destructive"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(s.sent("delete"), 4);
    assert_eq!(s.emu.stats()["deletes"], 1);
}

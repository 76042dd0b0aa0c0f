//! Issue 18: what `cargo mutants` found no test for in `src/refresh/`,
//! pinned through the real binary against `htapsync emulator`, with scripted
//! faults (`/_emulator/faults`) for the reads that must fail.

mod support;

use serde_json::json;
use support::{EmulatorProcess, Project, header, task};

const NAME: &str = "orders_sync";

/// A task listed (E4) whose configuration read (E5) answers "not found" was
/// deleted between the two reads: the plan says so and creates it again,
/// instead of failing as if the read had failed.
#[test]
fn a_task_whose_configuration_is_not_found_is_gone_not_unread() {
    let emu = EmulatorProcess::start();
    let p = Project::new(&(header(&emu.url) + &task(NAME, "shop_olap", &["orders"])));
    p.run_ok(&["apply", "--auto-approve"], 0);
    emu.script(json!([{"call": "task-config", "task": NAME, "status": 400,
                "error_code": "DBS.270022"}]));
    let (code, out, err) = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("deleted outside htapsync"), "{out}");
    assert!(out.contains("will be created"), "{out}");
    assert!(!err.contains("unknown"), "{err}");
}

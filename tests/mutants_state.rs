//! Issue 18: what `cargo mutants` found no test for in `src/state/`, pinned
//! through the real binary.

mod support;

use std::os::unix::fs::PermissionsExt;
use support::{EmulatorProcess, Project, header, task};

/// A state file others may read is warned about, naming its mode; one of
/// mode 0600 (as htapsync writes it) is not.
#[test]
fn a_state_file_readable_by_others_is_warned_about_with_its_mode() {
    let emu = EmulatorProcess::start();
    let p = Project::new(&(header(&emu.url) + &task("t_one", "t_one_olap", &["orders"])));
    p.run_ok(&["apply", "--auto-approve"], 0);
    let state = p.path("state.json");
    let mode = |bits| std::fs::set_permissions(&state, std::fs::Permissions::from_mode(bits));
    let (code, _, err) = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("readable by group or others"), "{err}");

    mode(0o640).unwrap();
    let (code, _, err) = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("state file is readable by group or others (mode 640)"),
        "{err}"
    );
}

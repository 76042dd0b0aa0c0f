//! Secrets never leak: with a distinctive token, or AK/SK, every command runs
//! with the most verbose logging and every output format against the emulator
//! (a separate process that only accepts those credentials), and no secret
//! appears in stdout, stderr, the state, its backup, the plan file or any other
//! file written; the state and plan files are 0600.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::{Config, EmulatorProcess, clean_cmd, tasks};

const TOKEN: &str = "tok-S3CRET-7f3a9c1d";
const AK: &str = "AKS3CRET1234567890QZ";
const SK: &str = "sk-S3CRET-9b8c7d6e5f4a";

/// Every command and output format; each also runs with `-vvv` (trace logs).
/// `PLAN` stands for the plan file's absolute path (relative paths are not
/// resolved against `-C`).
fn commands() -> Vec<Vec<&'static str>> {
    [
        &["validate"][..],
        &["validate", "--json"],
        &["plan"],
        &["plan", "--json"],
        &["plan", "--format", "markdown"],
        &["plan", "--out", "PLAN"],
        &["show", "PLAN"],
        &["show", "PLAN", "--json"],
        &["show", "PLAN", "--format", "markdown"],
        &["apply", "PLAN"],
        &["apply", "--auto-approve", "--json"],
        &["refresh"],
        &["refresh", "--json"],
        &["status"],
        &["status", "--json"],
        &["show"],
        &["show", "--json"],
        &["state", "list"],
        &["state", "show", "task.t000"],
        &["state", "show", "task.t000", "--json"],
        &["import", "--all", "--json"],
        &["fmt", "--check"],
        &["destroy", "--auto-approve", "--json"],
        &["apply", "--auto-approve"],
        &["destroy", "--auto-approve"],
    ]
    .iter()
    .map(|c| c.to_vec())
    .collect()
}

fn assert_clean(what: &str, text: &[u8], secrets: &[&str]) {
    let text = String::from_utf8_lossy(text);
    for s in secrets {
        assert!(!text.contains(s), "{what} contains a secret:\n{text}");
    }
}

fn assert_private(path: &Path) {
    if path.exists() {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
    }
}

/// Every file in `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn run_all(emu: &EmulatorProcess, envs: &[(&str, &str)], secrets: &[&str]) -> usize {
    let cfg = Config::new(&emu.url, &tasks(3));
    let mut runs = 0;
    let plan = cfg.path("saved.plan").display().to_string();
    for args in commands() {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "PLAN" { plan.as_str() } else { a })
            .collect();
        for verbose in [false, true] {
            let mut cmd = clean_cmd();
            cmd.arg("-C")
                .arg(cfg.dir.path())
                .args(&args)
                .envs(envs.iter().copied());
            if verbose {
                cmd.arg("-vvv");
            }
            let out = cmd.output().unwrap();
            runs += 1;
            let what = format!("{args:?} (verbose {verbose}, exit {:?})", out.status.code());
            // The second apply of the same saved plan is refused as stale (an error path, checked too).
            let stale = String::from_utf8_lossy(&out.stderr).contains("Saved plan is stale");
            assert!(
                matches!(out.status.code(), Some(0) | Some(2) | Some(3)) || stale,
                "{what}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_clean(&format!("stdout of {what}"), &out.stdout, secrets);
            assert_clean(&format!("stderr of {what}"), &out.stderr, secrets);
            let remote = ["plan", "apply", "refresh", "status", "import", "destroy"];
            if verbose && remote.contains(&args[0]) && args.len() == 1 {
                assert!(!out.stderr.is_empty(), "{what}: -vvv logs the remote calls");
            }
            assert_private(&cfg.state_path());
            assert_private(&cfg.path("saved.plan"));
        }
        if args.starts_with(&["plan", "--out"]) {
            assert!(cfg.path("saved.plan").exists());
        }
    }
    for file in files(cfg.dir.path()) {
        assert_clean(
            &file.display().to_string(),
            &std::fs::read(&file).unwrap(),
            secrets,
        );
    }
    runs
}

#[test]
fn token_never_appears_anywhere() {
    let work = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::quickstart(work.path(), &[], &[("HTAPSYNC_EMULATOR_TOKEN", TOKEN)]);
    let runs = run_all(&emu, &[("HTAPSYNC_TOKEN", TOKEN)], &[TOKEN]);
    assert!(runs >= 40);
    assert_eq!(emu.stats()["auth_failures"], 0);
}

#[test]
fn ak_sk_never_appear_anywhere() {
    let work = tempfile::tempdir().unwrap();
    let emu =
        EmulatorProcess::quickstart(work.path(), &["--ak", AK], &[("HTAPSYNC_EMULATOR_SK", SK)]);
    let envs = [("HTAPSYNC_ACCESS_KEY", AK), ("HTAPSYNC_SECRET_KEY", SK)];
    run_all(&emu, &envs, &[SK, AK]);
    assert_eq!(emu.stats()["auth_failures"], 0);
}

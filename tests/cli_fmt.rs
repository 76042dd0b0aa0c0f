//! `htapsync fmt` end to end: `--check` lists and changes nothing (exit 3),
//! `fmt` rewrites keeping comments, `--diff` prints a unified diff, and a
//! file that does not parse is a positioned diagnostic (exit 1).

mod support;
use std::path::Path;
use support::Workspace;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config");

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(rel)).unwrap()
}

/// A directory with one unformatted file (`messy.toml`), one canonical file
/// (`provider.toml`), and an unformatted hidden file, which is not part of
/// the configuration and must be left alone.
fn workspace() -> Workspace {
    let ws = Workspace::empty();
    ws.write("messy.toml", &fixture("fmt/messy.toml"));
    ws.write("provider.toml", &fixture("valid/provider.toml"));
    ws.write(".draft.toml", "a   =  1\n");
    ws
}

fn snapshot(ws: &Workspace) -> Vec<(String, String)> {
    ["messy.toml", "provider.toml", ".draft.toml"]
        .iter()
        .map(|f| (f.to_string(), ws.read(f)))
        .collect()
}

fn messy_path(ws: &Workspace) -> String {
    ws.path("messy.toml").display().to_string()
}

#[test]
fn check_lists_unformatted_files_and_changes_nothing() {
    let ws = workspace();
    let before = snapshot(&ws);
    let out = ws.run_ok(&["fmt", "--check"], 3);
    assert_eq!(out, format!("{}\n", messy_path(&ws)));
    assert_eq!(snapshot(&ws), before, "--check must not write");

    // Run inside the directory, files are named as they are found there.
    let out = support::clean_cmd()
        .current_dir(ws.dir.path())
        .args(["fmt", "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "messy.toml\n");
}

#[test]
fn fmt_rewrites_keeping_comments_then_check_passes() {
    let ws = workspace();
    let messy = ws.read("messy.toml");
    let out = ws.run_ok(&["fmt"], 0);
    assert_eq!(out, format!("{}\n", messy_path(&ws)));

    let formatted = ws.read("messy.toml");
    assert_eq!(formatted, fixture("fmt/messy.formatted.toml"));
    for comment in messy
        .lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].trim_end()))
    {
        assert!(
            formatted.contains(comment),
            "lost {comment:?}:\n{formatted}"
        );
    }
    assert_eq!(ws.read("provider.toml"), fixture("valid/provider.toml"));
    assert_eq!(ws.read(".draft.toml"), "a   =  1\n");

    assert_eq!(ws.run_ok(&["fmt", "--check"], 0), "");
    assert_eq!(ws.run_ok(&["fmt"], 0), "", "formatting is idempotent");
}

#[test]
fn diff_shows_a_unified_diff() {
    let ws = workspace();
    let before = snapshot(&ws);
    let path = messy_path(&ws);
    let out = ws.run_ok(&["fmt", "--check", "--diff"], 3);
    assert_eq!(snapshot(&ws), before, "--check --diff must not write");

    assert!(
        out.starts_with(&format!(
            "{path}\n--- {path}\n+++ {path}\n@@ -1,28 +1,25 @@\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("\n-  project_id=\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n"),
        "{out}"
    );
    assert!(
        out.contains("\n+project_id = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n"),
        "{out}"
    );
    // Every removed line comes from the file, every added line from its
    // canonical form.
    let old = fixture("fmt/messy.toml");
    let new = fixture("fmt/messy.formatted.toml");
    for line in out.lines().skip(4) {
        match line.split_at_checked(1) {
            Some(("-", rest)) => assert!(old.lines().any(|l| l == rest), "{line:?}"),
            Some(("+", rest)) => assert!(new.lines().any(|l| l == rest), "{line:?}"),
            Some((" ", rest)) => assert!(old.lines().any(|l| l == rest), "{line:?}"),
            _ => assert_eq!(line, "", "unexpected diff line"),
        }
    }

    // Without --check, --diff also rewrites.
    let out = ws.run_ok(&["fmt", "--diff"], 0);
    assert!(out.contains(&format!("+++ {path}\n")), "{out}");
    assert_eq!(ws.read("messy.toml"), new);
}

#[test]
fn syntax_error_is_a_positioned_diagnostic() {
    let ws = workspace();
    ws.write("bad.toml", "[task.x]\nkey = = 1\n");
    let bad = ws.path("bad.toml").display().to_string();
    for args in [&["fmt", "--check"][..], &["fmt"]] {
        let (code, _, err) = ws.run(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("error: TOML syntax error: "),
            "{args:?}: {err}"
        );
        assert!(err.contains(&format!("--> {bad}:2:7\n")), "{err}");
        assert!(err.contains("2 | key = = 1\n  |       ^"), "{err}");
        assert_eq!(ws.read("bad.toml"), "[task.x]\nkey = = 1\n");
    }
}

#[test]
fn undecodable_file_is_named() {
    let ws = Workspace::empty();
    std::fs::write(ws.path("bad.toml"), b"name = \"\xff\"\n").unwrap();
    let (code, out, err) = ws.run(&["fmt", "--check"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    let bad = ws.path("bad.toml").display().to_string();
    assert!(err.contains(&format!("cannot read {bad}")), "{err}");
}

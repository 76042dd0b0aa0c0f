//! The CI examples fail their job whenever htapsync fails. Each shell script
//! of `examples/ci/*.yml` (a GitHub step's `run`, a GitLab job's
//! `before_script` + `script`) and each `sh` block of `docs/ci.md` is run the
//! way the CI runs it — `bash -e`, *without* pipefail, which is GitHub's
//! default for `run` — with a stub `htapsync` first on PATH that fails on its
//! Nth call, for every N the script reaches: each such run must fail. The run
//! in which no call fails must succeed, so the harness itself is sound.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines under a `key: |` block (more indented than `key_indent`), dedented.
fn block(lines: &[&str], start: usize, key_indent: usize) -> (String, usize) {
    let mut body = Vec::new();
    let mut i = start;
    while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > key_indent) {
        body.push(lines[i]);
        i += 1;
    }
    let margin = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = body
        .iter()
        .map(|l| if l.len() >= margin { &l[margin..] } else { "" })
        .collect();
    (text.join("\n") + "\n", i)
}

/// The script of every GitHub Actions step with `run:`.
fn github_scripts(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut scripts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line
            .trim_start()
            .trim_start_matches("- ")
            .strip_prefix("run:")
        else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with('|') {
            scripts.push(block(&lines, i + 1, indent(line)).0);
        } else {
            scripts.push(format!("{rest}\n"));
        }
    }
    scripts
}

/// The items of the YAML list under `key:` starting at line `at`, as shell text.
fn gitlab_list(lines: &[&str], at: usize) -> String {
    let key_indent = indent(lines[at]);
    let mut out = String::new();
    let mut i = at + 1;
    while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > key_indent) {
        let item = lines[i].trim_start();
        match item.strip_prefix("- ") {
            Some(text) if text.trim() == "|" => {
                let (body, next) = block(lines, i + 1, indent(lines[i]));
                out.push_str(&body);
                i = next;
                continue;
            }
            Some(text) => {
                out.push_str(text);
                out.push('\n');
            }
            None => {}
        }
        i += 1;
    }
    out
}

/// One script per GitLab job: the template's `before_script`, then the job's `script`.
fn gitlab_scripts(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let key = |i: usize, name: &str| lines[i].trim() == format!("{name}:");
    let before: String = (0..lines.len())
        .filter(|&i| key(i, "before_script"))
        .map(|i| gitlab_list(&lines, i))
        .collect();
    (0..lines.len())
        .filter(|&i| key(i, "script"))
        .map(|i| format!("{before}{}", gitlab_list(&lines, i)))
        .collect()
}

/// The ```sh blocks of a Markdown file.
fn markdown_scripts(md: &str) -> Vec<String> {
    let mut scripts = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        match (&mut current, line.trim()) {
            (None, "```sh" | "```bash" | "```shell") => current = Some(String::new()),
            (Some(_), "```") => scripts.extend(current.take()),
            (Some(s), _) => {
                s.push_str(line);
                s.push('\n');
            }
            (None, _) => {}
        }
    }
    scripts
}

/// GitHub substitutes `${{ … }}` before the shell sees the script.
fn substitute_expressions(script: &str) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push('x');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn write_stub(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `script` under `bash -e` with htapsync failing on call `fail_at`;
/// returns (success, number of htapsync calls).
fn run_step(script: &str, fail_at: u32) -> (bool, u32, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let counter = dir.path().join("calls");
    write_stub(
        &bin,
        "htapsync",
        r#"n=$(( $(cat "$STUB_CALLS" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$STUB_CALLS"
if [ "$n" = "$STUB_FAIL_AT" ]; then echo "htapsync stub: failing call $n" >&2; exit 1; fi
exit 0"#,
    );
    for tool in ["cargo", "git", "gh", "curl", "jq", "apt-get"] {
        write_stub(&bin, tool, "exit 0");
    }
    let file = dir.path().join("step.sh");
    std::fs::write(&file, substitute_expressions(script)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new("bash")
        .arg("-e")
        .arg(&file)
        .current_dir(&work)
        .env("PATH", path)
        .env("STUB_CALLS", &counter)
        .env("STUB_FAIL_AT", fail_at.to_string())
        .env("GITHUB_OUTPUT", dir.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary"))
        .output()
        .expect("bash runs");
    let calls = std::fs::read_to_string(&counter)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), calls, log)
}

/// Every failing htapsync call fails the script; the run without one succeeds.
/// Returns how many htapsync calls the script makes.
fn assert_fails_with_htapsync(origin: &str, script: &str) -> u32 {
    let mut fail_at = 1;
    loop {
        let (ok, calls, log) = run_step(script, fail_at);
        if calls < fail_at {
            assert!(
                ok,
                "{origin}: the step fails although htapsync succeeded:\n{script}\n{log}"
            );
            return calls;
        }
        assert!(
            !ok,
            "{origin}: htapsync failed on call {fail_at} but the step succeeded:\n{script}"
        );
        fail_at += 1;
    }
}

/// Runs every script of one file; asserts that together they call htapsync.
fn check_all(origin: &str, scripts: Vec<String>) {
    assert!(!scripts.is_empty(), "{origin}: no shell scripts found");
    let total: u32 = scripts
        .iter()
        .map(|s| assert_fails_with_htapsync(origin, s))
        .sum();
    assert!(total > 0, "{origin}: no script calls htapsync");
}

#[test]
fn github_actions_example_fails_when_htapsync_fails() {
    let yaml = std::fs::read_to_string(repo("examples/ci/github-actions.yml")).unwrap();
    check_all("github-actions.yml", github_scripts(&yaml));
}

#[test]
fn gitlab_ci_example_fails_when_htapsync_fails() {
    let yaml = std::fs::read_to_string(repo("examples/ci/gitlab-ci.yml")).unwrap();
    check_all("gitlab-ci.yml", gitlab_scripts(&yaml));
}

#[test]
fn ci_doc_snippets_fail_when_htapsync_fails() {
    let md = std::fs::read_to_string(repo("docs/ci.md")).unwrap();
    check_all("docs/ci.md", markdown_scripts(&md));
}

#[test]
fn the_harness_catches_a_pipe_that_hides_a_failure() {
    let hidden = "htapsync apply --json plan.bin | tee apply.jsonl\n";
    assert!(run_step(hidden, 1).0, "bash -e alone does not see it");
    let fixed = format!("set -o pipefail\n{hidden}");
    assert!(!run_step(&fixed, 1).0);
}

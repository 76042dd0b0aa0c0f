//! Hostile files through the real binary: each must give a clear error and
//! exit 1, never a panic or a stack overflow, and must write nothing.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use support::fleet::STATE_REL;
use support::{Config, tasks};

/// Every file under `dir` with its bytes (to prove nothing was written).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let key = p.strip_prefix(dir).unwrap().display().to_string();
            // The lock sidecar is created empty (and left empty) by the locking
            // protocol itself; it holds no state.
            if key.ends_with(".lock") && meta.len() == 0 {
                continue;
            }
            if meta.is_dir() {
                stack.push(p);
                out.insert(key, Vec::new());
            } else if meta.file_type().is_symlink() {
                out.insert(
                    key,
                    std::fs::read_link(&p)
                        .unwrap()
                        .display()
                        .to_string()
                        .into_bytes(),
                );
            } else if meta.len() > 1024 * 1024 {
                out.insert(key, meta.len().to_le_bytes().to_vec());
            } else {
                out.insert(key, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Runs `args`, asserting exit 1, a message containing `expect`, no panic and no write.
fn refused(cfg: &Config, args: &[&str], expect: &str) {
    let before = snapshot(cfg.dir.path());
    let (code, out, err) = cfg.run(args);
    let all = format!("{out}{err}");
    assert_eq!(code, 1, "{args:?}: {all}");
    assert!(
        all.contains(expect),
        "{args:?}: expected {expect:?} in:\n{all}"
    );
    assert!(
        !all.contains("panicked") && !all.contains("overflow"),
        "{all}"
    );
    assert_eq!(snapshot(cfg.dir.path()), before, "{args:?} wrote something");
}

fn config() -> Config {
    Config::new("http://127.0.0.1:9", &tasks(2))
}

#[test]
fn a_100_mb_toml_is_refused_without_reading_it() {
    let cfg = config();
    let f = std::fs::File::create(cfg.path("huge.toml")).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let started = std::time::Instant::now();
    for args in [&["validate"][..], &["plan"][..]] {
        refused(&cfg, args, "limited to 16 MiB");
    }
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn a_file_just_over_the_limit_of_repeated_tables_is_refused() {
    let cfg = config();
    let block = "[task.x]\ntarget_database_name = \"olap\"\n# padding padding padding\n";
    let n = (16 * 1024 * 1024) / block.len() + 1;
    std::fs::write(cfg.path("big.toml"), block.repeat(n)).unwrap();
    refused(&cfg, &["validate"], "limited to 16 MiB");
}

#[test]
fn deeply_nested_tables_arrays_and_keys_are_errors_not_crashes() {
    let depth = 100_000;
    let nests = [
        (
            "arrays.toml",
            format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            "inline.toml",
            format!("x = {}1{}\n", "{a=".repeat(depth), "}".repeat(depth)),
        ),
        (
            "dotted.toml",
            format!("{} = 1\n", vec!["a"; depth].join(".")),
        ),
        (
            "headers.toml",
            format!("[{}]\n", vec!["a"; depth].join(".")),
        ),
        (
            "task.toml",
            format!("[task.t000.db_configs.{}]\n", vec!["a"; depth].join(".")),
        ),
    ];
    for (name, text) in nests {
        let cfg = config();
        std::fs::write(cfg.path(name), text).unwrap();
        refused(&cfg, &["validate"], name);
        refused(&cfg, &["plan"], name);
    }
}

#[test]
fn invalid_utf8_is_reported_with_its_position() {
    let cfg = config();
    std::fs::write(cfg.path("bad.toml"), b"[task.x]\nname = \"caf\xe9\"\n").unwrap();
    refused(&cfg, &["validate"], "bad.toml");
    refused(&cfg, &["plan"], "UTF-8");
}

#[test]
fn a_symlinked_state_path_is_refused() {
    let cfg = config();
    std::fs::create_dir_all(cfg.path("state")).unwrap();
    let elsewhere = cfg.path("elsewhere.json");
    std::fs::write(&elsewhere, b"{}").unwrap();
    std::os::unix::fs::symlink(&elsewhere, cfg.path(STATE_REL)).unwrap();
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"][..],
        &["state", "list"][..],
    ] {
        refused(&cfg, args, "symbolic link");
    }
}

#[test]
fn a_state_of_another_format_version_is_refused() {
    for (doc, expect) in [
        (
            r#"{"format_version": 99, "lineage": "x", "serial": 1}"#,
            "99",
        ),
        (
            r#"{"format_version": 0, "lineage": "x", "serial": 1}"#,
            "format_version 0",
        ),
        (
            r#"{"format_version": "1", "lineage": "x", "serial": 1}"#,
            "format_version",
        ),
        (r#"{"lineage": "x"}"#, "format_version is missing"),
        ("{\"format_version\": 1, \"tasks\": ", "state"),
        ("\u{feff}\0\0garbage", "state"),
    ] {
        let cfg = config();
        std::fs::create_dir_all(cfg.path("state")).unwrap();
        std::fs::write(cfg.path(STATE_REL), doc).unwrap();
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"][..],
            &["state", "list"][..],
        ] {
            refused(&cfg, args, expect);
        }
    }
}

#[test]
fn a_deeply_nested_state_is_an_error_not_a_crash() {
    let cfg = config();
    std::fs::create_dir_all(cfg.path("state")).unwrap();
    let doc = format!(
        "{{\"format_version\": 1, \"htapsync_version\": \"0\", \"lineage\": \"x\", \
         \"serial\": 1, \"tasks\": {{\"a\": {}1{}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(cfg.path(STATE_REL), doc).unwrap();
    refused(&cfg, &["state", "list"], "the state file is not valid");
}

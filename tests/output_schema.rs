//! `htapsync schema`: the JSON Schema of a configuration file accepts every
//! configuration file of the examples and fixtures, and rejects unknown keys,
//! bad enum values and out-of-range parameters (checked with the `jsonschema`
//! validator, as editors would).

mod support;

use std::path::{Path, PathBuf};
use support::Workspace;

fn validator() -> jsonschema::Validator {
    let out = Workspace::empty().run_ok(&["schema"], 0);
    let schema: serde_json::Value = serde_json::from_str(&out).expect("schema is JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn toml_to_json(text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(text).expect("valid TOML");
    serde_json::to_value(value).unwrap()
}

/// The configuration files of a directory: its `*.toml`, as `load_dir` reads them.
fn config_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_configuration_validates() {
    let validator = validator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.push(root.join("tests/fixtures/config/valid"));
    let mut checked = 0;
    for dir in dirs {
        for file in config_files(&dir) {
            let doc = toml_to_json(&std::fs::read_to_string(&file).unwrap());
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} files checked");
}

fn rejects(validator: &jsonschema::Validator, toml_text: &str, why: &str) {
    let doc = toml_to_json(toml_text);
    assert!(!validator.is_valid(&doc), "accepted {why}: {toml_text}");
}

#[test]
fn unknown_keys_and_bad_values_are_rejected() {
    let validator = validator();
    let good = "[task.orders_sync]\ntables = [\"orders\"]\n";
    assert!(validator.is_valid(&toml_to_json(good)));
    rejects(
        &validator,
        "[task.orders_sync]\ninstnce_id = \"x\"\n",
        "an unknown task key",
    );
    rejects(
        &validator,
        "[provider]\nproject_id = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\nendpoint = \"embedded\"\nregion = \"r\"\ntoken = \"x\"\n",
        "an unknown provider key",
    );
    rejects(&validator, "[unknown]\n", "an unknown top-level table");
    rejects(
        &validator,
        "[defaults]\ntables = [\"orders\"]\n",
        "tables in [defaults]",
    );
    rejects(
        &validator,
        "[task.orders_sync]\nrepl_type = \"include\"\n",
        "a bad repl_type",
    );
    rejects(
        &validator,
        "[task.orders_sync.db_configs]\nsync_commit_interval_ms = 10\n",
        "an out-of-range parameter",
    );
    rejects(
        &validator,
        "[task.orders_sync.db_configs]\nnope = 1\n",
        "an unknown parameter",
    );
    rejects(&validator, "[task.ab]\n", "a task name that is too short");
    rejects(
        &validator,
        "[provider]\nproject_id = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\nendpoint = \"http://example.com\"\nregion = \"r\"\n",
        "plain HTTP to a remote host",
    );
    rejects(
        &validator,
        "[task.orders_sync]\ntables = [\"a\", \"a\"]\n",
        "a duplicate table",
    );
}

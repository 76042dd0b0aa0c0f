//! `htapsync validate` end to end: every validation rule of
//! `tests/config_load.rs` fed to the real binary, checking the human output
//! (message, `FILE:LINE:COL`, the offending line with a caret under the
//! column, exit code 1) and `validate --json` (the same values in
//! Terraform's diagnostic shape).

mod support;
use serde_json::Value;
use support::Workspace;

const PROVIDER: &str = r#"[provider]
project_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
endpoint = "https://example.com"
region = "ap-southeast-1"
"#;

/// A valid task on lines 1-4; `extra` starts at line 5.
fn task(extra: &str) -> String {
    format!(
        r#"[task.orders_sync]
instance_id = "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17"
source_instance_id = "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07"
source_database_name = "shop"
{extra}"#
    )
}

/// One error the run must report. `{DIR}` in `summary` and `detail` stands
/// for the configuration directory (messages that cite other places name
/// them by path).
struct Expect {
    file: Option<&'static str>,
    position: Option<(usize, usize)>,
    /// Whether the offending line is shown with a caret (not for files
    /// that cannot be decoded).
    snippet: bool,
    summary: String,
    /// A part of the detail (`""`: not checked beyond human/JSON agreement).
    detail: &'static str,
}

/// An error at `file:line:column`, shown with its line and a caret.
fn at(
    file: &'static str,
    line: usize,
    column: usize,
    summary: &str,
    detail: &'static str,
) -> Expect {
    Expect {
        file: Some(file),
        position: Some((line, column)),
        snippet: true,
        summary: summary.to_string(),
        detail,
    }
}

/// An error about a whole file (or, with `None`, the whole configuration).
fn whole(file: Option<&'static str>, summary: &str, detail: &'static str) -> Expect {
    Expect {
        file,
        position: None,
        snippet: false,
        summary: summary.to_string(),
        detail,
    }
}

fn dir_of(ws: &Workspace) -> String {
    ws.dir.path().display().to_string()
}

/// Runs `validate` and `validate --json` in `ws`; both must fail and report
/// exactly `expected`, with the same values.
#[track_caller]
fn check(ws: &Workspace, expected: &[Expect]) {
    let dir = dir_of(ws);
    let (code, out, err) = ws.run(&["validate"]);
    assert_eq!(code, 1, "exit code\n--- stdout\n{out}\n--- stderr\n{err}");
    assert_eq!(out, "", "nothing on stdout when invalid");
    let reported = err.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(reported, expected.len(), "number of errors in:\n{err}");
    assert!(!err.contains("warning: "), "no warning expected in:\n{err}");

    let (code, out, json_err) = ws.run(&["validate", "--json"]);
    assert_eq!(code, 1, "--json exit code\n{out}\n{json_err}");
    let doc: Value = serde_json::from_str(&out).expect("validate --json prints JSON");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["error_count"], expected.len(), "{doc:#}");
    assert_eq!(doc["warning_count"], 0, "{doc:#}");
    let errors: Vec<&Value> = doc["diagnostics"]
        .as_array()
        .expect("diagnostics array")
        .iter()
        .filter(|d| d["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), expected.len(), "{doc:#}");

    for e in expected {
        let summary = e.summary.replace("{DIR}", &dir);
        let detail = e.detail.replace("{DIR}", &dir);
        let path = e.file.map(|f| format!("{dir}/{f}"));

        // Human output.
        assert!(
            err.contains(&format!("error: {summary}\n")),
            "missing {summary:?} in:\n{err}"
        );
        assert!(
            err.contains(&detail),
            "missing detail {detail:?} in:\n{err}"
        );
        match (&path, e.position) {
            (Some(path), Some((line, column))) => {
                assert!(
                    err.contains(&format!("--> {path}:{line}:{column}\n")),
                    "missing {path}:{line}:{column} in:\n{err}"
                );
                if e.snippet {
                    let text = ws.read(e.file.unwrap_or_default());
                    let code = text.lines().nth(line - 1).expect("line exists").trim_end();
                    let pad = " ".repeat(line.to_string().len());
                    let caret = format!("{pad} | {}^", " ".repeat(column - 1));
                    assert!(
                        err.contains(&format!("\n{line} | {code}\n{caret}")),
                        "missing line {line} with a caret at column {column} in:\n{err}"
                    );
                }
            }
            (Some(path), None) => assert!(
                err.contains(&format!("--> {path}\n")),
                "missing {path} in:\n{err}"
            ),
            (None, _) => {}
        }

        // JSON output.
        let d = errors
            .iter()
            .find(|d| d["summary"] == summary.as_str())
            .unwrap_or_else(|| panic!("no JSON diagnostic {summary:?} in {doc:#}"));
        let json_detail = d["detail"].as_str().expect("detail is a string");
        assert!(json_detail.contains(&detail), "{d:#}");
        if let Some(first) = json_detail.lines().next() {
            assert!(
                err.contains(&format!("= help: {first}")),
                "human and JSON details differ: {first:?} not in:\n{err}"
            );
        }
        assert_eq!(d["file"], path.map_or(Value::Null, Value::from), "{d:#}");
        let (line, column) = e.position.unzip();
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (line.map(|l| l as u64), column.map(|c| c as u64)),
            "{d:#}"
        );
        assert_eq!(d.get("snippet").is_some(), e.snippet, "{d:#}");
    }
}

/// One `#[test]` per rule: the files written into an empty directory, and
/// the errors `validate` must report.
macro_rules! rules {
    ($($name:ident: [$($file:expr => $text:expr),* $(,)?] => [$($expect:expr),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                let ws = Workspace::empty();
                $(ws.write($file, &$text);)*
                check(&ws, &[$($expect),*]);
            }
        )*
    };
}

rules! {
    task_name: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("").replace("orders_sync", "ab"),
    ] => [at("tasks.toml", 1, 7, "invalid task name \"ab\"", "3 to 128 letters, digits or underscores")];

    target_database_name: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("target_database_name = \"shop-olap\"\n"),
    ] => [at("tasks.toml", 5, 24, "invalid target_database_name \"shop-olap\" in [task.orders_sync]", "")];

    source_database_name: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("").replace("\"shop\"", "\"sh\""),
    ] => [at("tasks.toml", 4, 24, "invalid source_database_name \"sh\" in [task.orders_sync]", "3 to 1024")];

    project_id: [
        "p.toml" => PROVIDER.replace("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e-d3c"),
        "tasks.toml" => task(""),
    ] => [at("p.toml", 2, 14, "invalid project_id \"0f1e-d3c\" in [provider]", "a project id is 32 letters or digits")];

    instance_id: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("").replace("2bin17", "2bno07"),
    ] => [at("tasks.toml", 2, 15, "invalid instance_id \"6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bno07\" in [task.orders_sync]", "ending in `in07` or `in17`")];

    source_instance_id: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("").replace("1ain07", "1ain17"),
    ] => [at("tasks.toml", 3, 22, "invalid source_instance_id \"3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain17\" in [task.orders_sync]", "36 letters or digits ending in `in07`")];

    source_node_id: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("source_node_id = \"3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07\"\n"),
    ] => [at("tasks.toml", 5, 18, "invalid source_node_id \"3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07\" in [task.orders_sync]", "ending in `no07`")];

    enum_value: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("repl_type = \"include\"\n"),
    ] => [at("tasks.toml", 5, 13, "invalid repl_type \"include\" in [task.orders_sync]",
        "did you mean `include_tables`? Allowed values: `include_tables`, `exclude_tables`")];

    scope_all_with_tables: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("repl_scope = \"all\"\ntables = [\"orders\"]\n"),
    ] => [at("tasks.toml", 5, 14, "repl_scope = \"all\" contradicts the 1 table(s) listed in `tables` of [task.orders_sync]", "")];

    scope_part_without_tables: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("repl_scope = \"part\"\ntables = []\n"),
    ] => [at("tasks.toml", 5, 14, "repl_scope = \"part\" needs a non-empty `tables` in [task.orders_sync]", "")];

    table_config_for_table_not_included: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("tables = [\"orders\"]\n[task.orders_sync.table_configs]\norder_items = \"order by id\"\n"),
    ] => [at("tasks.toml", 7, 1, "table_configs sets `order_items`, which is not replicated by [task.orders_sync]",
        "replicates only the tables in `tables`: orders")];

    table_config_for_excluded_table: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("repl_type = \"exclude_tables\"\ntables = [\"orders\"]\n[task.orders_sync.table_configs]\norders = \"order by id\"\n"),
    ] => [at("tasks.toml", 8, 1, "table_configs sets `orders`, which is not replicated by [task.orders_sync]",
        "excludes from replication")];

    empty_table_config: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("tables = [\"orders\"]\n[task.orders_sync.table_configs]\norders = \"\"\n"),
    ] => [at("tasks.toml", 7, 10, "invalid table config for `orders` in [task.orders_sync.table_configs]",
        "a table config is 1 to 1024 characters; got 0")];

    unknown_key_in_task: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("instnce_id = \"x\"\n"),
    ] => [at("tasks.toml", 5, 1, "unknown key `instnce_id` in [task.orders_sync]",
        "did you mean `instance_id`? Allowed keys: `instance_id`, ")];

    unknown_keys_in_provider_and_top_level: [
        "p.toml" => format!("{PROVIDER}regoin = \"x\"\n[tasks.a]\n"),
        "t.toml" => task(""),
    ] => [
        at("p.toml", 5, 1, "unknown key `regoin` in [provider]", "did you mean `region`?"),
        at("p.toml", 6, 2, "unknown key `tasks` in the top level", "did you mean `task`?"),
    ];

    tables_in_defaults: [
        "d.toml" => "[defaults]\ntables = [\"a\"]\n",
        "p.toml" => PROVIDER,
        "t.toml" => task(""),
    ] => [at("d.toml", 2, 1, "`tables` cannot be inherited: set it in each [task.NAME]", "")];

    unknown_db_config: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("[task.orders_sync.db_configs]\nsync_commit_interval = 5000\n"),
    ] => [at("tasks.toml", 6, 1, "unknown db_config `sync_commit_interval` in [task.orders_sync.db_configs]",
        "did you mean `sync_commit_interval_ms`? Allowed db_configs:")];

    db_config_out_of_range: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("db_configs = { sync_commit_interval_ms = 999 }\n"),
    ] => [at("tasks.toml", 5, 42, "db_config `sync_commit_interval_ms` = 999 is out of range in [task.orders_sync.db_configs]",
        "allowed: 1000-60000 (default 5000)")];

    db_config_wrong_types: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("[task.orders_sync.db_configs]\nsnapshot_with_lock = 1\nmax_rows_per_chunk = [1]\n"),
    ] => [
        at("tasks.toml", 6, 22, "db_config `snapshot_with_lock` = 1 is not true or false in [task.orders_sync.db_configs]",
            "allowed: true|false (default true)"),
        at("tasks.toml", 7, 22, "wrong type for `max_rows_per_chunk` in [task.orders_sync.db_configs]: expected an integer, boolean or string, found an array", ""),
    ];

    same_task_in_two_files: [
        "a.toml" => format!("{PROVIDER}\n{}", task("")),
        "b.toml" => format!("# again\n{}", task("")),
    ] => [at("b.toml", 2, 1, "task `orders_sync` is defined twice: at {DIR}/a.toml:6:1 and at {DIR}/b.toml:2:1", "")];

    task_sub_table_in_another_file: [
        "a.toml" => format!("{PROVIDER}\n{}", task("")),
        "b.toml" => "[task.orders_sync.db_configs]\nsnapshot_with_lock = false\n",
    ] => [at("b.toml", 1, 7, "task `orders_sync` is defined twice: at {DIR}/a.toml:6:1 and at {DIR}/b.toml:1:7", "")];

    missing_required_task_key: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("").replace("source_database_name = \"shop\"\n", ""),
    ] => [at("tasks.toml", 1, 1, "missing required key `source_database_name` in [task.orders_sync]",
        "set `source_database_name` in [task.orders_sync] or in [defaults]")];

    missing_provider: [
        "tasks.toml" => task(""),
    ] => [whole(None, "no [provider] table in the configuration", "")];

    duplicate_provider: [
        "a.toml" => PROVIDER,
        "b.toml" => format!("\n{PROVIDER}"),
        "t.toml" => task(""),
    ] => [at("b.toml", 2, 1, "duplicate [provider] table", "{DIR}/a.toml:1:1")];

    missing_provider_key: [
        "p.toml" => PROVIDER.replace("region = \"ap-southeast-1\"\n", ""),
        "t.toml" => task(""),
    ] => [at("p.toml", 1, 1, "missing required key `region` in [provider]", "")];

    wrong_toml_types: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("paused = \"no\"\n").replace("\"6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17\"", "5"),
    ] => [
        at("tasks.toml", 2, 15, "wrong type for `instance_id` in [task.orders_sync]: expected a string, found an integer", ""),
        at("tasks.toml", 5, 10, "wrong type for `paused` in [task.orders_sync]: expected a boolean, found a string", ""),
    ];

    syntax_error: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("paused = tru\n"),
    ] => [at("tasks.toml", 5, 10, "TOML syntax error: invalid boolean, expected `true`", "")];

    duplicate_table_names: [
        "p.toml" => PROVIDER,
        "tasks.toml" => task("tables = [\"orders\", \"items\", \"orders\"]\n"),
    ] => [at("tasks.toml", 5, 30, "duplicate table \"orders\" in `tables` of [task.orders_sync]", "{DIR}/tasks.toml:5:11")];

    plain_http_endpoint: [
        "p.toml" => PROVIDER.replace("https://example.com", "http://example.com"),
        "t.toml" => task(""),
    ] => [at("p.toml", 3, 12, "invalid endpoint \"http://example.com\" in [provider]", "only allowed for loopback hosts")];

    emulator_data_without_embedded: [
        "p.toml" => format!("{PROVIDER}emulator_data = \"x.json\"\n"),
        "t.toml" => task(""),
    ] => [at("p.toml", 5, 17, "`emulator_data` is only allowed with endpoint = \"embedded\"", "")];

    embedded_without_cloud: [
        "p.toml" => PROVIDER.replace("https://example.com", "embedded"),
        "t.toml" => task(""),
    ] => [at("p.toml", 3, 12, "endpoint = \"embedded\" requires `emulator_cloud` in [provider]", "")];

    embedded_cloud_file_missing: [
        "p.toml" => format!("{}emulator_cloud = \"cloud/cloud.toml\"\n", PROVIDER.replace("https://example.com", "embedded")),
        "t.toml" => task(""),
    ] => [at("p.toml", 5, 18, "emulator_cloud file \"cloud/cloud.toml\" does not exist", "")];

    all_errors_of_all_files: [
        "a.toml" => PROVIDER.replace("ap-southeast-1", "AP SOUTH"),
        "b.toml" => task("instnce_id = 1\nrepl_scope = \"some\"\n"),
        "c.toml" => "[task.x\n",
        "d.toml" => task("").replace("orders_sync", "second").replace("\"shop\"", "\"s\""),
    ] => [
        at("a.toml", 4, 10, "invalid region \"AP SOUTH\" in [provider]", ""),
        at("b.toml", 5, 1, "unknown key `instnce_id` in [task.orders_sync]", "did you mean `instance_id`?"),
        at("b.toml", 6, 14, "invalid repl_scope \"some\" in [task.orders_sync]", ""),
        at("c.toml", 1, 8, "TOML syntax error: unclosed table, expected `]`", ""),
        at("d.toml", 4, 24, "invalid source_database_name \"s\" in [task.second]", ""),
    ];
}

#[test]
fn non_utf8_file_is_named_with_its_position() {
    let ws = Workspace::empty();
    ws.write("p.toml", PROVIDER);
    std::fs::write(ws.path("bad.toml"), b"# ok\nname = \"\xff\"\n").unwrap();
    let mut expected = at("bad.toml", 2, 9, "{DIR}/bad.toml is not valid UTF-8", "");
    expected.snippet = false;
    check(&ws, &[expected]);
}

#[test]
fn oversized_file_is_refused() {
    let ws = Workspace::empty();
    ws.write("p.toml", PROVIDER);
    ws.write("t.toml", &task(""));
    let big = std::fs::File::create(ws.path("big.toml")).unwrap();
    big.set_len(17 * 1024 * 1024).unwrap(); // sparse: nothing is written
    check(
        &ws,
        &[whole(
            Some("big.toml"),
            "{DIR}/big.toml is too large (17825792 bytes)",
            "configuration files are limited to 16 MiB",
        )],
    );
}

#[test]
fn missing_directory_is_one_error() {
    let ws = Workspace::empty();
    let missing = ws.path("nowhere");
    let out = support::clean_cmd()
        .arg("-C")
        .arg(&missing)
        .args(["validate", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["error_count"], 1, "{doc:#}");
    let summary = doc["diagnostics"][0]["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        format!(
            "cannot read the configuration directory {}",
            missing.display()
        )
    );
}

#[test]
fn valid_configuration_succeeds() {
    let ws = Workspace::example("quickstart");
    let (code, out, err) = ws.run(&["validate"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Success! The configuration is valid (2 tasks in 1 file).\n"
    );
    assert_eq!(err, "");

    let out = ws.run_ok(&["validate", "--json"], 0);
    let doc: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["valid"], true, "{doc:#}");
    assert_eq!(doc["error_count"], 0);
    assert_eq!(doc["warning_count"], 0);
    assert_eq!(doc["diagnostics"], serde_json::json!([]));
}

#[test]
fn warnings_do_not_make_a_configuration_invalid() {
    let ws = Workspace::empty();
    ws.write("p.toml", PROVIDER);
    let (code, out, err) = ws.run(&["validate"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with("warning: no tasks are defined"), "{err}");
    assert!(out.starts_with("Success!"), "{out}");

    let out = ws.run_ok(&["validate", "--json"], 0);
    let doc: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["valid"], true, "{doc:#}");
    assert_eq!(doc["warning_count"], 1);
    assert_eq!(doc["diagnostics"][0]["severity"], "warning");
    assert_eq!(doc["diagnostics"][0]["summary"], "no tasks are defined");
}

//! Loading configuration directories: every validation rule of
//! `docs/configuration.md` fed a bad file, checking the message and the exact
//! line:column it points at.

use htapsync::config::{Diagnostic, Diagnostics, Loaded, Severity, load_dir, validate_json};
use htapsync::model::{ReplScope, ReplType};
use std::path::Path;

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

fn load(files: &[(&str, &str)]) -> Result<Loaded, Diagnostics> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    load_dir(dir.path())
}

fn errors(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    match load(files) {
        Ok(loaded) => panic!("expected errors, loaded {:?}", loaded.desired),
        Err(Diagnostics(all)) => all
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect(),
    }
}

/// The only error of a task file loaded next to a valid provider.
fn task_error(extra: &str) -> Diagnostic {
    only_error(&[("provider.toml", PROVIDER), ("tasks.toml", &task(extra))])
}

fn only_error(files: &[(&str, &str)]) -> Diagnostic {
    let mut all = errors(files);
    assert_eq!(all.len(), 1, "expected one error, got: {all:#?}");
    all.remove(0)
}

#[track_caller]
fn assert_at(d: &Diagnostic, file: &str, line: usize, column: usize) {
    let name = d
        .file
        .as_ref()
        .and_then(|f| f.file_name())
        .map(|n| n.to_string_lossy().to_string());
    assert_eq!(
        (name.as_deref(), d.line, d.column),
        (Some(file), Some(line), Some(column)),
        "{d}"
    );
}

#[test]
fn valid_fixture_loads_with_effective_values() {
    let dir = Path::new("tests/fixtures/config/valid");
    let loaded = load_dir(dir).expect("valid configuration");
    let names: Vec<_> = loaded
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["provider.toml", "tasks.toml"],
        "sorted, cloud/ not read"
    );
    assert_eq!(loaded.digest.len(), 64);
    assert_eq!(load_dir(dir).unwrap().digest, loaded.digest);
    assert_eq!(loaded.desired.state.path, "htapsync.state.json");

    let orders = &loaded.desired.tasks["orders_sync"].spec;
    assert_eq!(orders.instance_id, "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17");
    assert_eq!(orders.tables, ["order_items", "orders"]);
    assert_eq!(orders.repl_scope, ReplScope::Part);
    assert_eq!(orders.target_database_name, "shop_olap");
    let configs: Vec<_> = orders
        .db_configs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        configs,
        [
            ("max_sync_commit_rows", "600000"),
            ("snapshot_with_lock", "true"),
            ("sync_commit_interval_ms", "10000"),
        ]
    );
    assert_eq!(orders.table_configs["orders"], "order by id");

    let audit = &loaded.desired.tasks["audit"];
    assert_eq!(audit.spec.target_database_name, "audit_log");
    assert_eq!(audit.spec.repl_type, ReplType::ExcludeTables);
    assert!(audit.spec.paused && audit.lifecycle.prevent_destroy);
    assert!(
        !loaded.desired.tasks["orders_sync"]
            .lifecycle
            .prevent_destroy
    );

    let at = &loaded.task_locations["audit"];
    assert_eq!(
        (at.file.file_name().unwrap(), at.line, at.column),
        ("tasks.toml".as_ref(), 13, 1)
    );
    assert!(loaded.warnings.is_empty());
    assert_eq!(validate_json(&Ok(loaded))["valid"], true);
}

#[test]
fn scope_defaults_to_all_without_tables() {
    let loaded = load(&[("p.toml", PROVIDER), ("t.toml", &task(""))]).expect("valid");
    let spec = &loaded.desired.tasks["orders_sync"].spec;
    assert_eq!(spec.repl_scope, ReplScope::All);
    assert_eq!(spec.repl_type, ReplType::IncludeTables);
    assert_eq!(
        loaded
            .desired
            .providers
            .default
            .as_ref()
            .unwrap()
            .emulator_data,
        None
    );
}

#[test]
fn task_name_rule() {
    let text = task("").replace("orders_sync", "ab");
    let d = only_error(&[("p.toml", PROVIDER), ("tasks.toml", &text)]);
    assert_eq!(d.summary, "invalid task name \"ab\"");
    assert!(d.detail.contains("3 to 128 letters, digits or underscores"));
    assert_at(&d, "tasks.toml", 1, 7);
}

#[test]
fn target_database_name_rule() {
    let d = task_error("target_database_name = \"shop-olap\"\n");
    assert_eq!(
        d.summary,
        "invalid target_database_name \"shop-olap\" in [task.orders_sync]"
    );
    assert_at(&d, "tasks.toml", 5, 24);
}

#[test]
fn source_database_name_rule() {
    let text = task("").replace("\"shop\"", "\"sh\"");
    let d = only_error(&[("p.toml", PROVIDER), ("tasks.toml", &text)]);
    assert_eq!(
        d.summary,
        "invalid source_database_name \"sh\" in [task.orders_sync]"
    );
    assert!(d.detail.contains("3 to 1024"));
    assert_at(&d, "tasks.toml", 4, 24);
}

#[test]
fn project_id_rule() {
    let provider = PROVIDER.replace("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e-d3c");
    let d = only_error(&[("p.toml", &provider), ("tasks.toml", &task(""))]);
    assert_eq!(d.summary, "invalid project_id \"0f1e-d3c\" in [provider]");
    assert_eq!(d.detail, "a project id is 32 letters or digits");
    assert_at(&d, "p.toml", 2, 14);
}

#[test]
fn instance_id_rules() {
    let text = task("source_node_id = \"3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07\"\n")
        .replace("2bin17", "2bno07")
        .replace("1ain07\"\nsource_database", "1ain17\"\nsource_database");
    let all = errors(&[("p.toml", PROVIDER), ("tasks.toml", &text)]);
    let summaries: Vec<_> = all.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(summaries.len(), 3, "{summaries:?}");
    assert!(all[0].summary.starts_with("invalid instance_id"));
    assert!(all[0].detail.contains("ending in `in07` or `in17`"));
    assert_at(&all[0], "tasks.toml", 2, 15);
    assert!(all[1].summary.starts_with("invalid source_instance_id"));
    assert!(
        all[1]
            .detail
            .contains("36 letters or digits ending in `in07`")
    );
    assert_at(&all[1], "tasks.toml", 3, 22);
    assert!(all[2].summary.starts_with("invalid source_node_id"));
    assert!(all[2].detail.contains("ending in `no07`"));
    assert_at(&all[2], "tasks.toml", 5, 18);
}

#[test]
fn enum_rule_says_what_is_allowed() {
    let d = task_error("repl_type = \"include\"\n");
    assert_eq!(
        d.summary,
        "invalid repl_type \"include\" in [task.orders_sync]"
    );
    assert_eq!(
        d.detail,
        "did you mean `include_tables`? Allowed values: `include_tables`, `exclude_tables`"
    );
    assert_at(&d, "tasks.toml", 5, 13);
}

#[test]
fn scope_all_with_tables_rejected() {
    let d = task_error("repl_scope = \"all\"\ntables = [\"orders\"]\n");
    assert_eq!(
        d.summary,
        "repl_scope = \"all\" contradicts the 1 table(s) listed in `tables` of [task.orders_sync]"
    );
    assert_at(&d, "tasks.toml", 5, 14);
}

#[test]
fn scope_part_with_empty_tables_rejected() {
    let d = task_error("repl_scope = \"part\"\ntables = []\n");
    assert_eq!(
        d.summary,
        "repl_scope = \"part\" needs a non-empty `tables` in [task.orders_sync]"
    );
    assert_at(&d, "tasks.toml", 5, 14);
}

#[test]
fn table_configs_for_unreplicated_tables_rejected() {
    let d = task_error(
        "tables = [\"orders\"]\n[task.orders_sync.table_configs]\norder_items = \"order by id\"\n",
    );
    assert_eq!(
        d.summary,
        "table_configs sets `order_items`, which is not replicated by [task.orders_sync]"
    );
    assert!(
        d.detail
            .contains("replicates only the tables in `tables`: orders")
    );
    assert_at(&d, "tasks.toml", 7, 1);

    let d = task_error(
        "repl_type = \"exclude_tables\"\ntables = [\"orders\"]\n[task.orders_sync.table_configs]\norders = \"order by id\"\n",
    );
    assert!(d.detail.contains("excludes from replication"), "{d}");
    assert_at(&d, "tasks.toml", 8, 1);
}

#[test]
fn table_config_values_must_not_be_empty() {
    let d = task_error("tables = [\"orders\"]\n[task.orders_sync.table_configs]\norders = \"\"\n");
    assert_eq!(
        d.summary,
        "invalid table config for `orders` in [task.orders_sync.table_configs]"
    );
    assert_eq!(d.detail, "a table config is 1 to 1024 characters; got 0");
    assert_at(&d, "tasks.toml", 7, 10);
}

#[test]
fn unknown_key_suggests_and_lists() {
    let d = task_error("instnce_id = \"x\"\n");
    assert_eq!(d.summary, "unknown key `instnce_id` in [task.orders_sync]");
    assert!(
        d.detail
            .starts_with("did you mean `instance_id`? Allowed keys: `instance_id`, ")
    );
    assert_at(&d, "tasks.toml", 5, 1);
    let text = d.to_string();
    assert!(text.contains("\n --> "), "{text}");
    assert!(
        text.contains("5 | instnce_id = \"x\"\n  | ^^^^^^^^^^"),
        "{text}"
    );
}

#[test]
fn unknown_keys_at_top_level_and_in_provider() {
    let provider = format!("{PROVIDER}regoin = \"x\"\n[tasks.a]\n");
    let all = errors(&[("p.toml", &provider), ("t.toml", &task(""))]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0].summary, "unknown key `regoin` in [provider]");
    assert!(all[0].detail.starts_with("did you mean `region`?"));
    assert_at(&all[0], "p.toml", 5, 1);
    assert_eq!(all[1].summary, "unknown key `tasks` in the top level");
    assert!(all[1].detail.starts_with("did you mean `task`?"));
    assert_at(&all[1], "p.toml", 6, 2);
}

#[test]
fn tables_not_allowed_in_defaults() {
    let defaults = "[defaults]\ntables = [\"a\"]\n";
    let d = only_error(&[
        ("d.toml", defaults),
        ("p.toml", PROVIDER),
        ("t.toml", &task("")),
    ]);
    assert_eq!(
        d.summary,
        "`tables` cannot be inherited: set it in each [task.NAME]"
    );
    assert_at(&d, "d.toml", 2, 1);
}

#[test]
fn unknown_db_config_suggests() {
    let d = task_error("[task.orders_sync.db_configs]\nsync_commit_interval = 5000\n");
    assert_eq!(
        d.summary,
        "unknown db_config `sync_commit_interval` in [task.orders_sync.db_configs]"
    );
    assert!(
        d.detail
            .starts_with("did you mean `sync_commit_interval_ms`? Allowed db_configs:")
    );
    assert_at(&d, "tasks.toml", 6, 1);
}

#[test]
fn db_config_out_of_range_names_the_range() {
    let d = task_error("db_configs = { sync_commit_interval_ms = 999 }\n");
    assert_eq!(
        d.summary,
        "db_config `sync_commit_interval_ms` = 999 is out of range in [task.orders_sync.db_configs]"
    );
    assert_eq!(d.detail, "allowed: 1000-60000 (default 5000)");
    assert_at(&d, "tasks.toml", 5, 42);
}

#[test]
fn db_config_wrong_types() {
    let all = errors(&[
        ("p.toml", PROVIDER),
        (
            "tasks.toml",
            &task(
                "[task.orders_sync.db_configs]\nsnapshot_with_lock = 1\nmax_rows_per_chunk = [1]\n",
            ),
        ),
    ]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0]
            .summary
            .contains("`snapshot_with_lock` = 1 is not true or false")
    );
    assert_eq!(all[0].detail, "allowed: true|false (default true)");
    assert_at(&all[0], "tasks.toml", 6, 22);
    assert!(
        all[1]
            .summary
            .ends_with("expected an integer, boolean or string, found an array")
    );
    assert_at(&all[1], "tasks.toml", 7, 22);
}

#[test]
fn same_task_in_two_files_names_both_places() {
    let all = errors(&[
        ("a.toml", &format!("{PROVIDER}\n{}", task(""))),
        ("b.toml", &format!("# again\n{}", task(""))),
    ]);
    assert_eq!(all.len(), 1, "{all:#?}");
    let dir_a = all[0].file.as_ref().unwrap().with_file_name("a.toml");
    assert_eq!(
        all[0].summary,
        format!(
            "task `orders_sync` is defined twice: at {}:6:1 and at {}:2:1",
            dir_a.display(),
            dir_a.with_file_name("b.toml").display()
        )
    );
    assert_at(&all[0], "b.toml", 2, 1);
}

#[test]
fn task_sub_table_in_another_file_is_a_duplicate() {
    let all = errors(&[
        ("a.toml", &format!("{PROVIDER}\n{}", task(""))),
        (
            "b.toml",
            "[task.orders_sync.db_configs]\nsnapshot_with_lock = false\n",
        ),
    ]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(
        all[0]
            .summary
            .starts_with("task `orders_sync` is defined twice")
    );
    assert_at(&all[0], "b.toml", 1, 7);
}

#[test]
fn missing_required_key_after_defaults() {
    let text = task("").replace("source_database_name = \"shop\"\n", "");
    let d = only_error(&[("p.toml", PROVIDER), ("tasks.toml", &text)]);
    assert_eq!(
        d.summary,
        "missing required key `source_database_name` in [task.orders_sync]"
    );
    assert_eq!(
        d.detail,
        "set `source_database_name` in [task.orders_sync] or in [defaults]"
    );
    assert_at(&d, "tasks.toml", 1, 1);

    let defaults = "[defaults]\nsource_database_name = \"shop\"\n";
    assert!(
        load(&[
            ("d.toml", defaults),
            ("p.toml", PROVIDER),
            ("tasks.toml", &text)
        ])
        .is_ok()
    );
}

#[test]
fn missing_or_duplicate_provider() {
    let d = only_error(&[("tasks.toml", &task(""))]);
    assert_eq!(d.summary, "no [provider] table in the configuration");
    assert_eq!(d.file, None);

    let all = errors(&[
        ("a.toml", PROVIDER),
        ("b.toml", &format!("\n{PROVIDER}")),
        ("t.toml", &task("")),
    ]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].summary, "duplicate [provider] table");
    assert!(all[0].detail.contains("a.toml:1:1"), "{}", all[0].detail);
    assert_at(&all[0], "b.toml", 2, 1);

    let d = only_error(&[
        (
            "p.toml",
            &PROVIDER.replace("region = \"ap-southeast-1\"\n", ""),
        ),
        ("t.toml", &task("")),
    ]);
    assert_eq!(d.summary, "missing required key `region` in [provider]");
    assert_at(&d, "p.toml", 1, 1);
}

#[test]
fn wrong_toml_type() {
    let text = task("paused = \"no\"\n").replace("\"6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17\"", "5");
    let all = errors(&[("p.toml", PROVIDER), ("tasks.toml", &text)]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(
        all[0].summary,
        "wrong type for `instance_id` in [task.orders_sync]: expected a string, found an integer"
    );
    assert_at(&all[0], "tasks.toml", 2, 15);
    assert_eq!(
        all[1].summary,
        "wrong type for `paused` in [task.orders_sync]: expected a boolean, found a string"
    );
    assert_at(&all[1], "tasks.toml", 5, 10);
}

#[test]
fn syntax_error_has_position() {
    let d = task_error("paused = tru\n");
    assert!(
        d.summary.starts_with("TOML syntax error: "),
        "{}",
        d.summary
    );
    assert_at(&d, "tasks.toml", 5, 10);
}

#[test]
fn non_utf8_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), PROVIDER).unwrap();
    std::fs::write(dir.path().join("bad.toml"), b"# ok\nname = \"\xff\"\n").unwrap();
    let Err(Diagnostics(all)) = load_dir(dir.path()) else {
        panic!("must fail")
    };
    let d = all.iter().find(|d| d.severity == Severity::Error).unwrap();
    assert!(
        d.summary.ends_with("bad.toml is not valid UTF-8"),
        "{}",
        d.summary
    );
    assert_at(d, "bad.toml", 2, 9);
}

#[test]
fn oversized_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), PROVIDER).unwrap();
    std::fs::write(dir.path().join("t.toml"), task("")).unwrap();
    let big = std::fs::File::create(dir.path().join("big.toml")).unwrap();
    big.set_len(17 * 1024 * 1024).unwrap(); // sparse: nothing is written
    let Err(Diagnostics(all)) = load_dir(dir.path()) else {
        panic!("must fail")
    };
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(
        all[0]
            .summary
            .ends_with("big.toml is too large (17825792 bytes)")
    );
    assert_eq!(all[0].detail, "configuration files are limited to 16 MiB");
}

#[test]
fn duplicate_tables_rejected() {
    let d = task_error("tables = [\"orders\", \"items\", \"orders\"]\n");
    assert_eq!(
        d.summary,
        "duplicate table \"orders\" in `tables` of [task.orders_sync]"
    );
    assert!(d.detail.contains("tasks.toml:5:11"), "{}", d.detail);
    assert_at(&d, "tasks.toml", 5, 30);
}

#[test]
fn endpoint_rules() {
    let http = PROVIDER.replace("https://example.com", "http://example.com");
    let d = only_error(&[("p.toml", &http), ("t.toml", &task(""))]);
    assert_eq!(
        d.summary,
        "invalid endpoint \"http://example.com\" in [provider]"
    );
    assert!(d.detail.contains("only allowed for loopback hosts"));
    assert_at(&d, "p.toml", 3, 12);

    let local = PROVIDER.replace("https://example.com", "http://127.0.0.1:8080");
    assert!(load(&[("p.toml", &local), ("t.toml", &task(""))]).is_ok());

    let extra = format!("{PROVIDER}emulator_data = \"x.json\"\n");
    let d = only_error(&[("p.toml", &extra), ("t.toml", &task(""))]);
    assert_eq!(
        d.summary,
        "`emulator_data` is only allowed with endpoint = \"embedded\""
    );
    assert_at(&d, "p.toml", 5, 17);
}

#[test]
fn embedded_endpoint_needs_an_existing_cloud_file() {
    let embedded = PROVIDER.replace("https://example.com", "embedded");
    let d = only_error(&[("p.toml", &embedded), ("t.toml", &task(""))]);
    assert_eq!(
        d.summary,
        "endpoint = \"embedded\" requires `emulator_cloud` in [provider]"
    );
    assert_at(&d, "p.toml", 3, 12);

    let missing = format!("{embedded}emulator_cloud = \"cloud/cloud.toml\"\n");
    let d = only_error(&[("p.toml", &missing), ("t.toml", &task(""))]);
    assert_eq!(
        d.summary,
        "emulator_cloud file \"cloud/cloud.toml\" does not exist"
    );
    assert_at(&d, "p.toml", 5, 18);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cloud")).unwrap();
    std::fs::write(dir.path().join("cloud/cloud.toml"), "[[instance]]\n").unwrap();
    std::fs::write(dir.path().join("p.toml"), &missing).unwrap();
    std::fs::write(dir.path().join("t.toml"), task("")).unwrap();
    let loaded = load_dir(dir.path()).expect("valid");
    assert_eq!(
        loaded
            .desired
            .providers
            .default
            .as_ref()
            .unwrap()
            .emulator_data
            .as_deref(),
        Some(".htapsync/cloud.json")
    );
    assert_eq!(
        loaded
            .desired
            .providers
            .default
            .as_ref()
            .unwrap()
            .emulator_cloud
            .as_deref(),
        Some("cloud/cloud.toml")
    );
}

#[test]
fn all_errors_of_all_files_are_reported() {
    let provider = PROVIDER.replace("ap-southeast-1", "AP SOUTH");
    let bad_syntax = "[task.x\n";
    let all = errors(&[
        ("a.toml", &provider),
        ("b.toml", &task("instnce_id = 1\nrepl_scope = \"some\"\n")),
        ("c.toml", bad_syntax),
        (
            "d.toml",
            &task("")
                .replace("orders_sync", "second")
                .replace("\"shop\"", "\"s\""),
        ),
    ]);
    let places: Vec<_> = all
        .iter()
        .map(|d| {
            let file = d
                .file
                .as_ref()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (file, d.line.unwrap())
        })
        .collect();
    let expected = [
        ("a.toml", 4),
        ("b.toml", 5),
        ("b.toml", 6),
        ("d.toml", 4),
        ("c.toml", 1),
    ];
    let expected: Vec<_> = expected.iter().map(|(f, l)| (f.to_string(), *l)).collect();
    let mut sorted_places = places.clone();
    sorted_places.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_places, sorted_expected, "{all:#?}");

    let json = validate_json(&Err(Diagnostics(all)));
    assert_eq!(json["valid"], false);
    assert_eq!(json["error_count"], 5);
    assert_eq!(json["format_version"], "1.0");
}

#[test]
fn no_tasks_is_a_warning() {
    let loaded = load(&[("p.toml", PROVIDER)]).expect("valid");
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].severity, Severity::Warning);
    assert_eq!(loaded.warnings[0].summary, "no tasks are defined");
    let json = validate_json(&Ok(loaded));
    assert_eq!(
        (json["valid"].clone(), json["warning_count"].clone()),
        (true.into(), 1.into())
    );
}

#[test]
fn state_path_is_configurable() {
    let state = "[state]\npath = \"states/prod.json\"\n";
    let loaded = load(&[
        ("p.toml", PROVIDER),
        ("s.toml", state),
        ("t.toml", &task("")),
    ])
    .expect("valid");
    assert_eq!(loaded.desired.state.path, "states/prod.json");
}

#[test]
fn state_backend_settings_are_read_with_their_defaults() {
    let loaded = load(&[("p.toml", PROVIDER), ("t.toml", &task(""))]).expect("valid");
    let state = &loaded.desired.state;
    assert_eq!(state.backend, htapsync::model::StateBackendKind::Local);
    assert_eq!((state.schema.as_str(), state.history), ("htapsync", 20));
    assert_eq!(state.workspace, None);
    let written = "[state]\nbackend = \"postgres\"\nschema = \"team_state\"\nworkspace = \"prod\"\nhistory = 5\n";
    let loaded = load(&[
        ("p.toml", PROVIDER),
        ("s.toml", written),
        ("t.toml", &task("")),
    ])
    .expect("valid");
    let state = &loaded.desired.state;
    assert_eq!(state.backend, htapsync::model::StateBackendKind::Postgres);
    assert_eq!((state.schema.as_str(), state.history), ("team_state", 5));
    assert_eq!(state.workspace.as_deref(), Some("prod"));
}

#[test]
fn invalid_state_settings_name_the_line_and_what_is_allowed() {
    let written = "[state]\nbackend = \"s3\"\nschema = \"Bad-Name\"\nworkspace = \"a/b\"\nhistory = 0\nconn = \"x\"\n";
    let all = errors(&[
        ("p.toml", PROVIDER),
        ("s.toml", written),
        ("t.toml", &task("")),
    ]);
    let found: Vec<(usize, &str, &str)> = all
        .iter()
        .map(|d| (d.line.unwrap(), d.summary.as_str(), d.detail.as_str()))
        .collect();
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(found[0].0 == 2 && found[0].2.contains("local") && found[0].2.contains("postgres"));
    assert!(found[1].0 == 3 && found[1].2.contains("lowercase letters"));
    assert!(found[2].0 == 4 && found[2].2.contains("1 to 64"));
    assert!(found[3].0 == 5 && found[3].2.contains("from 1 to 1000"));
    assert!(found[4].0 == 6 && found[4].1.contains("conn"), "{found:#?}");
}

#[test]
fn missing_directory_is_one_error() {
    let Err(Diagnostics(all)) = load_dir(Path::new("/nonexistent/htapsync")) else {
        panic!()
    };
    assert_eq!(all.len(), 1);
    assert!(
        all[0]
            .summary
            .starts_with("cannot read the configuration directory")
    );
}

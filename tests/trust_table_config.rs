//! A `table_config` that does not parse, or that names a missing column, is
//! reported precisely: `validate` names the file, line, column and clause, and
//! the gate's hint names the clause or the columns, while the cloud's verdict
//! stays the authority on pass or fail. Run by the real binary against the
//! embedded emulator, starting from `examples/failing-check`.

mod support;
use serde_json::Value;
use support::Workspace;

const CONFIG: &str = "htapsync.toml";
const ORDERS: &str = r#"orders = "order by placed_at""#;

/// `examples/failing-check` with the `orders` table config replaced by `config`.
fn with_orders_config(config: &str) -> Workspace {
    let ws = Workspace::example("failing-check");
    ws.edit(CONFIG, ORDERS, &format!("orders = {config:?}"));
    ws
}

/// `file:line:column` of the first occurrence of `needle` in the configuration.
fn position_of(ws: &Workspace, needle: &str) -> String {
    let text = ws.read(CONFIG);
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {CONFIG}"));
    let column = line.find(needle).unwrap() + 1;
    format!("{CONFIG}:{}:{column}", index + 1)
}

/// The gate's line for table `orders` in human plan output (exit 1: the gate fails).
fn orders_verdict(ws: &Workspace) -> String {
    let out = ws.run_ok(&["plan", "-no-color"], 1);
    out.lines()
        .find(|l| l.trim_start().starts_with("✗ orders"))
        .unwrap_or_else(|| panic!("no failed verdict for orders in:\n{out}"))
        .to_string()
}

#[test]
fn validate_points_at_the_clause_that_does_not_parse() {
    for (config, clause, problem) in [
        (
            "order by id; order by created_at",
            "order by created_at",
            "clause `order by` appears twice",
        ),
        (
            "order by id;distributed by hash(id) buckets 0",
            "distributed by hash(id) buckets 0",
            "buckets in clause `distributed by` must be a positive integer, not `0`",
        ),
        (
            "order by id,id",
            "order by id,id",
            "column `id` appears twice in clause `order by`",
        ),
        (
            "sort by id",
            "sort by id",
            "unknown clause `sort by id`; allowed: `order by COL[,COL...]`",
        ),
    ] {
        let ws = with_orders_config(config);
        let at = position_of(&ws, clause);
        let (code, _, err) = ws.run(&["validate", "-no-color"]);
        assert_eq!(code, 0, "a local parse is advice, not a verdict:\n{err}");
        let arrow = err.lines().find(|l| l.trim_start().starts_with("-->"));
        assert!(
            arrow.is_some_and(|l| l.ends_with(&format!("/{at}"))),
            "{config:?}: want {at} in:\n{err}"
        );
        assert!(
            err.contains(problem),
            "{config:?}: want {problem:?} in:\n{err}"
        );
        assert!(err.contains("`orders`"), "the table is named:\n{err}");

        let (_, out, _) = ws.run(&["validate", "-json"]);
        let doc: Value = serde_json::from_str(&out).unwrap();
        let diagnostic = &doc["diagnostics"][0];
        assert_eq!(diagnostic["severity"], "warning", "{doc:#}");
        let json_at = format!(
            "{}:{}:{}",
            diagnostic["file"].as_str().unwrap(),
            diagnostic["line"],
            diagnostic["column"]
        );
        assert!(json_at.ends_with(&at), "want {at}: {doc:#}");
        assert!(
            diagnostic["summary"].as_str().unwrap().contains(problem),
            "{doc:#}"
        );
    }
}

#[test]
fn a_config_that_parses_draws_no_diagnostic() {
    let ws = with_orders_config("order by id,customer_id;key columns id");
    let (code, _, err) = ws.run(&["validate", "-no-color"]);
    assert_eq!(code, 0);
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn gate_hint_names_the_clause_of_buckets_zero() {
    let ws = with_orders_config("order by id;distributed by hash(id) buckets 0");
    let line = orders_verdict(&ws);
    assert!(
        line.contains(
            "table config does not parse: buckets in clause `distributed by` must be a positive integer, not `0`"
        ),
        "{line}"
    );
}

#[test]
fn gate_hint_names_a_duplicate_order_by() {
    let ws = with_orders_config("order by id;order by customer_id");
    let line = orders_verdict(&ws);
    assert!(
        line.contains("table config does not parse: clause `order by` appears twice"),
        "{line}"
    );
}

#[test]
fn gate_hint_names_the_columns_a_rejected_config_references() {
    let ws = with_orders_config("order by id,placed_at;key columns id");
    let line = orders_verdict(&ws);
    assert!(
        line.contains("check that shop.orders has columns id, placed_at"),
        "{line}"
    );
}

/// The hints only explain the cloud's verdicts: the tables the cloud passed
/// stay passed, the ones it failed stay failed, and only those carry a hint.
#[test]
fn hints_never_change_the_clouds_verdict() {
    let ws = with_orders_config("order by id;order by customer_id");
    ws.edit(CONFIG, r#"audit_log = "order by event_key""#, "");
    ws.edit(
        CONFIG,
        r#"tables = ["orders", "refunds", "audit_log"]"#,
        r#"tables = ["orders", "customers"]"#,
    );
    let (code, out, err) = ws.run(&["plan", "-json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = out.as_str();
    let tables: Vec<&Value> = events.iter().flat_map(|e| find_key(e, "tables")).collect();
    let verdicts: Vec<&Value> = tables
        .iter()
        .flat_map(|t| t.as_array().into_iter().flatten())
        .filter(|t| t.get("passed").is_some())
        .collect();
    let verdict = |name: &str| {
        *verdicts
            .iter()
            .find(|v| v["table"] == name)
            .unwrap_or_else(|| panic!("no verdict for {name} in {text}"))
    };
    assert_eq!(verdict("orders")["passed"], false, "{text}");
    assert!(
        verdict("orders")["hint"]
            .as_str()
            .unwrap()
            .contains("clause `order by` appears twice"),
        "{text}"
    );
    assert_eq!(verdict("customers")["passed"], true, "{text}");
    assert!(verdict("customers").get("hint").is_none(), "{text}");
}

/// Every value under `key`, at any depth of `doc`.
fn find_key<'a>(doc: &'a Value, key: &str) -> Vec<&'a Value> {
    match doc {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                let mut found = if k == key { vec![v] } else { Vec::new() };
                found.extend(find_key(v, key));
                found
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(|v| find_key(v, key)).collect(),
        _ => Vec::new(),
    }
}

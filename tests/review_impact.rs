//! Issue 13, impact classes: every class of change is named the same way in
//! the three formats of `plan` — a line under the task's header and a banner
//! above the summary (human), `change.impact` and `changes.impact` (`--json`),
//! an alert at the top and the class in the task's summary (Markdown) — run
//! by the real binary against the embedded emulator of the quick start.

mod support;

use serde_json::Value;
use support::Workspace;

const CONFIG: &str = "htapsync.toml";

/// The quick start with its two tasks applied.
fn applied() -> Workspace {
    let ws = Workspace::example("quickstart");
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws
}

/// The plan in the three formats: human text, the JSON messages, Markdown.
struct Shown {
    human: String,
    json: Vec<Value>,
    markdown: String,
}

impl Shown {
    fn of(ws: &Workspace) -> Shown {
        let human = ws.run_ok(&["plan"], 0);
        let json = ws
            .run_ok(&["plan", "--json"], 0)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let markdown = ws.run_ok(&["plan", "--format", "markdown"], 0);
        Shown {
            human,
            json,
            markdown,
        }
    }

    /// `change.impact` of the planned change of `address`.
    fn impact(&self, address: &str) -> &Value {
        self.json
            .iter()
            .find(|m| m["type"] == "planned_change" && m["change"]["address"] == address)
            .map(|m| &m["change"]["impact"])
            .unwrap_or_else(|| panic!("no planned_change for {address}: {:?}", self.json))
    }

    /// `changes.impact` of the plan's `change_summary`.
    fn summary(&self) -> &Value {
        self.json
            .iter()
            .find(|m| m["type"] == "change_summary")
            .map(|m| &m["changes"]["impact"])
            .expect("a change_summary")
    }

    /// Asserts the banner in all three formats (human: right above the
    /// summary line; Markdown: first thing after the heading, as `alert`).
    #[track_caller]
    fn assert_banner(&self, banner: &str, alert: &str) {
        assert!(
            self.human.contains(&format!("{banner}\nPlan: ")),
            "human banner above the summary:\n{}",
            self.human
        );
        assert_eq!(self.summary()["banner"], banner);
        assert!(
            self.markdown.starts_with(&format!(
                "<!-- htapsync-plan -->\n## htapsync plan\n\n> [!{alert}]\n> **{banner}**\n"
            )),
            "markdown banner at the top:\n{}",
            self.markdown
        );
    }
}

#[test]
fn a_deleted_task_stops_replication_of_its_tables() {
    let ws = applied();
    let config = ws.read(CONFIG);
    let start = config.find("# The catalogue").expect("catalog_sync block");
    ws.write(CONFIG, &config[..start]);
    let shown = Shown::of(&ws);
    let line = "# impact: stops replication of 2 tables (customers, products)";
    assert!(shown.human.contains(line), "{}", shown.human);
    assert_eq!(
        shown.impact("task.catalog_sync")["class"],
        "stops_replication"
    );
    assert_eq!(
        shown.impact("task.catalog_sync")["stops_replication"]["tables"],
        serde_json::json!(["customers", "products"])
    );
    assert_eq!(shown.summary()["class"], "stops_replication");
    assert_eq!(shown.summary()["stops_replication"], 1);
    shown.assert_banner("This plan stops replication of 2 tables.", "CAUTION");
    assert!(
        shown.markdown.contains(
            "<code>task.catalog_sync</code> will be destroyed · <b>stops replication</b>"
        ),
        "{}",
        shown.markdown
    );
}

#[test]
fn a_table_removed_from_an_include_list_stops_its_replication() {
    let ws = applied();
    ws.edit(
        CONFIG,
        r#"tables = ["orders", "order_items"]"#,
        r#"tables = ["orders"]"#,
    );
    ws.edit(CONFIG, "order_items = \"order by order_id,id\"\n", "");
    let shown = Shown::of(&ws);
    assert!(
        shown
            .human
            .contains("# impact: stops replication of 1 table (order_items)"),
        "{}",
        shown.human
    );
    assert_eq!(
        shown.impact("task.orders_sync")["class"],
        "stops_replication"
    );
    shown.assert_banner("This plan stops replication of 1 table.", "CAUTION");
    assert!(
        shown
            .markdown
            .contains("**Impact:** stops replication of 1 table (order\\_items)"),
        "{}",
        shown.markdown
    );
}

#[test]
fn a_table_added_to_an_exclusion_list_stops_its_replication() {
    let ws = applied();
    // catalog_sync replicated customers and products; now every table but
    // customers and audit_log (which it never replicated).
    ws.edit(
        CONFIG,
        "[task.catalog_sync]\ntarget_database_name = \"catalog_olap\"\nrepl_scope = \"part\"\ntables = [\"customers\", \"products\"]",
        "[task.catalog_sync]\ntarget_database_name = \"catalog_olap\"\nrepl_type = \"exclude_tables\"\nrepl_scope = \"part\"\ntables = [\"audit_log\", \"customers\"]",
    );
    let shown = Shown::of(&ws);
    assert!(
        shown
            .human
            .contains("# impact: stops replication of 1 table (customers)"),
        "{}",
        shown.human
    );
    assert_eq!(
        shown.impact("task.catalog_sync")["stops_replication"]["tables"],
        serde_json::json!(["customers"])
    );
    shown.assert_banner("This plan stops replication of 1 table.", "CAUTION");
}

#[test]
fn a_replace_fully_resyncs_and_names_what_forces_it() {
    let ws = Workspace::example("quickstart");
    let cloud = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cli/two-htap/cloud.toml"
    );
    ws.write("cloud/cloud.toml", &std::fs::read_to_string(cloud).unwrap());
    ws.run_ok(&["apply", "--auto-approve"], 0);
    ws.edit(
        CONFIG,
        "[task.orders_sync]\n",
        "[task.orders_sync]\ninstance_id = \"7e2b1d7f5a2c5f1a0d3b8c4e6f9a2b3cin17\"\n",
    );
    let shown = Shown::of(&ws);
    let line =
        "# impact: full resync of 2 tables (order_items, orders) (instance_id forces a new task)";
    assert!(shown.human.contains(line), "{}", shown.human);
    let impact = shown.impact("task.orders_sync");
    assert_eq!(impact["class"], "full_resync");
    assert_eq!(
        impact["full_resync"]["attributes"],
        serde_json::json!(["instance_id"])
    );
    assert_eq!(shown.summary()["full_resync"], 1);
    shown.assert_banner("This plan fully re-syncs 1 task (2 tables).", "CAUTION");
    assert!(
        shown
            .markdown
            .contains("must be replaced · <b>full resync</b>"),
        "{}",
        shown.markdown
    );
}

#[test]
fn a_new_table_config_on_a_replicated_table_may_rebuild_it_and_says_why() {
    let ws = applied();
    ws.edit(
        CONFIG,
        r#"orders = "order by id""#,
        r#"orders = "order by customer_id,id""#,
    );
    let shown = Shown::of(&ws);
    assert!(
        shown.human.contains(
            "# impact: may rebuild 1 table (orders) (table config changed; the API does not say whether ModifyDataSync (E8)"
        ),
        "{}",
        shown.human
    );
    let impact = shown.impact("task.orders_sync");
    assert_eq!(impact["class"], "table_rebuild");
    assert_eq!(impact["table_rebuild"], serde_json::json!(["orders"]));
    shown.assert_banner("This plan may rebuild 1 table.", "WARNING");
    assert!(
        shown
            .markdown
            .contains("will be updated in-place · <b>table rebuild</b>"),
        "{}",
        shown.markdown
    );
}

#[test]
fn other_changes_are_in_place_without_a_banner() {
    let ws = applied();
    ws.edit(
        CONFIG,
        "max_sync_commit_rows = 500000",
        "max_sync_commit_rows = 600000",
    );
    ws.edit(
        CONFIG,
        r#"tables = ["orders", "order_items"]"#,
        r#"tables = ["orders", "order_items", "customers"]"#,
    );
    let shown = Shown::of(&ws);
    assert!(!shown.human.contains("# impact:"), "{}", shown.human);
    assert!(!shown.human.contains("This plan "), "{}", shown.human);
    assert_eq!(shown.impact("task.orders_sync")["class"], "in_place");
    assert_eq!(shown.impact("task.orders_sync")["summary"], "in place");
    assert_eq!(shown.summary()["class"], "in_place");
    assert_eq!(shown.summary()["banner"], Value::Null);
    assert_eq!(shown.summary()["in_place"], 1);
    assert!(!shown.markdown.contains("[!CAUTION]"), "{}", shown.markdown);
    assert!(!shown.markdown.contains("[!WARNING]"), "{}", shown.markdown);
}

#[test]
fn a_saved_plan_shows_its_impacts_in_json_and_markdown() {
    let ws = applied();
    let config = ws.read(CONFIG);
    let start = config.find("# The catalogue").expect("catalog_sync block");
    ws.write(CONFIG, &config[..start]);
    ws.run_ok(&["plan", "-out", "p.plan"], 0);
    let doc: Value = serde_json::from_str(&ws.run_ok(&["show", "--json", "p.plan"], 0)).unwrap();
    assert_eq!(doc["impact"]["class"], "stops_replication");
    assert_eq!(doc["impacts"][0]["address"], "task.catalog_sync");
    assert_eq!(doc["impacts"][0]["impact"]["class"], "stops_replication");
    let markdown = ws.run_ok(&["show", "--format", "markdown", "p.plan"], 0);
    assert!(
        markdown.contains("> [!CAUTION]\n> **This plan stops replication of 2 tables.**"),
        "{markdown}"
    );
}

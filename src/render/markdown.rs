//! The plan as a pull request comment (`plan --format markdown`,
//! `show --format markdown PLANFILE`).
//!
//! Layout, most important first: a hidden marker that CI uses to find and
//! update its own comment; the summary counts and the gate verdict; every
//! failed check (task, table or parameter, config, result); then one
//! collapsible `<details>` per changed task with its field diff in a ```diff
//! block. GitHub refuses comments over 65,536 characters, so sections are
//! added only while they fit and the rest is counted in a truncation note.
//! Nothing here emits ANSI codes; every user-controlled string is escaped.

use super::{Note, plan_summary_line};
use crate::check::{GateReport, TaskVerdict};
use crate::plan::impact::{Impact, ImpactClass};
use crate::plan::{Action, Change, FieldChange, Plan};
use crate::refresh::TaskStatus;
use serde_json::Value;
use similar::{Algorithm, ChangeTag, capture_diff_slices};

/// The hidden first line that marks htapsync's comment, for sticky updates.
pub const COMMENT_MARKER: &str = "<!-- htapsync-plan -->";

/// GitHub's limit on the size of a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Room kept for the truncation note and the footer whatever else is cut.
const TAIL_RESERVE: usize = 1_024;

/// The comment for `plan`, within [`COMMENT_LIMIT`].
pub fn plan_markdown(
    plan: &Plan,
    gate: Option<&GateReport>,
    notes: &[Note],
    health: &[TaskStatus],
) -> String {
    plan_markdown_within(plan, gate, notes, health, COMMENT_LIMIT)
}

/// The comment within `limit` bytes (which bounds the character count too).
pub fn plan_markdown_within(
    plan: &Plan,
    gate: Option<&GateReport>,
    notes: &[Note],
    health: &[TaskStatus],
    limit: usize,
) -> String {
    let health = super::HealthIndex::new(health);
    let budget = limit.saturating_sub(TAIL_RESERVE);
    let mut out = format!("{COMMENT_MARKER}\n## htapsync plan\n\n");
    out.push_str(&impact_banner(plan));
    out.push_str(&warnings_alert(notes));
    out.push_str(&headline(plan, gate));
    let mut omitted = Omitted::default();
    if let Some(gate) = gate.filter(|g| !g.passed() && g.unavailable.is_none()) {
        failed_checks(&mut out, gate, budget / 2, &mut omitted);
    }
    if !notes.is_empty() {
        let section = notes_section(notes);
        if out.len() + section.len() <= budget {
            out.push_str(&section);
        } else {
            omitted.notes = notes.len();
        }
    }
    let recorded: Vec<String> = plan
        .state_only()
        .flat_map(Change::remarks)
        .filter(|r| !r.ends_with("as requested"))
        .collect();
    if !recorded.is_empty() {
        out.push_str("\n### Moves and imports (state only, no remote call)\n\n");
        for remark in recorded {
            out.push_str(&format!("- {}\n", escape(&remark)));
        }
    }
    let changes: Vec<&Change> = plan.actionable().collect();
    if !changes.is_empty() {
        out.push_str("\n### Changes\n\n");
    }
    for (shown, change) in changes.iter().enumerate() {
        let verdict = gate.and_then(|g| g.verdicts.get(&change.address));
        let section = task_section(change, verdict, health.of(change));
        if out.len() + section.len() > budget {
            omitted.tasks = changes.len() - shown;
            break;
        }
        out.push_str(&section);
    }
    out.push_str(&omitted.note(changes.len()));
    out.push_str(&format!(
        "\n<sub>htapsync {}</sub>\n",
        env!("CARGO_PKG_VERSION")
    ));
    out
}

/// What did not fit.
#[derive(Debug, Default)]
struct Omitted {
    failed_rows: usize,
    notes: usize,
    tasks: usize,
}

impl Omitted {
    fn note(&self, total_tasks: usize) -> String {
        let mut parts = Vec::new();
        if self.failed_rows > 0 {
            parts.push(format!("{} more failed check rows", self.failed_rows));
        }
        if self.notes > 0 {
            parts.push(format!("{} notes", self.notes));
        }
        if self.tasks > 0 {
            parts.push(format!(
                "the diffs of {} of {total_tasks} changed tasks",
                self.tasks
            ));
        }
        if parts.is_empty() {
            return String::new();
        }
        format!(
            "\n> [!WARNING]\n> **Truncated:** {} are not shown, to stay under GitHub's limit of \
             {COMMENT_LIMIT} characters per comment. The counts and the gate verdict above cover the \
             whole plan; run `htapsync show PLANFILE` or read the CI log for every detail.\n",
            parts.join(", ")
        )
    }
}

/// The plan's impact first of all, as a GitHub alert: what a reviewer must not miss.
fn impact_banner(plan: &Plan) -> String {
    let impact = plan.impact();
    let Some(banner) = impact.banner() else {
        return String::new();
    };
    let alert = if impact.class.is_some_and(|c| c.is_destructive()) {
        "CAUTION"
    } else {
        "WARNING"
    };
    format!("> [!{alert}]\n> **{}**\n\n", escape(&banner))
}

/// The warnings (unhealthy tasks, targeting) near the top, as a GitHub
/// alert: a task that needs repair is something a reviewer must see.
fn warnings_alert(notes: &[Note]) -> String {
    let warnings: Vec<&str> = notes
        .iter()
        .filter(|n| matches!(n, Note::Warning(_)))
        .map(Note::text)
        .collect();
    if warnings.is_empty() {
        return String::new();
    }
    let mut out = String::from("> [!WARNING]\n");
    for warning in warnings {
        out.push_str(&format!("> - {}\n", escape(warning)));
    }
    out.push('\n');
    out
}

fn headline(plan: &Plan, gate: Option<&GateReport>) -> String {
    let mut out = format!("**{}**\n\n", plan_summary_line(plan));
    let checked = |n: usize| {
        if n == 1 {
            "1 checked task".to_string()
        } else {
            format!("{n} checked tasks")
        }
    };
    let verdict = match gate {
        Some(GateReport {
            unavailable: Some(unavailable),
            ..
        }) => format!(
            "⚠️ **{}**. Apply will refuse this plan.\n\n> {}",
            escape(&unavailable.headline()),
            escape(&unavailable.detail())
        ),
        Some(g) if !g.passed() => format!(
            "❌ **table-config-check failed** for {} of {}: apply will refuse this plan.",
            g.failed_count(),
            checked(g.verdicts.len())
        ),
        Some(g) if !g.verdicts.is_empty() => format!(
            "✅ **table-config-check passed** for {}.",
            checked(g.verdicts.len())
        ),
        Some(_) => "table-config-check: nothing to check.".to_string(),
        None => "table-config-check: not run.".to_string(),
    };
    out.push_str(&verdict);
    out.push('\n');
    out
}

/// One table row per rejected table or parameter, and per failed check call.
fn failed_checks(out: &mut String, gate: &GateReport, budget: usize, omitted: &mut Omitted) {
    out.push_str("\n### Failed checks\n\n| task | table / parameter | config | result |\n|---|---|---|---|\n");
    let rows: Vec<String> = gate.failed().flat_map(failed_rows).collect();
    for (i, row) in rows.iter().enumerate() {
        if out.len() + row.len() > budget {
            omitted.failed_rows = rows.len() - i;
            break;
        }
        out.push_str(row);
    }
}

fn failed_rows(verdict: &TaskVerdict) -> Vec<String> {
    let task = code(verdict.address.as_str());
    let mut rows = Vec::new();
    if let Some(error) = &verdict.error {
        rows.push(format!(
            "| {task} | | | check failed: {} |\n",
            escape(error)
        ));
    }
    for table in verdict.tables.iter().filter(|t| !t.passed) {
        rows.push(format!(
            "| {task} | table {} | {} | {} |\n",
            code(&table.table),
            code(&table.config),
            match &table.hint {
                Some(hint) => format!("{}: {}", escape(&table.result), escape(hint)),
                None => escape(&table.result),
            }
        ));
    }
    for param in verdict.params.iter().filter(|p| !p.passed) {
        rows.push(format!(
            "| {task} | db_configs {} ({}) | {} | {} |\n",
            code(&param.name),
            escape(&param.side),
            code(&param.value),
            escape(&param.result)
        ));
    }
    rows
}

fn notes_section(notes: &[Note]) -> String {
    let mut out = format!("\n<details><summary>Notes ({})</summary>\n\n", notes.len());
    for note in notes {
        let (label, text) = match note {
            Note::Drift(t) => ("drift", t),
            Note::Warning(t) => ("warning", t),
            Note::Log(t) => ("note", t),
        };
        out.push_str(&format!("- {label}: {}\n", escape(text)));
    }
    out.push_str("\n</details>\n");
    out
}

fn task_section(
    change: &Change,
    verdict: Option<&TaskVerdict>,
    health: Option<&TaskStatus>,
) -> String {
    let (symbol, words) = match change.action {
        Action::Create => ("+", "will be created"),
        Action::Update => ("~", "will be updated in-place"),
        Action::Replace => ("-/+", "must be replaced"),
        Action::Delete => ("-", "will be destroyed"),
        Action::NoOp => (" ", "has no changes"),
    };
    let check = match verdict {
        Some(v) if v.passed() => " · check ✅",
        Some(_) => " · check ❌",
        None => "",
    };
    let impact = Impact::of(change);
    let (class, detail) = match impact.class {
        ImpactClass::InPlace => (String::new(), String::new()),
        class => (
            format!(" · <b>{class}</b>"),
            format!("**Impact:** {}\n\n", escape(&impact.describe())),
        ),
    };
    let remarks: String = change
        .remarks()
        .iter()
        .map(|r| format!("*{}*\n\n", escape(r)))
        .collect();
    let cloud = health
        .and_then(TaskStatus::progress)
        .map(|p| format!("*In the cloud: {}*\n\n", escape(&p)))
        .unwrap_or_default();
    let detail = format!("{remarks}{cloud}{detail}");
    let body = diff_body(change);
    let fence = fence_for(&body);
    format!(
        "<details><summary><code>{symbol}</code> <code>{}</code> {words}{class}{check}</summary>\n\n\
         {detail}{fence}diff\n{body}{fence}\n\n</details>\n",
        html(change.address.as_str())
    )
}

/// The field diff in unified-diff style: `+` added, `-` removed, two lines for a change.
fn diff_body(change: &Change) -> String {
    let width = change
        .fields
        .iter()
        .map(|f| f.path.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for field in &change.fields {
        if is_list(field) {
            out.push_str(&list_diff(field, width));
            continue;
        }
        let forces = if field.forces_replacement {
            "  # forces replacement"
        } else {
            ""
        };
        if let Some(before) = &field.before {
            out.push_str(&format!("- {:<width$} = {before}\n", field.path));
        }
        if let Some(after) = &field.after {
            out.push_str(&format!("+ {:<width$} = {after}{forces}\n", field.path));
        }
    }
    out
}

fn is_list(field: &FieldChange) -> bool {
    [&field.before, &field.after]
        .into_iter()
        .flatten()
        .any(Value::is_array)
}

/// A list attribute element by element; unchanged elements keep a space.
fn list_diff(field: &FieldChange, width: usize) -> String {
    let items = |v: &Option<Value>| -> Vec<String> {
        v.as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(Value::to_string)
            .collect()
    };
    let (old, new) = (items(&field.before), items(&field.after));
    let mark = match (&field.before, &field.after) {
        (None, _) => '+',
        (_, None) => '-',
        _ => ' ',
    };
    let mut out = format!("{mark} {:<width$} = [\n", field.path);
    for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
        for element in op.iter_changes(&old, &new) {
            let sign = match element.tag() {
                ChangeTag::Equal => mark,
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
            };
            out.push_str(&format!("{sign}     {},\n", element.value()));
        }
    }
    out.push_str(&format!("{mark}   ]\n"));
    out
}

/// A code fence longer than any run of backticks inside `body`.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Text safe inside HTML (a `<summary>` line is an HTML block, where
/// Markdown is not interpreted): no markup, one line.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text safe inside a Markdown table cell: HTML-escaped, no cell breaks, no emphasis.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in html(text).chars() {
        match c {
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '*' | '_' | '[' | ']' | '\\' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` as inline code inside a table cell; `(none)` when empty.
fn code(text: &str) -> String {
    if text.is_empty() {
        return "(none)".to_string();
    }
    format!("<code>{}</code>", escape(text))
}

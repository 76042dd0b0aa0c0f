//! Machine-readable output, versioned and documented in
//! `docs/output-formats.md`.
//!
//! `plan --json` and `apply --json` write a *stream*: one JSON object per
//! line, modelled on Terraform's `-json` UI, so that CI tools can follow a
//! long apply as it happens. Every message has `@level`, `@message`,
//! `@module`, `@timestamp` and `type`; the first is always `version`.
//! `refresh`, `import`, `state rm` and `force-unlock` write the same stream.
//! `show`, `state list|show`, `status` and `validate` write one document
//! (on one line) with a `format_version`. Builders here are pure: the caller
//! supplies the clock.

use super::{Note, Operation, plan_summary_line};
use crate::apply::{ApplyOutcome, Event};
use crate::check::{GateReport, GateUnavailable, TaskVerdict};
use crate::model::{Address, Moved, TaskSpec};
use crate::ops::{Drifted, Imported, Refreshed, Status, TaskStatus};
use crate::plan::impact::{Impact, ImpactClass, PlanImpact};
use crate::plan::{Action, Change, Counts, Plan};
use crate::planfile::SavedPlan;
use crate::state::{State, TaskRecord};
use serde_json::{Map, Value, json};

/// Version of the message stream (`ui` in the `version` message). Additions
/// of message types or fields keep the major version; anything else bumps it.
pub const UI_VERSION: &str = "1.0";

/// Version of the single documents written by `show --json` and `state --json`.
pub const DOCUMENT_VERSION: &str = "1.0";

const MODULE: &str = "htapsync.ui";

/// Severity of a message (`@level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One message of the stream, before it is stamped with the time.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub level: Level,
    /// What a human reading the log line should see (`@message`).
    pub text: String,
    /// The `type` field: what the rest of the object holds.
    pub kind: &'static str,
    /// The type-specific fields.
    pub body: Map<String, Value>,
}

impl Message {
    fn new(level: Level, kind: &'static str, text: impl Into<String>, body: Value) -> Message {
        let body = match body {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Message {
            level,
            text: text.into(),
            kind,
            body,
        }
    }

    /// The message as one line of JSON (no trailing newline), with `@timestamp`.
    pub fn line(&self, timestamp: &str) -> String {
        let mut object = Map::new();
        object.insert("@level".into(), self.level.as_str().into());
        object.insert("@message".into(), self.text.clone().into());
        object.insert("@module".into(), MODULE.into());
        object.insert("@timestamp".into(), timestamp.into());
        object.insert("type".into(), self.kind.into());
        object.extend(self.body.clone());
        Value::Object(object).to_string()
    }
}

/// The first message of every stream. `format_version` (equal to `ui`) is
/// what every first line of `--json` output carries, stream or document.
pub fn version() -> Message {
    let htapsync = env!("CARGO_PKG_VERSION");
    Message::new(
        Level::Info,
        "version",
        format!("htapsync {htapsync}"),
        json!({"htapsync": htapsync, "ui": UI_VERSION, "format_version": UI_VERSION}),
    )
}

/// One actionable change of a plan, with every changed field.
pub fn planned_change(change: &Change) -> Message {
    let fields: Vec<Value> = change
        .fields
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "before": f.before,
                "after": f.after,
                "forces_replacement": f.forces_replacement,
            })
        })
        .collect();
    // A change that only moves or imports is Terraform's `move` / `import` action.
    let action = match (change.action, &change.moved_from, change.imported) {
        (Action::NoOp, _, true) => json!("import"),
        (Action::NoOp, Some(_), _) => json!("move"),
        (action, _, _) => json!(action),
    };
    let verb = action.as_str().unwrap_or_default();
    let mut body = json!({
        "address": change.address,
        "name": change.address.name(),
        "action": action,
        "fields": fields,
        "impact": impact_value(&Impact::of(change)),
    });
    if let Some(from) = &change.moved_from {
        body["previous_address"] = json!(from);
    }
    if change.imported {
        body["importing"] = json!({"id": change.before.as_ref().map(TaskSpec::task_name)});
    }
    if change.replace_requested {
        body["reason"] = json!("replace_by_request");
    }
    Message::new(
        Level::Info,
        "planned_change",
        format!("{}: Plan to {verb}", change.address),
        json!({"change": body}),
    )
}

/// A change's impact: its class, the sentence plans show, and the details.
fn impact_value(impact: &Impact) -> Value {
    let mut value = json!(impact);
    value["summary"] = Value::from(impact.describe());
    value
}

/// The plan's impact: the most severe class (`null` without changes), the
/// banner (`null` when everything is in place), and how many changes have each class.
fn plan_impact_value(impact: &PlanImpact) -> Value {
    let mut value = json!({
        "class": impact.class,
        "banner": impact.banner(),
    });
    for class in ImpactClass::ALL {
        let n = impact.by_class.get(&class).copied().unwrap_or(0);
        value[json!(class).as_str().unwrap_or_default()] = Value::from(n);
    }
    value
}

/// The table-config-check verdict of one task, per table and per parameter.
pub fn check_result(verdict: &TaskVerdict) -> Message {
    let passed = verdict.passed();
    let failed = verdict.tables.iter().filter(|t| !t.passed).count()
        + verdict.params.iter().filter(|p| !p.passed).count();
    let text = match (&verdict.error, passed) {
        (Some(error), _) => format!("{}: table-config-check failed: {error}", verdict.address),
        (None, true) => format!("{}: table-config-check passed", verdict.address),
        (None, false) => format!(
            "{}: table-config-check failed for {failed} of {} tables and parameters",
            verdict.address,
            verdict.tables.len() + verdict.params.len()
        ),
    };
    Message::new(
        if passed { Level::Info } else { Level::Error },
        "check_result",
        text,
        json!({"check": {
            "address": verdict.address,
            "passed": passed,
            "error": verdict.error,
            "tables": verdict.tables,
            "params": verdict.params,
        }}),
    )
}

/// The gate could not run (credentials, throttling, network, server): one
/// message for the whole plan, instead of a `check_result` per task.
pub fn check_unavailable(unavailable: &GateUnavailable) -> Message {
    Message::new(
        Level::Error,
        "check_unavailable",
        unavailable.headline(),
        json!({"check_unavailable": {
            "reason": unavailable.reason,
            "error": unavailable.error,
            "detail": unavailable.detail(),
        }}),
    )
}

/// A note of the plan run: drift found by refresh, a warning, or a log line.
pub fn note(note: &Note) -> Message {
    match note {
        Note::Drift(text) => Message::new(
            Level::Info,
            "resource_drift",
            text.clone(),
            json!({"drift": {"address": leading_address(text), "detail": text}}),
        ),
        Note::Warning(text) => diagnostic(Level::Warn, text, ""),
        Note::Log(text) => Message::new(Level::Info, "log", text.clone(), json!({})),
    }
}

/// The address a drift line starts with (`task.NAME changed outside ...`).
fn leading_address(text: &str) -> Option<&str> {
    text.split_whitespace()
        .next()
        .filter(|word| word.starts_with("task."))
}

/// A problem worth a human's attention, in Terraform's diagnostic shape.
pub fn diagnostic(level: Level, summary: &str, detail: &str) -> Message {
    let severity = if level == Level::Error {
        "error"
    } else {
        "warning"
    };
    Message::new(
        level,
        "diagnostic",
        summary,
        json!({"diagnostic": {"severity": severity, "summary": summary, "detail": detail}}),
    )
}

/// Counts in the `change_summary` shape. A replace counts once in `add` and
/// once in `remove`, as in the human summary.
pub fn change_summary(counts: Counts, operation: Operation, text: &str) -> Message {
    Message::new(
        Level::Info,
        "change_summary",
        text,
        json!({"changes": {
            "add": counts.add,
            "change": counts.change,
            "remove": counts.destroy,
            "operation": operation.as_str(),
        }}),
    )
}

/// What the cloud says of one task it was asked about (`status`'s fields).
pub fn task_health(task: &TaskStatus) -> Message {
    let text = match task.progress() {
        Some(progress) => format!("{}: {progress}", task.address),
        None => format!("{}: not in the cloud", task.address),
    };
    Message::new(
        Level::Info,
        "task_health",
        text,
        json!({"health": task_status(task)}),
    )
}

/// Everything a plan says, in stream order: notes, the health of each task
/// the cloud was asked about, planned changes, check results, the summary,
/// and an error diagnostic when the gate failed.
pub fn plan_messages(
    plan: &Plan,
    gate: Option<&GateReport>,
    notes: &[Note],
    health: &[TaskStatus],
) -> Vec<Message> {
    let mut out: Vec<Message> = notes.iter().map(note).collect();
    out.extend(health.iter().map(task_health));
    out.extend(plan.actionable().map(planned_change));
    out.extend(
        plan.state_only()
            .filter(|c| !c.is_remote())
            .map(planned_change),
    );
    if let Some(gate) = gate {
        out.extend(gate.verdicts.values().map(check_result));
    }
    let counts = plan.counts();
    let mut summary = change_summary(counts, Operation::Plan, &plan_summary_line(plan));
    if let Some(Value::Object(changes)) = summary.body.get_mut("changes") {
        changes.insert("impact".into(), plan_impact_value(&plan.impact()));
        // Only when there are some, as Terraform's `import` count.
        let moves = plan.state_counts();
        for (key, n) in [("import", moves.imported), ("move", moves.moved)] {
            if n > 0 {
                changes.insert(key.into(), n.into());
            }
        }
    }
    out.push(summary);
    if let Some(unavailable) = gate.and_then(|g| g.unavailable.as_ref()) {
        out.push(check_unavailable(unavailable));
    } else if let Some(gate) = gate.filter(|g| !g.passed()) {
        let failed = gate.failed_count();
        out.push(diagnostic(
            Level::Error,
            &format!("The table-config-check gate failed for {failed} task(s)"),
            "apply will refuse this plan; see the check_result messages for the tables and parameters the cloud rejected",
        ));
    }
    out
}

/// One apply event as `apply_start`, `apply_progress`, `apply_stage`, `apply_complete` or `apply_errored`.
pub fn apply_event(event: &Event) -> Message {
    let hook = |address, action: Option<Action>, extra: Value| {
        let mut hook = json!({ "address": address });
        if let Value::Object(hook) = &mut hook {
            if let Some(action) = action {
                hook.insert("action".into(), json!(action));
            }
            if let Value::Object(extra) = extra {
                hook.extend(extra);
            }
        }
        json!({ "hook": hook })
    };
    let text = super::apply::event_line(event);
    match event {
        Event::Started { address, action } => Message::new(
            Level::Info,
            "apply_start",
            text,
            hook(address, Some(*action), json!({})),
        ),
        Event::Step { address, message } => Message::new(
            Level::Info,
            "apply_progress",
            text,
            hook(address, None, json!({"message": message})),
        ),
        Event::Stage { address, stage } => Message::new(
            Level::Info,
            "apply_stage",
            text,
            hook(address, None, json!({"stage": stage})),
        ),
        Event::Completed {
            address,
            action,
            elapsed,
        } => Message::new(
            Level::Info,
            "apply_complete",
            text,
            hook(
                address,
                Some(*action),
                json!({"elapsed_seconds": elapsed.as_secs_f64()}),
            ),
        ),
        Event::Failed {
            address,
            action,
            error,
        } => Message::new(
            Level::Error,
            "apply_errored",
            text,
            hook(address, Some(*action), json!({"error": error})),
        ),
    }
}

/// The end of an apply or destroy: one error diagnostic per failed task, then the summary.
pub fn apply_outcome(outcome: &ApplyOutcome, operation: Operation) -> Vec<Message> {
    let mut out: Vec<Message> = outcome
        .errors
        .iter()
        .map(|(address, error)| {
            diagnostic(
                Level::Error,
                &format!("{address}: {} failed", operation.as_str()),
                error,
            )
        })
        .collect();
    if let Some(line) = super::apply::not_started_line(outcome) {
        let addresses: Vec<String> = outcome.not_started.iter().map(|a| a.to_string()).collect();
        out.push(diagnostic(
            Level::Error,
            &line,
            &format!("not started: {}", addresses.join(", ")),
        ));
    }
    out.push(change_summary(
        outcome.counts,
        operation,
        &super::apply::outcome_summary(outcome, operation),
    ));
    out
}

/// `show --json PLANFILE`: the saved plan as one document.
pub fn saved_plan_document(saved: &SavedPlan) -> Value {
    let counts = saved.plan.counts();
    json!({
        "format_version": DOCUMENT_VERSION,
        "htapsync_version": saved.htapsync_version,
        "plan_format_version": saved.format_version,
        "created_at": saved.created_at,
        "providers": saved.providers.iter().map(|p| json!({
            "name": p.name,
            "endpoint": super::redact_url(&p.endpoint),
            "project_id": p.project_id,
        })).collect::<Vec<_>>(),
        "refreshed": saved.refreshed,
        "state_lineage": saved.state_lineage,
        "state_serial": saved.state_serial,
        "workspace": saved.workspace,
        "changes": saved.plan.changes,
        "impacts": saved.plan.impacts().map(|(change, impact)| json!({
            "address": change.address,
            "impact": impact_value(&impact),
        })).collect::<Vec<_>>(),
        "impact": plan_impact_value(&saved.plan.impact()),
        "gate": saved.gate,
        "gate_passed": saved.gate.passed(),
        "summary": {"add": counts.add, "change": counts.change, "remove": counts.destroy},
    })
}

/// `show --json` and `state list --json`: every task recorded in state.
pub fn state_document(state: Option<&State>) -> Value {
    let tasks: Vec<Value> = state
        .into_iter()
        .flat_map(|s| s.tasks.values())
        .map(task_document)
        .collect();
    json!({
        "format_version": DOCUMENT_VERSION,
        "lineage": state.map(|s| s.lineage.as_str()),
        "serial": state.map(|s| s.serial),
        "tasks": tasks,
    })
}

/// `state show --json ADDRESS`: one recorded task.
pub fn task_document(record: &TaskRecord) -> Value {
    json!({
        "address": record.spec.address(),
        "attributes": record.spec,
        "prevent_destroy": record.prevent_destroy,
        "updated_at": record.updated_at,
    })
}

/// `state show --json ADDRESS`: one recorded task, as a versioned document.
pub fn task_show_document(record: &TaskRecord) -> Value {
    let mut doc = task_document(record);
    if let Value::Object(map) = &mut doc {
        map.insert("format_version".into(), DOCUMENT_VERSION.into());
    }
    doc
}

/// One task of `status --json` and `drift --json`: what the cloud says of it.
fn task_status(task: &TaskStatus) -> Value {
    let [status, stage, percentage, catchup_stage, catchup_percentage] =
        super::status::columns(task);
    json!({
        "address": task.address,
        "status": status,
        "stage": stage,
        "percentage": percentage,
        "catchup_stage": catchup_stage,
        "catchup_percentage": catchup_percentage,
        "is_need_repair": task.live.as_ref().map(|_| task.needs_repair()),
        "last_error_of_alter_table": Some(&task.alter_error).filter(|e| !e.is_empty()),
        "problem": task.problem().map(|p| p.describe()),
        "problems": task.problems().iter().map(|p| p.describe()).collect::<Vec<_>>(),
    })
}

/// `status --json`: every managed task with what the cloud says of it.
pub fn status_document(status: &Status) -> Value {
    let tasks: Vec<Value> = status.tasks.iter().map(task_status).collect();
    let unread: Vec<Value> = (status.unread.iter())
        .map(|(address, error)| json!({"address": address, "error": error}))
        .collect();
    json!({
        "format_version": DOCUMENT_VERSION,
        "tasks": tasks,
        "healthy": status.healthy(),
        "problems": status.problems(),
        "unread": unread,
    })
}

/// `drift --json`: every drifted attribute (or deleted task) with its
/// fingerprint, the health of every compared task, and the warnings.
pub fn drift_document(drifted: &Drifted) -> Value {
    let items: Vec<_> = drifted.drift.iter().flat_map(|d| d.items()).collect();
    let tasks: Vec<Value> = drifted.health.iter().map(task_status).collect();
    let warnings: Vec<&str> = drifted
        .notes
        .iter()
        .filter(|n| matches!(n, Note::Warning(_)))
        .map(Note::text)
        .collect();
    json!({
        "format_version": DOCUMENT_VERSION,
        "drifted": drifted.has_drift(),
        "read": drifted.read,
        "drifted_tasks": drifted.drift.len(),
        "drift": items,
        "tasks": tasks,
        "healthy": drifted.health.iter().all(|t| t.problem().is_none()),
        "warnings": warnings,
        "targets": drifted.selection.targets,
        "excludes": drifted.selection.excludes,
    })
}

/// `refresh --json`: resolved intents and drift as notes, then `refresh_summary`.
pub fn refresh_messages(refreshed: &Refreshed) -> Vec<Message> {
    let Refreshed::Done {
        notes,
        read,
        drifted,
    } = refreshed
    else {
        return vec![
            Message::new(
                Level::Info,
                "log",
                "No state yet: nothing to refresh.",
                json!({}),
            ),
            refresh_summary(0, 0),
        ];
    };
    let mut out: Vec<Message> = notes.iter().map(note).collect();
    out.push(refresh_summary(*read, *drifted));
    out
}

fn refresh_summary(read: usize, drifted: usize) -> Message {
    Message::new(
        Level::Info,
        "refresh_summary",
        format!("Refresh complete: {read} task(s) read, {drifted} changed outside htapsync."),
        json!({"refresh": {"read": read, "drifted": drifted}}),
    )
}

/// `import --json`: warnings, what was generated, one `import_done` per task,
/// then `import_summary`.
pub fn import_messages(imported: &Imported) -> Vec<Message> {
    let mut out: Vec<Message> = imported
        .skipped
        .iter()
        .map(|spec| diagnostic(Level::Warn, &super::import::skipped_line(spec), ""))
        .collect();
    out.extend(
        imported
            .review
            .iter()
            .map(|a| diagnostic(Level::Warn, &super::import::review_line(a), "")),
    );
    if let Some((path, written)) = &imported.generated {
        out.push(Message::new(
            Level::Info,
            "log",
            super::import::generated_line(path, *written),
            json!({}),
        ));
    }
    out.extend(imported.imported.iter().map(|address| {
        Message::new(
            Level::Info,
            "import_done",
            format!("{address}: imported"),
            json!({"import": {"address": address}}),
        )
    }));
    out.push(Message::new(
        Level::Info,
        "import_summary",
        super::import::summary_line(imported),
        json!({"import": {"count": imported.imported.len()}}),
    ));
    out
}

/// `state rm --json`: the task forgotten (or, with `--dry-run`, that would be).
pub fn state_removed(address: &Address, dry_run: bool) -> Message {
    let text = if dry_run {
        format!("Would remove {address}")
    } else {
        format!("Removed {address} (the task still exists in the cloud)")
    };
    Message::new(
        Level::Info,
        "state_removed",
        text,
        json!({"removed": {"address": address, "dry_run": dry_run}}),
    )
}

/// `state mv --json`: the record moved (or would move).
pub fn state_moved(moved: &Moved, dry_run: bool) -> Message {
    Message::new(
        Level::Info,
        "state_moved",
        super::state_ops::moved_line(moved, dry_run),
        json!({"moved": {"from": moved.from, "to": moved.to, "dry_run": dry_run}}),
    )
}

/// `force-unlock --json`: the lock was removed.
pub fn unlocked(lock_id: &str) -> Message {
    Message::new(
        Level::Info,
        "unlocked",
        super::UNLOCKED,
        json!({"unlocked": {"lock_id": lock_id}}),
    )
}

/// `state push --json`: what was written.
pub fn pushed(workspace: &str, pushed: &crate::ops::state::Pushed) -> Message {
    Message::new(
        Level::Info,
        "state_pushed",
        super::state_ops::pushed_line(workspace, pushed),
        json!({"pushed": {
            "workspace": workspace,
            "from_serial": pushed.from_serial,
            "written_serial": pushed.written_serial,
        }}),
    )
}

/// `state migrate --json`: the workspaces copied.
pub fn migrated(to: &str, migrated: &[crate::ops::state::Migrated]) -> Message {
    Message::new(
        Level::Info,
        "state_migrated",
        super::state_ops::migrate_next_step(to),
        json!({"migrated": {"to": to, "workspaces": migrated}}),
    )
}

/// `workspace delete --json`.
pub fn workspace_deleted(workspace: &str) -> Message {
    Message::new(
        Level::Info,
        "workspace_deleted",
        format!("Deleted workspace {workspace:?}."),
        json!({"workspace_deleted": {"workspace": workspace}}),
    )
}

//! The table-config-check section of a plan: one verdict line per task, and
//! one line per table or parameter the cloud refused.

use super::{Paint, Style};
use crate::check::{GateReport, TaskVerdict};
use std::fmt::Write as _;

pub(super) fn gate_section(report: &GateReport, style: &Style) -> String {
    let mut out = String::from("Table-config-check results:\n\n");
    for verdict in report.verdicts.values() {
        task_line(verdict, style, &mut out);
        out.push_str(&failed_rows(verdict, style));
    }
    let failed = style.paint(Paint::Red, "table-config-check failed");
    for address in report.unchecked() {
        out.push_str(&format!(
            "  {address}: {failed}: no verdict (the task was never checked)\n"
        ));
    }
    out
}

/// Appends the task's verdict line (writing to a `String` cannot fail).
fn task_line(verdict: &TaskVerdict, style: &Style, out: &mut String) {
    let (paint, status) = if verdict.passed() {
        (Paint::Green, "table-config-check passed")
    } else {
        (Paint::Red, "table-config-check failed")
    };
    let status = style.paint(paint, status);
    let _ = match &verdict.error {
        Some(error) => writeln!(out, "  {}: {status}: {error}", verdict.address),
        None => writeln!(
            out,
            "  {}: {status} ({}, {})",
            verdict.address,
            plural(verdict.tables.len(), "table"),
            plural(verdict.params.len(), "parameter")
        ),
    };
}

/// Failed tables as aligned columns `✗ table  "config"  -> result`, then failed parameters.
fn failed_rows(verdict: &TaskVerdict, style: &Style) -> String {
    let cross = style.paint(Paint::Red, "✗");
    let tables: Vec<_> = verdict.tables.iter().filter(|t| !t.passed).collect();
    let configs: Vec<String> = tables.iter().map(|t| quote(&t.config)).collect();
    let name_width = tables
        .iter()
        .map(|t| t.table.chars().count())
        .max()
        .unwrap_or(0);
    let config_width = configs.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (table, config) in tables.iter().zip(&configs) {
        let line = format!(
            "      {cross} {:<name_width$}  {:<config_width$}  -> {}",
            table.table, config, table.result
        );
        match &table.hint {
            Some(hint) => out.push_str(&format!("{line}: {hint}\n")),
            None => out.push_str(&format!("{line}\n")),
        }
    }
    for param in verdict.params.iter().filter(|p| !p.passed) {
        out.push_str(&format!(
            "      {cross} db_configs.{} = {} ({})  -> {}\n",
            param.name,
            quote(&param.value),
            param.side,
            param.result
        ));
    }
    out
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Why an apply changed nothing when the gate did not pass (after `error:`).
pub(super) fn refusal_line(gate: &GateReport) -> String {
    let what = if gate.unavailable.is_some() {
        "could not run"
    } else {
        "failed"
    };
    format!("the table-config-check gate {what}; nothing was changed in the cloud.")
}

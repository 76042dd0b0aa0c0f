//! One task's block in the human plan: header, then one line (or nested
//! block) per attribute with `+`/`~`/`-` markers and aligned `=`. Lines are
//! written into the plan's one buffer: a 1,000-task plan has ≈ 30,000 of them.

use super::{Paint, Style};
use crate::model::TaskSpec;
use crate::model::fields::{Shape, field, spec_fields};
use crate::plan::fields::attribute_of;
use crate::plan::impact::{Impact, ImpactClass};
use crate::plan::{Action, Change, FieldChange};
use crate::refresh::TaskStatus;
use serde_json::Value;
use similar::{Algorithm, ChangeTag, capture_diff_slices};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Column where an attribute's marker sits; unmarked lines start two further right.
const ATTR_INDENT: &str = "      ";
const NESTED_INDENT: &str = "          ";

/// How one line changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Add,
    Change,
    Remove,
    Keep,
}

impl Mark {
    fn of(before: Option<&Value>, after: Option<&Value>) -> Mark {
        match (before, after) {
            (None, _) => Mark::Add,
            (_, None) => Mark::Remove,
            _ => Mark::Change,
        }
    }

    fn draw(self, style: &Style) -> Cow<'static, str> {
        let (paint, text) = match self {
            Mark::Add => (Paint::Green, "+"),
            Mark::Change => (Paint::Yellow, "~"),
            Mark::Remove => (Paint::Red, "-"),
            Mark::Keep => return Cow::Borrowed(" "),
        };
        if style.color {
            Cow::Owned(style.paint(paint, text))
        } else {
            Cow::Borrowed(text)
        }
    }
}

/// Appends the block of `change` to `out`. (Writing to a `String` cannot
/// fail, so the results of `write!` are ignored.)
pub(super) fn task_block(
    change: &Change,
    health: Option<&TaskStatus>,
    style: &Style,
    out: &mut String,
) {
    let name = change.address.name();
    let verb = match change.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::NoOp => "has no changes",
    };
    let _ = writeln!(
        out,
        "  {} {verb}",
        style.paint(Paint::Bold, &format!("# {}", change.address))
    );
    for remark in change.remarks() {
        let _ = writeln!(out, "  # ({remark})");
    }
    if let Some(progress) = health.and_then(TaskStatus::progress) {
        let _ = writeln!(out, "  # (in the cloud: {progress})");
    }
    out.push_str(&impact_line(change, style));
    let _ = writeln!(
        out,
        "{} task {} {{",
        style.symbol(change.action),
        quote(name)
    );
    let groups = group_by_attribute(&change.fields);
    let width = groups.iter().map(|(attr, _)| attr.len()).max().unwrap_or(0);
    for (attribute, fields) in &groups {
        match fields.as_slice() {
            [single] if !is_map(attribute) => attribute_line(single, width, style, out),
            _ => map_block(attribute, fields, width, change, style, out),
        }
    }
    if matches!(change.action, Action::Update | Action::Replace) {
        let hidden = hidden_attributes(change, &groups);
        if hidden > 0 {
            let noun = if hidden == 1 {
                "attribute"
            } else {
                "attributes"
            };
            let _ = writeln!(out, "{ATTR_INDENT}  # ({hidden} unchanged {noun} hidden)");
        }
    }
    out.push_str("    }\n");
}

/// `  # impact: …` under the header, for a change that is not in place.
fn impact_line(change: &Change, style: &Style) -> String {
    let impact = Impact::of(change);
    let paint = match impact.class {
        ImpactClass::InPlace => return String::new(),
        ImpactClass::TableRebuild => Paint::Yellow,
        ImpactClass::FullResync | ImpactClass::StopsReplication => Paint::Red,
    };
    let text = format!("# impact: {}", impact.describe());
    format!("  {}\n", style.paint(paint, &text))
}

/// Consecutive fields of the same top-level attribute (maps are flattened per key).
fn group_by_attribute(fields: &[FieldChange]) -> Vec<(&str, Vec<&FieldChange>)> {
    let mut groups: Vec<(&str, Vec<&FieldChange>)> = Vec::new();
    for field in fields {
        let attribute = attribute_of(&field.path);
        match groups.last_mut() {
            Some((last, members)) if *last == attribute => members.push(field),
            _ => groups.push((attribute, vec![field])),
        }
    }
    groups
}

/// A scalar (`a -> b`) or list (element by element) attribute.
fn attribute_line(field: &FieldChange, width: usize, style: &Style, out: &mut String) {
    let mark = Mark::of(field.before.as_ref(), field.after.as_ref());
    let _ = write!(
        out,
        "{ATTR_INDENT}{} {:<width$} = ",
        mark.draw(style),
        field.path
    );
    let arrays = (
        field.before.as_ref().and_then(Value::as_array),
        field.after.as_ref().and_then(Value::as_array),
    );
    if arrays.0.is_some() || arrays.1.is_some() {
        return list_value(arrays.0, arrays.1, mark, style, out);
    }
    let _ = match (&field.before, &field.after) {
        (Some(b), Some(a)) => write!(out, "{b} -> {a}"),
        (Some(b), None) => write!(out, "{b} -> null"),
        (None, Some(a)) => write!(out, "{a}"),
        (None, None) => write!(out, "null"),
    };
    if field.forces_replacement {
        let _ = write!(out, " {}", style.paint(Paint::Red, "# forces replacement"));
    }
    out.push('\n');
}

/// `[`, one line per element (unchanged ones unmarked), `]`.
fn list_value(
    before: Option<&Vec<Value>>,
    after: Option<&Vec<Value>>,
    mark: Mark,
    style: &Style,
    out: &mut String,
) {
    let (old, new) = (
        before.map_or(&[][..], Vec::as_slice),
        after.map_or(&[][..], Vec::as_slice),
    );
    let tail = if mark == Mark::Remove { " -> null" } else { "" };
    if old.is_empty() && new.is_empty() {
        let _ = writeln!(out, "[]{tail}");
        return;
    }
    out.push_str("[\n");
    let mut element = |element_mark: Mark, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{NESTED_INDENT}{} {value},", element_mark.draw(style));
    };
    if old.is_empty() || new.is_empty() {
        // All added or all removed: the diff below would say just that.
        let (element_mark, values) = if old.is_empty() {
            (Mark::Add, new)
        } else {
            (Mark::Remove, old)
        };
        for value in values {
            element(element_mark, value);
        }
    } else {
        let old: Vec<String> = old.iter().map(Value::to_string).collect();
        let new: Vec<String> = new.iter().map(Value::to_string).collect();
        for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
            for change in op.iter_changes(&old, &new) {
                let element_mark = match change.tag() {
                    ChangeTag::Equal => Mark::Keep,
                    ChangeTag::Delete => Mark::Remove,
                    ChangeTag::Insert => Mark::Add,
                };
                element(element_mark, &change.value());
            }
        }
    }
    let _ = writeln!(out, "{ATTR_INDENT}  ]{tail}");
}

/// A map attribute (`db_configs`, `table_configs`) shown per key.
fn map_block(
    attribute: &str,
    fields: &[&FieldChange],
    width: usize,
    change: &Change,
    style: &Style,
    out: &mut String,
) {
    let mark = match change.action {
        Action::Create => Mark::Add,
        Action::Delete => Mark::Remove,
        _ => Mark::Change,
    };
    let keys: Vec<String> = fields.iter().map(|f| quote(map_key(&f.path))).collect();
    let key_width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "{ATTR_INDENT}{} {attribute:<width$} = {{",
        mark.draw(style)
    );
    for (field, key) in fields.iter().zip(&keys) {
        let entry_mark = Mark::of(field.before.as_ref(), field.after.as_ref());
        let _ = write!(
            out,
            "{NESTED_INDENT}{} {key:<key_width$} = ",
            entry_mark.draw(style)
        );
        let _ = match (&field.before, &field.after) {
            (Some(b), Some(a)) => writeln!(out, "{b} -> {a}"),
            // Inside a destroyed map the closing `} -> null` already says it.
            (Some(b), None) if mark == Mark::Remove => writeln!(out, "{b}"),
            (Some(b), None) => writeln!(out, "{b} -> null"),
            (None, Some(a)) => writeln!(out, "{a}"),
            (None, None) => writeln!(out, "null"),
        };
    }
    let unchanged = change
        .before
        .as_ref()
        .filter(|_| mark == Mark::Change)
        .map_or(0, |before| {
            let keys = map_keys(before, attribute);
            keys.len().saturating_sub(removed_or_changed(fields, &keys))
        });
    if unchanged > 0 {
        let noun = if unchanged == 1 {
            "element"
        } else {
            "elements"
        };
        let _ = writeln!(
            out,
            "{NESTED_INDENT}  # ({unchanged} unchanged {noun} hidden)"
        );
    }
    let tail = if mark == Mark::Remove { " -> null" } else { "" };
    let _ = writeln!(out, "{ATTR_INDENT}  }}{tail}");
}

/// Keys of the before-map that this change touches (the rest are unchanged).
/// A db_config the before-map lacks may still show a before value: its default.
fn removed_or_changed(fields: &[&FieldChange], before: &[String]) -> usize {
    fields
        .iter()
        .filter(|f| before.iter().any(|k| k == map_key(&f.path)))
        .count()
}

fn map_key(path: &str) -> &str {
    path.split_once('.').map_or(path, |(_, key)| key)
}

/// Whether the registry shows `attribute` per key (a map) rather than on one line.
fn is_map(attribute: &str) -> bool {
    field(attribute).is_some_and(|f| f.shape == Shape::Map)
}

/// The keys of map attribute `attribute` in `spec`, as the registry reads it.
fn map_keys(spec: &TaskSpec, attribute: &str) -> Vec<String> {
    match field(attribute)
        .and_then(|f| f.value)
        .map(|value| value(spec))
    {
        Some(Value::Object(map)) => map.into_iter().map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}

/// Attributes present in the task that this update does not touch.
fn hidden_attributes(change: &Change, groups: &[(&str, Vec<&FieldChange>)]) -> usize {
    let present = |f: &crate::model::fields::TaskField| {
        [&change.before, &change.after]
            .into_iter()
            .flatten()
            .any(|spec| f.is_present(spec))
    };
    spec_fields()
        .filter(|f| present(f) && !groups.iter().any(|(changed, _)| *changed == f.key))
        .count()
}

fn quote(s: &str) -> String {
    Value::from(s).to_string()
}

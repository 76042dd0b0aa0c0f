//! One task's block in the human plan: header, then one line (or nested
//! block) per attribute with `+`/`~`/`-` markers and aligned `=`.

use super::{Paint, Style};
use crate::model::TaskSpec;
use crate::model::fields::{Shape, field, spec_fields};
use crate::plan::fields::attribute_of;
use crate::plan::impact::{Impact, ImpactClass};
use crate::plan::{Action, Change, FieldChange};
use serde_json::Value;
use similar::{Algorithm, ChangeTag, capture_diff_slices};

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

    fn draw(self, style: &Style) -> String {
        match self {
            Mark::Add => style.paint(Paint::Green, "+"),
            Mark::Change => style.paint(Paint::Yellow, "~"),
            Mark::Remove => style.paint(Paint::Red, "-"),
            Mark::Keep => " ".to_string(),
        }
    }
}

pub(super) fn task_block(change: &Change, style: &Style) -> String {
    let name = change.address.name();
    let verb = match change.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::NoOp => "has no changes",
    };
    let mut out = format!(
        "  {} {verb}\n",
        style.paint(Paint::Bold, &format!("# {}", change.address))
    );
    out.push_str(&impact_line(change, style));
    out.push_str(&format!(
        "{} task {} {{\n",
        style.symbol(change.action),
        quote(name)
    ));
    let groups = group_by_attribute(&change.fields);
    let width = groups.iter().map(|(attr, _)| attr.len()).max().unwrap_or(0);
    for (attribute, fields) in &groups {
        let line = match fields.as_slice() {
            [single] if !is_map(attribute) => attribute_line(single, width, style),
            _ => map_block(attribute, fields, width, change, style),
        };
        out.push_str(&line);
    }
    if matches!(change.action, Action::Update | Action::Replace) {
        let hidden = hidden_attributes(change, &groups);
        if hidden > 0 {
            let noun = if hidden == 1 {
                "attribute"
            } else {
                "attributes"
            };
            out.push_str(&format!(
                "{ATTR_INDENT}  # ({hidden} unchanged {noun} hidden)\n"
            ));
        }
    }
    out.push_str("    }\n");
    out
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
fn attribute_line(field: &FieldChange, width: usize, style: &Style) -> String {
    let mark = Mark::of(field.before.as_ref(), field.after.as_ref());
    let lead = format!(
        "{ATTR_INDENT}{} {:<width$} = ",
        mark.draw(style),
        field.path
    );
    let arrays = (
        field.before.as_ref().and_then(Value::as_array),
        field.after.as_ref().and_then(Value::as_array),
    );
    if arrays.0.is_some() || arrays.1.is_some() {
        return lead + &list_value(arrays.0, arrays.1, mark, style);
    }
    let value = match (&field.before, &field.after) {
        (Some(b), Some(a)) => format!("{b} -> {a}"),
        (Some(b), None) => format!("{b} -> null"),
        (None, Some(a)) => a.to_string(),
        (None, None) => "null".to_string(),
    };
    let forces = if field.forces_replacement {
        format!(" {}", style.paint(Paint::Red, "# forces replacement"))
    } else {
        String::new()
    };
    format!("{lead}{value}{forces}\n")
}

/// `[`, one line per element (unchanged ones unmarked), `]`.
fn list_value(
    before: Option<&Vec<Value>>,
    after: Option<&Vec<Value>>,
    mark: Mark,
    style: &Style,
) -> String {
    let old: Vec<String> = before.into_iter().flatten().map(Value::to_string).collect();
    let new: Vec<String> = after.into_iter().flatten().map(Value::to_string).collect();
    let tail = if mark == Mark::Remove { " -> null" } else { "" };
    if old.is_empty() && new.is_empty() {
        return format!("[]{tail}\n");
    }
    let mut out = String::from("[\n");
    for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
        for element in op.iter_changes(&old, &new) {
            let element_mark = match element.tag() {
                ChangeTag::Equal => Mark::Keep,
                ChangeTag::Delete => Mark::Remove,
                ChangeTag::Insert => Mark::Add,
            };
            out.push_str(&format!(
                "{NESTED_INDENT}{} {},\n",
                element_mark.draw(style),
                element.value()
            ));
        }
    }
    out.push_str(&format!("{ATTR_INDENT}  ]{tail}\n"));
    out
}

/// A map attribute (`db_configs`, `table_configs`) shown per key.
fn map_block(
    attribute: &str,
    fields: &[&FieldChange],
    width: usize,
    change: &Change,
    style: &Style,
) -> String {
    let mark = match change.action {
        Action::Create => Mark::Add,
        Action::Delete => Mark::Remove,
        _ => Mark::Change,
    };
    let keys: Vec<String> = fields.iter().map(|f| quote(map_key(&f.path))).collect();
    let key_width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = format!(
        "{ATTR_INDENT}{} {attribute:<width$} = {{\n",
        mark.draw(style)
    );
    for (field, key) in fields.iter().zip(&keys) {
        let value = match (&field.before, &field.after) {
            (Some(b), Some(a)) => format!("{b} -> {a}"),
            // Inside a destroyed map the closing `} -> null` already says it.
            (Some(b), None) if mark == Mark::Remove => b.to_string(),
            (Some(b), None) => format!("{b} -> null"),
            (None, Some(a)) => a.to_string(),
            (None, None) => "null".to_string(),
        };
        let entry_mark = Mark::of(field.before.as_ref(), field.after.as_ref());
        out.push_str(&format!(
            "{NESTED_INDENT}{} {key:<key_width$} = {value}\n",
            entry_mark.draw(style)
        ));
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
        out.push_str(&format!(
            "{NESTED_INDENT}  # ({unchanged} unchanged {noun} hidden)\n"
        ));
    }
    let tail = if mark == Mark::Remove { " -> null" } else { "" };
    out.push_str(&format!("{ATTR_INDENT}  }}{tail}\n"));
    out
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

//! Walking a parsed TOML tree while remembering where every key and value came
//! from. The helpers here turn "wrong type" and "unknown key" situations into
//! positioned diagnostics and return `None`, so the caller simply carries on
//! and every problem in a file gets reported, not only the first.

use super::diagnostic::Diagnostic;
use super::source::SourceFile;
use std::ops::Range;
use toml_edit::{Item, TableLike, Value};

/// A place in one of the loaded files: index into the file list plus byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub file: usize,
    pub span: Range<usize>,
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub at: Origin,
}

/// One `key = value` (or sub-table) of a table, with the key's span.
pub(crate) struct Entry<'t> {
    pub name: &'t str,
    pub key_span: Range<usize>,
    pub item: &'t Item,
}

impl Entry<'_> {
    /// The value's span, or the key's when the value has none (implicit tables).
    pub fn value_span(&self) -> Range<usize> {
        self.item
            .span()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.key_span.clone())
    }
}

/// The entries of a table or inline table, in document order.
pub(crate) fn entries(table: &dyn TableLike) -> Vec<Entry<'_>> {
    table
        .iter()
        .map(|(name, item)| Entry {
            name,
            key_span: table.key(name).and_then(|k| k.span()).unwrap_or(0..0),
            item,
        })
        .collect()
}

/// "a string", "an integer", ...: how a TOML item's type is named in messages.
pub(crate) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(value) => value_type_name(value),
    }
}

pub(crate) fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), *c))
        .filter(|(distance, c)| {
            let typo = *distance <= (c.len().max(name.len()) / 3).max(1);
            let abbreviation = name.len() >= 3 && c.starts_with(name);
            typo || abbreviation
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// "did you mean `x`? " (or nothing) followed by the list of allowed names.
pub(crate) fn suggestion_detail(name: &str, allowed: &[&str], what: &str) -> String {
    let listed: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    let hint = did_you_mean(name, allowed)
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    format!("{hint}{what}: {}", listed.join(", "))
}

/// Collects diagnostics for one file while its tree is walked.
pub(crate) struct Walker<'a> {
    pub file: usize,
    pub source: &'a SourceFile,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl Walker<'_> {
    pub fn origin(&self, span: Range<usize>) -> Origin {
        Origin {
            file: self.file,
            span,
        }
    }

    pub fn error(&mut self, span: Range<usize>, summary: String, detail: String) {
        let diagnostic = Diagnostic::error(summary, detail).at_span(self.source, span);
        self.diagnostics.push(diagnostic);
    }

    pub fn warning(&mut self, span: Range<usize>, summary: String, detail: String) {
        let diagnostic = Diagnostic::warning(summary, detail).at_span(self.source, span);
        self.diagnostics.push(diagnostic);
    }

    /// An error at `byte` that shows no line of the file, for values that may be secret.
    pub fn error_without_snippet(&mut self, byte: usize, summary: String, detail: String) {
        let at = self.source.position(byte);
        let diagnostic =
            Diagnostic::error(summary, detail).at_position(&self.source.path, at.line, at.column);
        self.diagnostics.push(diagnostic);
    }

    pub fn unknown_key(&mut self, context: &str, entry: &Entry, allowed: &[&str]) {
        self.error(
            entry.key_span.clone(),
            format!("unknown key `{}` in {context}", entry.name),
            suggestion_detail(entry.name, allowed, "Allowed keys"),
        );
    }

    pub fn wrong_type(&mut self, context: &str, entry: &Entry, expected: &str) {
        self.error(
            entry.value_span(),
            format!(
                "wrong type for `{}` in {context}: expected {expected}, found {}",
                entry.name,
                type_name(entry.item)
            ),
            String::new(),
        );
    }

    pub fn string(&mut self, context: &str, entry: &Entry) -> Option<Spanned<String>> {
        match entry.item.as_str() {
            Some(s) => Some(Spanned {
                value: s.to_string(),
                at: self.origin(entry.value_span()),
            }),
            None => {
                self.wrong_type(context, entry, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, context: &str, entry: &Entry) -> Option<Spanned<bool>> {
        match entry.item.as_bool() {
            Some(b) => Some(Spanned {
                value: b,
                at: self.origin(entry.value_span()),
            }),
            None => {
                self.wrong_type(context, entry, "a boolean");
                None
            }
        }
    }

    /// An integer within `range`.
    pub fn integer(
        &mut self,
        context: &str,
        entry: &Entry,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<Spanned<i64>> {
        let Some(value) = entry.item.as_integer() else {
            self.wrong_type(context, entry, "an integer");
            return None;
        };
        let at = self.origin(entry.value_span());
        if !range.contains(&value) {
            self.error(
                at.span.clone(),
                format!("invalid {} {value} in {context}", entry.name),
                format!(
                    "use a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            return None;
        }
        Some(Spanned { value, at })
    }

    pub fn table<'t>(&mut self, context: &str, entry: &Entry<'t>) -> Option<&'t dyn TableLike> {
        let table = entry.item.as_table_like();
        if table.is_none() {
            self.wrong_type(context, entry, "a table");
        }
        table
    }

    /// A string checked by `rule`; an invalid one is reported with `rule`'s
    /// explanation as the detail.
    pub fn checked_string(
        &mut self,
        context: &str,
        entry: &Entry,
        rule: fn(&str) -> Result<(), String>,
    ) -> Option<Spanned<String>> {
        let value = self.string(context, entry)?;
        match rule(&value.value) {
            Ok(()) => Some(value),
            Err(detail) => {
                self.error(
                    value.at.span.clone(),
                    format!("invalid {} {:?} in {context}", entry.name, value.value),
                    detail,
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_close_names() {
        let allowed = ["instance_id", "source_instance_id", "tables"];
        assert_eq!(did_you_mean("instnce_id", &allowed), Some("instance_id"));
        assert_eq!(did_you_mean("table", &allowed), Some("tables"));
        assert_eq!(did_you_mean("zzz", &allowed), None);
        assert_eq!(did_you_mean("source", &allowed), Some("source_instance_id"));
        assert_eq!(
            suggestion_detail("tabels", &allowed, "Allowed keys"),
            "did you mean `tables`? Allowed keys: `instance_id`, `source_instance_id`, `tables`"
        );
    }
}

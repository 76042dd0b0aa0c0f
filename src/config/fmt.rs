//! Canonical formatting of configuration files (`htapsync fmt`), done on the
//! `toml_edit` tree so comments survive and values keep their written form
//! (quotes, number formats). The canonical layout:
//!
//! - `key = value` with single spaces, no indentation, bare keys where possible;
//! - exactly one blank line before each table header (none at the start of the
//!   file), at most one blank line between keys, none right after a header;
//! - comments above keys and tables, and after values, kept (trimmed);
//! - single-line arrays and inline tables as `["a", "b"]` / `{ a = 1 }`;
//!   multi-line arrays with one element per line, indented four spaces,
//!   with a trailing comma;
//! - no trailing whitespace; the file ends with exactly one newline.
//!
//! Formatting is idempotent: formatting formatted text changes nothing.

use super::diagnostic::Diagnostic;
use super::source::SourceFile;
use std::path::Path;
use toml_edit::{Array, DocumentMut, Item, RawString, Table, Value};

/// Indentation of elements of multi-line arrays.
const ARRAY_INDENT: &str = "    ";

/// The canonical form of `src`; a syntax error is reported against `file`.
/// A credentials file is refused unread (its diff would show the secrets).
pub fn format_source(src: &str, file: &Path) -> Result<String, Diagnostic> {
    if super::looks_like_credentials(src) {
        return Err(super::credentials_in_config_dir(file));
    }
    let mut document: DocumentMut = src.parse().map_err(|e| {
        super::syntax_error(&SourceFile::new(file.to_path_buf(), src.to_string()), &e)
    })?;
    let mut first_in_body = true;
    format_body(document.as_table_mut(), &mut first_in_body);
    let trailing = comment_block(raw(Some(document.trailing())), Leading::KeepOne);
    document.set_trailing(trailing);
    let text = document.to_string();
    // Leading newlines can only come from the blank line put before every
    // header, and trailing whitespace only from decor: neither is ever inside
    // a string, so trimming is safe.
    let text = text.trim_start_matches('\n').trim_end();
    Ok(if text.is_empty() {
        String::new()
    } else {
        format!("{text}\n")
    })
}

fn raw(s: Option<&RawString>) -> &str {
    s.and_then(RawString::as_str).unwrap_or("")
}

/// What to do with blank lines before the first comment of a block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leading {
    Drop,
    KeepOne,
}

/// The comment lines of whitespace-and-comments text that starts at a line
/// start, trimmed, with runs of blank lines collapsed to one.
fn comment_block(raw: &str, leading: Leading) -> String {
    let segments: Vec<&str> = raw.split('\n').collect();
    let last = segments.len() - 1;
    let mut lines: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let line = segment.trim();
        // The last segment has no newline after it: it is the indentation
        // before the key, unless it is a final comment at the end of the file.
        if line.is_empty() && i == last {
            continue;
        }
        if line.is_empty() {
            let after_blank = lines.last().is_some_and(|l| l.is_empty());
            if after_blank || (lines.is_empty() && leading == Leading::Drop) {
                continue;
            }
        }
        lines.push(line);
    }
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// A comment that followed a value or header on its line, as ` # text`.
fn trailing_comment(raw: &str) -> String {
    raw.find('#')
        .map(|i| format!(" {}", raw[i..].trim_end()))
        .unwrap_or_default()
}

/// Formats the key-values of a table body (following dotted keys, which are
/// written in the same body) and then its sub-tables.
fn format_body(table: &mut Table, first_in_body: &mut bool) {
    for (mut key, item) in table.iter_mut() {
        match item {
            Item::Value(value) => {
                let prefix = raw(key.leaf_decor().prefix()).to_string();
                key.fmt();
                let leading = if *first_in_body {
                    Leading::Drop
                } else {
                    Leading::KeepOne
                };
                key.leaf_decor_mut()
                    .set_prefix(comment_block(&prefix, leading));
                key.leaf_decor_mut().set_suffix(" ");
                *first_in_body = false;
                format_value(value);
            }
            Item::Table(sub) if sub.is_dotted() => {
                key.fmt();
                format_body(sub, first_in_body);
            }
            Item::Table(sub) => {
                let prefix = raw(key.leaf_decor().prefix()).to_string();
                key.fmt();
                format_header_table(sub, &prefix);
            }
            Item::ArrayOfTables(tables) => {
                let prefix = raw(key.leaf_decor().prefix()).to_string();
                key.fmt();
                for sub in tables.iter_mut() {
                    format_header_table(sub, &prefix);
                }
            }
            Item::None => {}
        }
    }
}

/// A `[header]` table: one blank line, its comments, the header, its body.
fn format_header_table(table: &mut Table, key_prefix: &str) {
    if !table.is_implicit() {
        let comments = format!("{key_prefix}{}", raw(table.decor().prefix()));
        let suffix = trailing_comment(raw(table.decor().suffix()));
        let prefix = format!("\n{}", comment_block(&comments, Leading::Drop));
        table.decor_mut().set_prefix(prefix);
        table.decor_mut().set_suffix(suffix);
    }
    let mut first_in_body = true;
    format_body(table, &mut first_in_body);
}

fn format_value(value: &mut Value) {
    let suffix = trailing_comment(raw(value.decor().suffix()));
    match value {
        Value::Array(array) => format_array(array),
        Value::InlineTable(table) => {
            let has_layout = table.iter().any(|(k, v)| {
                let key_decor = table.key(k).map(|k| k.leaf_decor());
                has_layout(raw(v.decor().prefix()))
                    || has_layout(raw(v.decor().suffix()))
                    || key_decor.is_some_and(|d| has_layout(raw(d.prefix())))
            });
            if !has_layout {
                table.fmt();
            }
        }
        _ => {}
    }
    value.decor_mut().set_prefix(" ");
    value.decor_mut().set_suffix(suffix);
}

/// Whether decor holds a line break or a comment: layout the user chose.
fn has_layout(raw: &str) -> bool {
    raw.contains('\n') || raw.contains('#')
}

fn format_array(array: &mut Array) {
    let multi_line = array
        .iter()
        .any(|v| has_layout(raw(v.decor().prefix())) || has_layout(raw(v.decor().suffix())))
        || has_layout(raw(Some(array.trailing())));
    if array.is_empty() || !multi_line {
        array.fmt();
        return;
    }
    for element in array.iter_mut() {
        let prefix = raw(element.decor().prefix()).to_string();
        element
            .decor_mut()
            .set_prefix(array_gap(&prefix, ARRAY_INDENT));
        if !raw(element.decor().suffix()).contains('#') {
            element.decor_mut().set_suffix("");
        }
    }
    let trailing = array_gap(raw(Some(array.trailing())), "");
    array.set_trailing(trailing);
    array.set_trailing_comma(true);
}

/// The gap before an element (or before `]`) of a multi-line array: a
/// comment that ended the previous line stays there, comment lines are
/// re-indented, blank lines dropped, and the element starts a new line.
fn array_gap(raw: &str, indent: &str) -> String {
    let mut segments = raw.split('\n');
    let mut gap = String::new();
    if let Some(first) = segments.next() {
        gap.push_str(&trailing_comment(first));
    }
    let rest: Vec<&str> = segments.collect();
    let full_lines = rest.len().saturating_sub(1);
    for line in rest.iter().take(full_lines) {
        let line = line.trim();
        if !line.is_empty() {
            gap.push_str(&format!("\n{indent}{line}"));
        }
    }
    gap.push('\n');
    gap.push_str(indent);
    gap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(src: &str) -> String {
        format_source(src, Path::new("t.toml")).expect("valid TOML")
    }

    #[test]
    fn canonical_layout() {
        let src = "\n\n  # provider\n[provider]   # where\n  project_id=\"p\"   \n\n\n\n   region  =  'r'\n[task.a]\n\n  tables = [ \"x\",\"y\" ]\n  db_configs={a=1,b=true}\n# end   \n\n";
        let expected = "# provider\n[provider] # where\nproject_id = \"p\"\n\nregion = 'r'\n\n[task.a]\ntables = [\"x\", \"y\"]\ndb_configs = { a = 1, b = true }\n# end\n";
        assert_eq!(fmt(src), expected);
        assert_eq!(fmt(expected), expected);
    }

    #[test]
    fn multi_line_arrays_keep_comments() {
        let src = "tables = [\n  \"a\", # first\n\n  # the second\n     \"b\"\n]\n";
        let expected = "tables = [\n    \"a\", # first\n    # the second\n    \"b\",\n]\n";
        assert_eq!(fmt(src), expected);
        assert_eq!(fmt(expected), expected);
    }

    #[test]
    fn header_comments_and_blank_lines() {
        let src = "a = 1\n# about t\n[t]\nb = 2\n\n\n# about u\n\n[u]\n";
        let expected = "a = 1\n\n# about t\n[t]\nb = 2\n\n# about u\n\n[u]\n";
        assert_eq!(fmt(src), expected);
        assert_eq!(fmt(expected), expected);
    }

    #[test]
    fn dotted_keys_and_quoted_keys() {
        let src = "[task.x]\n  db_configs . a = 1\n'plain' = 2\n";
        assert_eq!(fmt(src), "[task.x]\ndb_configs.a = 1\nplain = 2\n");
    }

    #[test]
    fn empty_and_syntax_error() {
        assert_eq!(fmt("\n\n"), "");
        let err = format_source("a = \n", Path::new("t.toml")).unwrap_err();
        assert!(err.summary.starts_with("TOML syntax error"));
        assert_eq!(err.line, Some(1));
    }
}

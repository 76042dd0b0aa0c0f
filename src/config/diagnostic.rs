//! Diagnostics: what `validate` reports. Each one says what is wrong (summary),
//! how to fix it (detail), and where (file, line, column, with a snippet of the
//! offending line). Rendered for humans rustc-style by `Display`, and for tools
//! in the shape of Terraform's `validate -json` by [`Diagnostic::to_json`].

use super::Loaded;
use super::source::{Position, SourceFile};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is: errors make the configuration invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// One line: what is wrong.
    pub summary: String,
    /// How to fix it (may be empty).
    pub detail: String,
    pub file: Option<PathBuf>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, counted in characters.
    pub column: Option<usize>,
    /// The exact range and its source lines, when the problem has one.
    span: Option<Box<SpanInfo>>,
}

/// Where in the source a diagnostic points, with the text needed for a snippet
/// (kept so rendering needs no access to the file any more).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SpanInfo {
    start: Position,
    end: Position,
    /// The source lines the range covers, joined with `\n`.
    code: String,
    /// Byte offsets of the range within `code`.
    highlight: Range<usize>,
}

impl Diagnostic {
    /// An error not tied to any file.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Severity::Error, summary.into(), detail.into())
    }

    /// A warning not tied to any file.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Severity::Warning, summary.into(), detail.into())
    }

    fn new(severity: Severity, summary: String, detail: String) -> Self {
        Diagnostic {
            severity,
            summary,
            detail,
            file: None,
            line: None,
            column: None,
            span: None,
        }
    }

    /// Ties the diagnostic to a whole file (no position).
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    /// Ties the diagnostic to a position without a snippet (for files that
    /// could not be decoded, whose lines cannot be shown).
    pub fn at_position(mut self, file: &Path, line: usize, column: usize) -> Self {
        self.file = Some(file.to_path_buf());
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Points the diagnostic at byte range `span` of `source`.
    pub(crate) fn at_span(mut self, source: &SourceFile, span: Range<usize>) -> Self {
        let (start, end) = source.range(&span);
        let code_start = source.line_start(start.line);
        let code: Vec<&str> = (start.line..=end.line)
            .map(|line| source.line_text(line))
            .collect();
        let code = code.join("\n");
        let highlight_start = (start.byte - code_start).min(code.len());
        let highlight_end = (end.byte - code_start).clamp(highlight_start, code.len());
        self.file = Some(source.path.clone());
        self.line = Some(start.line);
        self.column = Some(start.column);
        self.span = Some(Box::new(SpanInfo {
            start,
            end,
            code,
            highlight: highlight_start..highlight_end,
        }));
        self
    }

    /// `file:line:column` (or as much of it as is known), as used in messages
    /// that refer to another place.
    pub fn location_text(&self) -> Option<String> {
        let file = self.file.as_ref()?.display();
        Some(match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            _ => file.to_string(),
        })
    }

    /// The diagnostic in the shape of one entry of Terraform's `validate -json`
    /// `diagnostics` array.
    pub fn to_json(&self) -> Value {
        let mut object = json!({
            "severity": self.severity,
            "summary": self.summary,
            "detail": self.detail,
            "file": self.file.as_ref().map(|f| f.display().to_string()),
            "line": self.line,
            "column": self.column,
        });
        if let (Some(span), Some(file)) = (&self.span, &self.file) {
            let pos = |p: &Position| json!({"line": p.line, "column": p.column, "byte": p.byte});
            object["range"] = json!({
                "filename": file.display().to_string(),
                "start": pos(&span.start),
                "end": pos(&span.end),
            });
            object["snippet"] = json!({
                "context": Value::Null,
                "code": span.code,
                "start_line": span.start.line,
                "highlight_start_offset": span.highlight.start,
                "highlight_end_offset": span.highlight.end,
                "values": [],
            });
        }
        object
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity.as_str(), self.summary)?;
        let gutter = self.line.map_or(0, |line| line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(location) = self.location_text() {
            write!(f, "\n{pad}--> {location}")?;
        }
        if let Some(span) = &self.span {
            let first_line = span.code.split('\n').next().unwrap_or("");
            let before = &first_line[..span.highlight.start.min(first_line.len())];
            let highlighted =
                &first_line[before.len()..span.highlight.end.clamp(before.len(), first_line.len())];
            let after = &first_line[before.len() + highlighted.len()..];
            let before = keep_end(before, SNIPPET_CONTEXT);
            let highlighted = keep_start(highlighted, SNIPPET_CONTEXT);
            let after = keep_start(after.trim_end(), SNIPPET_CONTEXT);
            let carets = highlighted.chars().count().max(1);
            write!(f, "\n{pad} |")?;
            write!(
                f,
                "\n{} | {}",
                span.start.line,
                format!("{before}{highlighted}{after}").trim_end()
            )?;
            write!(
                f,
                "\n{pad} | {}{}",
                " ".repeat(before.chars().count()),
                "^".repeat(carets)
            )?;
        }
        for (i, line) in self.detail.lines().enumerate() {
            let label = if i == 0 { "= help: " } else { "        " };
            write!(f, "\n{pad} {label}{line}")?;
        }
        Ok(())
    }
}

/// Characters of a snippet line shown on each side of the caret (and of the
/// highlighted text): a generated line can be hundreds of kilobytes long.
const SNIPPET_CONTEXT: usize = 60;

/// The first `max` characters of `text`, with `…` when some were cut.
fn keep_start(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The last `max` characters of `text`, with `…` when some were cut.
fn keep_end(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let cut = text.char_indices().nth(count - max).map_or(0, |(i, _)| i);
    format!("…{}", &text[cut..])
}

/// All the problems of one load: the error type of [`super::load_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn error_count(&self) -> usize {
        count(&self.0, Severity::Error)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

/// The whole `validate -json` document for the result of a load.
pub fn validate_json(result: &Result<Loaded, Diagnostics>) -> Value {
    let diagnostics = match result {
        Ok(loaded) => &loaded.warnings,
        Err(Diagnostics(all)) => all,
    };
    let error_count = count(diagnostics, Severity::Error);
    json!({
        "format_version": "1.0",
        "valid": error_count == 0,
        "error_count": error_count,
        "warning_count": count(diagnostics, Severity::Warning),
        "diagnostics": diagnostics.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        let text = "[task.orders_sync]\n".repeat(11) + "instnce_id = \"6d1a\"\n";
        let source = SourceFile::new("tasks.toml".into(), text);
        let start = source.line_start(12);
        Diagnostic::error(
            "unknown key `instnce_id` in [task.orders_sync]",
            "did you mean `instance_id`?",
        )
        .at_span(&source, start..start + 10)
    }

    #[test]
    fn display_is_rustc_style() {
        let expected = "error: unknown key `instnce_id` in [task.orders_sync]\n  --> tasks.toml:12:1\n   |\n12 | instnce_id = \"6d1a\"\n   | ^^^^^^^^^^\n   = help: did you mean `instance_id`?";
        assert_eq!(sample().to_string(), expected);
    }

    #[test]
    fn json_has_terraform_shape() {
        let json = sample().to_json();
        assert_eq!(json["severity"], "error");
        assert_eq!(json["line"], 12);
        assert_eq!(json["range"]["filename"], "tasks.toml");
        assert_eq!(json["range"]["start"]["column"], 1);
        assert_eq!(json["range"]["end"]["column"], 11);
        assert_eq!(json["snippet"]["code"], "instnce_id = \"6d1a\"");
        assert_eq!(json["snippet"]["highlight_start_offset"], 0);
        assert_eq!(json["snippet"]["highlight_end_offset"], 10);
        assert_eq!(json["snippet"]["start_line"], 12);
    }

    #[test]
    fn diagnostics_without_position_render_plainly() {
        let d = Diagnostic::error("no [provider] table", "add one").in_file(Path::new("a.toml"));
        assert_eq!(
            d.to_string(),
            "error: no [provider] table\n--> a.toml\n = help: add one"
        );
        assert_eq!(d.to_json()["line"], Value::Null);
        assert!(d.to_json().get("range").is_none());
    }

    #[test]
    fn validate_json_counts() {
        let result = Err(Diagnostics(vec![sample(), Diagnostic::warning("w", "")]));
        let json = validate_json(&result);
        assert_eq!(json["valid"], false);
        assert_eq!(json["error_count"], 1);
        assert_eq!(json["warning_count"], 1);
        assert_eq!(json["diagnostics"].as_array().map(Vec::len), Some(2));
    }
}

//! One configuration file's text plus a line index, so that byte spans from the
//! TOML parser can be turned into the 1-based line:column positions and source
//! snippets that diagnostics show.

use std::ops::Range;
use std::path::PathBuf;

/// A position in a file: 1-based line, 1-based column counted in characters
/// (what editors show), and the 0-based byte offset (what tools index by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub byte: usize,
}

/// A loaded configuration file: the path shown to users and its UTF-8 text.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// The position of byte offset `byte` (clamped to the text, and moved back
    /// to a character boundary so a bad span can never panic).
    pub fn position(&self, byte: usize) -> Position {
        let mut byte = byte.min(self.text.len());
        while !self.text.is_char_boundary(byte) {
            byte -= 1;
        }
        let line_index = self.line_starts.partition_point(|&start| start <= byte) - 1;
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..byte].chars().count() + 1;
        Position {
            line: line_index + 1,
            column,
            byte,
        }
    }

    /// The text of 1-based `line`, without its line terminator.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    /// Byte offset where 1-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// Start and (exclusive) end positions of a byte range.
    pub fn range(&self, span: &Range<usize>) -> (Position, Position) {
        let start = self.position(span.start);
        let end = self.position(span.end.max(span.start));
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_not_bytes() {
        let src = SourceFile::new("a.toml".into(), "a = 1\né = \"ü\"\n".to_string());
        assert_eq!(
            src.position(0),
            Position {
                line: 1,
                column: 1,
                byte: 0
            }
        );
        let quote = src.text.find('"').unwrap();
        let p = src.position(quote);
        assert_eq!((p.line, p.column), (2, 5));
        assert_eq!(src.line_text(2), "é = \"ü\"");
        assert_eq!(src.line_text(1), "a = 1");
    }

    #[test]
    fn out_of_range_offsets_are_clamped() {
        let src = SourceFile::new("a.toml".into(), "x = \"é\"".to_string());
        let p = src.position(1000);
        assert_eq!((p.line, p.column), (1, 8));
        // Inside the two-byte `é`: moved back to its start.
        let e = src.text.find('é').unwrap();
        assert_eq!(src.position(e + 1).column, 6);
    }
}

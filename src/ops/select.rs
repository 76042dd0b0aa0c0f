//! `-target`, `-exclude`, `-target-file` and `-exclude-file`: which tasks a
//! run looks at ([`Selection`]), as OpenTofu's targeting and exclusion.

use super::{Error, Note, Result};
use crate::model::Address;
use crate::plan::Selection;
use std::path::{Path, PathBuf};

/// The addresses as given on the command line, and the files that list more.
#[derive(Debug, Clone, Default)]
pub struct SelectOptions {
    /// `-target` addresses as typed (`task.NAME`); with the target files
    /// empty: every task.
    pub targets: Vec<String>,
    /// `-exclude` addresses as typed.
    pub excludes: Vec<String>,
    /// Files of `-target` addresses, one a line (`#` comments, blank lines).
    pub target_files: Vec<PathBuf>,
    /// Files of `-exclude` addresses, the same way.
    pub exclude_files: Vec<PathBuf>,
}

impl SelectOptions {
    /// The selection, every address checked; a bad one is an error naming
    /// the flag, or the file and line it is on.
    pub fn resolve(&self) -> Result<Selection> {
        Ok(Selection {
            targets: addresses("-target", &self.targets, &self.target_files)?,
            excludes: addresses("-exclude", &self.excludes, &self.exclude_files)?,
        })
    }
}

/// The warning every run shows while a selection limits it: what is left
/// out is neither read, shown nor changed.
pub fn warning(selection: &Selection) -> Option<Note> {
    if !selection.is_limited() {
        return None;
    }
    let list = |addresses: &[Address]| {
        addresses
            .iter()
            .map(Address::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !selection.targets.is_empty() {
        parts.push(format!("targeting {}", list(&selection.targets)));
    }
    if !selection.excludes.is_empty() {
        parts.push(format!("excluding {}", list(&selection.excludes)));
    }
    Some(Note::Warning(format!(
        "resource targeting is in effect ({}): the result may be incomplete; \
         use it only to recover from errors or mistakes, not as routine",
        parts.join("; ")
    )))
}

fn addresses(flag: &str, typed: &[String], files: &[PathBuf]) -> Result<Vec<Address>> {
    let mut out: Vec<Address> = typed
        .iter()
        .map(|t| {
            Address::parse(t).ok_or_else(|| {
                Error::Refused(format!(
                    "invalid {flag} {t:?}: expected an address like task.NAME"
                ))
            })
        })
        .collect::<Result<_>>()?;
    for file in files {
        out.extend(read_file(flag, file)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The addresses of an address file: one a line, blank lines and `#`
/// comments (whole-line or trailing) ignored.
fn read_file(flag: &str, path: &Path) -> Result<Vec<Address>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::context(format!("cannot read {flag}-file {}", path.display()), e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let address = Address::parse(entry).filter(|_| !entry.contains(char::is_whitespace));
        out.push(address.ok_or_else(|| {
            Error::Refused(format!(
                "{}:{}: invalid address {entry:?} in the {flag}-file: expected one address like task.NAME a line (# starts a comment)",
                path.display(),
                n + 1
            ))
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_file_allows_comments_and_blank_lines_and_names_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.txt");
        std::fs::write(
            &good,
            "# tasks to leave alone\n\ntask.a\n  task.b  # trailing\n",
        )
        .unwrap();
        let opts = SelectOptions {
            excludes: vec!["task.c".into()],
            exclude_files: vec![good.clone()],
            ..Default::default()
        };
        let selection = opts.resolve().unwrap();
        let names: Vec<&str> = selection.excludes.iter().map(Address::as_str).collect();
        assert_eq!(names, ["task.a", "task.b", "task.c"]);
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, "task.a\n\nbogus\n").unwrap();
        let opts = SelectOptions {
            target_files: vec![bad.clone()],
            ..Default::default()
        };
        let error = opts.resolve().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{}:3: invalid address \"bogus\"", bad.display())),
            "{error}"
        );
    }
}

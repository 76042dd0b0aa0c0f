//! The state document's byte format: pretty JSON with a format version.
//!
//! `decode` is the one entry point for untrusted bytes, so it must never panic
//! and must say where the document is broken (a fuzz target can call it).

use super::{FORMAT_VERSION, State, StateError};
use serde::Deserialize;
use std::path::Path;

/// Only the version, read before the rest so that a newer format is reported
/// as such instead of as whatever field it changed.
#[derive(Deserialize)]
struct Header {
    format_version: Option<serde_json::Value>,
}

/// Parses a state document; `path` is only used in error messages.
pub fn decode(bytes: &[u8], path: &Path) -> Result<State, StateError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(StateError::Empty {
            path: path.to_path_buf(),
            restore_hint: restore_hint(path),
        });
    }
    let header: Header = serde_json::from_slice(bytes).map_err(|e| parse_error(path, &e))?;
    check_version(header.format_version.as_ref(), path)?;
    let state: State = serde_json::from_slice(bytes).map_err(|e| parse_error(path, &e))?;
    check_task_keys(&state, path)?;
    Ok(state)
}

/// Serializes a state document: pretty JSON, sorted keys, trailing newline.
pub fn encode(state: &State) -> Vec<u8> {
    // State has only string map keys and plain data, so serialization cannot fail.
    let mut bytes = serde_json::to_vec_pretty(state).expect("State always serializes to JSON");
    bytes.push(b'\n');
    bytes
}

/// Points a user whose state file is damaged at its backup, when there is one.
fn restore_hint(path: &Path) -> String {
    let mut backup = path.as_os_str().to_owned();
    backup.push(".backup");
    let backup = std::path::PathBuf::from(backup);
    if backup.is_file() {
        format!(
            " Restore it from {} if the file was damaged.",
            backup.display()
        )
    } else {
        String::new()
    }
}

fn parse_error(path: &Path, e: &serde_json::Error) -> StateError {
    StateError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        // The file may not be htapsync's (a configuration can name any path):
        // say what is wrong, never the value serde would echo.
        message: crate::config::named_files::without_file_content(&strip_position(&e.to_string())),
        restore_hint: restore_hint(path),
    }
}

/// serde_json appends " at line L column C"; the error already carries them.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn check_version(version: Option<&serde_json::Value>, path: &Path) -> Result<(), StateError> {
    let invalid = |message: String| StateError::Invalid {
        path: path.to_path_buf(),
        message,
        restore_hint: restore_hint(path),
    };
    let value = version.ok_or_else(|| invalid("format_version is missing".to_string()))?;
    let found = value
        .as_u64()
        .ok_or_else(|| invalid("format_version must be a positive integer".to_string()))?;
    if found == 0 {
        return Err(invalid(
            "format_version 0 is not a valid version".to_string(),
        ));
    }
    if found > u64::from(FORMAT_VERSION) {
        return Err(StateError::NewerFormat {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// Every task is keyed by its own name; a mismatch means the file was edited wrongly.
fn check_task_keys(state: &State, path: &Path) -> Result<(), StateError> {
    match state
        .tasks
        .iter()
        .find(|(key, record)| **key != record.spec.name)
    {
        Some((key, record)) => Err(StateError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "task {key:?} records the spec of a task named {:?}",
                record.spec.name
            ),
            restore_hint: restore_hint(path),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("s.json")
    }

    #[test]
    fn round_trips_and_ends_with_newline() {
        let state = State::new();
        let bytes = encode(&state);
        assert_eq!(bytes.last(), Some(&b'\n'));
        assert_eq!(decode(&bytes, path()).unwrap(), state);
        assert_eq!(encode(&state), bytes, "encoding is deterministic");
    }

    #[test]
    fn syntax_error_names_path_line_and_column() {
        let err = decode(b"{\n  \"format_version\": 1,\n  oops\n}", path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("s.json:3:3: the state file is not valid: key must be a string"),
            "{text}"
        );
    }

    #[test]
    fn newer_format_is_refused_with_both_versions() {
        let err = decode(br#"{"format_version": 7, "future": true}"#, path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("written by a newer htapsync (format 7, this build reads up to 1)"),
            "{err}"
        );
    }

    #[test]
    fn missing_or_zero_version_is_refused() {
        for doc in [
            &br#"{"lineage": "x"}"#[..],
            br#"{"format_version": 0}"#,
            br#"{"format_version": "1"}"#,
        ] {
            let err = decode(doc, path()).unwrap_err();
            assert!(matches!(err, StateError::Invalid { .. }), "{err}");
            assert!(err.to_string().contains("format_version"), "{err}");
        }
    }

    #[test]
    fn wrong_field_type_is_a_parse_error() {
        let doc =
            br#"{"format_version": 1, "htapsync_version": "0.1.0", "lineage": "l", "serial": "x"}"#;
        assert!(matches!(
            decode(doc, path()),
            Err(StateError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        for doc in [
            &b""[..],
            b"\xff\xfe",
            b"[]",
            b"null",
            b"{\"format_version\": 1e400}",
            b"{\"tasks\":",
        ] {
            assert!(decode(doc, path()).is_err());
        }
    }
}

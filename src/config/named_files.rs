//! Files a configuration names but does not consist of: the emulator's cloud
//! and data files, the DDL files the cloud file lists, the state file. A pull
//! request controls the configuration (docs/ci.md, threat model), so such a
//! path must stay inside the configuration directory, and an error about such
//! a file must not quote it: it could be `/proc/self/environ` or `.git/config`.

use std::path::{Component, Path, PathBuf};

/// Where `value` (a path written in a configuration file, relative to `dir`)
/// leads once symlinks are followed, if that is inside `dir`. A missing file
/// is fine as long as its nearest existing ancestor is inside; `..` below a
/// missing directory and dangling symlinks are refused, since what they lead
/// to cannot be checked. The error says why, in one line.
pub(crate) fn resolve_inside(dir: &Path, value: &Path) -> Result<PathBuf, String> {
    let root = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve the configuration directory: {e}"))?;
    let wanted = root.join(value);
    let mut missing = Vec::new();
    let mut existing = wanted.as_path();
    let resolved = loop {
        match existing.canonicalize() {
            Ok(found) => break found,
            Err(e) => match existing.symlink_metadata() {
                Ok(m) if m.file_type().is_symlink() => {
                    let shown = existing.display();
                    return Err(format!("{shown} is a symlink to a missing file"));
                }
                Ok(_) => return Err(format!("cannot resolve {}: {e}", existing.display())),
                Err(_) => {}
            },
        }
        let Some(parent) = existing.parent() else {
            return Err("no part of the path exists".to_string());
        };
        match existing.components().next_back() {
            Some(Component::Normal(name)) => missing.push(name),
            Some(Component::ParentDir) => {
                return Err("it uses `..` below a directory that does not exist".to_string());
            }
            _ => {}
        }
        existing = parent;
    };
    let resolved = missing
        .iter()
        .rev()
        .fold(resolved, |path, name| path.join(name));
    if !resolved.starts_with(&root) {
        return Err(format!(
            "it leads to {}, outside the configuration directory {}",
            resolved.display(),
            root.display()
        ));
    }
    Ok(resolved)
}

/// Messages of serde data errors that quote the offending value or key.
const ECHOING_ERRORS: &[&str] = &[
    "invalid type",
    "invalid value",
    "invalid length",
    "unknown variant",
    "unknown field",
];

/// A decoder's error message (serde, TOML, JSON, SQL) about a file that is not
/// one of the configuration's own, reduced to the kind of problem, what was
/// expected and where: the TOML snippet, the value serde echoes (`invalid
/// type: string "…"`) and the token the SQL parser found are dropped.
pub fn without_file_content(message: &str) -> String {
    let message = drop_toml_snippet(message);
    let message = drop_sql_found_token(&message);
    for kind in ECHOING_ERRORS {
        if let Some(rest) = message.strip_prefix(kind) {
            // serde appends ", expected …" after the echoed value: the last one is serde's.
            let tail = rest.rfind(", expected ").map_or("", |i| &rest[i..]);
            return format!("{kind}{tail}");
        }
    }
    message
}

/// toml's `Display` is "TOML parse error at line L, column C", the offending
/// line with a caret under it, then the message: keep the first and the last.
fn drop_toml_snippet(message: &str) -> String {
    let mut lines = message.lines();
    let Some(header) = lines
        .next()
        .and_then(|l| l.strip_prefix("TOML parse error "))
    else {
        return message.to_string();
    };
    let rest: Vec<&str> = lines.collect();
    let is_snippet = |line: &&str| {
        let (gutter, _) = line.split_once('|').unwrap_or((line, ""));
        line.contains('|') && gutter.trim().chars().all(|c| c.is_ascii_digit())
    };
    let body = rest
        .iter()
        .rposition(is_snippet)
        .map_or(&rest[..], |i| &rest[i + 1..]);
    let text = body.join(" ");
    format!("{} {header}", text.trim())
}

/// sqlparser says "Expected: X, found: TOKEN at Line: L, Column: C".
fn drop_sql_found_token(message: &str) -> String {
    let Some(start) = message.find(", found: ") else {
        return message.to_string();
    };
    let end = message[start..]
        .rfind(" at Line: ")
        .map_or(message.len(), |i| start + i);
    format!("{}{}", &message[..start], &message[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/cloud.toml"), "").unwrap();
        let canonical = root.canonicalize().unwrap();
        let inside = |p: &str| resolve_inside(root, Path::new(p));
        assert_eq!(
            inside("sub/cloud.toml").unwrap(),
            canonical.join("sub/cloud.toml")
        );
        assert_eq!(
            inside("new/dir/state.json").unwrap(),
            canonical.join("new/dir/state.json")
        );
        assert!(inside("sub/../sub/cloud.toml").is_ok());
        for outside in [
            "/proc/self/environ",
            "../x.json",
            "sub/../../x.json",
            "new/../../x",
        ] {
            assert!(inside(outside).is_err(), "{outside}");
        }
        let absolute_inside = canonical.join("sub/cloud.toml");
        assert!(resolve_inside(root, &absolute_inside).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink("/etc/hostname", root.join("out")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).unwrap();
        std::os::unix::fs::symlink(".", root.join("here")).unwrap();
        assert!(resolve_inside(root, Path::new("out")).is_err());
        assert!(resolve_inside(root, Path::new("dangling")).is_err());
        assert!(resolve_inside(root, Path::new("here/state.json")).is_ok());
    }

    #[test]
    fn serde_values_are_not_echoed() {
        let json = serde_json::from_str::<Vec<u8>>("\"hunter2, expected x\"").unwrap_err();
        let text = without_file_content(&json.to_string());
        assert_eq!(
            text,
            "invalid type, expected a sequence at line 1 column 21"
        );
        let toml = toml::from_str::<std::collections::BTreeMap<String, u8>>("a = \"hunter2\"")
            .unwrap_err();
        let text = without_file_content(&toml.to_string());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.starts_with("invalid type, expected u8 at line 1, column 5"),
            "{text}"
        );
        let syntax = toml::from_str::<toml::Table>("SECRET=hunter2\n").unwrap_err();
        let text = without_file_content(&syntax.to_string());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("at line 1"), "{text}");
    }

    #[test]
    fn sql_tokens_are_not_echoed() {
        let text = without_file_content(
            "sql parser error: Expected: an SQL statement, found: hunter2 at Line: 1, Column: 1",
        );
        assert_eq!(
            text,
            "sql parser error: Expected: an SQL statement at Line: 1, Column: 1"
        );
        assert_eq!(without_file_content("plain message"), "plain message");
    }
}

//! The configuration: loading a directory of `*.toml` files into the desired
//! state ([`crate::model::Desired`]), with every problem reported as a
//! positioned [`Diagnostic`]; plus the canonical formatter ([`fmt`]).
//!
//! Loading runs in two passes so that all errors of a run are found: `raw`
//! reads each file on its own (types, single-value rules, unknown keys), then
//! `resolve` merges files, applies `[defaults]` and checks what spans several
//! keys or files. `docs/configuration.md` is the user-facing contract.

pub mod diagnostic;
pub mod fmt;
pub mod named_files;
mod raw;
mod resolve;
pub mod rules;
pub mod schema;
mod source;
mod walk;

pub use diagnostic::{Diagnostic, Diagnostics, Severity, validate_json};
pub use fmt::format_source;
pub use resolve::{DEFAULT_EMULATOR_DATA, DEFAULT_STATE_PATH};

use sha2::{Digest, Sha256};
use source::SourceFile;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Files larger than this are refused without being read: no real
/// configuration comes near it, and reading it could exhaust memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A successfully loaded configuration.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub desired: crate::model::Desired,
    /// `[defaults]` as written (what `import --generate-config` need not repeat).
    pub defaults: crate::model::TaskDefaults,
    /// The `*.toml` files read, sorted by file name.
    pub files: Vec<PathBuf>,
    /// Hex SHA-256 over the file names and contents, in order: a saved plan
    /// records it so that `apply` can refuse a plan made from another configuration.
    pub digest: String,
    /// Where each `[task.NAME]` is defined (for messages that point at a task).
    pub task_locations: BTreeMap<String, Location>,
    /// Where each provider's `endpoint` (or `region`, when the endpoint is
    /// derived from it) is written: messages about where credentials go name it.
    pub endpoint_locations: BTreeMap<Option<String>, Location>,
    pub warnings: Vec<Diagnostic>,
}

/// A position in a configuration file (1-based line and character column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// Loads every `*.toml` file directly in `dir` (sorted by name; not recursive;
/// names starting with `.` are skipped as editor or lock files), merges them
/// and validates the result. On failure, returns every error found (and any
/// warnings), not only the first.
pub fn load_dir(dir: &Path) -> Result<Loaded, Diagnostics> {
    let paths = config_files(dir).map_err(|e| {
        Diagnostics(vec![Diagnostic::error(
            format!("cannot read the configuration directory {}", dir.display()),
            e.to_string(),
        )])
    })?;
    let mut diagnostics = Vec::new();
    let mut hasher = Sha256::new();
    let mut sources = Vec::new();
    for path in &paths {
        let Some(bytes) = read_limited(path, &mut diagnostics) else {
            continue;
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        match String::from_utf8(bytes) {
            Ok(text) if looks_like_credentials(&text) => {
                diagnostics.push(credentials_in_config_dir(path));
            }
            Ok(text) => sources.push(SourceFile::new(path.clone(), text)),
            Err(e) => diagnostics.push(not_utf8(path, &e)),
        }
    }
    let mut raw_files = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        match toml_edit::Document::parse(source.text.as_str()) {
            Ok(document) => {
                let mut walker = walk::Walker {
                    file: index,
                    source,
                    diagnostics: &mut diagnostics,
                };
                raw_files.push(raw::read_file(&mut walker, document.as_table()));
            }
            Err(e) => diagnostics.push(syntax_error(source, &e)),
        }
    }
    let mut resolver = resolve::Resolver {
        dir,
        sources: &sources,
        complete: raw_files.len() == paths.len(),
        diagnostics,
        endpoint_locations: BTreeMap::new(),
    };
    let resolved = resolver.resolve(&raw_files);
    let (diagnostics, endpoint_locations) = (resolver.diagnostics, resolver.endpoint_locations);
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match resolved {
        Some(resolved) if !has_errors => Ok(Loaded {
            desired: resolved.desired,
            defaults: resolved.defaults,
            files: paths,
            digest: hex::encode(hasher.finalize()),
            task_locations: resolved.locations,
            endpoint_locations,
            warnings: diagnostics,
        }),
        _ => Err(Diagnostics(diagnostics)),
    }
}

/// The configuration files of `dir`, sorted by file name. Paths are shown as
/// `NAME` when `dir` is the current directory, else `DIR/NAME`.
pub fn config_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || !text.ends_with(".toml") {
            continue;
        }
        // `metadata` follows symlinks: a linked file counts, a directory does not.
        if fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            names.push(name);
        }
    }
    names.sort();
    let current = dir.as_os_str().is_empty() || dir == Path::new(".");
    Ok(names
        .into_iter()
        .map(|name| {
            if current {
                PathBuf::from(name)
            } else {
                dir.join(name)
            }
        })
        .collect())
}

/// Reads a file unless it exceeds [`MAX_FILE_BYTES`]; problems become diagnostics.
fn read_limited(path: &Path, diagnostics: &mut Vec<Diagnostic>) -> Option<Vec<u8>> {
    let too_large = |size: String| {
        Diagnostic::error(
            format!("{} is too large ({size} bytes)", path.display()),
            format!(
                "configuration files are limited to {} MiB",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        )
        .in_file(path)
    };
    let unreadable = |e: std::io::Error| {
        Diagnostic::error(format!("cannot read {}", path.display()), e.to_string()).in_file(path)
    };
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            diagnostics.push(unreadable(e));
            return None;
        }
    };
    if let Ok(metadata) = file.metadata()
        && metadata.len() > MAX_FILE_BYTES
    {
        diagnostics.push(too_large(metadata.len().to_string()));
        return None;
    }
    let mut bytes = Vec::new();
    // The file may grow after the size check: never read more than the limit.
    match file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > MAX_FILE_BYTES => {
            diagnostics.push(too_large(format!("more than {MAX_FILE_BYTES}")));
            None
        }
        Ok(_) => Some(bytes),
        Err(e) => {
            diagnostics.push(unreadable(e));
            None
        }
    }
}

/// Keys of credentials files (docs/authentication.md) and their usual short
/// forms; none is a configuration key.
const CREDENTIAL_KEYS: &[&str] = &[
    "token",
    "access_key",
    "secret_key",
    "security_token",
    "password",
    "ak",
    "sk",
];

/// Whether `text` sets a credential key at the top level or in a top-level
/// table (`[default]`, the shape of a credentials file). Read line by line,
/// not parsed, so that a broken credentials file is recognised too; keys
/// deeper down (a table named `token` in `table_configs`) do not count.
pub(crate) fn looks_like_credentials(text: &str) -> bool {
    let mut header_depth = 0;
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let header = header.split(']').next().unwrap_or("");
            header_depth = header.split('.').count();
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let parts: Vec<&str> = key
            .split('.')
            .map(|p| p.trim().trim_matches(['"', '\'']))
            .collect();
        let last = parts
            .last()
            .map(|k| k.to_ascii_lowercase())
            .unwrap_or_default();
        if header_depth + parts.len() <= 2 && CREDENTIAL_KEYS.contains(&last.as_str()) {
            return true;
        }
    }
    false
}

/// A credentials file among the configuration files: refused, and nothing of
/// it shown, since every diagnostic would quote a secret.
pub(crate) fn credentials_in_config_dir(path: &Path) -> Diagnostic {
    Diagnostic::error(
        format!(
            "{} looks like a credentials file; keep credentials outside the configuration directory",
            path.display()
        ),
        "move it out of the repository (default: ~/.config/htapsync/credentials.toml, or set \
         HTAPSYNC_CREDENTIALS_FILE) and rotate any secret that was committed; see docs/authentication.md",
    )
    .in_file(path)
}

/// A file that is not UTF-8, pointing at the first bad byte.
fn not_utf8(path: &Path, error: &std::string::FromUtf8Error) -> Diagnostic {
    let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
    // The prefix is valid UTF-8 by definition of `valid_up_to`.
    let prefix = String::from_utf8_lossy(valid);
    let line = prefix.matches('\n').count() + 1;
    let column = prefix.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Diagnostic::error(
        format!("{} is not valid UTF-8", path.display()),
        "TOML files must be UTF-8 encoded; re-save the file as UTF-8",
    )
    .at_position(path, line, column)
}

pub(crate) fn syntax_error(source: &SourceFile, error: &toml_edit::TomlError) -> Diagnostic {
    let summary = format!("TOML syntax error: {}", error.message().trim());
    let diagnostic = Diagnostic::error(summary, String::new());
    match error.span() {
        Some(span) => diagnostic.at_span(source, span),
        None => diagnostic.in_file(&source.path),
    }
}

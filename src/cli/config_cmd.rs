//! `validate` and `fmt`: commands that only read (or rewrite) configuration files.

use super::args::{Cli, Format};
use super::output::Style;
use super::{CmdResult, Exit, Failure, view};
use crate::cli::output::{out, outln};
use crate::config;
use crate::render::view::ValidateView;
use anyhow::Context;
use std::path::PathBuf;

pub fn validate(cli: &Cli, json: bool, style: &Style) -> CmdResult {
    let dir = cli.chdir.clone().unwrap_or_else(|| PathBuf::from("."));
    let result = config::load_dir(&dir);
    let format = if json { Format::Json } else { Format::Human };
    let mut view: Box<dyn ValidateView> = view!(format, style);
    view.validated(&result)?;
    Ok(Exit::failed_if(result.is_err()))
}

pub fn fmt(cli: &Cli, check: bool, diff: bool) -> CmdResult {
    let dir = cli.chdir.clone().unwrap_or_else(|| PathBuf::from("."));
    // The same files `validate` loads, named the same way.
    let files = config::config_files(&dir)
        .with_context(|| format!("cannot read the configuration directory {}", dir.display()))?;
    let mut unformatted = 0;
    let mut errors = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let formatted = match config::format_source(&src, &path) {
            Ok(f) => f,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        if formatted == src {
            continue;
        }
        unformatted += 1;
        // Best effort: a closed stdout must not leave files half formatted.
        let _ = outln!("{}", path.display());
        if diff {
            let _ = out!("{}", crate::render::unified_diff(&path, &src, &formatted));
        }
        if !check {
            replace_keeping_mode(&path, formatted.as_bytes())?;
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Diagnostics(config::Diagnostics(errors)));
    }
    Ok(if check && unformatted > 0 {
        Exit::Unformatted
    } else {
        Exit::Success
    })
}

/// Replaces a configuration file atomically, keeping its permissions (unlike
/// state files, configuration is meant to be readable).
fn replace_keeping_mode(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(std::path::Path::new(".")))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.as_file()
        .set_permissions(std::fs::metadata(path)?.permissions())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

//! `completions SHELL` and `man [COMMAND]…`: shell completion scripts
//! (clap_complete) and roff manual pages (clap_mangen), both generated from
//! the same clap definitions the binary parses with, so they cannot drift
//! from the flags it accepts.

use super::{CmdResult, Exit, Failure};
use crate::cli::output::out;
use anyhow::anyhow;
use clap::CommandFactory;
use clap_complete::Shell;

/// Prints the completion script of `shell` for the `htapsync` binary.
pub fn completions(shell: Shell) -> CmdResult {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "htapsync", &mut script);
    out!(
        "{}",
        String::from_utf8(script).map_err(anyhow::Error::from)?
    )?;
    Ok(Exit::Success)
}

/// Prints the manual page of `htapsync` (no `path`) or of one command, e.g.
/// `["state", "rm"]` for htapsync-state-rm(1), the page htapsync(1) refers to.
pub fn man(path: &[String]) -> CmdResult {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    // Propagates the global flags and the version to every command, and gives
    // each its page name (`htapsync-plan`).
    cmd.build();
    let mut page = &cmd;
    for name in path {
        page = page
            .get_subcommands()
            .find(|c| c.get_name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = page.get_subcommands().map(|c| c.get_name()).collect();
                let parent = page.get_bin_name().unwrap_or(page.get_name());
                Failure::Usage(if known.is_empty() {
                    anyhow!(
                        "no manual page for {:?}: `{parent}` has no commands",
                        path.join(" ")
                    )
                } else {
                    anyhow!(
                        "no manual page for {:?}: the commands of `{parent}` are {}",
                        path.join(" "),
                        known.join(", ")
                    )
                })
            })?;
    }
    let mut roff = Vec::new();
    clap_mangen::Man::new(page.clone())
        .source(format!("htapsync {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)?;
    out!("{}", String::from_utf8(roff).map_err(anyhow::Error::from)?)?;
    Ok(Exit::Success)
}

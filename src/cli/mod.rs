//! The command-line edge: parse flags, call one operation of [`crate::ops`],
//! show its outcome through the view of the chosen format
//! ([`crate::render::view`]), and map it to an exit code, here in one place.
//! `anyhow` lives here and nowhere below.
//!
//! Exit codes: 0 success (no changes), 1 error (including a failed
//! table-config-check gate and invalid configuration), 2 changes present
//! (`plan --detailed-exitcode`) or drift found (`drift`), 3 `fmt --check` found unformatted files,
//! 64 usage error.

mod apply_cmd;
mod args;
mod cloud_cmd;
mod completions;
mod config_cmd;
mod flags;
mod output;
mod progress;
mod schema_cmd;
mod signal;
mod state_cmd;

pub use args::{Cli, Command};

use crate::cli::output::errln;
use clap::Parser;
use std::process::ExitCode;

/// Exit code for a command line clap rejects (BSD `EX_USAGE`), so that 2 keeps
/// meaning "changes present".
pub const EXIT_USAGE: u8 = 64;

/// How a command ends when it does not succeed.
pub enum Failure {
    /// Invalid configuration: every diagnostic is printed.
    Diagnostics(crate::config::Diagnostics),
    /// Any other error, printed as one block.
    Error(anyhow::Error),
    /// A command line that cannot work (flags that exclude each other), found
    /// after clap accepted it: printed like an error, exits [`EXIT_USAGE`].
    Usage(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Error(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Error(e.into())
    }
}

impl From<crate::ops::Error> for Failure {
    fn from(e: crate::ops::Error) -> Self {
        match e {
            crate::ops::Error::Config(d) => Failure::Diagnostics(d),
            other => Failure::Error(other.into()),
        }
    }
}

/// How a command that ran to its end finishes; [`main`] turns it into the
/// exit code, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, nothing to act on (0).
    Success,
    /// Ran, but the result needs action: a gate that did not pass, a failed,
    /// interrupted or cancelled apply, an unhealthy task, an invalid
    /// configuration (1).
    Failed,
    /// `plan --detailed-exitcode` found changes, or `drift` found drift (2).
    Changes,
    /// `fmt --check` found unformatted files (3, as Terraform).
    Unformatted,
}

impl Exit {
    /// [`Exit::Failed`] when `failed`, else [`Exit::Success`].
    pub fn failed_if(failed: bool) -> Exit {
        if failed { Exit::Failed } else { Exit::Success }
    }

    fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Changes => 2,
            Exit::Unformatted => 3,
        }
    }
}

pub type CmdResult = Result<Exit, Failure>;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let mut cli = match Cli::try_parse_from(args::normalise_args(std::env::args())) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    cli.resolve_paths_against_chdir();
    let style = output::Style::detect(cli.no_color);
    init_tracing(cli.verbose, style.stderr_color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(dispatch(&cli, &style));
    ExitCode::from(match result {
        Ok(exit) => exit.code(),
        Err(Failure::Diagnostics(d)) => {
            errln!("{d}");
            1
        }
        // The reader of stdout has gone (`| head`): a normal end, as for ripgrep.
        Err(Failure::Error(e)) if output::is_closed_stdout(&e) => 0,
        Err(Failure::Error(e)) => {
            errln!("{} {e:#}", style.error_prefix());
            1
        }
        Err(Failure::Usage(e)) => {
            errln!("{} {e:#}", style.error_prefix());
            EXIT_USAGE
        }
    })
}

fn init_tracing(verbose: u8, ansi: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "htapsync=info,warn",
        2 => "htapsync=debug,info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

async fn dispatch(cli: &Cli, style: &output::Style) -> CmdResult {
    match &cli.command {
        Command::Validate { json } => config_cmd::validate(cli, *json, style),
        Command::Fmt { check, diff } => config_cmd::fmt(cli, *check, *diff),
        Command::Plan(a) => apply_cmd::plan(cli, a, style).await,
        Command::Apply(a) => apply_cmd::apply(cli, a, style).await,
        Command::Destroy(a) => apply_cmd::destroy(cli, a, style).await,
        Command::Refresh(a) => cloud_cmd::refresh(cli, a, style).await,
        Command::Status(a) => cloud_cmd::status(cli, a, style).await,
        Command::Drift(a) => cloud_cmd::drift(cli, a, style).await,
        Command::Import(a) => cloud_cmd::import(cli, a, style).await,
        Command::Show { file, format, json } => {
            let format = if *json { args::Format::Json } else { *format };
            state_cmd::show(cli, file.as_deref(), format, style)
        }
        Command::State(cmd) => state_cmd::state(cli, cmd, style),
        Command::Workspace(cmd) => state_cmd::workspace_cmd(cli, cmd, style),
        Command::Schema => schema_cmd::schema(),
        Command::ForceUnlock { lock_id, json } => {
            state_cmd::force_unlock(cli, lock_id, *json, style)
        }
        Command::Completions { shell } => completions::completions(*shell),
        Command::Man { command } => completions::man(command),
        Command::Emulator(a) => {
            crate::emulator::run_command(a.clone())
                .await
                .map_err(anyhow::Error::from)?;
            Ok(Exit::Success)
        }
    }
}

/// Leaves `data` (plain memory, nothing to close or flush) to the end of the
/// process, which follows the command: freeing a 1,000-task workspace and plan
/// allocation by allocation took ≈ 5-8 ms of a `plan` (docs/performance.md).
fn left_to_exit<T>(data: T) {
    std::mem::forget(data);
}

/// Loads the workspace of `-C DIR` and shows its configuration warnings.
fn workspace(cli: &Cli) -> Result<crate::ops::Workspace, Failure> {
    let opts = crate::ops::WorkspaceOptions {
        dir: cli.chdir.clone().unwrap_or_else(|| ".".into()),
        state: cli.state.clone(),
        workspace: cli.workspace.clone(),
        allowed_endpoints: cli.allow_endpoint.clone(),
    };
    let ws = crate::ops::Workspace::load(&opts)?;
    for w in &ws.loaded.warnings {
        errln!("{w}");
    }
    Ok(ws)
}

/// The view of `format` for a command without Markdown (refused before):
/// `let view: Box<dyn XView> = view!(format, style);`.
macro_rules! view {
    ($format:expr, $style:expr) => {
        match $format {
            $crate::cli::args::Format::Json => {
                Box::new($crate::render::view::Json::new($style.streams()))
            }
            _ => Box::new($crate::render::view::Human::new($style.streams())),
        }
    };
}
use view;

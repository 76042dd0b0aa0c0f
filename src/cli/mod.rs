//! The command-line edge: parse flags, call one operation, render, map the
//! outcome to an exit code. `anyhow` lives here and nowhere below.
//!
//! Exit codes: 0 success (no changes), 1 error (including a failed
//! table-config-check gate and invalid configuration), 2 changes present
//! (`plan --detailed-exitcode` only), 3 `fmt --check` found unformatted files,
//! 64 usage error.

mod args;
mod completions;
mod config_cmd;
mod context;
mod output;
mod run;
mod schema_cmd;
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
    /// Already reported; exit with this code.
    Exit(u8),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Error(e.into())
    }
}

pub type CmdResult = Result<u8, Failure>;

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
        Ok(code) => code,
        Err(Failure::Exit(code)) => code,
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
        Command::Validate { json } => config_cmd::validate(cli, *json),
        Command::Fmt { check, diff } => config_cmd::fmt(cli, *check, *diff),
        Command::Plan(a) => run::plan(cli, a, style).await,
        Command::Apply(a) => run::apply(cli, a, style).await,
        Command::Destroy(a) => run::destroy(cli, a, style).await,
        Command::Refresh(a) => run::refresh(cli, a, style).await,
        Command::Status(a) => run::status(cli, a, style).await,
        Command::Import(a) => run::import(cli, a, style).await,
        Command::Show { file, format, json } => {
            let format = if *json { args::Format::Json } else { *format };
            state_cmd::show(cli, file.as_deref(), format, style)
        }
        Command::State(cmd) => state_cmd::state(cli, cmd),
        Command::Schema => schema_cmd::schema(),
        Command::ForceUnlock { lock_id } => state_cmd::force_unlock(cli, lock_id),
        Command::Completions { shell } => completions::completions(*shell),
        Command::Man { command } => completions::man(command),
        Command::Emulator(a) => {
            crate::emulator::run_command(a.clone()).await?;
            Ok(0)
        }
    }
}

//! The command line, declared with clap. Terraform's single-dash long flags
//! (`-out`, `-target`, `-refresh=false`, `-auto-approve`) are accepted too.

pub use super::flags::{
    ApplyArgs, CloudRead, CommonRun, DestroyArgs, DriftArgs, ImportArgs, PlanArgs, ReadArgs,
    SelectArgs, StateCommand, WorkspaceCommand,
};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "htapsync",
    version,
    about = "Declarative TaurusDB → StarRocks HTAP replication tasks: plan, check, apply.",
    propagate_version = true
)]
pub struct Cli {
    /// Use DIR as the configuration directory (every *.toml in it is loaded);
    /// relative paths on the command line are relative to DIR.
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// State file path (overrides [state] path).
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The workspace (environment) whose state to use; overrides [state] workspace.
    #[arg(long, global = true, value_name = "NAME", env = "HTAPSYNC_WORKSPACE")]
    pub workspace: Option<String>,
    /// Also send credentials to HOST (repeatable; HTAPSYNC_ALLOWED_ENDPOINTS adds
    /// more, comma-separated). Official Huawei Cloud hosts and loopback are
    /// always allowed; see docs/ci.md.
    #[arg(long = "allow-endpoint", global = true, value_name = "HOST")]
    pub allow_endpoint: Vec<String>,
    /// Never colour output (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Makes relative paths given on the command line (`--state`, `-out`, a
    /// plan file, `--generate-config`) relative to `-C DIR`, as Terraform's
    /// `-chdir` does, so `htapsync -C infra plan -out p.plan` writes `infra/p.plan`.
    pub fn resolve_paths_against_chdir(&mut self) {
        let Some(dir) = self.chdir.clone() else {
            return;
        };
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        let paths: Vec<&mut PathBuf> = match &mut self.command {
            Command::Plan(a) => a.out.iter_mut().chain(a.select.files_mut()).collect(),
            Command::Apply(a) => a.plan_file.iter_mut().chain(a.select.files_mut()).collect(),
            Command::Destroy(a) => a.select.files_mut().collect(),
            Command::Refresh(a) => a.select.files_mut().collect(),
            Command::Drift(a) => a.select.files_mut().collect(),
            Command::Show { file, .. } => file.iter_mut().collect(),
            Command::Import(a) => a.generate_config.iter_mut().collect(),
            Command::State(StateCommand::Push { file, .. }) if file.as_os_str() != "-" => {
                vec![file]
            }
            _ => Vec::new(),
        };
        paths
            .into_iter()
            .chain(self.state.iter_mut())
            .for_each(resolve);
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration files; exit 1 when invalid.
    Validate {
        /// Print diagnostics as JSON (Terraform's validate -json shape).
        #[arg(long)]
        json: bool,
    },
    /// Rewrite configuration files in canonical format (keeps comments).
    Fmt {
        /// Only list files that are not formatted; exit 3 when any is.
        #[arg(long)]
        check: bool,
        /// Show the changes as a diff.
        #[arg(long)]
        diff: bool,
    },
    /// Show what apply would do, with the table-config-check verdicts.
    Plan(PlanArgs),
    /// Make the cloud match the configuration (or apply a saved plan).
    Apply(ApplyArgs),
    /// Delete every task in state.
    Destroy(DestroyArgs),
    /// Update state from what the cloud has, changing nothing remote.
    Refresh(ReadArgs),
    /// Compare the state with the cloud, changing nothing anywhere: every
    /// drifted attribute with its recorded and live values, and each task's
    /// health. Exit 0 no drift, 2 drift, 1 error (e.g. in a scheduled job:
    /// `htapsync drift --json > drift.json`).
    Drift(DriftArgs),
    /// Live status, stage and progress of every managed task.
    Status(CloudRead),
    /// Adopt existing cloud tasks into state.
    Import(ImportArgs),
    /// Show the state, or a saved plan.
    Show {
        /// A plan file written by `plan -out`.
        file: Option<PathBuf>,
        /// Output format; markdown needs a plan file.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Same as --format json.
        #[arg(long)]
        json: bool,
    },
    /// Inspect or edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// List, show or delete workspaces (one state per environment).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Remove a lock left by a process that died.
    ForceUnlock {
        /// The lock ID printed in the lock error.
        lock_id: String,
        /// Report as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the configuration files (for editors and linters).
    Schema,
    /// Run the emulator of the HTAP replication API.
    Emulator(crate::emulator::EmulatorArgs),
    /// Print the shell completion script (e.g. `htapsync completions bash`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page in roff: htapsync(1), or htapsync-COMMAND(1).
    Man {
        /// The command whose page to print (e.g. `plan`, `state rm`).
        command: Vec<String>,
    },
}

/// Output formats, documented in docs/output-formats.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terminal text, coloured on a terminal.
    Human,
    /// JSON lines: a message stream (plan, apply, refresh, import, ...) or
    /// one document (show, state, status, validate).
    Json,
    /// A pull request comment (plan and show PLANFILE only).
    Markdown,
}

/// Long flags that Terraform users type with one dash.
const SINGLE_DASH_LONG: &[&str] = &[
    "out",
    "target",
    "exclude",
    "target-file",
    "exclude-file",
    "refresh-only",
    "allow-unhealthy",
    "replace",
    "refresh",
    "auto-approve",
    "allow-destructive",
    "detailed-exitcode",
    "parallelism",
    "lock-timeout",
    "poll-interval",
    "json",
    "format",
    "no-color",
    "chdir",
    "state",
    "check",
    "diff",
    "destroy",
];

/// Rewrites `-out=x`, `-target x`, … to their `--` form.
pub fn normalise_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let Some(rest) = a.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
                return a;
            };
            let name = rest.split('=').next().unwrap_or(rest);
            if SINGLE_DASH_LONG.contains(&name) {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_style_flags_are_accepted() {
        let args = normalise_args(
            [
                "htapsync",
                "plan",
                "-out=p.plan",
                "-target",
                "task.a",
                "-refresh=false",
                "-v",
            ]
            .map(String::from),
        );
        assert_eq!(
            args,
            [
                "htapsync",
                "plan",
                "--out=p.plan",
                "--target",
                "task.a",
                "--refresh=false",
                "-v"
            ]
        );
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Plan(p) = cli.command else {
            panic!("not plan")
        };
        assert!(!p.refresh);
        assert_eq!(p.select.targets, ["task.a"]);
    }
}

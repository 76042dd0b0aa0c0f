//! The flags of the commands that read the cloud and the state, declared
//! with clap; [`super::args`] declares the commands themselves.

use super::args::Format;
use crate::ops::parse_duration;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Flags of every command that reads the cloud and the state.
#[derive(Debug, Args, Clone)]
pub struct CloudRead {
    /// Remote calls in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallelism: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Same as --format json.
    #[arg(long)]
    pub json: bool,
}

impl CloudRead {
    pub fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

/// Flags of the commands that also take the state lock; `status` and
/// `drift` never lock, so they have no `--lock-timeout`.
#[derive(Debug, Args, Clone)]
pub struct CommonRun {
    #[command(flatten)]
    pub read: CloudRead,
    /// How long to wait for the state lock (e.g. 10s, 2m); 0 = fail at once.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

impl CommonRun {
    pub fn format(&self) -> Format {
        self.read.format()
    }
}

/// How `apply` and `destroy` wait for the cloud.
#[derive(Debug, Args, Clone, Default)]
pub struct WaitArgs {
    /// Time between reads of the task list (and of jobs) while waiting,
    /// e.g. 500ms, 10s; overrides `[provider] poll_interval`.
    #[arg(long, value_parser = parse_poll_interval)]
    pub poll_interval: Option<std::time::Duration>,
}

fn parse_poll_interval(s: &str) -> Result<std::time::Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("give a duration above zero, e.g. 500ms or 10s".to_string()),
        d => Ok(d),
    }
}

/// Which tasks a run looks at, as OpenTofu's targeting and exclusion.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Limit the run to this address (task.NAME); repeatable.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Leave this address (task.NAME) out of the run; repeatable.
    #[arg(long = "exclude", value_name = "ADDR")]
    pub excludes: Vec<String>,
    /// Limit the run to the addresses in FILE (one a line; # comments and
    /// blank lines allowed); repeatable.
    #[arg(long = "target-file", value_name = "FILE")]
    pub target_files: Vec<PathBuf>,
    /// Leave out the addresses in FILE (one a line, as -target-file); repeatable.
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_files: Vec<PathBuf>,
}

impl SelectArgs {
    pub fn options(&self) -> crate::ops::SelectOptions {
        crate::ops::SelectOptions {
            targets: self.targets.clone(),
            excludes: self.excludes.clone(),
            target_files: self.target_files.clone(),
            exclude_files: self.exclude_files.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
            && self.excludes.is_empty()
            && self.target_files.is_empty()
            && self.exclude_files.is_empty()
    }

    /// The address files, to resolve against `-C DIR`.
    pub fn files_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.target_files
            .iter_mut()
            .chain(self.exclude_files.iter_mut())
    }
}

/// `refresh`: the common flags and the selection.
#[derive(Debug, Args, Clone)]
pub struct ReadArgs {
    #[command(flatten)]
    pub common: CommonRun,
    #[command(flatten)]
    pub select: SelectArgs,
}

/// `drift`: read-only, so without `--lock-timeout`.
#[derive(Debug, Args, Clone)]
pub struct DriftArgs {
    #[command(flatten)]
    pub read: CloudRead,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: CommonRun,
    /// Write the plan to FILE for `apply FILE`.
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when nothing changes, 2 when something does, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Read the cloud before planning (default true).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub refresh: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only show what changed outside htapsync (with recorded and live
    /// values), planning no change.
    #[arg(long, conflicts_with = "destroy")]
    pub refresh_only: bool,
    /// Replace this task (delete, then create: a full resync) although no
    /// change forces it; repeatable. Applying it needs --allow-destructive.
    ///
    /// Example: `htapsync plan -replace task.orders_sync -out p.plan`, then
    /// `htapsync apply --allow-destructive p.plan` (the saved plan keeps it).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Plan the deletion of everything in state.
    #[arg(long)]
    pub destroy: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// A plan file written by `plan -out`: applied exactly, without a prompt.
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonRun,
    /// Skip the interactive "yes" confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply changes that stop replication or fully re-sync a task, which
    /// `[policy] destructive = "require-flag"` (the default) otherwise refuses
    /// without a prompt; `deny` refuses them even with this flag.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Change tasks the cloud says need repair (is_need_repair), which apply
    /// otherwise refuses: changing a broken task compounds the damage.
    #[arg(long)]
    pub allow_unhealthy: bool,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub refresh: bool,
    /// Accept the cloud's values into state, changing nothing remote (the
    /// same as `refresh`; `plan -refresh-only` shows them first).
    #[arg(long, conflicts_with_all = ["plan_file", "allow_destructive", "allow_unhealthy"])]
    pub refresh_only: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Replace this task although no change forces it (a full resync); repeatable.
    ///
    /// Example: `htapsync apply -replace task.orders_sync --allow-destructive`.
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args, Clone)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub common: CommonRun,
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// The address to adopt, task.NAME (the cloud task of that name).
    pub address: Option<String>,
    /// Adopt every task of the configured instances that is not yet managed.
    #[arg(long)]
    pub all: bool,
    /// HTAP instance to look in (default: the instance_id of the task or [defaults]).
    #[arg(long, value_name = "ID", value_parser = parse_instance_id)]
    pub instance: Option<String>,
    /// The provider to look in, for tasks without a block (default: the
    /// provider of the configured tasks on the instance, else [defaults]).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Write TOML for the imported tasks to FILE (must not exist).
    #[arg(long, value_name = "FILE")]
    pub generate_config: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonRun,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses in state.
    List {
        /// Print every recorded task as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Show one task's recorded attributes.
    Show {
        address: String,
        /// Print the task as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a task without deleting it in the cloud.
    Rm {
        address: String,
        #[arg(long)]
        dry_run: bool,
        /// Report as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Give a recorded task another address, without any remote call (the
    /// cloud task keeps its name).
    ///
    /// Example: after renaming [task.orders] to [task.orders_eu] with
    /// name = "orders" in the new block,
    ///   htapsync state mv task.orders task.orders_eu
    /// makes the next plan show no changes. A [[moved]] block does the same
    /// through a reviewed plan.
    Mv {
        /// The recorded address, task.NAME.
        source: String,
        /// The new address, task.NAME (must not be recorded).
        destination: String,
        /// Only check that the move can be made.
        #[arg(long)]
        dry_run: bool,
        /// Report as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// List the kept versions of the workspace's state, newest first.
    History {
        /// Print the versions as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print the state document (or a kept version of it) to stdout.
    Pull {
        /// The serial of a kept version (see `state history`), for recovery.
        #[arg(long, value_name = "N")]
        serial: Option<u64>,
    },
    /// Replace the workspace's state with a state document (from `state pull`).
    Push {
        /// The state document; `-` reads stdin.
        file: PathBuf,
        /// Push even another lineage, an older serial, or a state changed since the pull.
        #[arg(long)]
        force: bool,
        /// Report as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Copy the state of every workspace to another backend, keeping lineage and serial.
    Migrate {
        /// The backend to copy to; then set [state] backend to it.
        #[arg(long, value_enum)]
        to: BackendArg,
        /// Report as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

/// The state backends, as `state migrate --to` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Local,
    Postgres,
}

impl From<BackendArg> for crate::model::StateBackendKind {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Local => crate::model::StateBackendKind::Local,
            BackendArg::Postgres => crate::model::StateBackendKind::Postgres,
        }
    }
}

/// `workspace SUBCOMMAND`: the environments whose states one configuration keeps.
#[derive(Debug, Clone, Subcommand)]
pub enum WorkspaceCommand {
    /// List the workspaces; `*` marks the current one.
    List {
        /// Print them as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print the current workspace (--workspace, HTAPSYNC_WORKSPACE or [state] workspace).
    Show {
        /// Print it as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Delete a workspace's state (refused while it manages tasks, unless --force).
    Delete {
        name: String,
        /// Delete even a workspace that still manages tasks (they stay in the cloud).
        #[arg(long)]
        force: bool,
        /// Report as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

/// `--instance`: checked as the configuration checks `instance_id`.
fn parse_instance_id(value: &str) -> Result<String, String> {
    crate::config::rules::instance_id(value).map(|()| value.to_string())
}

//! Every command's operation, as cargo's `ops`: each takes a [`Workspace`]
//! and an options struct and returns a typed outcome ([`Planned`], a
//! [`Pending`] change whose [`Pending::execute`] gives the
//! [`ApplyOutcome`](crate::apply::ApplyOutcome), [`Refreshed`], [`Imported`],
//! [`Status`], ...). Operations own the orchestration (interrupted intents,
//! refresh, prevent_destroy sync, diff, gate, saved plans and their checks,
//! execution, state writes) and print nothing: progress goes through
//! [`Progress`], apply events through [`apply::Reporter`], and the outcome is
//! rendered by a view of [`crate::render::view`] that the CLI chooses.

pub mod apply;
pub mod drift;
pub mod import;
pub mod plan;
pub mod refresh;
pub mod select;
pub mod state;
pub mod workspace;

pub use apply::{Pending, SavedApplyOptions};
pub use drift::{DriftOptions, Drifted};
pub use import::{ImportOptions, Imported};
pub use plan::{PlanOptions, Planned};
pub use refresh::{Problem, RefreshOptions, Refreshed, Status, TaskStatus};
pub use select::SelectOptions;
pub use workspace::{Workspace, WorkspaceOptions, parse_duration};

use crate::api::ApiError;
use crate::config::Diagnostics;
use crate::emulator::EmulatorError;
use crate::plan::PlanErrors;
use crate::planfile::PlanFileError;
use crate::state::StateError;

/// Why an operation failed. Every message says what to do next; causes are
/// part of the message or the `source()` chain, never both.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: every diagnostic.
    #[error(transparent)]
    Config(#[from] Diagnostics),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
    /// `[[moved]]` blocks that cannot be followed.
    #[error(transparent)]
    Moved(#[from] crate::plan::moved::MoveError),
    /// Boxed: an API error is large, and every `Result` of ops carries it.
    #[error(transparent)]
    Api(Box<ApiError>),
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// A step failed: `context` says which, `source` why.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The operation refuses what it was asked (an unknown address, a saved
    /// plan made for another endpoint, ...); the message says why and what to do.
    #[error("{0}")]
    Refused(String),
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Error {
    /// A failure of the step `context`, caused by `source`.
    pub(crate) fn context(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// Something a plan run learned besides the plan itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A recorded task differs from what the cloud has (found by refresh).
    Drift(String),
    /// Worth attention, but not an error (e.g. a task the cloud reports abnormal).
    Warning(String),
    /// Informational (e.g. an interrupted operation that was resolved).
    Log(String),
}

impl Note {
    /// The note's text, without its kind.
    pub fn text(&self) -> &str {
        match self {
            Note::Drift(text) | Note::Warning(text) | Note::Log(text) => text,
        }
    }
}

/// What a run does, as the `operation` of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Plan,
    Apply,
    Destroy,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Plan => "plan",
            Operation::Apply => "apply",
            Operation::Destroy => "destroy",
        }
    }
}

/// What operations return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A step of an operation whose progress a front end may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading every recorded task from the cloud (length unknown).
    Refreshing,
    /// The table-config-check gate, one step per task to check.
    Checking,
    /// Applying the plan, one step per changing task.
    Applying,
}

/// Where operations report progress; the CLI draws it on a terminal. Every
/// method does nothing by default, so a silent front end is `&NoProgress`.
pub trait Progress: Send + Sync {
    /// `phase` starts; `len` steps when known.
    fn start(&self, _phase: Phase, _len: Option<usize>) {}
    /// One step of the current phase is done.
    fn step(&self) {}
    /// The current phase is over.
    fn finish(&self) {}
    /// What the tasks being waited for are doing ("37 waiting: 20 Wait, 17 Full"; empty: none).
    fn waiting(&self, _line: &str) {}
}

/// Progress that nobody draws.
pub struct NoProgress;

impl Progress for NoProgress {}

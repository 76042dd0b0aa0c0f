//! The one support module of the integration tests (`mod support;` in each
//! test file): the real binary and `htapsync emulator` as child processes,
//! configuration directories that run the binary against them, the emulator's
//! router called in process, `TaskSpec` fixtures and proptest generators.
//!
//! - [`process`]: the binary without ambient credentials, its output, the emulator child;
//! - [`emulator`]: [`EmulatorProcess`], the emulator child plus a client of its API;
//! - [`workspace`]: [`Workspace`], a copy of an example run by the binary (embedded emulator);
//! - [`project`]: [`Project`], a configuration written by the test, for an [`EmulatorProcess`];
//! - [`fleet`]: [`Config`], many generated tasks, and the crash invariants checked against the cloud;
//! - [`router`]: the emulator's router called in process (no socket), for the emulator tests;
//! - [`spec`]: the [`TaskSpec`](htapsync::model::TaskSpec) fixture builder;
//! - [`arb`]: proptest generators of specs and plan inputs;
//! - [`postgres`]: [`PgServer`](postgres::PgServer), a throwaway PostgreSQL server (skipped by name without its binaries).
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

pub mod arb;
pub mod emulator;
pub mod fleet;
pub mod postgres;
pub mod process;
pub mod project;
pub mod router;
pub mod spec;
pub mod tls;
pub mod workspace;

pub use emulator::EmulatorProcess;
pub use fleet::{Config, TaskDef, tasks};
pub use process::{assert_exit, clean_cmd, output};
pub use project::{Project, header, task};
pub use spec::spec;
pub use workspace::Workspace;

/// The project every fixture cloud is in.
pub const PROJECT: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The first HTAP instance of the fixture clouds (and of the quick start).
pub const HTAP: &str = "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2bin17";
/// The second HTAP instance of `tests/fixtures/e2e/cloud.toml`, for replacements.
pub const HTAP2: &str = "7e2b1d7f5a2c4f1a0d3b8c4e6f9a2b3cin17";
/// The source TaurusDB instance of the fixture clouds.
pub const SRC: &str = "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1ain07";
/// A node of [`SRC`] in `tests/fixtures/cloud/shop.toml`.
pub const NODE: &str = "8b2d4f6a8c0e1a3c5e7a9b1d2f4a6c8eno07";
/// The token the tests' configurations send (`HTAPSYNC_TOKEN`), and the only
/// one an emulator started by [`EmulatorProcess::start`] accepts.
pub const TOKEN: &str = "htapsync-test-token";

//! Compatibility shim: the old names of [`support::fleet`], for test files
//! written before tests/support/mod.rs; new files use `mod support;` and
//! `EmulatorProcess::quickstart`.
#![allow(dead_code, unused_imports)]

#[path = "../support/mod.rs"]
mod support;
pub use support::fleet::*;
pub use support::{HTAP, PROJECT, SRC as SOURCE, TOKEN, assert_exit, clean_cmd, output};

/// The old `EmulatorProcess::start(dir, extra, envs)`: the quick start's
/// emulator ([`support::EmulatorProcess::quickstart`]).
pub struct EmulatorProcess(support::EmulatorProcess);

impl EmulatorProcess {
    pub fn start(dir: &std::path::Path, extra: &[&str], envs: &[(&str, &str)]) -> Self {
        EmulatorProcess(support::EmulatorProcess::quickstart(dir, extra, envs))
    }
}

impl std::ops::Deref for EmulatorProcess {
    type Target = support::EmulatorProcess;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

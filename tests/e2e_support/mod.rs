//! Compatibility shim: the old name of the process emulator and [`Project`]
//! helpers, for test files written before tests/support/mod.rs; new files use
//! `mod support;`.
#![allow(unused_imports)]

#[path = "../support/mod.rs"]
mod support;
pub use support::emulator::{EmulatorProcess, fixture};
pub use support::project::*;
pub use support::{HTAP, HTAP2, PROJECT, SRC, TOKEN, assert_exit, clean_cmd, output};

//! Compatibility shim: the old name of [`support::router`], for test files
//! written before tests/support/mod.rs; new files use `mod support;`.
#![allow(unused_imports)]

#[path = "../support/mod.rs"]
mod support;
pub use support::router::*;

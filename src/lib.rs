//! htapsync: a Terraform-style declarative reconciler for TaurusDB → StarRocks
//! HTAP replication tasks.
//!
//! Data flows one way:
//!
//! ```text
//! config (TOML → model, with spans) ─┐
//! state  (JSON file, lock, atomic) ──┴→ plan (pure diff) → check (table-config-check gate)
//!                                                        → apply (bounded concurrency, intents)
//! api (HTTP client of the cloud)   ← check, apply, refresh
//! emulator (axum server of the same API, for tests and the quick start)
//! render (human, JSON, Markdown; all redaction happens here)
//! cli (thin commands: parse flags, call one operation, render, exit code)
//! ```
//!
//! `model` is the shared vocabulary and depends on nothing. Nothing below `cli`
//! uses `cli`; `plan` never sees JSON or TOML; the emulator shares only the wire
//! types with the client, so a mistake in one is caught by tests of the other.

pub mod api;
pub mod apply;
pub mod check;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod model;
pub mod ops;
pub mod plan;
pub mod planfile;
pub mod refresh;
pub mod render;
pub mod state;

//! htapsync: a Terraform-style declarative reconciler for TaurusDB → StarRocks
//! HTAP replication tasks.
//!
//! Data flows one way:
//!
//! ```text
//! config (TOML → model, with spans) ─┐
//! state  (JSON file, lock, atomic) ──┴→ plan (pure diff) → check (table-config-check gate)
//!                                                        → apply (bounded concurrency, intents)
//! planfile (the saved plan: plan + gate + state identity, digest, freshness checks)
//! api (HTTP client of the cloud)   ← check, apply, refresh
//! emulator (axum server of the same API, for tests and the quick start)
//! ops (one operation per command: options in, typed outcome out, prints nothing)
//! render (human, JSON, Markdown; one view per command in render::view; all redaction here)
//! cli (thin commands: flags → options → one ops call → the chosen view → exit code)
//! ```
//!
//! As in cargo, every command is a thin wrapper around an operation of
//! [`ops`]: `cli` parses flags into an options struct, calls the operation,
//! hands its outcome (`Planned`, `Pending` then `ApplyOutcome`, `Refreshed`,
//! `Imported`, `Status`, ...) to the view chosen once from the output format
//! (as Terraform's `internal/command/views`), and maps it to an exit code in
//! one place (as ripgrep's `main.rs`). Operations report progress and apply
//! events through traits the CLI implements, so they print nothing.
//!
//! Dependency directions: `model` depends on nothing; `plan` on `model` and
//! the state's records only (no I/O, no JSON or TOML); `planfile` on `plan`,
//! `check` and `state`; `ops` on everything below it but never on `cli` or
//! the views; `render` on the data it shows (including `ops` outcomes);
//! `cli` on `ops` and `render`. The emulator shares with the client only
//! the wire types, the model and the `table_config` grammar (one inferred
//! grammar, so `validate`, the gate's hints and the emulator agree), so a
//! mistake in the protocol code of one is caught by tests of the other.
//!
//! `model::fields` is the field registry (one entry per task key, read by
//! config, schema, diff, render, import and `api::task_map`).

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
pub mod table_config;

//! HTTP client of the HTAP replication API (E1–E15): wire types, AK/SK signing,
//! credentials, retries and polling of asynchronous operations.
//!
//! [`Client`] is the entry point; [`ApiError`] is the only error it returns.

// `ApiError` is deliberately a flat struct of the documented fields (status,
// error_code, error_msg, request id, attempts) that callers read directly; it
// is only built on the cold error path, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod client;
mod clients;
mod endpoints;
pub mod error;
mod iam;
pub mod rate;
pub mod retry;
pub mod sign;
pub mod task_map;
pub mod trust;
mod wait;
mod watch;
pub mod wire;

pub use auth::{AuthError, Credentials};
pub use client::{Client, ClientConfig, validate_endpoint};
pub use clients::Clients;
pub use error::{ApiError, ApiErrorKind, ServiceFailure};
pub use iam::derived_iam_endpoint;
pub(crate) use wait::Poll;
pub use watch::{
    CLOUD_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, EMULATOR_POLL_INTERVAL, OnStage, PollSettings,
    Watcher,
};

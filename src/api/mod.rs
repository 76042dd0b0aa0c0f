//! HTTP client of the HTAP replication API (E1–E15): wire types, AK/SK signing,
//! credentials, retries and polling of asynchronous operations.

pub mod sign;
pub mod wire;

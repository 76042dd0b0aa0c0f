//! Canonical formatting of configuration files (placeholder until written).

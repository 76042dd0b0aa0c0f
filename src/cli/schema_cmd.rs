//! `schema`: prints the JSON Schema of the configuration files, for editors
//! (Taplo / Even Better TOML, see docs/editor-setup.md) and CI linters.

use super::{CmdResult, Exit};
use crate::cli::output::outln;

pub fn schema() -> CmdResult {
    let schema = crate::config::schema::config_schema();
    let text = serde_json::to_string_pretty(&schema).map_err(anyhow::Error::from)?;
    outln!("{text}")?;
    Ok(Exit::Success)
}

//! The constraints on single values that the cloud API documents (see
//! `docs/configuration.md`). Each check returns `Err(detail)` saying what is
//! allowed, so callers can attach the position of the offending value.

/// Task names and target database names: 3-128 of `[A-Za-z0-9_]`.
pub fn short_name(value: &str) -> Result<(), String> {
    name_of_length(value, 3, 128)
}

/// PostgreSQL schema names htapsync creates: 1-63 of `[a-z0-9_]`, not
/// starting with a digit, so that they never need quoting.
pub fn pg_schema(value: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !value.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(
            "use 1 to 63 lowercase letters, digits or underscores, not starting with a digit"
                .to_string(),
        )
    }
}

/// Source database names: 3-1024 of `[A-Za-z0-9_]`; an instance-level task
/// with `database_scope = "part"` lists several, comma-separated (whether a
/// list is allowed where it stands is `resolve`'s to say).
pub fn source_database_name(value: &str) -> Result<(), String> {
    let len = value.chars().count();
    let names_ok = value
        .split(',')
        .all(|name| !name.is_empty() && name.chars().all(crate::model::is_name_char));
    if !(3..=1024).contains(&len) || !names_ok {
        return Err(format!(
            "use 3 to 1024 letters, digits or underscores ([A-Za-z0-9_]), or database names \
             separated by commas; got {len} characters"
        ));
    }
    Ok(())
}

fn name_of_length(value: &str, min: usize, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    if !(min..=max).contains(&len) || !value.chars().all(crate::model::is_name_char) {
        return Err(format!(
            "use {min} to {max} letters, digits or underscores ([A-Za-z0-9_]); got {len} characters"
        ));
    }
    Ok(())
}

/// `project_id`: 32 letters or digits.
pub fn project_id(value: &str) -> Result<(), String> {
    if value.len() != 32 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("a project id is 32 letters or digits".to_string());
    }
    Ok(())
}

/// An id of 36 letters or digits ending in one of `suffixes`.
fn cloud_id(value: &str, what: &str, suffixes: &[&str]) -> Result<(), String> {
    let shape_ok = value.len() == 36 && value.chars().all(|c| c.is_ascii_alphanumeric());
    if !shape_ok || !suffixes.iter().any(|s| value.ends_with(s)) {
        let endings: Vec<String> = suffixes.iter().map(|s| format!("`{s}`")).collect();
        return Err(format!(
            "{what} is 36 letters or digits ending in {}",
            endings.join(" or ")
        ));
    }
    Ok(())
}

/// The HTAP (StarRocks) instance: the API documents both `in17` and `in07`.
pub fn instance_id(value: &str) -> Result<(), String> {
    cloud_id(value, "an HTAP (StarRocks) instance id", &["in07", "in17"])
}

/// The TaurusDB instance replicated from.
pub fn source_instance_id(value: &str) -> Result<(), String> {
    cloud_id(value, "a TaurusDB instance id", &["in07"])
}

/// A TaurusDB node (read replica).
pub fn source_node_id(value: &str) -> Result<(), String> {
    cloud_id(value, "a TaurusDB node id", &["no07"])
}

/// Cloud region names such as `ap-southeast-1`.
pub fn region(value: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(
            "a region is 1 to 64 lowercase letters, digits or `-`, e.g. `ap-southeast-1`"
                .to_string(),
        );
    }
    Ok(())
}

/// The value of `endpoint` that selects the in-process emulator.
pub const EMBEDDED: &str = "embedded";

/// `endpoint`: `embedded`, or a URL that [`crate::api::trust::parse_endpoint`]
/// accepts (the same rule every connecting command applies). The detail never
/// repeats the URL, which may hold a password in its user info.
pub fn endpoint(value: &str) -> Result<(), String> {
    if value == EMBEDDED {
        return Ok(());
    }
    crate::api::trust::parse_endpoint(value)
        .map(drop)
        .map_err(|e| format!("{e}; or `{EMBEDDED}` for the built-in emulator"))
}

/// A table name in `tables` or a `table_configs` key.
pub fn table_name(value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if !(1..=128).contains(&len) {
        return Err(format!("a table name is 1 to 128 characters; got {len}"));
    }
    Ok(())
}

/// A `table_configs` value.
pub fn table_config(value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if !(1..=1024).contains(&len) {
        return Err(format!("a table config is 1 to 1024 characters; got {len}"));
    }
    Ok(())
}

/// The `NAME` of `[provider.NAME]` (and a task's `provider`): 1-32 lowercase
/// letters, digits, `_` or `-`, starting with a letter.
pub fn provider_name(value: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(
            "a provider name is 1 to 32 lowercase letters, digits, `_` or `-`, starting with a letter, e.g. `eu`"
                .to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(short_name("shop").is_ok());
        assert!(short_name("ab").is_err());
        assert!(short_name(&"a".repeat(129)).is_err());
        assert!(short_name("has-dash").is_err());
        assert!(source_database_name(&"a".repeat(1024)).is_ok());
    }

    #[test]
    fn ids() {
        let base = "6d1a0c6e4f1b4e0f9c2a7b3d5e8f1a2b";
        assert!(instance_id(&format!("{base}in17")).is_ok());
        assert!(instance_id(&format!("{base}in07")).is_ok());
        assert!(source_instance_id(&format!("{base}in17")).is_err());
        assert!(source_node_id(&format!("{base}no07")).is_ok());
        assert!(instance_id("short").is_err());
        assert!(project_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0").is_ok());
        assert!(project_id("0f1e-d3c4b5a69788796a5b4c3d2e1f0").is_err());
    }

    #[test]
    fn endpoints() {
        assert!(endpoint("embedded").is_ok());
        assert!(endpoint("https://gaussdb-mysql.ap-southeast-1.myhuaweicloud.com").is_ok());
        assert!(endpoint("http://127.0.0.1:8080").is_ok());
        assert!(endpoint("http://127.3.0.1:8080").is_ok());
        assert!(endpoint("http://localhost:8080").is_ok());
        assert!(endpoint("http://[::1]:8080").is_ok());
        assert!(endpoint("http://example.com").is_err());
        assert!(endpoint("ftp://example.com").is_err());
        assert!(endpoint("not a url").is_err());
        assert!(endpoint("http://alice:pw@127.0.0.1:8080").is_err());
        assert!(endpoint("https://example.com/v3?x=1").is_err());
    }
}

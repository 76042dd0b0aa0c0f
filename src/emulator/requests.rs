//! Parsing and validation of request bodies and queries, with the documented
//! lengths and enums (API reference §3–§4). Every violation is a 400
//! `DBS.280001` naming the field.

use super::error::ApiError;
use crate::api::wire::TaskConfigRequest;
use crate::model::{ReplScope, ReplType, is_name_char};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// Parses a JSON body; an empty body is read as `{}`. A field the request
/// type does not declare is refused (400 naming it), as the cloud refuses
/// it, instead of being dropped: to accept a new field, declare it in the
/// request type.
pub fn json<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let sent: Value = serde_json::from_slice(body).map_err(|e| ApiError::invalid("body", e))?;
    let parsed: T =
        serde_json::from_value(sent.clone()).map_err(|e| ApiError::invalid("body", e))?;
    let understood =
        serde_json::to_value(&parsed).map_err(|e| ApiError::internal(e.to_string()))?;
    match unknown_field(&sent, &understood, "") {
        Some(path) => Err(ApiError::invalid(&path, "unknown field")),
        None => Ok(parsed),
    }
}

/// The first field of `sent` that `understood` (the parsed request written
/// back) lacks, as a dotted path. A `null` field is skipped: an absent
/// optional field is not written back. A single object where the type keeps
/// a list (the seed page's `tables_configs`) is compared with the list's
/// first element.
fn unknown_field(sent: &Value, understood: &Value, at: &str) -> Option<String> {
    let path = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match (sent, understood) {
        (Value::Object(sent), Value::Object(known)) => sent
            .iter()
            .filter(|(_, v)| !v.is_null())
            .find_map(|(k, v)| match known.get(k) {
                None => Some(path(k)),
                Some(known) => unknown_field(v, known, &path(k)),
            }),
        (Value::Array(sent), Value::Array(known)) => sent
            .iter()
            .zip(known)
            .find_map(|(s, k)| unknown_field(s, k, at)),
        (Value::Object(_), Value::Array(known)) => {
            known.first().and_then(|k| unknown_field(sent, k, at))
        }
        _ => None,
    }
}

/// Query parameters as a map (last value wins).
pub fn query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Checks a length in characters, inclusive.
pub fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be {min} to {max} characters long, not {n}"),
        ))
    }
}

/// A task or database name: length and `[A-Za-z0-9_]`.
pub fn name(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    length(field, value, min, max)?;
    if value.chars().all(is_name_char) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "only letters, digits and underscores are allowed",
        ))
    }
}

/// A present field, or the error saying it is required.
pub fn required<'a>(field: &str, value: Option<&'a str>) -> Result<&'a str, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, "is required"))
}

/// `limit` (1..=`max_limit`, default 100) and `offset` (>= 0, default 0).
/// E4 documents a maximum of 100; E13 and E14 document none.
pub fn paging(q: &HashMap<String, String>, max_limit: usize) -> Result<(usize, usize), ApiError> {
    let number = |field: &str, default: usize, min: usize, max: usize| match q.get(field) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                let allowed = if max == usize::MAX {
                    format!("must be a number of at least {min}")
                } else {
                    format!("must be a number {min}-{max}")
                };
                ApiError::invalid(field, allowed)
            }),
    };
    Ok((
        number("limit", 100, 1, max_limit)?,
        number("offset", 0, 0, usize::MAX)?,
    ))
}

/// Validates the fields of E1/E2/E8 bodies that are present.
pub fn task_config(r: &TaskConfigRequest) -> Result<(), ApiError> {
    if let Some(v) = &r.source_instance_id {
        length("source_instance_id", v, 2, 1024)?;
    }
    if let Some(v) = &r.source_node_id {
        length("source_node_id", v, 0, 1024)?;
    }
    if let Some(v) = &r.source_database_name {
        // At instance level a partial scope lists its databases, comma-separated.
        if r.is_instance_level_sync.as_deref() == Some("true") && v.contains(',') {
            length("source_database_name", v, 3, 1024)?;
            for database in v.split(',') {
                name("source_database_name", database, 1, 1024)?;
            }
        } else {
            name("source_database_name", v, 3, 1024)?;
        }
    }
    if let Some(v) = &r.target_database_name {
        name("target_database_name", v, 3, 128)?;
    }
    if let Some(v) = &r.task_name {
        name("task_name", v, 3, 128)?;
    }
    if let Some(v) = &r.is_create_task
        && v != "true"
        && v != "false"
    {
        return Err(ApiError::invalid("is_create_task", "must be true or false"));
    }
    for (field, value, allowed) in [
        (
            "is_instance_level_sync",
            &r.is_instance_level_sync,
            ["true", "false"],
        ),
        (
            "database_repl_scope",
            &r.database_repl_scope,
            ["all", "part"],
        ),
        (
            "is_support_reg_exp",
            &r.is_support_reg_exp,
            ["true", "false"],
        ),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            let message = format!("must be {} or {}", allowed[0], allowed[1]);
            return Err(ApiError::invalid(field, message));
        }
    }
    if let Some(configs) = &r.db_configs {
        if configs.len() > 1024 {
            return Err(ApiError::invalid("db_configs", "at most 1024 entries"));
        }
        for c in configs {
            length("db_configs.param_name", &c.param_name, 2, 1024)?;
        }
    }
    if let Some(configs) = &r.tables_configs {
        if configs.len() > 1024 {
            return Err(ApiError::invalid("tables_configs", "at most 1024 entries"));
        }
        for c in configs {
            length("tables_configs.table_name", &c.table_name, 0, 128)?;
            length("tables_configs.table_config", &c.table_config, 0, 1024)?;
        }
    }
    if let Some(repl) = &r.table_repl_config {
        if let Some(t) = &repl.repl_type
            && ReplType::parse(t).is_none()
        {
            return Err(ApiError::invalid(
                "table_repl_config.repl_type",
                "must be include_tables or exclude_tables",
            ));
        }
        if let Some(s) = &repl.repl_scope
            && ReplScope::parse(s).is_none()
        {
            return Err(ApiError::invalid(
                "table_repl_config.repl_scope",
                "must be all or part",
            ));
        }
        if repl.tables.len() > 5000 {
            return Err(ApiError::invalid(
                "table_repl_config.tables",
                "at most 5000 tables",
            ));
        }
        for t in &repl.tables {
            length("table_repl_config.tables", t, 1, 1024)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::TableReplConfig;

    #[test]
    fn violations_name_their_field() {
        let bad = |r: TaskConfigRequest| task_config(&r).unwrap_err().msg;
        assert!(
            bad(TaskConfigRequest {
                task_name: Some("ab".into()),
                ..Default::default()
            })
            .contains("task_name")
        );
        assert!(
            bad(TaskConfigRequest {
                target_database_name: Some("bad-name".into()),
                ..Default::default()
            })
            .contains("target_database_name")
        );
        assert!(
            bad(TaskConfigRequest {
                table_repl_config: Some(TableReplConfig {
                    repl_scope: Some("some".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .contains("repl_scope")
        );
        assert!(task_config(&TaskConfigRequest::default()).is_ok());
    }

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(paging(&query(None), 100), Ok((100, 0)));
        assert_eq!(paging(&query(Some("limit=5&offset=10")), 100), Ok((5, 10)));
        assert!(paging(&query(Some("limit=0")), 100).is_err());
        assert!(paging(&query(Some("limit=101")), 100).is_err());
        assert_eq!(
            paging(&query(Some("limit=5000")), usize::MAX),
            Ok((5000, 0))
        );
        assert!(paging(&query(Some("offset=x")), 100).is_err());
    }
}

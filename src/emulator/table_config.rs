//! The `table_config` mini-language of table-config-check, as the emulator
//! understands it. No official grammar is published; the forms observed in
//! Huawei's examples are `order by a,b` and `key columns a`, `;`-separated.
//! `partition by` and `distributed by hash(..) buckets N` are accepted too
//! because StarRocks tables have them. Grammar (keywords case-insensitive):
//!
//! ```text
//! config  := "" | clause { ";" clause } [ ";" ]
//! clause  := "order by" cols | "key columns" cols | "partition by" cols
//!          | "distributed by hash" "(" cols ")" [ "buckets" N ]
//! cols    := ident { "," ident }        ident := [A-Za-z0-9_]+ | `ident`
//! ```
//! Each clause kind may appear at most once.

/// One parsed clause; all carry the column names they reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    OrderBy(Vec<String>),
    KeyColumns(Vec<String>),
    PartitionBy(Vec<String>),
    DistributedBy {
        columns: Vec<String>,
        buckets: Option<u32>,
    },
}

impl Clause {
    pub fn columns(&self) -> &[String] {
        match self {
            Clause::OrderBy(c) | Clause::KeyColumns(c) | Clause::PartitionBy(c) => c,
            Clause::DistributedBy { columns, .. } => columns,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Clause::OrderBy(_) => "order by",
            Clause::KeyColumns(_) => "key columns",
            Clause::PartitionBy(_) => "partition by",
            Clause::DistributedBy { .. } => "distributed by",
        }
    }
}

/// Parses a whole `table_config`; the error says what is wrong, for logs and E8 errors.
pub fn parse_table_config(config: &str) -> Result<Vec<Clause>, String> {
    let mut clauses: Vec<Clause> = Vec::new();
    for raw in config.split(';') {
        let words: Vec<&str> = raw.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let clause = parse_clause(&words.join(" "))?;
        if clauses.iter().any(|c| c.kind() == clause.kind()) {
            return Err(format!("clause `{}` appears twice", clause.kind()));
        }
        clauses.push(clause);
    }
    Ok(clauses)
}

fn parse_clause(clause: &str) -> Result<Clause, String> {
    if let Some(rest) = strip_keyword(clause, "order by") {
        return column_list(rest).map(Clause::OrderBy);
    }
    if let Some(rest) = strip_keyword(clause, "key columns") {
        return column_list(rest).map(Clause::KeyColumns);
    }
    if let Some(rest) = strip_keyword(clause, "partition by") {
        return column_list(rest).map(Clause::PartitionBy);
    }
    if let Some(rest) = strip_keyword(clause, "distributed by hash") {
        return distributed_by(rest.trim_start());
    }
    Err(format!("unknown clause `{clause}`"))
}

/// `(cols) [buckets N]`, after `distributed by hash`.
fn distributed_by(rest: &str) -> Result<Clause, String> {
    let inner = rest
        .strip_prefix('(')
        .ok_or("expected `(` after `distributed by hash`")?;
    let (cols, after) = inner
        .split_once(')')
        .ok_or("missing `)` in `distributed by hash(..)`")?;
    let columns = column_list(cols)?;
    let after = after.trim();
    let buckets = if after.is_empty() {
        None
    } else {
        let n = strip_keyword(after, "buckets").ok_or(format!("unexpected `{after}`"))?;
        match n.trim().parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("buckets must be a positive number, not `{n}`")),
        }
    };
    Ok(Clause::DistributedBy { columns, buckets })
}

/// `clause` without the leading `keyword` (case-insensitive), if it starts with it
/// followed by a space, `(` or the end.
fn strip_keyword<'a>(clause: &'a str, keyword: &str) -> Option<&'a str> {
    let head = clause.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = &clause[keyword.len()..];
    (rest.is_empty() || rest.starts_with(' ') || rest.starts_with('(')).then_some(rest)
}

fn column_list(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(|c| {
            let c = c.trim();
            let name = c
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or(c);
            if !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            {
                Ok(name.to_string())
            } else {
                Err(format!("`{c}` is not a column name"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn documented_forms_parse() {
        assert_eq!(
            parse_table_config("order by id"),
            Ok(vec![Clause::OrderBy(cols(&["id"]))])
        );
        assert_eq!(
            parse_table_config("order by tenant_name;key columns tenant_name"),
            Ok(vec![
                Clause::OrderBy(cols(&["tenant_name"])),
                Clause::KeyColumns(cols(&["tenant_name"]))
            ])
        );
        assert_eq!(
            parse_table_config(" ORDER  BY a, `b` ; ; "),
            Ok(vec![Clause::OrderBy(cols(&["a", "b"]))])
        );
        assert_eq!(parse_table_config(""), Ok(vec![]));
    }

    #[test]
    fn starrocks_extensions_parse() {
        assert_eq!(
            parse_table_config("partition by created_at;distributed by hash(id, sku) buckets 8"),
            Ok(vec![
                Clause::PartitionBy(cols(&["created_at"])),
                Clause::DistributedBy {
                    columns: cols(&["id", "sku"]),
                    buckets: Some(8)
                }
            ])
        );
        assert_eq!(
            parse_table_config("distributed by hash (id)"),
            Ok(vec![Clause::DistributedBy {
                columns: cols(&["id"]),
                buckets: None
            }])
        );
    }

    #[test]
    fn malformed_configs_fail() {
        for bad in [
            "tableConfig",
            "order by",
            "order by a,,b",
            "order by a b",
            "orderby a",
            "order by a;order by b",
            "distributed by hash(id) buckets 0",
            "distributed by hash(id",
            "distributed by hash id",
            "distributed by hash(id) shards 3",
            "key columns a-b",
        ] {
            assert!(parse_table_config(bad).is_err(), "{bad:?} should not parse");
        }
    }
}

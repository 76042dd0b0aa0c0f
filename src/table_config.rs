//! The `table_config` mini-language of table-config-check (E2) and E8: one
//! parser for both sides, so `validate`, the gate's hints and the embedded
//! emulator read a config the same way.
//!
//! Where the docs speak: the API reference (§7 of
//! `shared/api/htap-replication-api.md`) lists the forms seen in Huawei's
//! examples, `order by id`, `order by tenant_name,db_name` and
//! `order by tenant_name;key columns tenant_name`: `;`-separated clauses with
//! comma-separated column lists. The check API page only calls the value a
//! "table configuration item" of 0-1024 characters; no official grammar exists.
//!
//! Where they are silent, assumed here: `partition by cols` and
//! `distributed by hash(cols) [buckets N]` are accepted because StarRocks
//! tables have them; keywords are case-insensitive and may be separated by any
//! whitespace; a column is `[A-Za-z0-9_]+`, optionally in backquotes, and is
//! compared case-insensitively (HTAP column names are not case-sensitive);
//! each clause kind appears at most once and names each column at most once;
//! empty clauses (`;;`, a trailing `;`) are ignored; `buckets` is a positive
//! 32-bit integer. Grammar:
//!
//! ```text
//! config  := "" | clause { ";" clause } [ ";" ]
//! clause  := "order by" cols | "key columns" cols | "partition by" cols
//!          | "distributed by hash" "(" cols ")" [ "buckets" N ]
//! cols    := ident { "," ident }        ident := [A-Za-z0-9_]+ | `ident`
//! ```
//!
//! Because the grammar is inferred, a local parse error is advice: the cloud's
//! check stays the authority on whether a table is accepted.

use std::fmt;
use thiserror::Error;

/// The kinds of clause a `table_config` may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClauseKind {
    OrderBy,
    KeyColumns,
    PartitionBy,
    DistributedBy,
}

impl ClauseKind {
    /// Every kind, in the order the docs name them.
    pub const ALL: [ClauseKind; 4] = [
        ClauseKind::OrderBy,
        ClauseKind::KeyColumns,
        ClauseKind::PartitionBy,
        ClauseKind::DistributedBy,
    ];

    /// The clause's leading keywords.
    fn keywords(self) -> &'static [&'static str] {
        match self {
            ClauseKind::OrderBy => &["order", "by"],
            ClauseKind::KeyColumns => &["key", "columns"],
            ClauseKind::PartitionBy => &["partition", "by"],
            ClauseKind::DistributedBy => &["distributed", "by", "hash"],
        }
    }

    /// How the clause is written, for messages.
    pub fn syntax(self) -> &'static str {
        match self {
            ClauseKind::OrderBy => "order by COL[,COL...]",
            ClauseKind::KeyColumns => "key columns COL[,COL...]",
            ClauseKind::PartitionBy => "partition by COL[,COL...]",
            ClauseKind::DistributedBy => "distributed by hash(COL[,COL...]) [buckets N]",
        }
    }
}

impl fmt::Display for ClauseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClauseKind::OrderBy => "order by",
            ClauseKind::KeyColumns => "key columns",
            ClauseKind::PartitionBy => "partition by",
            ClauseKind::DistributedBy => "distributed by",
        })
    }
}

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

    pub fn kind(&self) -> ClauseKind {
        match self {
            Clause::OrderBy(_) => ClauseKind::OrderBy,
            Clause::KeyColumns(_) => ClauseKind::KeyColumns,
            Clause::PartitionBy(_) => ClauseKind::PartitionBy,
            Clause::DistributedBy { .. } => ClauseKind::DistributedBy,
        }
    }
}

/// What is wrong with a `table_config`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableConfigProblem {
    #[error("unknown clause `{text}`; allowed: {}", allowed_clauses())]
    UnknownClause { text: String },
    #[error("clause `{clause}` lists no columns; write `{}`", clause.syntax())]
    EmptyColumnList { clause: ClauseKind },
    #[error("clause `{clause}` has an empty entry in its column list")]
    EmptyColumn { clause: ClauseKind },
    #[error(
        "`{text}` in clause `{clause}` is not a column name (letters, digits and `_`, optionally in backquotes)"
    )]
    InvalidColumn { clause: ClauseKind, text: String },
    #[error("column `{column}` appears twice in clause `{clause}`")]
    DuplicateColumn { clause: ClauseKind, column: String },
    #[error("clause `{clause}` appears twice; write it once")]
    DuplicateClause { clause: ClauseKind },
    #[error("clause `distributed by` needs its columns in parentheses: `{}`", ClauseKind::DistributedBy.syntax())]
    MissingParenthesis,
    #[error("buckets in clause `distributed by` must be a positive integer, not `{text}`")]
    InvalidBuckets { text: String },
    #[error("unexpected `{text}` after clause `{clause}`; write `{}`", clause.syntax())]
    TrailingText { clause: ClauseKind, text: String },
}

/// A problem and where it is: the byte offset, in the config, of the clause
/// (or column) it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{problem}")]
pub struct TableConfigError {
    pub offset: usize,
    pub problem: TableConfigProblem,
}

fn allowed_clauses() -> String {
    let forms: Vec<String> = ClauseKind::ALL
        .iter()
        .map(|k| format!("`{}`", k.syntax()))
        .collect();
    forms.join(", ")
}

/// Parses a whole `table_config`.
pub fn parse_table_config(config: &str) -> Result<Vec<Clause>, TableConfigError> {
    let mut clauses: Vec<Clause> = Vec::new();
    let mut start = 0;
    for raw in config.split(';') {
        let offset = start + (raw.len() - raw.trim_start().len());
        start += raw.len() + 1;
        let text = raw.trim();
        if text.is_empty() {
            continue;
        }
        let at = |problem| TableConfigError { offset, problem };
        let clause = parse_clause(text).map_err(at)?;
        if clauses.iter().any(|c| c.kind() == clause.kind()) {
            return Err(at(TableConfigProblem::DuplicateClause {
                clause: clause.kind(),
            }));
        }
        clauses.push(clause);
    }
    Ok(clauses)
}

/// Every column a parsed config names, once each, in order of appearance.
pub fn referenced_columns(clauses: &[Clause]) -> Vec<&str> {
    let mut columns: Vec<&str> = Vec::new();
    for column in clauses.iter().flat_map(|c| c.columns()) {
        if !columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
            columns.push(column);
        }
    }
    columns
}

fn parse_clause(text: &str) -> Result<Clause, TableConfigProblem> {
    let Some((kind, rest)) = ClauseKind::ALL
        .iter()
        .find_map(|&k| strip_keywords(text, k.keywords()).map(|rest| (k, rest)))
    else {
        return Err(TableConfigProblem::UnknownClause {
            text: text.to_string(),
        });
    };
    Ok(match kind {
        ClauseKind::OrderBy => Clause::OrderBy(column_list(kind, rest)?),
        ClauseKind::KeyColumns => Clause::KeyColumns(column_list(kind, rest)?),
        ClauseKind::PartitionBy => Clause::PartitionBy(column_list(kind, rest)?),
        ClauseKind::DistributedBy => distributed_by(rest.trim_start())?,
    })
}

/// `(cols) [buckets N]`, after `distributed by hash`.
fn distributed_by(rest: &str) -> Result<Clause, TableConfigProblem> {
    let kind = ClauseKind::DistributedBy;
    let (cols, after) = rest
        .strip_prefix('(')
        .and_then(|inner| inner.split_once(')'))
        .ok_or(TableConfigProblem::MissingParenthesis)?;
    let columns = column_list(kind, cols)?;
    let after = after.trim();
    let buckets = if after.is_empty() {
        None
    } else {
        let n = strip_keywords(after, &["buckets"])
            .ok_or_else(|| TableConfigProblem::TrailingText {
                clause: kind,
                text: after.to_string(),
            })?
            .trim();
        match n.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(TableConfigProblem::InvalidBuckets {
                    text: n.to_string(),
                });
            }
        }
    };
    Ok(Clause::DistributedBy { columns, buckets })
}

/// `text` without the leading `keywords` (case-insensitive, any whitespace
/// between them), if it starts with them followed by whitespace, `(` or the end.
fn strip_keywords<'a>(text: &'a str, keywords: &[&str]) -> Option<&'a str> {
    let mut rest = text;
    for (i, keyword) in keywords.iter().enumerate() {
        if i > 0 {
            let trimmed = rest.trim_start();
            if trimmed.len() == rest.len() {
                return None;
            }
            rest = trimmed;
        }
        let head = rest.get(..keyword.len())?;
        if !head.eq_ignore_ascii_case(keyword) {
            return None;
        }
        rest = &rest[keyword.len()..];
    }
    let ends_word =
        rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with('(');
    ends_word.then_some(rest)
}

fn column_list(clause: ClauseKind, list: &str) -> Result<Vec<String>, TableConfigProblem> {
    if list.trim().is_empty() {
        return Err(TableConfigProblem::EmptyColumnList { clause });
    }
    let mut columns: Vec<String> = Vec::new();
    for raw in list.split(',') {
        let text = raw.trim();
        if text.is_empty() {
            return Err(TableConfigProblem::EmptyColumn { clause });
        }
        let name = text
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .unwrap_or(text);
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Err(TableConfigProblem::InvalidColumn {
                clause,
                text: text.to_string(),
            });
        }
        if columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            return Err(TableConfigProblem::DuplicateColumn {
                clause,
                column: name.to_string(),
            });
        }
        columns.push(name.to_string());
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn problem(config: &str) -> TableConfigProblem {
        parse_table_config(config)
            .expect_err(&format!("{config:?} should not parse"))
            .problem
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
            parse_table_config("order by order_id,id"),
            Ok(vec![Clause::OrderBy(cols(&["order_id", "id"]))])
        );
        assert_eq!(
            parse_table_config(" ORDER \t BY a, `b` ; ; "),
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
    fn every_problem_is_named_precisely() {
        use ClauseKind::*;
        use TableConfigProblem as P;
        let cases = [
            (
                "tableConfig",
                P::UnknownClause {
                    text: "tableConfig".into(),
                },
            ),
            (
                "orderby a",
                P::UnknownClause {
                    text: "orderby a".into(),
                },
            ),
            ("order by", P::EmptyColumnList { clause: OrderBy }),
            ("key columns  ", P::EmptyColumnList { clause: KeyColumns }),
            ("order by a,,b", P::EmptyColumn { clause: OrderBy }),
            (
                "order by a b",
                P::InvalidColumn {
                    clause: OrderBy,
                    text: "a b".into(),
                },
            ),
            (
                "key columns a-b",
                P::InvalidColumn {
                    clause: KeyColumns,
                    text: "a-b".into(),
                },
            ),
            (
                "order by id,ID",
                P::DuplicateColumn {
                    clause: OrderBy,
                    column: "ID".into(),
                },
            ),
            (
                "order by a;order by b",
                P::DuplicateClause { clause: OrderBy },
            ),
            ("distributed by hash id", P::MissingParenthesis),
            ("distributed by hash(id", P::MissingParenthesis),
            (
                "distributed by hash(id) buckets 0",
                P::InvalidBuckets { text: "0".into() },
            ),
            (
                "distributed by hash(id) buckets -2",
                P::InvalidBuckets { text: "-2".into() },
            ),
            (
                "distributed by hash(id) buckets many",
                P::InvalidBuckets {
                    text: "many".into(),
                },
            ),
            (
                "distributed by hash(id) buckets",
                P::InvalidBuckets { text: "".into() },
            ),
            (
                "distributed by hash() buckets 2",
                P::EmptyColumnList {
                    clause: DistributedBy,
                },
            ),
            (
                "distributed by hash(id) shards 3",
                P::TrailingText {
                    clause: DistributedBy,
                    text: "shards 3".into(),
                },
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(problem(config), expected, "{config:?}");
        }
    }

    #[test]
    fn messages_name_the_clause_and_what_is_allowed() {
        let unknown = problem("sample by id").to_string();
        assert!(unknown.contains("`sample by id`"), "{unknown}");
        for kind in ClauseKind::ALL {
            assert!(unknown.contains(kind.syntax()), "{unknown}");
        }
        assert_eq!(
            problem("order by id; order by name").to_string(),
            "clause `order by` appears twice; write it once"
        );
        assert_eq!(
            problem("distributed by hash(id) buckets 0").to_string(),
            "buckets in clause `distributed by` must be a positive integer, not `0`"
        );
    }

    #[test]
    fn errors_point_at_the_offending_clause() {
        let config = "order by id;  order by name";
        let err = parse_table_config(config).unwrap_err();
        assert_eq!(&config[err.offset..], "order by name");
        let config = "order by id;distributed by hash(id) buckets 0";
        let err = parse_table_config(config).unwrap_err();
        assert_eq!(err.offset, "order by id;".len());
    }

    #[test]
    fn referenced_columns_are_listed_once() {
        let clauses =
            parse_table_config("order by id,Sku;key columns ID;distributed by hash(sku)").unwrap();
        assert_eq!(referenced_columns(&clauses), vec!["id", "Sku"]);
    }

    /// Every table config shipped in examples/ and tests/fixtures parses:
    /// the grammar accepts what the project itself writes.
    #[test]
    fn shipped_configs_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for dir in ["examples", "tests/fixtures"] {
            for config in table_configs_under(&root.join(dir)) {
                seen += 1;
                if let Err(e) = parse_table_config(&config.1) {
                    panic!("{}: {:?}: {e}", config.0, config.1);
                }
            }
        }
        assert!(
            seen > 0,
            "no table_configs found in examples/ or tests/fixtures"
        );
    }

    /// `(file, config)` for each string under a `table_configs` table of every
    /// `*.toml` file below `dir`; files that are not TOML (bad-input fixtures) are skipped.
    fn table_configs_under(dir: &std::path::Path) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(table_configs_under(&path));
                continue;
            }
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let Some(doc) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| text.parse::<toml::Table>().ok())
            else {
                continue;
            };
            collect_table_configs(&path.display().to_string(), &doc, &mut found);
        }
        found
    }

    fn collect_table_configs(file: &str, table: &toml::Table, found: &mut Vec<(String, String)>) {
        for (key, value) in table {
            match value {
                toml::Value::Table(t) if key == "table_configs" => {
                    found.extend(
                        t.values()
                            .filter_map(|v| v.as_str())
                            .map(|s| (file.to_string(), s.to_string())),
                    );
                }
                toml::Value::Table(t) => collect_table_configs(file, t, found),
                _ => {}
            }
        }
    }
}

//! Upper bounds of MySQL column values in bytes, for the "primary key value
//! must not exceed 128 bytes" rule of HTAP sync (TaurusDB constraints page).
//!
//! Character types count 4 bytes per character (utf8mb4, the TaurusDB default)
//! because the rule is about what a value *can* reach, not what it usually holds.

/// Bytes per character assumed for `CHAR`/`VARCHAR`/`TEXT` columns.
const UTF8MB4_BYTES: u64 = 4;

/// Size of a type whose length the emulator cannot bound (large objects, JSON).
const UNBOUNDED: u64 = u32::MAX as u64;

/// Maximum size in bytes of a value of the SQL type `sql_type` (as sqlparser prints it).
/// Unknown types count 8 bytes.
pub fn max_bytes_of_type(sql_type: &str) -> u64 {
    let lower = sql_type.to_ascii_lowercase();
    let base: String = lower
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let args = type_args(&lower);
    let first = args.first().copied();
    match base.as_str() {
        "tinyint" | "bool" | "boolean" | "year" => 1,
        "smallint" => 2,
        "mediumint" | "date" | "time" => 3,
        "int" | "integer" | "float" | "timestamp" => 4,
        "bigint" | "double" | "real" | "datetime" => 8,
        "decimal" | "numeric" | "dec" => first.map_or(5, |p| p.div_ceil(2) + 1),
        "bit" => first.map_or(1, |n| n.div_ceil(8)),
        "char" | "character" | "nchar" | "varchar" | "nvarchar" => {
            first.unwrap_or(1) * UTF8MB4_BYTES
        }
        "binary" | "varbinary" => first.unwrap_or(1),
        "enum" | "set" => 8,
        "tinytext" => 255 * UTF8MB4_BYTES,
        "tinyblob" => 255,
        "text" | "blob" | "mediumtext" | "mediumblob" | "longtext" | "longblob" | "json" => {
            UNBOUNDED
        }
        _ => 8,
    }
}

/// Numbers inside the first parentheses: `varchar(64)` -> `[64]`, `decimal(10,2)` -> `[10, 2]`.
fn type_args(lower: &str) -> Vec<u64> {
    let Some(open) = lower.find('(') else {
        return Vec::new();
    };
    let rest = &lower[open + 1..];
    let inner = rest.split(')').next().unwrap_or("");
    inner
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_of_common_types() {
        assert_eq!(max_bytes_of_type("INT"), 4);
        assert_eq!(max_bytes_of_type("BIGINT UNSIGNED"), 8);
        assert_eq!(max_bytes_of_type("VARCHAR(32)"), 128);
        assert_eq!(max_bytes_of_type("VARCHAR(33)"), 132);
        assert_eq!(max_bytes_of_type("CHAR(36)"), 144);
        assert_eq!(max_bytes_of_type("DECIMAL(10,2)"), 6);
        assert_eq!(max_bytes_of_type("VARBINARY(16)"), 16);
        assert_eq!(max_bytes_of_type("DATETIME(3)"), 8);
        assert_eq!(max_bytes_of_type("TEXT"), UNBOUNDED);
        assert_eq!(max_bytes_of_type("GEOMETRY"), 8);
    }
}

//! Table-name wildcard patterns (`table_patterns = true`, API
//! `is_support_reg_exp`). The API documents two wildcards and nothing more:
//! `*` matches any run of characters (also none) and `?` exactly one. It is
//! silent on escaping, character classes and case; htapsync reads every other
//! character literally (there is no escape) and matches case-sensitively, as
//! HTAP compares table names.

/// Whether `name` contains a wildcard.
pub fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?'])
}

/// Whether `pattern` matches all of `name`.
///
/// Linear backtracking over the last `*`: O(len(pattern) * len(name)) at worst,
/// no recursion, so that no pattern can blow up a plan.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The names of `names` that `pattern` matches, in their order.
pub fn expand<'a>(pattern: &str, names: &'a [String]) -> Vec<&'a String> {
    names.iter().filter(|n| matches(pattern, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_documented() {
        assert!(matches("orders_*", "orders_000"));
        assert!(matches("orders_*", "orders_"));
        assert!(!matches("orders_*", "order_1"));
        assert!(matches("orders_0?5", "orders_015"));
        assert!(!matches("orders_0?5", "orders_05"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("orders", "orders"));
        assert!(!matches("Orders", "orders"));
        assert!(matches("*.orders_*", "shop.orders_1"));
        assert!(is_pattern("a?") && is_pattern("*") && !is_pattern("plain"));
    }
}

//! `format_source`: the canonical layout, comment preservation, and
//! idempotence (fixtures plus generated documents).

use htapsync::config::fmt::format_source;
use proptest::prelude::*;
use std::path::Path;

fn fmt(src: &str) -> String {
    format_source(src, Path::new("t.toml")).expect("valid TOML")
}

fn same_data(a: &str, b: &str) {
    let a: toml::Table = toml::from_str(a).expect("parses");
    let b: toml::Table = toml::from_str(b).expect("parses");
    assert_eq!(a, b, "formatting changed the data");
}

#[test]
fn messy_fixture_formats_to_golden_file() {
    let dir = Path::new("tests/fixtures/config/fmt");
    let messy = std::fs::read_to_string(dir.join("messy.toml")).unwrap();
    let golden = std::fs::read_to_string(dir.join("messy.formatted.toml")).unwrap();
    let formatted = fmt(&messy);
    assert_eq!(formatted, golden);
    assert_eq!(fmt(&golden), golden, "idempotent");
    same_data(&messy, &formatted);
}

#[test]
fn comments_are_preserved() {
    let messy = std::fs::read_to_string("tests/fixtures/config/fmt/messy.toml").unwrap();
    let formatted = fmt(&messy);
    for comment in messy
        .lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].trim_end()))
    {
        assert!(
            formatted.contains(comment),
            "lost {comment:?} in:\n{formatted}"
        );
    }
}

#[test]
fn valid_fixtures_are_already_canonical() {
    for name in ["provider.toml", "tasks.toml"] {
        let path = Path::new("tests/fixtures/config/valid").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(fmt(&text), text, "{}", path.display());
    }
}

#[test]
fn syntax_error_is_positioned() {
    let err = format_source("[task.x]\nkey = = 1\n", Path::new("bad.toml")).unwrap_err();
    assert!(
        err.summary.starts_with("TOML syntax error"),
        "{}",
        err.summary
    );
    assert_eq!((err.line, err.column), (Some(2), Some(7)));
    assert_eq!(err.file.as_deref(), Some(Path::new("bad.toml")));
}

/// Random horizontal whitespace.
fn ws() -> impl Strategy<Value = String> {
    "[ \t]{0,3}"
}

/// Zero or more blank lines, each maybe with stray whitespace.
fn blank_lines() -> impl Strategy<Value = String> {
    prop::collection::vec(ws(), 0..3).prop_map(|v| v.iter().map(|w| format!("{w}\n")).collect())
}

fn comment_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (ws(), "[a-z ]{0,8}").prop_map(|(w, c)| format!("{w}# {c}\n"))
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|i| i.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z #]{0,6}".prop_map(|s| format!("\"{s}\"")),
        "[a-z]{0,5}".prop_map(|s| format!("'{s}'")),
    ]
}

fn value() -> impl Strategy<Value = String> {
    let element = || ("[a-z]{1,5}", ws(), ws()).prop_map(|(s, a, b)| format!("{a}\"{s}\"{b}"));
    prop_oneof![
        scalar(),
        prop::collection::vec(element(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        (
            prop::collection::vec((element(), comment_line()), 1..4),
            any::<bool>()
        )
            .prop_map(|(v, comma)| {
                let body: Vec<String> = v.iter().map(|(e, c)| format!("\n{c}{e}")).collect();
                format!("[{}{}\n]", body.join(","), if comma { "," } else { "" })
            }),
        prop::collection::vec(scalar(), 0..3).prop_map(|v| {
            let pairs: Vec<String> = v
                .iter()
                .enumerate()
                .map(|(i, s)| format!("k{i}={s}"))
                .collect();
            format!("{{{}}}", pairs.join(" ,  "))
        }),
    ]
}

fn key_values() -> impl Strategy<Value = Vec<(String, String, String, String, String)>> {
    prop::collection::vec(
        (blank_lines(), comment_line(), ws(), value(), comment_line()),
        0..4,
    )
}

fn document() -> impl Strategy<Value = String> {
    let table = (
        blank_lines(),
        comment_line(),
        ws(),
        any::<bool>(),
        key_values(),
    );
    (key_values(), prop::collection::vec(table, 0..4)).prop_map(|(root, tables)| {
        let mut doc = String::new();
        let write_pairs =
            |doc: &mut String, prefix: &str, pairs: &[(String, String, String, String, String)]| {
                for (i, (blank, comment, w, value, after)) in pairs.iter().enumerate() {
                    let after = after.trim_end();
                    doc.push_str(&format!(
                        "{blank}{comment}{w}{prefix}key{i}{w}={w}{value}{w}{after}\n"
                    ));
                }
            };
        write_pairs(&mut doc, "", &root);
        for (t, (blank, comment, w, nested, pairs)) in tables.iter().enumerate() {
            let name = if *nested {
                format!("task.t{t}")
            } else {
                format!("t{t}")
            };
            doc.push_str(&format!("{blank}{comment}{w}[{w}{name}{w}]{w}\n"));
            write_pairs(&mut doc, "", pairs);
        }
        doc
    })
}

proptest! {
    #[test]
    fn formatting_is_idempotent_and_keeps_data(doc in document()) {
        let once = fmt(&doc);
        let twice = fmt(&once);
        prop_assert_eq!(&twice, &once);
        same_data(&doc, &once);
        for line in once.lines() {
            prop_assert_eq!(line, line.trim_end(), "trailing whitespace");
            prop_assert!(!line.starts_with([' ', '\t']) || line.starts_with("    "), "indented: {:?}", line);
        }
        prop_assert!(once.is_empty() || (once.ends_with('\n') && !once.ends_with("\n\n")));
        prop_assert!(!once.starts_with('\n'));
    }
}

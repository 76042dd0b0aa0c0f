//! The layering of issue 11, checked on the sources: `plan` is a pure diff
//! that uses neither the saved-plan file nor the gate, the API or output;
//! operations (`ops`) print nothing, so they use neither the CLI nor the
//! views; nothing below the CLI uses it; and `model`, the shared vocabulary,
//! uses no other module.

use std::path::{Path, PathBuf};

/// Every `.rs` file of `src/<module>` (directory and `<module>.rs`).
fn sources(module: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&src.join(module), &mut out);
    let file = src.join(format!("{module}.rs"));
    if file.exists() {
        out.push(file);
    }
    assert!(!out.is_empty(), "no sources for {module}");
    out
}

/// The `crate::X` modules named in code (not comments) of `module`; unit
/// tests (`tests.rs` files) are not dependencies of the module and are skipped.
fn uses(module: &str) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for path in sources(module)
        .into_iter()
        .filter(|p| !p.ends_with("tests.rs"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                found.push((path.clone(), name));
            }
        }
    }
    found
}

#[track_caller]
fn forbid(module: &str, forbidden: &[&str]) {
    let bad: Vec<String> = uses(module)
        .into_iter()
        .filter(|(_, used)| forbidden.contains(&used.as_str()))
        .map(|(path, used)| format!("{}: crate::{used}", path.display()))
        .collect();
    assert!(
        bad.is_empty(),
        "{module} must not use {forbidden:?}:\n{}",
        bad.join("\n")
    );
}

#[test]
fn plan_is_a_pure_diff() {
    forbid(
        "plan",
        &["planfile", "check", "api", "apply", "render", "ops", "cli"],
    );
}

#[test]
fn operations_print_nothing() {
    forbid("ops", &["cli", "render"]);
}

#[test]
fn nothing_below_the_cli_uses_it() {
    for module in [
        "model", "config", "state", "plan", "planfile", "check", "api", "apply", "refresh",
        "render", "ops", "emulator",
    ] {
        forbid(module, &["cli"]);
    }
}

#[test]
fn the_model_depends_on_nothing() {
    forbid(
        "model",
        &[
            "config", "state", "plan", "planfile", "check", "api", "apply", "refresh", "render",
            "ops", "emulator", "cli",
        ],
    );
}

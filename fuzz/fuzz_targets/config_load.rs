//! The whole configuration loader (read, UTF-8, TOML, schema, validation) on
//! one arbitrary `htapsync.toml`: it must return diagnostics, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// One directory per fuzzing process, rewritten on every input.
fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    std::fs::write(dir.path().join("htapsync.toml"), data).expect("writing the input");
    if let Ok(loaded) = htapsync::config::load_dir(dir.path()) {
        // What loads must name exactly the one file it read.
        assert_eq!(loaded.files.len(), 1);
    }
});

//! `htapsync fmt` on arbitrary text: an error or a formatting that is stable
//! (formatting the output again changes nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    let path = Path::new("fuzz.toml");
    if let Ok(once) = htapsync::config::format_source(text, path) {
        let twice = htapsync::config::format_source(&once, path)
            .expect("formatted output must parse again");
        assert_eq!(once, twice, "fmt is not idempotent");
    }
});

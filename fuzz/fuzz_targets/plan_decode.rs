//! The saved-plan loader (`apply FILE`) on arbitrary bytes: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = htapsync::planfile::SavedPlan::decode(data, Path::new("fuzz.plan"));
});

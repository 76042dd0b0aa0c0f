//! The state loader on arbitrary bytes: an error or a state that encodes and
//! decodes back to itself (what the writer's round-trip check relies on).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.state.json");
    if let Ok(state) = htapsync::state::decode(data, path) {
        let bytes = htapsync::state::encode(&state);
        let again = htapsync::state::decode(&bytes, path).expect("an encoded state decodes");
        assert_eq!(state, again, "state does not round-trip");
    }
});

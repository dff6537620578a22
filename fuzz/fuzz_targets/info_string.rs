//! Any text as a fenced-code info string: `parse_info` must not panic, and every span it
//! returns (the language, each attribute's key and value, or the error) must lie inside the
//! info string, on char boundaries, and hold what it claims to hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::doc::{attrs, invariants};

fuzz_target!(|info: &str| {
    // As the parser calls it: the info string sits after a fence somewhere in a file.
    let file = format!("```{info}");
    let result = attrs::parse_info(info, 3);
    if let Err(e) = invariants::check_info(&file, 3, info, &result) {
        panic!("invariant broken: {e}\ninput: {info:?}");
    }
    // The same string at offset 0 parses the same, shifted.
    let at0 = attrs::parse_info(info, 0);
    assert_eq!(
        at0.is_ok(),
        result.is_ok(),
        "base changes the verdict: {info:?}"
    );
});

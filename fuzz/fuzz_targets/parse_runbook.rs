//! Any UTF-8 text as a runbook: `doc::parse` must not panic, and what it returns must keep
//! the promises of `runbook::doc::invariants` (spans in bounds and on char boundaries, body
//! lines equal to their bytes, unique step ids, every diagnostic renders).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use runbook::doc;
use runbook::source::SourceFile;

fuzz_target!(|text: &str| {
    let file = Arc::new(SourceFile::new("fuzz.md", text.to_string()));
    let (rb, diags) = doc::parse(&file);
    if let Err(e) = doc::invariants::check(&rb, &diags) {
        panic!("invariant broken: {e}\ninput: {text:?}");
    }
});

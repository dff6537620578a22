//! Any text as `runbook.toml`: `Project::load` must not panic, and an error must point into
//! the file (in bounds, on char boundaries) and render.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runbook::doc::invariants;
use runbook::project::Project;

fuzz_target!(|text: &str| {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let path = dir.path().join("runbook.toml");
    std::fs::write(&path, text).unwrap();
    if let Err(d) = Project::load(&path) {
        if let Err(e) = invariants::check_diagnostic(&d) {
            panic!("invariant broken: {e}\ninput: {text:?}");
        }
    }
});

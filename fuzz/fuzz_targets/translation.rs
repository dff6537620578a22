//! Two runbooks (split at the first NUL byte): a source and its translation. Both must parse
//! within the invariants, and `lint::check_translation` must not panic; its diagnostics must
//! render.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use runbook::doc;
use runbook::source::SourceFile;

fuzz_target!(|text: &str| {
    let (src, tr) = text.split_once('\0').unwrap_or((text, text));
    let sf = Arc::new(SourceFile::new("src.md", src.to_string()));
    let tf = Arc::new(SourceFile::new("tr.md", tr.to_string()));
    let (s, sd) = doc::parse(&sf);
    let (t, td) = doc::parse(&tf);
    doc::invariants::check(&s, &sd).unwrap();
    doc::invariants::check(&t, &td).unwrap();
    for d in runbook::lint::check_translation(&s, &t, "zh-CN") {
        assert!(d.render().starts_with(&d.location()));
    }
});

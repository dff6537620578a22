//! The JSON report (SPEC §3.2). The wire shape is fixed by the spec; extra fields are
//! `message`, `skip_reason`, `notes` and `started_at` on steps.
//!
//! ```json
//! {"version": 1,
//!  "runbooks": [{"path": "runbooks/ntp.md", "status": "failed",
//!                "steps": [{"id": "ntp-peers", "host": "controller2", "line": 42,
//!                           "status": "passed|failed|error|skipped|manual", "exit_code": 0,
//!                           "duration_ms": 12, "attempts": 1, "expected": "...",
//!                           "actual": "...", "diff": ""}]}],
//!  "summary": {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "manual": 0}}
//! ```

use serde::Serialize;

use crate::outcome::{RunbookResult, Summary};

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    runbooks: &'a [RunbookResult],
    summary: Summary,
}

pub fn render(results: &[RunbookResult]) -> String {
    let summary = Summary::of(results.iter().flat_map(|r| &r.steps));
    let mut s = serde_json::to_string_pretty(&Report {
        version: 1,
        runbooks: results,
        summary,
    })
    .expect("serialisable");
    s.push('\n');
    s
}

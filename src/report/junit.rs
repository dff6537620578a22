//! The JUnit XML report (SPEC §3.3): one `<testsuite>` per runbook, one `<testcase>` per step
//! and host named `ID@HOST`; drift is a `<failure>` with the diff, an execution error an
//! `<error>`, skipped and manual steps `<skipped>`. The shape follows the schema Jenkins and
//! GitLab read (the test validates against it).

use std::fmt::Write as _;

use crate::outcome::{RunbookResult, Status, Summary};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all (terminal control bytes).
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

pub fn render(results: &[RunbookResult]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all = Summary::of(results.iter().flat_map(|r| &r.steps));
    let total: usize = results.iter().map(|r| r.steps.len()).sum();
    let time: u64 = results
        .iter()
        .flat_map(|r| &r.steps)
        .map(|s| s.duration_ms)
        .sum();
    let _ = writeln!(
        x,
        "<testsuites name=\"runbook\" tests=\"{total}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        all.failed,
        all.errors,
        time as f64 / 1000.0
    );
    for (i, rb) in results.iter().enumerate() {
        let s = Summary::of(&rb.steps);
        let t: u64 = rb.steps.iter().map(|s| s.duration_ms).sum();
        let stamp = rb
            .steps
            .first()
            .map(|s| {
                s.started_at
                    .trim_end_matches('Z')
                    .split('.')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\" hostname=\"{}\" id=\"{i}\" package=\"{}\">",
            esc(&rb.path),
            rb.steps.len(),
            s.failed,
            s.errors,
            s.skipped + s.manual,
            t as f64 / 1000.0,
            esc(&stamp),
            esc(&hostname()),
            esc(&rb.path),
        );
        let _ = writeln!(x, "    <properties/>");
        for st in &rb.steps {
            let _ = write!(
                x,
                "    <testcase name=\"{}@{}\" classname=\"{}\" time=\"{:.3}\"",
                esc(&st.id),
                esc(&st.host),
                esc(&rb.path),
                st.duration_ms as f64 / 1000.0
            );
            let message = st.message.clone().unwrap_or_default();
            match st.status {
                Status::Passed => {
                    let _ = writeln!(x, "/>");
                    continue;
                }
                Status::Failed => {
                    let msg = if message.is_empty() {
                        format!("drift on line {}", st.line)
                    } else {
                        message
                    };
                    let body = if st.diff.is_empty() {
                        st.notes.join("\n")
                    } else {
                        st.diff.clone()
                    };
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"drift\">{}</failure>",
                        esc(&msg),
                        esc(&body)
                    );
                }
                Status::Error => {
                    let _ = writeln!(
                        x,
                        ">\n      <error message=\"{}\" type=\"error\">{}</error>",
                        esc(&message),
                        esc(&message)
                    );
                }
                Status::Skipped => {
                    let _ = writeln!(x, ">\n      <skipped message=\"{}\"/>", esc(&message));
                }
                Status::Manual => {
                    let _ = writeln!(
                        x,
                        ">\n      <skipped message=\"manual step: done by hand\"/>"
                    );
                }
            }
            if !st.actual.is_empty() {
                let _ = writeln!(x, "      <system-out>{}</system-out>", esc(&st.actual));
            }
            let _ = writeln!(x, "    </testcase>");
        }
        let _ = writeln!(x, "    <system-out/>\n    <system-err/>\n  </testsuite>");
    }
    x.push_str("</testsuites>\n");
    x
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

//! The user guide is runbooks (issue 9): `runbooks/guide/` must run green on this machine,
//! and the shipped runbooks and their translations must lint clean, so the guide can never
//! drift from the program.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::bin;

/// Runs the built binary from the project root, as a reader following README.md would.
fn runbook(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        // The guide shows what happens when a secret is missing from the environment.
        .env_remove("API_TOKEN")
        .output()
        .expect("run runbook")
}

fn show(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn guide_runs_green() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("guide.json");
    let out = runbook(&[
        "run",
        "runbooks/guide",
        "--report",
        &format!("json={}", report.display()),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "runbook run runbooks/guide\n{}",
        show(&out)
    );

    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let runbooks = json["runbooks"].as_array().expect("runbooks");
    let pages: Vec<&str> = runbooks
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let shipped = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/guide"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "md")
        })
        .count();
    assert_eq!(
        pages.len(),
        shipped,
        "every page of the guide ran: {pages:?}"
    );

    let mut steps = 0;
    for rb in runbooks {
        assert_eq!(rb["status"], "passed", "{}", rb["path"]);
        for step in rb["steps"].as_array().unwrap() {
            steps += 1;
            assert_eq!(
                step["status"], "passed",
                "{} step `{}` on {}: {}",
                rb["path"], step["id"], step["host"], step["diff"]
            );
        }
    }
    assert!(steps > 0, "the guide has steps");
    let summary = &json["summary"];
    assert_eq!(summary["passed"], steps);
    for other in ["failed", "errors", "skipped", "manual"] {
        assert_eq!(summary[other], 0, "{other} in {summary}");
    }
}

#[test]
fn shipped_runbooks_and_translations_lint_clean() {
    let out = runbook(&["lint", "runbooks/", "translations/"]);
    assert_eq!(out.status.code(), Some(0), "runbook lint\n{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(": ok") || stderr.contains(": ok"),
        "runbook lint\n{}",
        show(&out)
    );
    // Every page of the guide has its zh-CN translation.
    assert!(
        !stderr.contains("runbooks/guide/"),
        "the guide lints without warnings\n{}",
        show(&out)
    );
}

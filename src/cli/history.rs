//! `runbook history`: what the run store remembers: the latest result of each step on each
//! host with when it last passed, or (`--runs N`) the last runs. Reads only; a project with
//! no store has "no runs recorded yet", which is not an error.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::diag::{self, Exit};
use crate::project::Project;
use crate::store::{Filter, LatestResult, RunSummary, Store};

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Runbook files or folders (default: every runbook recorded in the project).
    pub paths: Vec<PathBuf>,
    /// Only results on this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// List the last N runs instead of each step's latest result.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--json` output: `{"version": 1, "results": [...]}` or `{"version": 1, "runs": [...]}`.
#[derive(Serialize)]
struct JsonOut<'a> {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<&'a [LatestResult]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<&'a [RunSummary]>,
}

pub fn execute(args: &HistoryArgs) -> Exit {
    let start = args
        .paths
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let project = match Project::discover(&start) {
        Ok(p) => p,
        Err(d) => return diag::emit(&[d]),
    };
    let store = match Store::open_read(&project) {
        Ok(s) => s,
        Err(d) => return diag::emit(&[d]),
    };
    let filter = Filter {
        runbooks: args
            .paths
            .iter()
            .map(|p| crate::lint::rel_to(&project.root, p))
            .collect(),
        host: args.host.clone(),
    };
    let read = match args.runs {
        Some(n) => store.runs(&filter, n as usize).map(|r| (Vec::new(), r)),
        None => store.latest_in(&filter).map(|l| (l, Vec::new())),
    };
    let (latest, runs) = match read {
        Ok(x) => x,
        Err(e) => return diag::emit(&[e.diagnostic(store.path())]),
    };
    if args.json {
        let out = JsonOut {
            version: 1,
            results: args.runs.is_none().then_some(latest.as_slice()),
            runs: args.runs.is_some().then_some(runs.as_slice()),
        };
        let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
        text.push('\n');
        print_out(&text);
        if !store.exists() {
            eprintln!("no runs recorded yet");
        }
        return Exit::Ok;
    }
    if !store.exists() {
        print_out("no runs recorded yet\n");
        return Exit::Ok;
    }
    let text = match args.runs {
        Some(_) if runs.is_empty() => "no runs recorded for these runbooks and hosts\n".into(),
        Some(_) => runs_table(&runs),
        None if latest.is_empty() => "no results recorded for these runbooks and hosts\n".into(),
        None => latest_table(&latest),
    };
    print_out(&text);
    Exit::Ok
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// `2026-11-25 10:00:05` from a stored time (UTC).
fn shown_time(t: &str) -> String {
    t.get(..19).map_or(t.to_string(), |s| s.replace('T', " "))
}

fn latest_table(rows: &[LatestResult]) -> String {
    let mut cells = vec![[
        "RUNBOOK".to_string(),
        "STEP".into(),
        "HOST".into(),
        "STATUS".into(),
        "WHEN (UTC)".into(),
        "LAST PASSED (UTC)".into(),
    ]];
    for r in rows {
        let status = match r.checked {
            Some(true) if r.status == "manual" => "manual (ticked)".to_string(),
            _ => r.status.clone(),
        };
        cells.push([
            r.runbook.clone(),
            r.step.clone(),
            r.host.clone(),
            status,
            shown_time(&r.when),
            r.last_passed
                .as_deref()
                .map_or_else(|| "never".to_string(), shown_time),
        ]);
    }
    table(&cells)
}

fn runs_table(runs: &[RunSummary]) -> String {
    let mut cells = vec![[
        "RUN".to_string(),
        "STARTED (UTC)".into(),
        "ORIGIN".into(),
        "USER".into(),
        "EXIT".into(),
        "STEPS".into(),
        "COMMAND".into(),
    ]];
    for r in runs {
        let s = &r.summary;
        let steps: Vec<String> = [
            (s.passed, "passed"),
            (s.failed, "failed"),
            (s.errors, "errors"),
            (s.skipped, "skipped"),
            (s.manual, "manual"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        cells.push([
            r.id.to_string(),
            shown_time(&r.started_at),
            r.origin.clone(),
            r.user.clone(),
            match (r.complete, r.exit_status) {
                (true, Some(code)) => code.to_string(),
                _ => "incomplete".into(),
            },
            if steps.is_empty() {
                "none".into()
            } else {
                steps.join(", ")
            },
            r.command.clone(),
        ]);
    }
    table(&cells)
}

/// Columns padded to their widest cell (by display width: ids may be Chinese); the last
/// column is not padded.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.width());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            line.push_str(c);
            if i + 1 < N {
                line.push_str(&" ".repeat(widths[i] - c.width() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

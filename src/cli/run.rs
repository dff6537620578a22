//! `runbook run`: lint, plan, execute, report. The pipeline is shared with `update`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use crate::diag::{self, Diagnostic, Exit};
use crate::exec::runner::{self, Fanout, RequiresCheck, RunOptions, Runner, Sink};
use crate::lint::Workspace;
use crate::outcome::{exit_of, RunbookResult};
use crate::plan::{self, Filters};
use crate::report::console::{Console, Verbosity};

use super::Common;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: Common,
    /// Run only the step with this id (repeatable).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Start at the step with this id.
    #[arg(long, value_name = "ID")]
    pub from: Option<String>,
    /// Go on after a failed step instead of stopping its runbook.
    #[arg(long)]
    pub keep_going: bool,
    /// Set a variable for this run (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Write a report: `json=FILE` or `junit=FILE` (repeatable).
    #[arg(long, value_name = "KIND=FILE", value_parser = parse_report)]
    pub report: Vec<(ReportKind, PathBuf)>,
    /// Hosts at work at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Print only drifts and errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every step's output.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Json,
    Junit,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write NAME=VALUE"))?;
    let valid = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(format!("`{k}` is not a valid variable name (letters, digits and `_`, not starting with a digit)"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_report(s: &str) -> Result<(ReportKind, PathBuf), String> {
    let (k, f) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write json=FILE or junit=FILE"))?;
    let kind = match k {
        "json" => ReportKind::Json,
        "junit" => ReportKind::Junit,
        _ => {
            return Err(format!(
                "unknown report kind `{k}`: write json=FILE or junit=FILE"
            ))
        }
    };
    if f.is_empty() {
        return Err("the report needs a file name".into());
    }
    Ok((kind, PathBuf::from(f)))
}

/// Loads and lints; stops with exit 2 (diagnostics printed) on any error.
pub fn load_checked(common: &Common) -> Result<Workspace, Exit> {
    let ws = crate::lint::load(&common.paths, common.inventory.as_deref());
    if ws.has_errors() {
        diag::emit(&ws.diags);
        return Err(Exit::BadInput);
    }
    // Warnings are `lint`'s business; a run stays quiet about them.
    Ok(ws)
}

/// Everything `run` does up to the results: lint, plan, check variables, execute.
pub fn execute_pipeline(
    args: &RunArgs,
    extra_sinks: Vec<Arc<dyn Sink>>,
) -> Result<(Workspace, Vec<RunbookResult>), Exit> {
    let ws = load_checked(&args.common)?;
    let filters = Filters {
        only: args.only.clone(),
        from: args.from.clone(),
    };
    let planned = plan::plan(&ws, &filters).map_err(|d| diag::emit(&d))?;
    let opts = RunOptions {
        keep_going: args.keep_going,
        jobs: args.jobs as usize,
        vars: args.vars.clone(),
        secret_values: Vec::new(),
    };
    let mut problems: Vec<Diagnostic> = Vec::new();
    for p in &planned {
        if let Err(d) = runner::environment(&ws, &ws.runbooks[p.runbook], &opts) {
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(diag::emit(&problems));
    }
    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let console = Console::new(verbosity);
    let store = crate::store::open_for_run(&ws.project, "cli").map_err(|d| diag::emit(&[d]))?;
    let requires: Arc<RequiresCheck> = store.requires_check();
    let mut sinks: Vec<Arc<dyn Sink>> = vec![console.clone(), store.sink()];
    sinks.extend(extra_sinks);
    let started = Instant::now();
    // One thread: hosts are I/O-bound, and cross-thread wake-ups cost more than they give.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("runbook: cannot start the async runtime: {e}");
            Exit::Fault
        })?;
    let results = runtime.block_on(async {
        let runner = Runner {
            ws: &ws,
            opts,
            sink: Arc::new(Fanout(sinks)),
            requires,
        };
        runner.run(&planned).await
    });
    // Sessions are closed; nothing of ours may linger on the hosts.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    store.finish(exit_of(&results));
    console.summary(&results, started.elapsed());
    for (kind, file) in &args.report {
        let text = match kind {
            ReportKind::Json => crate::report::json::render(&results),
            ReportKind::Junit => crate::report::junit::render(&results),
        };
        if let Err(e) = crate::report::write_atomic(file, text.as_bytes()) {
            eprintln!("runbook: cannot write the report {}: {e}", file.display());
            return Err(Exit::BadInput);
        }
    }
    Ok((ws, results))
}

pub fn execute(args: &RunArgs) -> Exit {
    match execute_pipeline(args, Vec::new()) {
        Ok((_, results)) => exit_of(&results),
        Err(e) => e,
    }
}

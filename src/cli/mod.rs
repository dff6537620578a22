//! The command line: clap definitions, one module per subcommand, and the single place where
//! results become an exit status.

mod build;
mod history;
mod lint;
pub mod run;
mod serve;
pub mod update;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::diag::Exit;

#[derive(Parser, Debug)]
#[command(
    name = "runbook",
    version,
    about = "Executable operations runbooks: run the commands in Markdown, check what they print, report drift.",
    after_help = "Exit status: 0 every step passed, 1 some step drifted, 2 bad input, 3 could not execute.\nDocs: runbooks/guide/ (run `runbook serve` and open the printed URL)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse runbooks and check hosts, ids, attributes and translations; runs nothing.
    #[command(
        after_help = "Example:\n  runbook lint runbooks/openstack-ha\n  runbook lint --inventory my-lab.toml"
    )]
    Lint(LintArgs),
    /// Run runbooks: execute each step on its hosts and compare what it prints.
    #[command(
        after_help = "Examples:\n  runbook run runbooks/guide\n  runbook run runbooks/openstack-ha --inventory my-lab.toml --report junit=report.xml\n  runbook run ntp.md --only ntp-peers --var NTP_SERVER=10.0.0.11"
    )]
    Run(run::RunArgs),
    /// Show the run store: the latest result of each step on each host, or the last runs.
    #[command(
        after_help = "Examples:\n  runbook history runbooks/openstack-ha --host controller3\n  runbook history --runs 10\n  runbook history runbooks/ntp.md --json"
    )]
    History(history::HistoryArgs),
    /// Run, then rewrite each drifted expected block with what was seen (wildcards that still match are kept).
    #[command(
        after_help = "Examples:\n  runbook update runbooks/guide\n  runbook update ntp.md --dry-run        # print the diff, write nothing\n  runbook update ntp.md --exit           # also rewrite drifted exit= attributes"
    )]
    Update(update::UpdateArgs),
    /// Serve the runbooks as a web site where each step can be run and watched.
    #[command(
        after_help = "Examples:\n  runbook serve                          # http://127.0.0.1:8080, open the printed URL\n  runbook serve runbooks/openstack-ha --inventory my-lab.toml\n  runbook serve --no-exec --addr 0.0.0.0:8080   # read-only"
    )]
    Serve(serve::ServeArgs),
    /// Write the site as static files, annotated with the latest recorded results.
    #[command(after_help = "Example:\n  runbook build --out public/")]
    Build(build::BuildArgs),
}

/// Paths and the inventory, shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Runbook files or folders (default: `runbooks/` under the project folder).
    pub paths: Vec<PathBuf>,
    /// A TOML file whose `[hosts]` and `[groups]` replace those of runbook.toml.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    #[command(flatten)]
    pub common: Common,
}

/// Parses the command line, runs the subcommand, and maps the result to an exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::BadInput.code()
            } else {
                0
            });
        }
    };
    ExitCode::from(run(cli).code())
}

pub fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Lint(a) => lint::execute(&a),
        Command::Run(a) => run::execute(&a),
        Command::History(a) => history::execute(&a),
        Command::Update(a) => update::execute(&a),
        Command::Serve(a) => serve::execute(&a),
        Command::Build(a) => build::execute(&a),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

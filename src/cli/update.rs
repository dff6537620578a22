//! `runbook update`: run, then rewrite drifted expectations. PLACEHOLDER.

use clap::Args;

use crate::diag::Exit;

use super::run::RunArgs;

#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the diff of the files instead of writing them.
    #[arg(long)]
    pub dry_run: bool,
    /// Also rewrite `exit=` where the exit status drifted (otherwise reported and left alone).
    #[arg(long)]
    pub exit: bool,
}

pub fn execute(_args: &UpdateArgs) -> Exit {
    eprintln!("runbook update: not implemented yet");
    Exit::BadInput
}

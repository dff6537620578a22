//! `runbook build`. PLACEHOLDER.

use std::path::PathBuf;

use clap::Args;

use crate::diag::Exit;

use super::Common;

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    #[command(flatten)]
    pub common: Common,
    /// Folder to write the site into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn execute(_args: &BuildArgs) -> Exit {
    eprintln!("runbook build: not implemented yet");
    Exit::BadInput
}

//! `runbook serve`. PLACEHOLDER.

use std::net::SocketAddr;

use clap::Args;

use crate::diag::Exit;

use super::Common;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Serve a read-only site: no Run buttons, nothing executes.
    #[arg(long)]
    pub no_exec: bool,
}

pub fn execute(_args: &ServeArgs) -> Exit {
    eprintln!("runbook serve: not implemented yet");
    Exit::BadInput
}

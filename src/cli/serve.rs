//! `runbook serve`: lint, then serve the site (SPEC §4) until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::diag::Exit;
use crate::site::{self, AppState, Config};

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

/// How long a run started from the page may go on with no page watching it.
const UNWATCHED_GRACE: Duration = Duration::from_secs(2);

pub fn execute(args: &ServeArgs) -> Exit {
    let ws = match super::run::load_checked(&args.common) {
        Ok(ws) => ws,
        Err(e) => return e,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runbook: cannot start the async runtime: {e}");
            return Exit::Fault;
        }
    };
    let exit = runtime.block_on(serve(ws, args));
    // Dropping the tasks closes any session still open: nothing stays on the hosts.
    runtime.shutdown_timeout(Duration::from_secs(2));
    exit
}

/// Connections the kernel holds for us while every worker is busy. `TcpListener::bind` asks
/// for 128: a class opening the tutorial at once overflowed it, and each dropped connection
/// waited a second for its retry.
const LISTEN_BACKLOG: u32 = 1024;

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn serve(ws: crate::lint::Workspace, args: &ServeArgs) -> Exit {
    let listener = match listen(args.addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("runbook serve: cannot listen on {}: {e}", args.addr);
            return Exit::BadInput;
        }
    };
    let addr = listener.local_addr().unwrap_or(args.addr);
    let pages = ws.runbooks.len();
    let state = AppState::new(
        ws,
        Config {
            addr,
            exec: !args.no_exec,
            token: site::guard::new_token(),
            grace: UNWATCHED_GRACE,
        },
    );
    let mut out = std::io::stdout();
    if args.no_exec {
        let _ = writeln!(
            out,
            "runbook: serving {pages} runbooks, read-only, at http://{addr}/"
        );
    } else {
        let _ = writeln!(
            out,
            "runbook: serving {pages} runbooks at http://{addr}/?token={}",
            state.guard.token()
        );
        let _ = writeln!(
            out,
            "         open that address to run steps from the page; Ctrl-C stops the server"
        );
    }
    let _ = out.flush();
    let app = site::app(state.clone());
    let server = axum::serve(listener, app.into_make_service());
    tokio::select! {
        r = server => {
            if let Err(e) = r {
                eprintln!("runbook serve: {e}");
                return Exit::Fault;
            }
        }
        _ = tokio::signal::ctrl_c() => {
            if state.live.cancel(None) {
                eprintln!("runbook: stopping the run in progress");
                for _ in 0..50 {
                    if !state.live.running() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Exit::Ok
}

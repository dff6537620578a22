//! `runbook build`: the site as static files, annotated with the latest recorded results.

use std::path::PathBuf;

use clap::Args;

use crate::diag::{self, Exit};
use crate::store::{Filter, Store};

use super::Common;

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    #[command(flatten)]
    pub common: Common,
    /// Folder to write the site into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn execute(args: &BuildArgs) -> Exit {
    let ws = match super::run::load_checked(&args.common) {
        Ok(ws) => ws,
        Err(e) => return e,
    };
    let store = match Store::open_read(&ws.project) {
        Ok(s) => s,
        Err(d) => return diag::emit(&[d]),
    };
    let paths: Vec<String> = ws.runbooks.iter().map(|r| ws.rel_path(r)).collect();
    let read = store
        .latest_in(&Filter {
            runbooks: paths,
            host: None,
        })
        .and_then(|l| store.manual_checks(None).map(|c| (l, c)));
    let (latest, checks) = match read {
        Ok(x) => x,
        Err(e) => return diag::emit(&[e.diagnostic(store.path())]),
    };
    match crate::site::export::write_site(&ws, &latest, &checks, &args.out) {
        Ok(files) => {
            let pages = files
                .iter()
                .filter(|f| f.extension().is_some_and(|x| x == "html"))
                .count();
            println!(
                "runbook: wrote {pages} pages to {} (open {})",
                args.out.display(),
                args.out.join("index.html").display()
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("runbook build: cannot write to {}: {e}", args.out.display());
            Exit::BadInput
        }
    }
}

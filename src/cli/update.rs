//! `runbook update`: run as `run` does (with `--keep-going` implied), then rewrite each drifted
//! expected block with what was seen. The decisions and their reasons are documented in
//! [`crate::update`]; this file prints and picks the exit status.

use clap::Args;

use crate::diag::{Diagnostic, Exit};
use crate::outcome::{Status, StepResult};
use crate::update::{self, write, Options};

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

pub fn execute(args: &UpdateArgs) -> Exit {
    let mut run = args.run.clone();
    // A drift about to be fixed should not hide the blocks after it.
    run.keep_going = true;
    let (ws, results) = match super::run::execute_pipeline(&run, Vec::new()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let plan = update::plan(&ws, &results, Options { exit: args.exit });
    let mut notes = String::new();
    for d in &plan.notes {
        notes.push_str(&d.render());
    }
    eprint!("{notes}");

    let errored = results
        .iter()
        .flat_map(|r| &r.steps)
        .any(|s: &StepResult| s.status == Status::Error);
    let mut exit = if errored {
        Exit::Fault
    } else if plan.remaining {
        Exit::Drift
    } else {
        Exit::Ok
    };
    for group in &plan.groups {
        // A source and its translations are written together or not at all.
        if let Some(e) = group.iter().find_map(|c| write::check_unchanged(c).err()) {
            refuse(&e);
            exit = exit.max(Exit::BadInput);
            continue;
        }
        for change in group {
            let plural = if change.blocks == 1 { "" } else { "s" };
            if args.dry_run {
                print!("{}", update::unified_diff(change));
                println!(
                    "would update {}: {} block{plural}",
                    change.shown, change.blocks
                );
                continue;
            }
            match write::write(change) {
                Ok(()) => println!("updated {}: {} block{plural}", change.shown, change.blocks),
                Err(e) => {
                    refuse(&e);
                    exit = exit.max(Exit::BadInput);
                }
            }
        }
    }
    exit
}

fn refuse(e: &write::WriteError) {
    let d = Diagnostic::at_path(e.path(), e.reason())
        .with_help("nothing was written to it; run `runbook update` again once it is settled");
    eprint!("{}", d.render());
}

//! `runbook lint`: load, check, print every diagnostic; exit 2 on any error.

use crate::diag::{self, Exit};

use super::LintArgs;

pub fn execute(args: &LintArgs) -> Exit {
    let ws = crate::lint::load(&args.common.paths, args.common.inventory.as_deref());
    let status = diag::emit(&ws.diags);
    let errors = ws.diags.iter().filter(|d| d.is_error()).count();
    let warnings = ws.diags.len() - errors;
    let steps: usize = ws.runbooks.iter().map(|r| r.steps.len()).sum();
    if errors > 0 {
        eprintln!(
            "lint: {errors} error(s), {warnings} warning(s) in {} runbook(s)",
            ws.runbooks.len()
        );
    } else {
        eprintln!(
            "lint: {} runbook(s), {} translation(s), {steps} step(s): ok{}",
            ws.runbooks.len(),
            ws.translations.len(),
            if warnings > 0 {
                format!(" ({warnings} warning(s))")
            } else {
                String::new()
            }
        );
    }
    status
}

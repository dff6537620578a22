//! Contract tests: they drive the built `runbook` binary over fixture runbooks and check what
//! SPEC.md fixes — exit status, `PATH:LINE:COL` messages, reports.

mod guide;
mod harness;
mod lint;
mod run;
mod site;
mod ssh;
mod store;
mod translations;
mod update;

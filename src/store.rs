//! The run store (SPEC §4). PLACEHOLDER: records nothing yet; the SQLite store replaces it.

use std::sync::Arc;

use crate::diag::{Diagnostic, Exit};
use crate::exec::runner::{Event, RequiresCheck, Sink};
use crate::project::Project;

pub struct RunStore;

struct NullSink;

impl Sink for NullSink {
    fn event(&self, _event: &Event<'_>) {}
}

pub fn open_for_run(_project: &Project, _origin: &str) -> Result<RunStore, Diagnostic> {
    Ok(RunStore)
}

impl RunStore {
    pub fn requires_check(&self) -> Arc<RequiresCheck> {
        Arc::new(|path: &str, _hosts: &[String]| Err(format!("{path} has no recorded passing run")))
    }
    pub fn sink(&self) -> Arc<dyn Sink> {
        Arc::new(NullSink)
    }
    pub fn finish(&self, _exit: Exit) {}
}

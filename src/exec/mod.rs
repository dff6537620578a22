//! Execution: one shell session per host, file blocks, and the runner that drives steps.

pub mod files;

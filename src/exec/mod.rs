//! Execution: one shell session per host ([`session`]), its transports ([`local`], [`ssh`]),
//! file blocks ([`files`]), secret redaction ([`redact`]) and the runner that drives steps
//! ([`runner`]).

pub mod files;
pub mod local;
pub mod redact;
pub mod runner;
pub mod session;
pub mod ssh;

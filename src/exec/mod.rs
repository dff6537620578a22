//! Execution: one shell session per host ([`session`]), its transports ([`local`], [`ssh`]),
//! file blocks ([`files`]) and the runner that drives steps ([`runner`]).

pub mod files;
pub mod local;
pub mod session;
pub mod ssh;

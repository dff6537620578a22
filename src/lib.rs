//! `runbook`: executable operations runbooks.
//!
//! The data flows parse → plan → execute → match → report/store → render:
//! [`doc`] turns Markdown into a [`doc::Runbook`]; [`lint`] checks it against the
//! [`project`]; [`plan`] orders steps × hosts; [`exec`] runs them in one shell session per
//! host; [`matcher`] compares what they printed; [`outcome`] is what every consumer reads;
//! [`report`], [`store`], [`update`] and [`site`] consume it. [`cli`] is the glue.

pub mod cli;
pub mod diag;
pub mod doc;
pub mod exec;
pub mod lint;
pub mod matcher;
pub mod outcome;
pub mod plan;
pub mod project;
pub mod report;
pub mod site;
pub mod source;
pub mod store;
pub mod update;

//! The site (SPEC §4): `runbook serve` and `runbook build`.
//!
//! The data flows catalog → render → pages → server or export:
//! [`catalog`] knows which pages exist and their addresses; [`render`] turns a runbook (its
//! prose, its blocks by role, its steps' latest results) into HTML, purely; [`pages`] wraps
//! that into whole pages with askama templates from `web/templates/`; [`server`] serves them
//! with axum, streams runs ([`live`]) and checks every request ([`guard`]); [`export`]
//! writes them as files. The style sheet and script in `web/static/` are embedded
//! ([`assets`]). The site never parses an info string or spawns a command itself: it reads
//! the model from [`crate::doc`] and runs through [`crate::exec::runner`], and records web
//! runs in the store like headless ones (origin `web`).

pub mod assets;
pub mod catalog;
pub mod export;
pub mod guard;
pub mod i18n;
pub mod live;
pub mod pages;
pub mod render;
pub mod server;

pub use server::{app, AppState, Config};

//! The run store (SPEC §4): every run, from the command line or from the site, recorded in
//! `.runbook/runs.sqlite` under the project folder.
//!
//! The runner sends the store its events like any other [`Sink`]: a run row when the run
//! begins, a row per step and host as each step ends, and the end of the run. `requires`
//! (SPEC §1), `runbook history`, `serve` and `build` read it back through [`Store`].
//!
//! # The file
//!
//! A plain SQLite 3 database that you can open with the `sqlite3` shell. It is in WAL mode,
//! so readers never wait for a run and a run never waits for readers; `runs.sqlite-wal` and
//! `runs.sqlite-shm` sit beside it and stay between runs: SQLite folds the log into the main
//! file whenever it reaches 1000 pages, so a run does not wait for that as it ends. To copy
//! the store, copy the three together, or first run
//! `sqlite3 .runbook/runs.sqlite 'PRAGMA wal_checkpoint(TRUNCATE)'`. The schema version is
//! `PRAGMA user_version` (now 2); `runbook` migrates older files forward and refuses newer
//! ones. `.runbook/` is created on the first write, with a `.gitignore` holding `*`, so the
//! store never lands in git.
//!
//! Writes are short `BEGIN IMMEDIATE` transactions, with a busy timeout of 10 s, so two runs
//! at once (two terminals, or the site and a headless run) both record. A result is committed
//! as soon as its step ends, except that commits are at least 20 ms apart: results of steps
//! that end within 20 ms of the last commit wait for the next one and share it (a commit
//! costs more than a trivial step, and rewrites the index pages it touches). A run killed
//! part-way, even with `SIGKILL`, thus leaves every step recorded that ended more than 20 ms
//! before, and the run marked incomplete (`complete = 0`, `ended_at` NULL).
//! Commits are not synced to disk one by one (`synchronous = NORMAL`): a power cut may lose
//! the last results, never the file.
//!
//! A file that is not an SQLite database, an SQLite database that holds other tables, or a
//! store from a newer `runbook` is refused with exit status 2 and never changed: move it away
//! to start a new store.
//!
//! # Tables
//!
//! Times are UTC, RFC 3339 with milliseconds (`2026-11-25T10:00:00.123Z`), so they sort as
//! text. Paths are relative to the project folder, with `/` (`runbooks/ntp.md`).
//!
//! `runs`: one row per run.
//!
//! | column | meaning |
//! |---|---|
//! | `id` | integer, grows with each run |
//! | `started_at`, `ended_at` | when it began and ended; `ended_at` is NULL until it ends |
//! | `origin` | `cli` (`runbook run`, `runbook update`) or `web` (a Run button in the site) |
//! | `command` | the command line, arguments joined by spaces |
//! | `user` | the OS user who ran it |
//! | `machine`, `pid` | the host name of the machine that ran `runbook`, and its process id |
//! | `exit_status` | 0, 1, 2 or 3 as SPEC §3; NULL until it ends |
//! | `complete` | 1 once the run ended normally, 0 before (and forever, for a killed run) |
//!
//! `run_runbooks`: one row per runbook in a run (`run_id`, `runbook`, `title`, `started_at`,
//! `ended_at`, `status`); `ended_at` and `status` are NULL until the runbook ends.
//!
//! `results`: one row per step and host, written as the step ends. The columns are the JSON
//! report's (SPEC §3.2) plus where and when.
//!
//! | column | meaning |
//! |---|---|
//! | `id` | integer, grows with each result |
//! | `run_id` | the `runs` row |
//! | `runbook`, `step`, `host` | the runbook's path, the step id, the host |
//! | `line` | line of the block's opening fence |
//! | `status` | `passed`, `failed`, `error`, `skipped` or `manual` |
//! | `skip_reason` | for `skipped`: `not_selected` (`--only`/`--from`), `earlier_failure`, `requires` |
//! | `exit_code` | the command's exit status; NULL where none ran |
//! | `duration_ms`, `attempts` | how long it took, how many tries (`retry=`) |
//! | `expected`, `actual`, `diff` | expected and actual output (normalised), the unified diff |
//! | `message` | for errors and skips: what happened, in one line |
//! | `notes` | matcher notes, one a line |
//! | `started_at`, `ended_at` | when the step started and ended |
//!
//! `expected`, `actual` and `diff` are each capped at 256 KiB; a longer text is cut at a
//! character boundary and ends with the line `[runbook: N more bytes not stored]`. Secrets are
//! already replaced by `[secret:NAME]` when output reaches the store.
//!
//! `latest`: one row per step and host that has been tried (`runbook`, `step`, `host`,
//! `result_id`: its newest result, `last_passed`: `started_at` of its newest passed result,
//! NULL if it never passed), updated with each result. A step that `--only`/`--from` left out
//! of a run is not updated: it keeps the result it was last tried in. The site, `history` and
//! `build` read this table, so their cost follows the number of steps, not the history.
//!
//! `manual_checks`: manual steps ticked in the site, the current state of each
//! (`runbook`, `step`, `host`, `checked` 0 or 1, `at`, `user`).
//!
//! Indexes: `results_by_run` (`run_id`), and the primary keys. Version 1 had two more on
//! `results`; version 2 replaced them with `latest` (every run of a long runbook rewrote pages
//! all over the one by step, and it grew with the history).
//! # Queries
//!
//! ```sh
//! sqlite3 -header -column .runbook/runs.sqlite
//! ```
//! ```sql
//! -- When did step ntp-peers of runbooks/ntp.md last pass on controller3?
//! SELECT last_passed FROM latest
//!  WHERE runbook = 'runbooks/ntp.md' AND step = 'ntp-peers' AND host = 'controller3';
//! -- The last ten runs, newest first.
//! SELECT id, started_at, origin, user, exit_status, complete, command
//!   FROM runs ORDER BY id DESC LIMIT 10;
//! -- What failed in the latest run.
//! SELECT runbook, step, host, status, message FROM results
//!  WHERE run_id = (SELECT max(id) FROM runs) AND status IN ('failed', 'error');
//! ```
//!
//! # Reading it from code
//!
//! [`Store::open_read`] never creates anything: without a file it is an empty store.
//! [`Store::latest`] gives the latest result of each step on each host with when it last
//! passed; [`Store::runs`] the last runs; [`Store::set_manual`] and [`Store::manual_checks`]
//! store and read the site's ticks; [`Store::check_requires`] answers `requires`.

mod open;
mod query;
mod record;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use serde::Serialize;

use crate::diag::{Diagnostic, Exit};
use crate::exec::runner::{RequiresCheck, Sink};
use crate::project::Project;

pub use open::Mode;
pub use query::Filter;
pub use record::StoreSink;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// How long a write waits for another process's write to end.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Each of `expected`, `actual` and `diff` is cut to this many bytes.
pub const TEXT_CAP: usize = 256 * 1024;

/// What can go wrong with the store file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not a run store: the file is not an SQLite database")]
    NotADatabase,
    #[error("not a run store: an SQLite database with other tables")]
    Foreign,
    #[error("the run store has schema version {found}, newer than this runbook knows ({known})")]
    Newer { found: i64, known: i64 },
    #[error("the run store was opened read-only")]
    ReadOnly,
    #[error("cannot create {0}")]
    Create(String, #[source] std::io::Error),
    #[error("cannot read it: {0}")]
    Io(#[source] std::io::Error),
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// `PATH: message`, with the fix spelled out where there is one.
    pub fn diagnostic(&self, path: &Path) -> Diagnostic {
        let shown = crate::project::display_path(path);
        let d = match self {
            StoreError::Create(what, e) => {
                return Diagnostic::at_path(
                    crate::project::display_path(Path::new(what)),
                    format!("cannot create it: {e}"),
                )
            }
            StoreError::Sqlite(e) => {
                Diagnostic::at_path(&shown, format!("cannot use the run store: {e}"))
            }
            _ => Diagnostic::at_path(&shown, self.to_string()),
        };
        match self {
            StoreError::NotADatabase | StoreError::Foreign => d.with_help(format!(
                "runbook leaves it as it is; move it away (`mv {shown} {shown}.old`) and a new store is started"
            )),
            StoreError::Newer { .. } => d.with_help(format!(
                "use a newer runbook, or move the file away (`mv {shown} {shown}.new`) to start a new store"
            )),
            _ => d,
        }
    }
}

/// An open store: a connection shared by the run's sink, the `requires` check and readers.
/// Without a file (read-only open), every read is empty.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    conn: Option<Arc<Mutex<Connection>>>,
    writable: bool,
}

/// The latest result of one step on one host, with when it last passed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatestResult {
    pub runbook: String,
    /// The step id.
    pub step: String,
    pub host: String,
    pub line: i64,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// When this result's step started.
    pub when: String,
    /// When the step last passed on this host (this result or an earlier one), if ever.
    pub last_passed: Option<String>,
    pub run_id: i64,
    pub exit_code: Option<i64>,
    pub duration_ms: i64,
    pub attempts: i64,
    pub expected: String,
    pub actual: String,
    pub diff: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the step is ticked in the site (manual steps; `None`: never ticked nor unticked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    /// The matcher's explanations ("offset 187.330 differs from -0.620 by more than 50").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One run, with its step counts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub origin: String,
    pub command: String,
    pub user: String,
    pub exit_status: Option<i64>,
    pub complete: bool,
    /// Runbooks of the run, in the order they ran.
    pub runbooks: Vec<String>,
    pub summary: crate::outcome::Summary,
}

/// A manual step's tick, as the site stored it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ManualCheck {
    pub runbook: String,
    pub step: String,
    pub host: String,
    pub checked: bool,
    pub at: String,
    pub user: String,
}

impl Store {
    /// Opens the project's store for writing, creating `.runbook/` and the file if missing.
    pub fn open(project: &Project) -> Result<Store, Diagnostic> {
        let path = project.store_path();
        Store::open_path(&path, Mode::Write).map_err(|e| e.diagnostic(&path))
    }

    /// Opens the project's store for reading. Creates nothing: without a file the store is
    /// empty. A store from an older `runbook` is migrated in place.
    pub fn open_read(project: &Project) -> Result<Store, Diagnostic> {
        let path = project.store_path();
        Store::open_path(&path, Mode::Read).map_err(|e| e.diagnostic(&path))
    }

    /// Opens a store file by path (tests, tools).
    pub fn open_path(path: &Path, mode: Mode) -> Result<Store, StoreError> {
        let conn = open::open(path, mode)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: conn.map(|c| Arc::new(Mutex::new(c))),
            writable: mode == Mode::Write,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// False when opened read-only and there is no store file (nothing recorded yet).
    pub fn exists(&self) -> bool {
        self.conn.is_some()
    }

    /// Starts recording a run. `origin` is `cli` or `web`; `command` what started it.
    pub fn begin_run(&self, origin: &str, command: &str) -> Result<RunStore, StoreError> {
        let conn = self.writable_conn()?;
        let run_id = record::insert_run(&conn, origin, command)?;
        Ok(RunStore {
            store: self.clone(),
            sink: Arc::new(StoreSink::new(conn, self.path.clone(), run_id)),
            run_id,
        })
    }

    fn writable_conn(&self) -> Result<Arc<Mutex<Connection>>, StoreError> {
        match (&self.conn, self.writable) {
            (Some(c), true) => Ok(c.clone()),
            _ => Err(StoreError::ReadOnly),
        }
    }

    /// Ticks or unticks a manual step on a host.
    pub fn set_manual(
        &self,
        runbook: &str,
        step: &str,
        host: &str,
        checked: bool,
    ) -> Result<(), StoreError> {
        let conn = self.writable_conn()?;
        let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        record::set_manual(&mut conn, runbook, step, host, checked)
    }

    /// The ticks stored for a runbook (or a folder of them; `None`: every runbook).
    pub fn manual_checks(&self, runbook: Option<&str>) -> Result<Vec<ManualCheck>, StoreError> {
        let filter = Filter::one(runbook, None);
        self.read(|c| query::manual_checks(c, &filter))
    }

    /// The latest result of each step on each host, with when it last passed, for a runbook
    /// (or a folder of them; `None`: all) and a host (`None`: all). Ordered by runbook, line,
    /// step and host. Steps that `--only`/`--from` left out of a run keep their earlier result.
    pub fn latest(
        &self,
        runbook: Option<&str>,
        host: Option<&str>,
    ) -> Result<Vec<LatestResult>, StoreError> {
        self.latest_in(&Filter::one(runbook, host))
    }

    /// [`Store::latest`] for several runbooks or folders at once.
    pub fn latest_in(&self, filter: &Filter) -> Result<Vec<LatestResult>, StoreError> {
        self.read(|c| query::latest(c, filter))
    }

    /// The last `limit` runs that touched the filter's runbooks and host, newest first.
    pub fn runs(&self, filter: &Filter, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        self.read(|c| query::runs(c, filter, limit))
    }

    /// `requires` (SPEC §1): whether the latest recorded run of `runbook` (project-relative)
    /// passed on each of `hosts` (every step result of that run on the host passed or is
    /// manual). `Err` says why not, in one line.
    pub fn check_requires(&self, runbook: &str, hosts: &[String]) -> Result<(), String> {
        let Some(conn) = &self.conn else {
            return Err(format!("{runbook} has never run"));
        };
        let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        query::check_requires(&conn, runbook, hosts).unwrap_or_else(|e| {
            Err(format!(
                "cannot read the run store {}: {e}",
                crate::project::display_path(&self.path)
            ))
        })
    }

    fn read<T: Default>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        match &self.conn {
            None => Ok(T::default()),
            Some(c) => {
                let c = c.lock().unwrap_or_else(|e| e.into_inner());
                Ok(f(&c)?)
            }
        }
    }
}

/// A run being recorded.
pub struct RunStore {
    store: Store,
    sink: Arc<StoreSink>,
    run_id: i64,
}

/// Opens the project's store and starts recording a run with this process's command line.
pub fn open_for_run(project: &Project, origin: &str) -> Result<RunStore, Diagnostic> {
    let store = Store::open(project)?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    store
        .begin_run(origin, &command)
        .map_err(|e| e.diagnostic(store.path()))
}

impl RunStore {
    pub fn id(&self) -> i64 {
        self.run_id
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The `requires` check the runner calls for required runbooks outside this run.
    pub fn requires_check(&self) -> Arc<RequiresCheck> {
        let store = self.store.clone();
        Arc::new(move |path: &str, hosts: &[String]| store.check_requires(path, hosts))
    }

    /// The sink that records each step as it ends.
    pub fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    /// Marks the run complete with its exit status.
    pub fn finish(&self, exit: Exit) {
        self.sink.finish(exit);
    }
}

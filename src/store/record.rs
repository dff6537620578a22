//! Writing: the run row, the [`StoreSink`] that records each step as it ends, and the site's
//! manual ticks. Each write is one short `BEGIN IMMEDIATE` transaction: taking the write lock
//! up front lets the busy timeout apply, where a read upgraded to a write would fail at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::TEXT_CAP;
use crate::diag::Exit;
use crate::exec::runner::{Event, Sink};
use crate::outcome::StepResult;

/// Records a run's events in the store. A write that fails prints one warning and the run
/// goes on: losing the record is better than stopping a half-done change on a host.
pub struct StoreSink {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    run_id: i64,
    warned: AtomicBool,
}

impl StoreSink {
    pub(super) fn new(conn: Arc<Mutex<Connection>>, path: PathBuf, run_id: i64) -> StoreSink {
        StoreSink {
            conn,
            path,
            run_id,
            warned: AtomicBool::new(false),
        }
    }

    fn write(&self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>) {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = write(&mut conn, f) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "runbook: warning: {}: cannot record this run: {e}",
                    crate::project::display_path(&self.path)
                );
            }
        }
    }

    pub(super) fn finish(&self, exit: Exit) {
        let id = self.run_id;
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET ended_at = ?1, exit_status = ?2, complete = 1 WHERE id = ?3",
                params![now(), exit.code(), id],
            )
            .map(drop)
        });
    }
}

impl Sink for StoreSink {
    fn event(&self, event: &Event<'_>) {
        let id = self.run_id;
        match event {
            Event::RunbookStarted { path, title } => self.write(|tx| {
                tx.execute(
                    "INSERT OR REPLACE INTO run_runbooks (run_id, runbook, title, started_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, path, title, now()],
                )
                .map(drop)
            }),
            Event::StepFinished { path, result, .. } => {
                self.write(|tx| insert_result(tx, id, path, result))
            }
            Event::RunbookFinished { result } => self.write(|tx| {
                tx.execute(
                    "UPDATE run_runbooks SET ended_at = ?1, status = ?2 \
                     WHERE run_id = ?3 AND runbook = ?4",
                    params![now(), result.status.as_str(), id, result.path],
                )
                .map(drop)
            }),
            Event::StepStarted { .. } | Event::Output { .. } => {}
        }
    }
}

fn write(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    f(&tx)?;
    tx.commit()
}

fn insert_result(
    tx: &Transaction<'_>,
    run_id: i64,
    runbook: &str,
    r: &StepResult,
) -> rusqlite::Result<()> {
    let skip_reason = r.skip_reason.map(|s| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    });
    tx.execute(
        "INSERT INTO results (run_id, runbook, step, host, line, status, skip_reason, exit_code, \
         duration_ms, attempts, expected, actual, diff, message, notes, started_at, ended_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            run_id,
            runbook,
            r.id,
            r.host,
            r.line as i64,
            r.status.as_str(),
            skip_reason,
            r.exit_code,
            r.duration_ms as i64,
            r.attempts,
            cap(&r.expected),
            cap(&r.actual),
            cap(&r.diff),
            r.message,
            r.notes.join("\n"),
            normalize_time(&r.started_at),
            now(),
        ],
    )
    .map(drop)
}

/// Inserts the run row and returns its id.
pub(super) fn insert_run(
    conn: &Mutex<Connection>,
    origin: &str,
    command: &str,
) -> Result<i64, super::StoreError> {
    let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
    let machine = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut id = 0;
    write(&mut conn, |tx| {
        tx.execute(
            "INSERT INTO runs (started_at, origin, command, user, machine, pid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now(), origin, command, user(), machine, std::process::id()],
        )?;
        id = tx.last_insert_rowid();
        Ok(())
    })?;
    Ok(id)
}

pub(super) fn set_manual(
    conn: &mut Connection,
    runbook: &str,
    step: &str,
    host: &str,
    checked: bool,
) -> Result<(), super::StoreError> {
    write(conn, |tx| {
        tx.execute(
            "INSERT INTO manual_checks (runbook, step, host, checked, at, user) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (runbook, step, host) DO UPDATE SET \
             checked = excluded.checked, at = excluded.at, user = excluded.user",
            params![runbook, step, host, checked, now(), user()],
        )
        .map(drop)
    })?;
    Ok(())
}

/// The OS user running this process.
pub fn user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| uid.to_string())
}

const TIME_FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// Now, in the store's time format (UTC, milliseconds: sorts as text).
pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

fn format_time(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(TIME_FORMAT)
        .unwrap_or_default()
}

/// An RFC 3339 time in the store's format; kept as given if it does not parse.
pub fn normalize_time(rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(format_time)
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// Cuts a text to [`TEXT_CAP`] bytes at a character boundary, saying how much was left out.
pub fn cap(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= TEXT_CAP {
        return text.into();
    }
    let mut end = TEXT_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "[runbook: {} more bytes not stored]",
        text.len() - end
    ));
    out.into()
}

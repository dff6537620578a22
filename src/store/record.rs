//! Writing: the run row, the [`StoreSink`] that records each step as it ends, and the site's
//! manual ticks. Each write is one short `BEGIN IMMEDIATE` transaction: taking the write lock
//! up front lets the busy timeout apply, where a read upgraded to a write would fail at once.

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::TEXT_CAP;
use crate::diag::Exit;
use crate::exec::runner::{Event, Sink};
use crate::outcome::{SkipReason, Status, StepResult};

/// Records a run's events in the store. The runner only queues each record; a writer thread
/// commits whatever is queued in one short transaction, so recording costs the run almost
/// nothing. A record is committed at once when the last commit is at least
/// [`COMMIT_INTERVAL`] old (every step of ordinary length), otherwise when the interval is
/// up, together with whatever else came in meanwhile: a commit costs about as much as a
/// trivial step, so steps that end in quick succession share one. A run killed part-way thus
/// loses at most the records of its last [`COMMIT_INTERVAL`].
/// A write that fails prints one warning and the run goes on: losing the record is better
/// than stopping a half-done change on a host.
pub struct StoreSink {
    queue: Mutex<Option<mpsc::Sender<Record>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The shortest time between two commits of one run's records.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(20);

/// One queued write, owning its data.
enum Record {
    RunbookStarted {
        path: String,
        title: String,
        at: String,
    },
    Step {
        path: String,
        result: Box<StepResult>,
    },
    RunbookFinished {
        path: String,
        status: &'static str,
        at: String,
    },
    Finish {
        exit: u8,
        at: String,
    },
}

impl StoreSink {
    pub(super) fn new(conn: Arc<Mutex<Connection>>, path: PathBuf, run_id: i64) -> StoreSink {
        let (tx, rx) = mpsc::channel::<Record>();
        let writer = std::thread::Builder::new()
            .name("runbook-store".into())
            .spawn(move || {
                let mut warned = false;
                let mut last_commit: Option<Instant> = None;
                while let Ok(first) = rx.recv() {
                    if let Some(wait) =
                        last_commit.and_then(|at| COMMIT_INTERVAL.checked_sub(at.elapsed()))
                    {
                        // `flush` cuts the wait short: the run is over.
                        std::thread::park_timeout(wait);
                    }
                    let batch: Vec<Record> = std::iter::once(first).chain(rx.try_iter()).collect();
                    let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let written = write(&mut conn, |tx| {
                        batch.iter().try_for_each(|r| write_record(tx, run_id, r))
                    });
                    last_commit = Some(Instant::now());
                    if let Err(e) = written {
                        if !warned {
                            warned = true;
                            eprintln!(
                                "runbook: warning: {}: cannot record this run: {e}",
                                crate::project::display_path(&path)
                            );
                        }
                    }
                }
            })
            .ok();
        StoreSink {
            queue: Mutex::new(writer.as_ref().map(|_| tx)),
            writer: Mutex::new(writer),
        }
    }

    fn queue(&self, record: Record) {
        if let Some(q) = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = q.send(record);
        }
    }

    /// Marks the run complete and waits until everything queued is written.
    pub(super) fn finish(&self, exit: Exit) {
        self.queue(Record::Finish {
            exit: exit.code(),
            at: now(),
        });
        self.flush();
    }

    /// Closes the queue and waits for the writer to write the rest.
    fn flush(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.thread().unpark();
            let _ = w.join();
        }
    }
}

/// A run that ends without `finish` (cancelled from the site) still has what it queued
/// written; it stays marked incomplete.
impl Drop for StoreSink {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Sink for StoreSink {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::RunbookStarted { path, title } => self.queue(Record::RunbookStarted {
                path: path.to_string(),
                title: title.to_string(),
                at: now(),
            }),
            Event::StepFinished { path, result, .. } => {
                let mut result = StepResult::clone(result);
                // What the store does not keep need not be copied to the writer.
                result.checks.clear();
                self.queue(Record::Step {
                    path: path.to_string(),
                    result: Box::new(result),
                })
            }
            Event::RunbookFinished { result } => self.queue(Record::RunbookFinished {
                path: result.path.clone(),
                status: result.status.as_str(),
                at: now(),
            }),
            Event::StepStarted { .. } | Event::Output { .. } => {}
        }
    }
}

fn write_record(tx: &Transaction<'_>, id: i64, record: &Record) -> rusqlite::Result<()> {
    match record {
        Record::RunbookStarted { path, title, at } => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO run_runbooks (run_id, runbook, title, started_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, path, title, at])
            .map(drop),
        Record::Step { path, result } => insert_result(tx, id, path, result),
        Record::RunbookFinished { path, status, at } => tx
            .prepare_cached(
                "UPDATE run_runbooks SET ended_at = ?1, status = ?2 \
                 WHERE run_id = ?3 AND runbook = ?4",
            )?
            .execute(params![at, status, id, path])
            .map(drop),
        Record::Finish { exit, at } => tx
            .prepare_cached(
                "UPDATE runs SET ended_at = ?1, exit_status = ?2, complete = 1 WHERE id = ?3",
            )?
            .execute(params![at, exit, id])
            .map(drop),
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
    let started_at = normalize_time(&r.started_at);
    tx.prepare_cached(
        "INSERT INTO results (run_id, runbook, step, host, line, status, skip_reason, exit_code, \
         duration_ms, attempts, expected, actual, diff, message, notes, started_at, ended_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
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
        started_at,
        now(),
    ])?;
    // A step that --only/--from left out was not tried: its latest result stays.
    if r.skip_reason == Some(SkipReason::NotSelected) {
        return Ok(());
    }
    let passed_at = (r.status == Status::Passed).then_some(started_at.as_str());
    tx.prepare_cached(
        "INSERT INTO latest (runbook, step, host, result_id, last_passed)          VALUES (?1, ?2, ?3, ?4, ?5)          ON CONFLICT (runbook, step, host) DO UPDATE SET result_id = excluded.result_id,          last_passed = coalesce(excluded.last_passed, latest.last_passed)",
    )?
    .execute(params![
        runbook,
        r.id,
        r.host,
        tx.last_insert_rowid(),
        passed_at
    ])
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

/// Now, in the store's time format (UTC, milliseconds: sorts as text).
pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

fn format_time(t: time::OffsetDateTime) -> String {
    // Digits pushed by hand: this runs twice per result, and both `format!` with padding and
    // the `time` crate's format descriptions cost thousands of instructions a call.
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = String::with_capacity(24);
    let mut digits = |value: u32, width: u32, after: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
        out.push(after);
    };
    digits(t.year().clamp(0, 9999) as u32, 4, '-');
    digits(u8::from(t.month()).into(), 2, '-');
    digits(t.day().into(), 2, 'T');
    digits(t.hour().into(), 2, ':');
    digits(t.minute().into(), 2, ':');
    digits(t.second().into(), 2, '.');
    digits(t.millisecond().into(), 3, 'Z');
    out
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

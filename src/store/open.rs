//! Opening the store file: refuse what is not ours before SQLite may touch it, then WAL mode,
//! the busy timeout and the migrations (`PRAGMA user_version`).
//!
//! Order matters for "never changed": the first 16 bytes are checked by hand (SQLite could
//! otherwise roll a stray `-journal` into a file that is not a database), and the version is
//! read before anything is written; switching to WAL writes the header, so it comes after.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::{StoreError, BUSY_TIMEOUT, SCHEMA_VERSION};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Create the folder and the file if missing; write.
    Write,
    /// Create nothing; `None` without a file.
    Read,
}

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The schema, one entry per version: entry `i` takes `user_version` `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    origin      TEXT    NOT NULL,
    command     TEXT    NOT NULL,
    user        TEXT    NOT NULL,
    machine     TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    exit_status INTEGER,
    complete    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE run_runbooks (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    runbook     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    status      TEXT,
    PRIMARY KEY (run_id, runbook)
);
CREATE TABLE results (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    runbook     TEXT    NOT NULL,
    step        TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    line        INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    skip_reason TEXT,
    exit_code   INTEGER,
    duration_ms INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    expected    TEXT    NOT NULL,
    actual      TEXT    NOT NULL,
    diff        TEXT    NOT NULL,
    message     TEXT,
    notes       TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT    NOT NULL
);
CREATE INDEX results_by_step ON results (runbook, step, host, id);
CREATE INDEX results_by_host ON results (runbook, host, run_id);
CREATE INDEX results_by_run ON results (run_id);
CREATE TABLE manual_checks (
    runbook     TEXT    NOT NULL,
    step        TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    checked     INTEGER NOT NULL,
    at          TEXT    NOT NULL,
    user        TEXT    NOT NULL,
    PRIMARY KEY (runbook, step, host)
);
"#,
    // 2: each step's latest result in a table of its own, upserted as results come. It replaces
    // the index over (runbook, step, host, id), which every run of a long runbook touched all
    // over (a page of WAL per few steps) and which grew with the history, and the index over
    // (runbook, host, run_id); `requires` finds runs through `run_runbooks` and `results_by_run`.
    r#"
CREATE TABLE latest (
    runbook     TEXT    NOT NULL,
    step        TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    result_id   INTEGER NOT NULL REFERENCES results(id),
    last_passed TEXT,
    PRIMARY KEY (runbook, step, host)
) WITHOUT ROWID;
INSERT INTO latest (runbook, step, host, result_id, last_passed)
SELECT r.runbook, r.step, r.host, r.id,
       (SELECT p.started_at FROM results p
         WHERE p.runbook = r.runbook AND p.step = r.step AND p.host = r.host
           AND p.status = 'passed'
         ORDER BY p.id DESC LIMIT 1)
  FROM results r
 WHERE r.id IN (SELECT max(x.id) FROM results x
                 WHERE x.skip_reason IS NULL OR x.skip_reason <> 'not_selected'
                 GROUP BY x.runbook, x.step, x.host);
DROP INDEX results_by_step;
DROP INDEX results_by_host;
"#,
];

/// Opens (and for `Write`, creates and migrates) the store at `path`.
pub fn open(path: &Path, mode: Mode) -> Result<Option<Connection>, StoreError> {
    match mode {
        Mode::Read => {
            if !path.exists() {
                return Ok(None);
            }
            check_magic(path)?;
            let read_only = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(classify)?;
            read_only.busy_timeout(BUSY_TIMEOUT)?;
            let (conn, version) = match check_version(&read_only) {
                // A run killed part-way leaves a WAL (or a journal) that only a writer may
                // recover; the file is known to be an SQLite database by now.
                Err(StoreError::Sqlite(e))
                    if e.sqlite_error_code() == Some(ErrorCode::ReadOnly) =>
                {
                    drop(read_only);
                    let conn = Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(classify)?;
                    conn.busy_timeout(BUSY_TIMEOUT)?;
                    let version = check_version(&conn)?;
                    (conn, version)
                }
                other => (read_only, other?),
            };
            if version == SCHEMA_VERSION {
                Ok(Some(conn))
            } else if version == 0 {
                // An empty file: nothing recorded yet.
                Ok(None)
            } else {
                drop(conn);
                open(path, Mode::Write)
            }
        }
        Mode::Write => {
            if let Some(dir) = path.parent() {
                create_folder(dir)?;
            }
            if path.exists() {
                check_magic(path)?;
            }
            let conn = Connection::open(path).map_err(classify)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            check_version(&conn)?;
            set_wal(&conn)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Closing would otherwise fold the whole log into the file, with two syncs, as the
            // run ends; SQLite does it anyway, in the writer thread, once the log holds 1000
            // pages.
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
            let mut conn = conn;
            migrate(&mut conn)?;
            Ok(Some(conn))
        }
    }
}

/// Creates `.runbook/` with its `.gitignore`.
fn create_folder(dir: &Path) -> Result<(), StoreError> {
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Create(shown.clone(), e))?;
    }
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# Written by runbook: the run store stays out of git.\n*\n",
        )
        .map_err(|e| StoreError::Create(ignore.display().to_string(), e))?;
    }
    Ok(())
}

/// An existing, non-empty file must start with SQLite's header.
fn check_magic(path: &Path) -> Result<(), StoreError> {
    let mut head = Vec::with_capacity(16);
    let file = std::fs::File::open(path).map_err(StoreError::Io)?;
    file.take(16)
        .read_to_end(&mut head)
        .map_err(StoreError::Io)?;
    if head.is_empty() || head == MAGIC {
        Ok(())
    } else {
        Err(StoreError::NotADatabase)
    }
}

fn classify(e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
        StoreError::NotADatabase
    } else {
        StoreError::Sqlite(e)
    }
}

/// Reads `user_version` without writing: newer than ours, or an SQLite database of somebody
/// else, is refused.
fn check_version(conn: &Connection) -> Result<i64, StoreError> {
    // One statement, so one snapshot: another process creating the store at this moment is
    // seen either before its migration or after it, never half-way (version 0 with tables).
    let (version, tables): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), \
                    (SELECT count(*) FROM sqlite_master)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(classify)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == 0 && tables > 0 {
        return Err(StoreError::Foreign);
    }
    Ok(version)
}

/// Switches to WAL. Another process switching at the same moment can make this busy even with
/// a busy timeout, so it is retried for as long.
fn set_wal(conn: &Connection) -> Result<(), StoreError> {
    let start = Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(classify(e)),
        }
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, re-reading the version under
/// the write lock so that two processes creating the store at once migrate it once.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

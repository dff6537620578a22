//! Reading: the latest result of each step on each host, the last runs, manual ticks, and the
//! `requires` check. Pure SQL over the tables documented in the module above.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use super::{LatestResult, ManualCheck, RunSummary};
use crate::outcome::{Status, Summary};

/// Which results to read: runbooks (files or folders, project-relative; empty: all) and a
/// host (`None`: all).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub runbooks: Vec<String>,
    pub host: Option<String>,
}

impl Filter {
    pub fn one(runbook: Option<&str>, host: Option<&str>) -> Filter {
        Filter {
            runbooks: runbook.map(str::to_string).into_iter().collect(),
            host: host.map(str::to_string),
        }
    }

    /// The runbook paths, without trailing `/`; `None` when one of them is the whole project.
    fn prefixes(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for p in &self.runbooks {
            let p = p.trim_end_matches('/');
            let p = p.strip_prefix("./").unwrap_or(p);
            if p.is_empty() || p == "." {
                return None;
            }
            out.push(p.to_string());
        }
        (!out.is_empty()).then_some(out)
    }

    /// ` AND (...)` over the columns `{t}.runbook` and (if `with_host`) `{t}.host`, pushing its
    /// values onto `values` (numbered parameters continue from there).
    fn clause(&self, t: &str, with_host: bool, values: &mut Vec<Value>) -> String {
        let mut sql = String::new();
        if let Some(prefixes) = self.prefixes() {
            let mut any = Vec::new();
            for p in prefixes {
                values.push(Value::Text(p));
                let n = values.len();
                // The file itself, or anything under it as a folder: the paths from `P/` up
                // to `P0` (`0` follows `/`), a range the indexes can seek.
                any.push(format!(
                    "{t}.runbook = ?{n} OR ({t}.runbook >= ?{n} || '/' AND {t}.runbook < ?{n} || '0')"
                ));
            }
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        if let (true, Some(h)) = (with_host, &self.host) {
            values.push(Value::Text(h.clone()));
            sql.push_str(&format!(" AND {t}.host = ?{}", values.len()));
        }
        sql
    }
}

pub fn latest(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<LatestResult>> {
    let mut values = Vec::new();
    let clause = filter.clause("l", true, &mut values);
    // `latest` holds each step's latest tried result (see the schema).
    let sql = format!(
        "SELECT k.runbook, k.step, k.host, k.line, k.status, k.skip_reason, k.started_at,
                l.last_passed,
                k.run_id, k.exit_code, k.duration_ms, k.attempts, k.expected, k.actual, k.diff,
                k.message, m.checked, k.notes
           FROM latest l
           JOIN results k ON k.id = l.result_id
           LEFT JOIN manual_checks m
             ON m.runbook = l.runbook AND m.step = l.step AND m.host = l.host
          WHERE 1{clause}
          ORDER BY k.runbook, k.line, k.step, k.host"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
        Ok(LatestResult {
            runbook: r.get(0)?,
            step: r.get(1)?,
            host: r.get(2)?,
            line: r.get(3)?,
            status: r.get(4)?,
            skip_reason: r.get(5)?,
            when: r.get(6)?,
            last_passed: r.get(7)?,
            run_id: r.get(8)?,
            exit_code: r.get(9)?,
            duration_ms: r.get(10)?,
            attempts: r.get(11)?,
            expected: r.get(12)?,
            actual: r.get(13)?,
            diff: r.get(14)?,
            message: r.get(15)?,
            checked: r.get(16)?,
            notes: r
                .get::<_, Option<String>>(17)?
                .map(|n| n.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        })
    })?;
    rows.collect()
}

pub fn runs(conn: &Connection, filter: &Filter, limit: usize) -> rusqlite::Result<Vec<RunSummary>> {
    let mut values = Vec::new();
    let mut sql = String::from(
        "SELECT id, started_at, ended_at, origin, command, user, exit_status, complete FROM runs u WHERE 1",
    );
    if filter.prefixes().is_some() {
        let c = filter.clause("b", false, &mut values);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM run_runbooks b WHERE b.run_id = u.id{c})"
        ));
    }
    if filter.host.is_some() {
        let c = filter.clause("r", true, &mut values);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM results r WHERE r.run_id = u.id{c})"
        ));
    }
    values.push(Value::Integer(limit.min(i64::MAX as usize) as i64));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", values.len()));
    let mut stmt = conn.prepare(&sql)?;
    let mut runs: Vec<RunSummary> = stmt
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok(RunSummary {
                id: r.get(0)?,
                started_at: r.get(1)?,
                ended_at: r.get(2)?,
                origin: r.get(3)?,
                command: r.get(4)?,
                user: r.get(5)?,
                exit_status: r.get(6)?,
                complete: r.get(7)?,
                runbooks: Vec::new(),
                summary: Summary::default(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut books =
        conn.prepare("SELECT runbook FROM run_runbooks WHERE run_id = ?1 ORDER BY rowid")?;
    let mut counts =
        conn.prepare("SELECT status, count(*) FROM results WHERE run_id = ?1 GROUP BY status")?;
    for run in &mut runs {
        run.runbooks = books
            .query_map([run.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let rows = counts.query_map([run.id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
        })?;
        for row in rows {
            let (status, n) = row?;
            let s = &mut run.summary;
            match Status::parse(&status) {
                Some(Status::Passed) => s.passed += n,
                Some(Status::Failed) => s.failed += n,
                Some(Status::Error) => s.errors += n,
                Some(Status::Skipped) => s.skipped += n,
                Some(Status::Manual) => s.manual += n,
                None => {}
            }
        }
    }
    Ok(runs)
}

pub fn manual_checks(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<ManualCheck>> {
    let mut values = Vec::new();
    let c = filter.clause("m", true, &mut values);
    let sql = format!(
        "SELECT runbook, step, host, checked, at, user FROM manual_checks m WHERE 1{c} \
         ORDER BY runbook, step, host"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
        Ok(ManualCheck {
            runbook: r.get(0)?,
            step: r.get(1)?,
            host: r.get(2)?,
            checked: r.get(3)?,
            at: r.get(4)?,
            user: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// `2026-11-25 10:00 UTC` from a stored time.
pub fn short_time(t: &str) -> String {
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t.to_string(),
    }
}

/// See [`super::Store::check_requires`]. The outer `Result` is the store's, the inner the
/// answer.
pub fn check_requires(
    conn: &Connection,
    runbook: &str,
    hosts: &[String],
) -> rusqlite::Result<Result<(), String>> {
    if hosts.is_empty() {
        let last: Option<(String, Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT started_at, ended_at, status FROM run_runbooks WHERE runbook = ?1 \
                 ORDER BY run_id DESC LIMIT 1",
                [runbook],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        return Ok(match last {
            None => Err(format!("{runbook} has never run")),
            Some((when, None, _)) => Err(format!(
                "{runbook} last ran {} and did not finish",
                short_time(&when)
            )),
            Some((_, _, Some(s))) if s == "passed" => Ok(()),
            Some((when, _, status)) => Err(format!(
                "{runbook} last ran {} and {}",
                short_time(&when),
                status.unwrap_or_default()
            )),
        });
    }
    for host in hosts {
        let run: Option<i64> = conn
            .query_row(
                "SELECT b.run_id FROM run_runbooks b WHERE b.runbook = ?1 \
                    AND EXISTS (SELECT 1 FROM results r \
                                 WHERE r.run_id = b.run_id AND r.runbook = ?1 AND r.host = ?2) \
                  ORDER BY b.run_id DESC LIMIT 1",
                params![runbook, host],
                |r| r.get(0),
            )
            .optional()?;
        let Some(run) = run else {
            return Ok(Err(format!("{runbook} has never run on {host}")));
        };
        let (when, ended): (String, Option<String>) = conn.query_row(
            "SELECT coalesce(b.started_at, u.started_at), \
                        CASE WHEN b.run_id IS NULL THEN u.ended_at ELSE b.ended_at END \
                   FROM runs u LEFT JOIN run_runbooks b ON b.run_id = u.id AND b.runbook = ?2 \
                  WHERE u.id = ?1",
            params![run, runbook],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let when = short_time(&when);
        let bad: Option<(String, String, Option<String>)> = conn
            .query_row(
                "SELECT step, status, message FROM results \
                  WHERE run_id = ?1 AND runbook = ?2 AND host = ?3 \
                    AND status NOT IN ('passed', 'manual') ORDER BY id LIMIT 1",
                params![run, runbook, host],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match bad {
            Some((step, status, message)) if status == "skipped" => {
                let why = message.map(|m| format!(" ({m})")).unwrap_or_default();
                return Ok(Err(format!(
                    "{runbook} last ran {when} and did not pass on {host}: step `{step}` was skipped{why}"
                )));
            }
            Some((step, status, _)) => {
                let how = if status == "error" {
                    " (could not execute)"
                } else {
                    ""
                };
                return Ok(Err(format!(
                    "{runbook} last ran {when} and failed on {host} at step `{step}`{how}"
                )));
            }
            None if ended.is_none() => {
                return Ok(Err(format!(
                    "{runbook} last ran {when} and did not finish on {host} (interrupted, or still running)"
                )));
            }
            None => {}
        }
    }
    Ok(Ok(()))
}

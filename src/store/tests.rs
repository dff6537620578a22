use std::sync::Arc;

use super::open::Mode;
use super::*;
use crate::exec::runner::Event;
use crate::outcome::{RunbookResult, SkipReason, Status, StepResult};
use crate::source::SourceFile;

fn runbook() -> crate::doc::Runbook {
    let file = Arc::new(SourceFile::new("r.md", "# R\n".to_string()));
    crate::doc::parse(&file).0
}

fn result(id: &str, host: &str, status: Status) -> StepResult {
    StepResult {
        id: id.into(),
        host: host.into(),
        line: 3,
        status,
        exit_code: Some(0),
        duration_ms: 5,
        attempts: 1,
        expected: "x".into(),
        actual: "x".into(),
        diff: String::new(),
        message: None,
        skip_reason: None,
        notes: Vec::new(),
        started_at: crate::outcome::now_rfc3339(),
        checks: Vec::new(),
    }
}

/// Records one run of `path` with these results; `finished: false` leaves it as a killed run.
fn record(store: &Store, path: &str, results: &[StepResult], finished: bool) -> i64 {
    let run = store.begin_run("cli", "runbook run").unwrap();
    let rb = runbook();
    let sink = run.sink();
    sink.event(&Event::RunbookStarted { path, title: "R" });
    for r in results {
        sink.event(&Event::StepFinished {
            path,
            result: r,
            runbook: &rb,
        });
    }
    if finished {
        let rr = RunbookResult::new(path.into(), results.to_vec());
        sink.event(&Event::RunbookFinished { result: &rr });
        run.finish(crate::outcome::exit_of(&[rr]));
    }
    run.id()
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_path(&dir.path().join(".runbook/runs.sqlite"), Mode::Write).unwrap();
    (dir, store)
}

#[test]
fn open_read_without_a_file_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".runbook/runs.sqlite");
    let store = Store::open_path(&path, Mode::Read).unwrap();
    assert!(!store.exists());
    assert_eq!(store.latest(None, None).unwrap(), vec![]);
    assert!(store.set_manual("a.md", "s", "local", true).is_err());
    assert!(!dir.path().join(".runbook").exists());
}

#[test]
fn latest_keeps_results_of_steps_left_out_and_knows_the_last_pass() {
    let (_d, store) = temp_store();
    record(
        &store,
        "runbooks/a.md",
        &[result("s", "local", Status::Passed)],
        true,
    );
    record(
        &store,
        "runbooks/a.md",
        &[result("s", "local", Status::Failed)],
        true,
    );
    let mut left_out = result("s", "local", Status::Skipped);
    left_out.skip_reason = Some(SkipReason::NotSelected);
    let third = record(&store, "runbooks/a.md", &[left_out], true);
    let latest = store.latest(Some("runbooks"), Some("local")).unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].status, "failed");
    assert_eq!(latest[0].run_id, 2);
    assert!(latest[0].last_passed.as_deref().unwrap() <= latest[0].when.as_str());
    // The left-out step still shows in the runs.
    let runs = store.runs(&Filter::default(), 1).unwrap();
    assert_eq!((runs[0].id, runs[0].summary.skipped), (third, 1));
}

#[test]
fn filter_matches_files_and_folders_not_prefixes_of_names() {
    let (_d, store) = temp_store();
    for path in ["runbooks/a.md", "runbooks/ab/x.md", "runbooks/a/y.md"] {
        record(&store, path, &[result("s", "local", Status::Passed)], true);
    }
    let paths = |f: Option<&str>| -> Vec<String> {
        store
            .latest(f, None)
            .unwrap()
            .into_iter()
            .map(|r| r.runbook)
            .collect()
    };
    assert_eq!(paths(Some("runbooks/a")), ["runbooks/a/y.md"]);
    assert_eq!(paths(Some("runbooks/a/")), ["runbooks/a/y.md"]);
    assert_eq!(paths(Some("runbooks/a.md")), ["runbooks/a.md"]);
    assert_eq!(paths(Some(".")).len(), 3);
    assert_eq!(paths(None).len(), 3);
    assert_eq!(paths(Some("runbooks/a%")), Vec::<String>::new());
}

#[test]
fn requires_answers_per_host_from_the_latest_run() {
    let (_d, store) = temp_store();
    let hosts = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let rb = "runbooks/a.md";
    let e = store.check_requires(rb, &hosts(&["local"])).unwrap_err();
    assert_eq!(e, "runbooks/a.md has never run on local");
    assert_eq!(
        store.check_requires(rb, &[]).unwrap_err(),
        "runbooks/a.md has never run"
    );

    record(
        &store,
        rb,
        &[
            result("one", "c2", Status::Passed),
            result("one", "c3", Status::Passed),
            result("two", "c2", Status::Manual),
            result("two", "c3", Status::Error),
        ],
        true,
    );
    assert_eq!(store.check_requires(rb, &hosts(&["c2"])), Ok(()));
    let e = store.check_requires(rb, &hosts(&["c2", "c3"])).unwrap_err();
    assert!(
        e.starts_with("runbooks/a.md last ran ")
            && e.ends_with(" UTC and failed on c3 at step `two` (could not execute)"),
        "{e}"
    );
    assert_eq!(
        store.check_requires(rb, &hosts(&["c4"])).unwrap_err(),
        "runbooks/a.md has never run on c4"
    );
    assert!(store
        .check_requires(rb, &[])
        .unwrap_err()
        .ends_with(" and error"));

    // A later run on c3 alone that passes: c3 is fine, c2 still counts its own latest run.
    record(&store, rb, &[result("one", "c3", Status::Passed)], true);
    assert_eq!(store.check_requires(rb, &hosts(&["c2", "c3"])), Ok(()));
    assert_eq!(store.check_requires(rb, &[]), Ok(()));

    // Killed part-way: what it finished passed, but the runbook did not finish.
    record(&store, rb, &[result("one", "c3", Status::Passed)], false);
    let e = store.check_requires(rb, &hosts(&["c3"])).unwrap_err();
    assert!(e.contains("and did not finish on c3"), "{e}");
}

#[test]
fn manual_ticks_round_trip() {
    let (_d, store) = temp_store();
    record(
        &store,
        "runbooks/m.md",
        &[result("edit", "local", Status::Manual)],
        true,
    );
    assert_eq!(store.latest(None, None).unwrap()[0].checked, None);
    store
        .set_manual("runbooks/m.md", "edit", "local", true)
        .unwrap();
    store
        .set_manual("runbooks/m.md", "other", "c2", true)
        .unwrap();
    store
        .set_manual("runbooks/m.md", "other", "c2", false)
        .unwrap();
    assert_eq!(store.latest(None, None).unwrap()[0].checked, Some(true));
    let checks = store.manual_checks(Some("runbooks/m.md")).unwrap();
    let seen: Vec<(&str, &str, bool)> = checks
        .iter()
        .map(|c| (c.step.as_str(), c.host.as_str(), c.checked))
        .collect();
    assert_eq!(seen, [("edit", "local", true), ("other", "c2", false)]);
    assert!(!checks[0].user.is_empty() && checks[0].at.ends_with('Z'));
    assert_eq!(store.manual_checks(Some("runbooks/z.md")).unwrap(), vec![]);
}

#[test]
fn reopening_migrates_once_and_keeps_data() {
    let (d, store) = temp_store();
    record(
        &store,
        "a.md",
        &[result("s", "local", Status::Passed)],
        true,
    );
    drop(store);
    let path = d.path().join(".runbook/runs.sqlite");
    let again = Store::open_path(&path, Mode::Write).unwrap();
    assert_eq!(again.latest(None, None).unwrap().len(), 1);
    let read = Store::open_path(&path, Mode::Read).unwrap();
    assert_eq!(read.runs(&Filter::default(), 5).unwrap().len(), 1);
    assert!(matches!(
        read.begin_run("cli", "x"),
        Err(StoreError::ReadOnly)
    ));
}

#[test]
fn cap_cuts_long_text_at_a_character_boundary() {
    use super::record::cap;
    assert_eq!(cap("short"), "short");
    let exact = "x".repeat(TEXT_CAP);
    assert_eq!(cap(&exact), exact.as_str());
    // Three-byte characters: the cut falls inside one.
    let long = "配".repeat(TEXT_CAP / 3 + 10);
    let c = cap(&long);
    let (kept, marker) = c.rsplit_once('\n').unwrap();
    assert!(kept.len() <= TEXT_CAP && kept.chars().all(|ch| ch == '配'));
    assert_eq!(
        marker,
        format!(
            "[runbook: {} more bytes not stored]",
            long.len() - kept.len()
        )
    );
}

#[test]
fn times_sort_as_text() {
    use super::record::normalize_time;
    assert_eq!(
        normalize_time("2026-11-25T10:00:00Z"),
        "2026-11-25T10:00:00.000Z"
    );
    assert_eq!(
        normalize_time("2026-11-25T11:00:00.5+01:00"),
        "2026-11-25T10:00:00.500Z"
    );
    assert_eq!(normalize_time("garbage"), "garbage");
}

#[test]
fn latest_results_keep_the_matcher_notes() {
    let (_d, store) = temp_store();
    let mut r = result("peers", "c3", Status::Failed);
    r.notes = vec![
        "offset 187.330 differs from -0.620 by more than 50".into(),
        "second".into(),
    ];
    record(&store, "runbooks/ntp.md", &[r], true);
    let latest = store.latest(None, None).unwrap();
    assert_eq!(
        latest[0].notes,
        [
            "offset 187.330 differs from -0.620 by more than 50",
            "second"
        ]
    );
}

/// A version-1 store (results, no `latest` table) is migrated in place: each step keeps the
/// latest result it was tried in and when it last passed, as the version-1 queries gave them.
#[test]
fn version_1_store_migrates_to_the_latest_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(super::open::MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO runs (started_at, origin, command, user, machine, pid) \
             VALUES ('2026-01-01T00:00:00.000Z', 'cli', 'runbook run', 'u', 'm', 1)",
            [],
        )
        .unwrap();
        let insert = |step: &str, status: &str, skip: Option<&str>, at: &str| {
            c.execute(
                "INSERT INTO results (run_id, runbook, step, host, line, status, skip_reason, \
                 duration_ms, attempts, expected, actual, diff, notes, started_at, ended_at) \
                 VALUES (1, 'r.md', ?1, 'local', 1, ?2, ?3, 0, 1, '', '', '', '', ?4, ?4)",
                rusqlite::params![step, status, skip, at],
            )
            .unwrap();
        };
        insert("a", "passed", None, "2026-01-01T00:00:00.000Z");
        insert("a", "failed", None, "2026-01-02T00:00:00.000Z");
        insert(
            "a",
            "skipped",
            Some("not_selected"),
            "2026-01-03T00:00:00.000Z",
        );
        insert(
            "b",
            "skipped",
            Some("not_selected"),
            "2026-01-03T00:00:00.000Z",
        );
    }
    let store = Store::open_path(&path, Mode::Write).unwrap();
    let latest = store.latest(None, None).unwrap();
    // `b` was never tried; `a` failed last, after passing once.
    assert_eq!(latest.len(), 1, "{latest:?}");
    assert_eq!(latest[0].step, "a");
    assert_eq!(latest[0].status, "failed");
    assert_eq!(latest[0].when, "2026-01-02T00:00:00.000Z");
    assert_eq!(
        latest[0].last_passed.as_deref(),
        Some("2026-01-01T00:00:00.000Z")
    );
    // New results go on from there.
    record(
        &store,
        "r.md",
        &[result("a", "local", Status::Passed)],
        true,
    );
    let latest = store.latest(None, None).unwrap();
    assert_eq!(latest[0].status, "passed");
    assert_ne!(
        latest[0].last_passed.as_deref(),
        Some("2026-01-01T00:00:00.000Z")
    );
}

//! Run store contract tests (SPEC §4, issue 7): every run recorded in `.runbook/runs.sqlite`,
//! surviving SIGKILL and concurrent runs, refusing files that are not ours without touching
//! them, answering `requires`, and `runbook history`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::harness::{bin, Project};

const STORE: &str = ".runbook/runs.sqlite";

fn project() -> Project {
    Project::new().file("runbook.toml", "")
}

fn store_path(p: &Project) -> PathBuf {
    p.path().join(STORE)
}

/// The store, read-only, as a user's `sqlite3` would see it.
fn db(p: &Project) -> Connection {
    Connection::open_with_flags(store_path(p), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn integrity(p: &Project) -> String {
    db(p)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn history_json(p: &Project, args: &[&str]) -> Value {
    let mut all = vec!["history", "--json"];
    all.extend_from_slice(args);
    let run = p.run(&all);
    run.expect_code(0);
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

/// A runbook of `n` console steps `step-1`..`step-n`, each `sleep PAUSE; echo I`.
fn numbered_runbook(n: usize, pause: &str) -> String {
    let mut s = String::from("# Numbered\n");
    for i in 1..=n {
        s.push_str(&format!(
            "\n```console {{#step-{i}}}\n$ sleep {pause}; echo {i}\n{i}\n```\n"
        ));
    }
    s
}

fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap()
}

#[test]
fn run_recorded_with_every_field() {
    let p = project().file(
        "runbooks/rec.md",
        "# Rec\n\
         \n\
         ```console {#greet}\n\
         $ echo hello\n\
         hello\n\
         ```\n\
         \n\
         ```console {#drift}\n\
         $ echo actual\n\
         expected\n\
         ```\n\
         \n\
         ```sh {#big}\n\
         head -c 300000 /dev/zero | tr '\\0' x; echo\n\
         ```\n\
         \n\
         ```sh {#bad-exit}\n\
         (exit 3)\n\
         ```\n\
         \n\
         ```text {#by-hand manual}\n\
         Tick this.\n\
         ```\n",
    );
    assert!(!p.path().join(".runbook").exists());
    p.run(&["run", "runbooks/rec.md", "--keep-going"])
        .expect_code(1);
    assert_eq!(p.read(".runbook/.gitignore").lines().last(), Some("*"));

    let c = db(&p);
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    type RunRow = (
        i64,
        String,
        Option<String>,
        String,
        String,
        String,
        Option<i64>,
        i64,
    );
    let runs: Vec<RunRow> = c
        .prepare("SELECT id, started_at, ended_at, origin, command, user, exit_status, complete FROM runs")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs.len(), 1);
    let (run_id, started, ended, origin, command, user, exit, complete) = runs[0].clone();
    let time_re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    assert!(time_re.is_match(&started), "{started}");
    let ended = ended.expect("ended_at");
    assert!(time_re.is_match(&ended) && ended >= started, "{ended}");
    assert_eq!(origin, "cli");
    assert!(
        command.ends_with("run runbooks/rec.md --keep-going"),
        "{command}"
    );
    assert_eq!(user, os_user());
    assert_eq!(exit, Some(1));
    assert_eq!(complete, 1);

    let (rb_status, rb_title): (String, String) = c
        .query_row(
            "SELECT status, title FROM run_runbooks WHERE run_id = ?1 AND runbook = 'runbooks/rec.md' AND ended_at IS NOT NULL",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rb_status, "failed");
    assert!(!rb_title.is_empty());

    #[derive(Debug)]
    struct Row {
        run_id: i64,
        runbook: String,
        step: String,
        host: String,
        line: i64,
        status: String,
        exit_code: Option<i64>,
        duration_ms: i64,
        attempts: i64,
        expected: String,
        actual: String,
        diff: String,
        message: Option<String>,
        started_at: String,
        ended_at: String,
    }
    let rows: Vec<Row> = c
        .prepare(
            "SELECT run_id, runbook, step, host, line, status, exit_code, duration_ms, attempts, \
             expected, actual, diff, message, started_at, ended_at FROM results ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(Row {
                run_id: r.get(0)?,
                runbook: r.get(1)?,
                step: r.get(2)?,
                host: r.get(3)?,
                line: r.get(4)?,
                status: r.get(5)?,
                exit_code: r.get(6)?,
                duration_ms: r.get(7)?,
                attempts: r.get(8)?,
                expected: r.get(9)?,
                actual: r.get(10)?,
                diff: r.get(11)?,
                message: r.get(12)?,
                started_at: r.get(13)?,
                ended_at: r.get(14)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let steps: Vec<(&str, i64, &str)> = rows
        .iter()
        .map(|r| (r.step.as_str(), r.line, r.status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("greet", 3, "passed"),
            ("drift", 8, "failed"),
            ("big", 13, "passed"),
            ("bad-exit", 17, "failed"),
            ("by-hand", 21, "manual"),
        ]
    );
    for r in &rows {
        assert_eq!(r.run_id, run_id);
        assert_eq!(r.runbook, "runbooks/rec.md");
        assert_eq!(r.host, "local");
        assert!(time_re.is_match(&r.started_at), "{r:?}");
        assert!(r.ended_at >= r.started_at, "{r:?}");
        assert!(r.duration_ms >= 0);
    }
    let greet = &rows[0];
    assert_eq!(
        (
            greet.expected.as_str(),
            greet.actual.as_str(),
            greet.diff.as_str()
        ),
        ("hello", "hello", "")
    );
    assert_eq!(
        (greet.exit_code, greet.attempts, &greet.message),
        (Some(0), 1, &None)
    );
    let drift = &rows[1];
    assert_eq!(
        (drift.expected.as_str(), drift.actual.as_str()),
        ("expected", "actual")
    );
    assert!(drift.diff.contains("-expected") && drift.diff.contains("+actual"));
    let big = &rows[2];
    assert!(big.actual.len() <= 256 * 1024 + 100, "{}", big.actual.len());
    assert!(big.actual.starts_with("xxxx"));
    assert!(
        big.actual.ends_with(&format!(
            "\n[runbook: {} more bytes not stored]",
            300000 - 256 * 1024
        )),
        "{}",
        &big.actual[big.actual.len() - 60..]
    );
    let bad = &rows[3];
    assert_eq!(bad.exit_code, Some(3));
    assert_eq!(bad.message.as_deref(), Some("exit status 3, expected 0"));
    assert_eq!(rows[4].expected, "Tick this.\n");
    assert_eq!(integrity(&p), "ok");
}

/// Kills `runbook run` with SIGKILL at random moments of a 30-step run: every step it
/// finished is recorded, the run is incomplete, and the file is sound.
#[test]
fn sigkill_at_random_moments_keeps_finished_steps() {
    const STEPS: usize = 30;
    let text = numbered_runbook(STEPS, "0.05");
    // One complete run to learn how long a run takes here.
    let full = project().file("runbooks/long.md", &text);
    let t = Instant::now();
    full.run(&["run", "runbooks/long.md"]).expect_code(0);
    let whole = t.elapsed();
    assert_eq!(
        history_json(&full, &[])["results"]
            .as_array()
            .unwrap()
            .len(),
        STEPS
    );

    let mut rng = rand::thread_rng();
    let mut mid_run = 0;
    for i in 0..14 {
        let p = project().file("runbooks/long.md", &text);
        // Two very early kills (around opening the store), the rest anywhere in the run.
        let delay = if i < 2 {
            Duration::from_millis(rng.gen_range(0..30))
        } else {
            whole.mul_f64(rng.gen_range(0.05..0.95))
        };
        let mut child = Command::new(bin())
            .args(["run", "runbooks/long.md"])
            .current_dir(p.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        let printed = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("passed"))
            .count();
        let ctx = format!(
            "kill after {delay:?} (whole run {whole:?}), {printed} steps printed\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let results = history_json(&p, &[]);
        let results = results["results"].as_array().unwrap();
        let ids: Vec<&str> = results
            .iter()
            .map(|r| r["step"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (1..=ids.len()).map(|n| format!("step-{n}")).collect();
        assert_eq!(ids, want, "{ctx}");
        for (n, r) in results.iter().enumerate() {
            assert_eq!(r["status"], "passed", "{ctx}");
            assert_eq!(r["actual"], format!("{}", n + 1), "{ctx}");
        }
        // The console prints a step just before the store records it.
        assert!(
            ids.len() == printed || ids.len() + 1 == printed,
            "{} recorded; {ctx}",
            ids.len()
        );
        if !store_path(&p).exists() {
            assert_eq!(printed, 0, "{ctx}");
            continue;
        }
        assert_eq!(integrity(&p), "ok", "{ctx}");
        let version: i64 = db(&p)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        if version == 0 {
            // Killed while creating the store: an empty database.
            assert_eq!(printed, 0, "{ctx}");
            continue;
        }
        let runs: Vec<(Option<String>, Option<i64>, i64)> = db(&p)
            .prepare("SELECT ended_at, exit_status, complete FROM runs")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(runs.len() <= 1, "{ctx}");
        if ids.len() < STEPS {
            assert!(runs.iter().all(|r| *r == (None, None, 0)), "{runs:?} {ctx}");
        }
        if !ids.is_empty() && ids.len() < STEPS {
            mid_run += 1;
        }
        // A later run in the same project still records, after the killed one.
        if i % 5 == 4 {
            p.run(&["run", "runbooks/long.md", "--only", "step-1"])
                .expect_code(0);
            let last: i64 = db(&p)
                .query_row("SELECT complete FROM runs ORDER BY id DESC", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(last, 1);
        }
    }
    assert!(mid_run >= 6, "only {mid_run} kills landed mid-run");
}

#[test]
fn concurrent_runs_both_record() {
    const STEPS: usize = 40;
    const PROCESSES: usize = 4;
    for _ in 0..3 {
        // No store yet: the processes also race to create it.
        let p = project().file("runbooks/quick.md", &numbered_runbook(STEPS, "0"));
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new(bin())
                    .args(["run", "runbooks/quick.md"])
                    .current_dir(p.path())
                    .env("NO_COLOR", "1")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            assert!(
                !stderr.contains("locked") && !stderr.contains("cannot record"),
                "{stderr}"
            );
        }
        let c = db(&p);
        let runs: Vec<(i64, i64, i64, i64)> = c
            .prepare(
                "SELECT u.id, u.complete, u.exit_status, \
                 (SELECT count(*) FROM results r WHERE r.run_id = u.id AND r.status = 'passed') \
                 FROM runs u ORDER BY u.id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(runs.len(), PROCESSES, "{runs:?}");
        for (_, complete, exit, passed) in &runs {
            assert_eq!(
                (*complete, *exit, *passed),
                (1, 0, STEPS as i64),
                "{runs:?}"
            );
        }
        assert_eq!(integrity(&p), "ok");
        let runs = history_json(&p, &["--runs", "10"]);
        assert_eq!(runs["runs"].as_array().unwrap().len(), PROCESSES);
    }
}

/// Runs `run` and `history` against a store file that must be refused, and checks that it
/// was not changed and that nothing ran.
fn assert_refused(p: &Project, needle: &str) {
    let path = store_path(p);
    let before = std::fs::read(&path).unwrap();
    p.run(&["run", "runbooks/touch.md"])
        .expect_code(2)
        .expect_stderr_contains(&format!("{STORE}: {needle}"));
    assert!(!p.path().join("runbooks/ran").exists(), "a step ran");
    p.run(&["history"])
        .expect_code(2)
        .expect_stderr_contains(&format!("{STORE}: {needle}"));
    p.run(&["history", "--runs", "3", "--json"]).expect_code(2);
    assert!(
        std::fs::read(&path).unwrap() == before,
        "the store file changed"
    );
    for extra in ["-wal", "-shm", "-journal"] {
        let mut name = path.clone().into_os_string();
        name.push(extra);
        assert!(!PathBuf::from(name).exists(), "{extra} created");
    }
}

const TOUCH: &str = "# Touch\n\n```sh\ntouch ran\n```\n";

#[test]
fn corrupt_store_refused_unchanged() {
    let mut rng = rand::thread_rng();
    let mut noise = vec![0u8; 64 * 1024];
    rng.fill(noise.as_mut_slice());
    let p = project()
        .file("runbooks/touch.md", TOUCH)
        .file(".runbook/.gitignore", "*\n");
    std::fs::write(store_path(&p), &noise).unwrap();
    assert_refused(&p, "not a run store: the file is not an SQLite database");

    // SQLite's header followed by noise.
    let mut fake = b"SQLite format 3\0".to_vec();
    fake.extend_from_slice(&noise[16..]);
    std::fs::write(store_path(&p), &fake).unwrap();
    assert_refused(&p, "");

    // A text file.
    std::fs::write(store_path(&p), "hello\n").unwrap();
    assert_refused(&p, "not a run store");
}

#[test]
fn newer_schema_refused_unchanged() {
    let p = project().file("runbooks/touch.md", TOUCH);
    std::fs::create_dir_all(p.path().join(".runbook")).unwrap();
    {
        let c = Connection::open(store_path(&p)).unwrap();
        c.execute_batch("CREATE TABLE runs (id INTEGER PRIMARY KEY); PRAGMA user_version = 99;")
            .unwrap();
    }
    assert_refused(
        &p,
        "the run store has schema version 99, newer than this runbook knows (2)",
    );
}

#[test]
fn foreign_sqlite_database_refused_unchanged() {
    let p = project().file("runbooks/touch.md", TOUCH);
    std::fs::create_dir_all(p.path().join(".runbook")).unwrap();
    {
        let c = Connection::open(store_path(&p)).unwrap();
        c.execute_batch("CREATE TABLE mine (x TEXT); INSERT INTO mine VALUES ('keep me');")
            .unwrap();
    }
    assert_refused(&p, "not a run store: an SQLite database with other tables");
}

const SETUP_OK: &str = "# Setup\n\n```console {#prepare}\n$ echo ready\nready\n```\n";
const SETUP_DRIFT: &str = "# Setup\n\n```console {#prepare}\n$ echo broken\nready\n```\n";
const APP: &str = "---\nrequires: [runbooks/setup.md]\n---\n# App\n\n```console {#deploy}\n$ echo deployed\ndeployed\n```\n";

fn app_step(p: &Project, code: i32) -> Value {
    p.run(&["run", "runbooks/app.md", "--report", "json=report.json"])
        .expect_code(code);
    let report: Value = serde_json::from_str(&p.read("report.json")).unwrap();
    report["runbooks"][0]["steps"][0].clone()
}

#[test]
fn requires_satisfied_by_an_earlier_run() {
    let p = project()
        .file("runbooks/setup.md", SETUP_OK)
        .file("runbooks/app.md", APP);
    p.run(&["run", "runbooks/setup.md"]).expect_code(0);
    let step = app_step(&p, 0);
    assert_eq!(step["status"], "passed", "{step}");
    // The latest run counts: a later drift of the required runbook unmeets it again.
    let p = p.file("runbooks/setup.md", SETUP_DRIFT);
    p.run(&["run", "runbooks/setup.md"]).expect_code(1);
    let step = app_step(&p, 1);
    assert_eq!(step["status"], "skipped");
    let fixed = p.file("runbooks/setup.md", SETUP_OK);
    fixed.run(&["run", "runbooks/setup.md"]).expect_code(0);
    assert_eq!(app_step(&fixed, 0)["status"], "passed");
}

#[test]
fn requires_unsatisfied_skips_with_the_reason() {
    let p = project()
        .file("runbooks/setup.md", SETUP_DRIFT)
        .file("runbooks/app.md", APP);
    // Never ran.
    let step = app_step(&p, 1);
    assert_eq!(step["status"], "skipped", "{step}");
    let msg = step["message"].as_str().unwrap();
    assert!(
        msg.contains("runbooks/setup.md has never run on local"),
        "{msg}"
    );

    // Ran and failed.
    p.run(&["run", "runbooks/setup.md"]).expect_code(1);
    let step = app_step(&p, 1);
    assert_eq!(step["status"], "skipped");
    let msg = step["message"].as_str().unwrap();
    let re = regex::Regex::new(
        r"runbooks/setup\.md last ran \d{4}-\d\d-\d\d \d\d:\d\d UTC and failed on local at step `prepare`",
    )
    .unwrap();
    assert!(re.is_match(msg), "{msg}");
    // The skip is recorded too, with its reason.
    let h = history_json(&p, &["runbooks/app.md"]);
    let r = &h["results"][0];
    assert_eq!(
        (&r["status"], &r["skip_reason"]),
        (&Value::from("skipped"), &Value::from("requires"))
    );
    assert!(r["message"].as_str().unwrap().contains("failed on local"));
    assert_eq!(r["last_passed"], Value::Null);
}

#[test]
fn history_without_store_creates_nothing() {
    let p = project();
    p.run(&["history"])
        .expect_code(0)
        .expect_stdout_contains("no runs recorded yet");
    let h = history_json(&p, &["--runs", "5"]);
    assert_eq!(h["runs"], Value::Array(vec![]));
    assert!(!p.path().join(".runbook").exists());
}

#[test]
fn history_latest_result_per_step_and_host() {
    let p = project()
        .file("runbooks/a.md", &numbered_runbook(2, "0"))
        .file(
            "runbooks/sub/b.md",
            "# B\n\n```console {#check}\n$ cat state\nok\n```\n",
        )
        .file("runbooks/sub/state", "ok\n");
    p.run(&["run", "runbooks"]).expect_code(0);
    let p = p.file("runbooks/sub/state", "broken\n");
    p.run(&["run", "runbooks/sub"]).expect_code(1);
    // --only leaves step-2 out: it keeps its earlier result.
    p.run(&["run", "runbooks/a.md", "--only", "step-1"])
        .expect_code(0);

    let all = history_json(&p, &[]);
    let all = all["results"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str, i64)> = all
        .iter()
        .map(|r| {
            (
                r["runbook"].as_str().unwrap(),
                r["step"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["run_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("runbooks/a.md", "step-1", "passed", 3),
            ("runbooks/a.md", "step-2", "passed", 1),
            ("runbooks/sub/b.md", "check", "failed", 2),
        ]
    );
    let check = &all[2];
    assert_eq!(check["host"], "local");
    assert_eq!(check["actual"], "broken");
    let last_passed = check["last_passed"].as_str().unwrap();
    assert!(last_passed < check["when"].as_str().unwrap());

    let sub = history_json(&p, &["runbooks/sub/"]);
    assert_eq!(sub["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        history_json(&p, &["--host", "elsewhere"])["results"],
        Value::Array(vec![])
    );
    assert_eq!(
        history_json(&p, &["--host", "local"])["results"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let table = p.run(&["history", "runbooks/sub"]);
    table.expect_code(0);
    let lines: Vec<&str> = table
        .output
        .stdout
        .split(|&b| b == b'\n')
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert!(lines[0].starts_with("RUNBOOK"), "{lines:?}");
    assert!(
        lines[1].starts_with("runbooks/sub/b.md  check  local  failed"),
        "{lines:?}"
    );

    let runs = history_json(&p, &["--runs", "2"]);
    let runs = runs["runs"].as_array().unwrap();
    let ids: Vec<i64> = runs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3, 2]);
    assert_eq!(runs[1]["exit_status"], 1);
    assert_eq!(runs[1]["complete"], true);
    assert_eq!(
        runs[1]["runbooks"],
        serde_json::json!(["runbooks/sub/b.md"])
    );
    assert_eq!(runs[1]["summary"]["failed"], 1);
    let sub_runs = history_json(&p, &["runbooks/sub", "--runs", "9"]);
    assert_eq!(sub_runs["runs"].as_array().unwrap().len(), 2);
    p.run(&["history", "--runs", "3"])
        .expect_code(0)
        .expect_stdout_contains("1 failed");
}

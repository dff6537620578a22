//! `runbook run` on the local host: SPEC §1.3 attributes, §1.5 matching, §1.4 file blocks,
//! §3 exit statuses and reports (issue 4).

use serde_json::Value;

use crate::harness::Project;

fn project() -> Project {
    Project::new().file("runbook.toml", "")
}

/// Runs one runbook with a JSON report and returns (exit code, report).
fn run_json(p: &Project, file: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["run", file, "--report", "json=report.json"];
    args.extend_from_slice(extra);
    let run = p.run(&args);
    let report = std::fs::read_to_string(p.path().join("report.json"))
        .unwrap_or_else(|_| panic!("no report; stderr:\n{}", run.stderr()));
    (
        run.code(),
        serde_json::from_str(&report).unwrap(),
        run.stdout() + &run.stderr(),
    )
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["steps"].as_array().unwrap().iter())
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["steps"].as_array().unwrap().iter())
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

/// One block that must pass, and the same with a wrong expectation that must drift.
#[track_caller]
fn pass_and_drift(pass: &str, drift: &str) {
    let p = project().file("pass.md", pass).file("drift.md", drift);
    p.run(&["run", "pass.md"]).expect_code(0);
    p.run(&["run", "drift.md"]).expect_code(1);
}

#[test]
fn trailing_white_space_and_blank_lines_and_escapes_are_ignored() {
    pass_and_drift(
        "```console\n$ printf 'a  \\n\\n\\n'\na\n```\n\n```console\n$ printf '\\033[31mred\\033[0m\\n'\nred\n```\n",
        "```console\n$ printf 'a\\nb\\n'\na\n```\n",
    );
}

#[test]
fn dots_match_any_number_of_lines() {
    pass_and_drift(
        "```console\n$ seq 1 5\n1\n...\n5\n```\n\n```console\n$ seq 1 2\n1\n...\n2\n```\n\n```console\n$ echo x\n...\n```\n",
        "```console\n$ seq 1 5\n1\n...\n4\n```\n",
    );
}

#[test]
fn bracket_dots_match_within_a_line() {
    pass_and_drift(
        "```console\n$ echo 'took 12ms at 10:42'\ntook [..]ms at [..]\n```\n",
        "```console\n$ echo 'took 12ms'\ntook [..]s at\n```\n",
    );
}

#[test]
fn regex_lines_match_the_whole_line() {
    pass_and_drift(
        "```console\n$ echo 'version 1.2.3'\nversion \\d+\\.\\d+\\.\\d+ (re)\n```\n",
        "```console\n$ echo 'version 1.2.3-beta'\nversion \\d+\\.\\d+\\.\\d+ (re)\n```\n",
    );
}

#[test]
fn ws_collapse() {
    pass_and_drift(
        "```console {ws=collapse}\n$ printf 'a    b\\tc\\n'\na b c\n```\n",
        "```console\n$ printf 'a    b\\n'\na b\n```\n",
    );
}

#[test]
fn match_contains_unordered_any() {
    pass_and_drift(
        "```console {match=contains}\n$ seq 1 10\n3\n7\n```\n\n```console {match=unordered}\n$ printf 'b\\na\\n'\na\nb\n```\n\n```console {match=any}\n$ date\nwhatever\n```\n",
        "```console {match=contains}\n$ seq 1 10\n7\n3\n```\n",
    );
    pass_and_drift(
        "```console {match=unordered}\n$ printf 'b\\na\\n'\na\nb\n```\n",
        "```console {match=unordered}\n$ printf 'b\\na\\nc\\n'\na\nb\n```\n",
    );
}

/// A fake `ntpq` on PATH, printing the given peer table.
fn ntp_project(table: &str) -> Project {
    let spec = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/SPEC.md"),
    )
    .unwrap();
    let start = spec.find("```console {#ntp-peers").unwrap();
    let end = start + spec[start..].find("\n```\n").unwrap() + 5;
    let block = &spec[start..end];
    // Same block, on the local host.
    let block = block
        .replace(" on=controller2,controller3", "")
        .replace("retry=300s", "retry=1s every=200ms");
    project()
        .file("bin/ntpq", &format!("#!/bin/sh\ncat <<'EOF'\n{table}EOF\n"))
        .file("ntp.md", &format!("```sh {{#path}}\nchmod +x bin/ntpq && export PATH=\"$PWD/bin:$PATH\"\n```\n\n{block}"))
}

const HEALTHY: &str =
    "     remote           refid      st t when poll reach   delay   offset  jitter
==============================================================================
*controller      LOCAL(0)         6 u   12  128  377    0.198   -0.403   0.021
";

#[test]
fn ntp_example_passes_on_a_healthy_peer_table() {
    let p = ntp_project(HEALTHY);
    p.run(&["run", "ntp.md"]).expect_code(0);
}

#[test]
fn ntp_example_drifts_on_an_unsynced_peer() {
    let p = ntp_project(&HEALTHY.replace("*controller", " controller"));
    let (code, report, out) = run_json(&p, "ntp.md", &[]);
    assert_eq!(code, 1, "{out}");
    let s = step(&report, "ntp-peers");
    assert_eq!(s["status"], "failed");
    assert!(
        s["attempts"].as_u64().unwrap() > 1,
        "retry= must re-run: {s}"
    );
    assert!(s["diff"].as_str().unwrap().contains("+ controller"), "{s}");
}

#[test]
fn ntp_example_drifts_on_an_offset_beyond_tolerance() {
    let p = ntp_project(&HEALTHY.replace("  -0.403", " 187.330"));
    let run = p.run(&["run", "ntp.md"]);
    run.expect_code(1)
        .expect_stdout_contains("offset 187.330 differs from -0.620 by more than 50");
    // Only the row is marked, and the accepted cells keep the expected text.
    run.expect_stdout_contains(
        "-*controller      LOCAL(0)         6 u   65  128  377    0.213   -0.620   0.040",
    );
}

#[test]
fn exit_status() {
    pass_and_drift(
        "```console {exit=3}\n$ sh -c 'exit 3'\n```\n\n```sh {exit=any}\nfalse\n```\n",
        "```console\n$ false\n```\n",
    );
    let p = project().file("r.md", "```console {exit=2}\n$ sh -c 'exit 1'\n```\n");
    let (code, report, _) = run_json(&p, "r.md", &[]);
    assert_eq!(code, 1);
    let s = &report["runbooks"][0]["steps"][0];
    assert_eq!(s["exit_code"], 1);
    assert_eq!(s["message"], "exit status 1, expected 2");
}

#[test]
fn exit_in_a_script_is_its_status_and_the_next_step_gets_a_new_session() {
    let p = project().file(
        "r.md",
        "```sh {exit=4}\necho bye; exit 4\n```\n\n```console\n$ echo next\nnext\n```\n",
    );
    p.run(&["run", "r.md"]).expect_code(0);
}

#[test]
fn retry_reruns_until_the_output_matches() {
    let p = project().file(
        "r.md",
        "```console {retry=20s every=100ms}\n$ n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; echo $n\n3\n```\n",
    );
    let (code, report, out) = run_json(&p, "r.md", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["runbooks"][0]["steps"][0]["attempts"], 3);
}

#[test]
fn timeout_ends_the_process_tree_with_exit_3() {
    let marker = format!("rb-timeout-{}", std::process::id());
    let p = project().file(
        "r.md",
        &format!("```console {{timeout=1s}}\n$ (trap '' TERM; exec -a {marker} sleep 30) & exec -a {marker}-fg sleep 30\n```\n"),
    );
    let t = std::time::Instant::now();
    let run = p.run(&["run", "r.md"]);
    run.expect_code(3)
        .expect_stdout_contains("timed out after 1s");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t.elapsed()
    );
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn background_child_holding_the_pipe_does_not_hang_the_run() {
    let p = project().file("r.md", "```console\n$ sleep 30 & echo started\nstarted\n```\n\n```console\n$ echo after\nafter\n```\n");
    let t = std::time::Instant::now();
    p.run(&["run", "r.md"]).expect_code(0);
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn session_state_stdin_and_environment() {
    let p = project().file(
        "r.md",
        "```console\n$ cd sub && export X=42\n```\n\n```console\n$ basename \"$PWD\"; echo $X $RUNBOOK_HOST\nsub\n42 local\n```\n\n```console\n$ cat; echo \"stdin empty: $?\"\nstdin empty: 0\n$ echo out; echo err >&2\nout\nerr\n```\n",
    );
    std::fs::create_dir_all(p.path().join("sub")).unwrap();
    p.run(&["run", "r.md"]).expect_code(0);
}

#[test]
fn reading_stdin_cannot_swallow_later_steps() {
    let p = project().file("r.md", "```sh\nread line; echo \"got:$line\"\n```\n\n```output\ngot:\n```\n\n```console\n$ echo still here\nstill here\n```\n");
    p.run(&["run", "r.md"]).expect_code(0);
}

#[test]
fn the_session_starts_in_the_runbooks_folder() {
    let p = project().file("docs/r.md", "```console\n$ basename \"$PWD\"\ndocs\n```\n");
    p.run(&["run", "docs/r.md"]).expect_code(0);
}

#[test]
fn a_failed_step_stops_its_runbook_unless_keep_going() {
    let p = project().file(
        "r.md",
        "```console {#a}\n$ echo a\nb\n```\n\n```console {#b}\n$ echo b\nb\n```\n",
    );
    let (code, report, _) = run_json(&p, "r.md", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        statuses(&report),
        [
            ("a".into(), "failed".into()),
            ("b".into(), "skipped".into())
        ]
    );
    let (code, report, _) = run_json(&p, "r.md", &["--keep-going"]);
    assert_eq!(code, 1);
    assert_eq!(
        statuses(&report),
        [("a".into(), "failed".into()), ("b".into(), "passed".into())]
    );
}

#[test]
fn only_and_from_select_steps() {
    let p = project().file(
        "r.md",
        "```sh {#a}\ntrue\n```\n\n```sh {#b}\ntrue\n```\n\n```sh {#c}\ntrue\n```\n",
    );
    let (code, report, _) = run_json(&p, "r.md", &["--only", "b"]);
    assert_eq!(code, 0);
    assert_eq!(
        statuses(&report),
        [
            ("a".into(), "skipped".into()),
            ("b".into(), "passed".into()),
            ("c".into(), "skipped".into())
        ]
    );
    let (_, report, _) = run_json(&p, "r.md", &["--from", "b"]);
    assert_eq!(
        statuses(&report),
        [
            ("a".into(), "skipped".into()),
            ("b".into(), "passed".into()),
            ("c".into(), "passed".into())
        ]
    );
    p.run(&["run", "r.md", "--only", "zz"])
        .expect_code(2)
        .expect_stderr_contains("no step has the id `zz`");
}

#[test]
fn manual_and_norun_steps_are_not_executed() {
    let p = project().file(
        "r.md",
        "```text {#edit manual}\nOpen the console and click Save.\n```\n\n```sh {norun}\ntouch norun-ran\n```\n\n```console {#m2 manual}\n$ touch manual-ran\n```\n",
    );
    let (code, report, _) = run_json(&p, "r.md", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        statuses(&report),
        [
            ("edit".into(), "manual".into()),
            ("m2".into(), "manual".into())
        ]
    );
    assert!(!p.path().join("norun-ran").exists() && !p.path().join("manual-ran").exists());
    assert_eq!(report["summary"]["manual"], 2);
}

#[test]
fn reconnect_starts_a_new_session() {
    // Locally, a command that ends its shell stands in for a reboot.
    let p = project().file(
        "r.md",
        "```console\n$ export KEPT=yes\n```\n\n```console {#reboot reconnect=10s}\n$ kill -9 $$\n```\n\n```console\n$ echo \"kept=${KEPT:-no}\"\nkept=no\n```\n",
    );
    p.run(&["run", "r.md"]).expect_code(0);
    let q = project().file("r.md", "```console {#reboot}\n$ kill -9 $$\n```\n");
    q.run(&["run", "r.md"])
        .expect_code(3)
        .expect_stdout_contains("local");
}

#[test]
fn file_blocks_replace_append_and_diff() {
    let p = project().file("hosts", "127.0.0.1 localhost\n").file("ntp.conf", "a\nserver 0.pool iburst\nb\n").file(
        "r.md",
        "```text {file=hosts mode=append}\n10.0.0.11 controller\n10.0.0.12 controller2\n```\n\n\
         ```ini {file=new.conf perm=0600}\n[x]\ny=1\n```\n\n\
         ```diff {file=ntp.conf}\n--- a/ntp.conf\n+++ b/ntp.conf\n@@ -1,3 +1,4 @@\n a\n-server 0.pool iburst\n+#server 0.pool iburst\n+server controller iburst\n b\n```\n",
    );
    std::fs::set_permissions(
        p.path().join("hosts"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    p.run(&["run", "r.md"]).expect_code(0);
    assert_eq!(
        p.read("hosts"),
        "127.0.0.1 localhost\n10.0.0.11 controller\n10.0.0.12 controller2\n"
    );
    assert_eq!(p.read("new.conf"), "[x]\ny=1\n");
    assert_eq!(
        p.read("ntp.conf"),
        "a\n#server 0.pool iburst\nserver controller iburst\nb\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |f: &str| {
        std::fs::metadata(p.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("hosts"), 0o640, "existing permissions kept");
    assert_eq!(mode("new.conf"), 0o600);
    // Running twice changes nothing and passes (append idempotent, diff already applied).
    p.run(&["run", "r.md"]).expect_code(0);
    assert_eq!(
        p.read("hosts"),
        "127.0.0.1 localhost\n10.0.0.11 controller\n10.0.0.12 controller2\n"
    );
    assert_eq!(
        p.read("ntp.conf"),
        "a\n#server 0.pool iburst\nserver controller iburst\nb\n"
    );
    // No temporary file is left beside the targets.
    let leftovers: Vec<_> = std::fs::read_dir(p.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("runbook-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_diff_that_fits_neither_way_drifts_with_the_hunk() {
    let p = project().file("c.conf", "something else\n").file(
        "r.md",
        "```diff {file=c.conf}\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n```\n",
    );
    let (code, report, out) = run_json(&p, "r.md", &[]);
    assert_eq!(code, 1, "{out}");
    let diff = report["runbooks"][0]["steps"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("does not fit") && diff.contains("-b"),
        "{diff}"
    );
    assert_eq!(p.read("c.conf"), "something else\n", "nothing half-written");
}

#[test]
fn drift_shows_only_real_mismatches_headed_by_the_expected_block() {
    let p = project().file(
        "r.md",
        "# T\n\n```console\n$ printf 'id 1\\nat 10:42\\nok\\nextra\\n'\nid [..]\nat \\d+:\\d+ (re)\nok\n```\n",
    );
    let run = p.run(&["run", "r.md"]);
    run.expect_code(1).expect_stdout_contains("r.md:5:");
    let out = run.stdout();
    assert!(out.contains("+extra"), "{out}");
    assert!(
        !out.contains("-id [..]") && !out.contains("+id 1"),
        "accepted lines are not marked:\n{out}"
    );
}

#[test]
fn json_report_has_the_spec_fields() {
    let p = project().file(
        "r.md",
        "```console {#one}\n$ echo hi\nhi\n```\n\n```console {#two}\n$ echo no\nyes\n```\n",
    );
    let (code, report, _) = run_json(&p, "r.md", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["version"], 1);
    let rb = &report["runbooks"][0];
    assert_eq!(rb["path"], "r.md");
    assert_eq!(rb["status"], "failed");
    let s = &rb["steps"][1];
    for key in [
        "id",
        "host",
        "line",
        "status",
        "exit_code",
        "duration_ms",
        "attempts",
        "expected",
        "actual",
        "diff",
    ] {
        assert!(s.get(key).is_some(), "missing {key}: {s}");
    }
    assert_eq!(s["host"], "local");
    assert_eq!(s["line"], 6);
    assert_eq!(s["expected"], "yes");
    assert_eq!(s["actual"], "no");
    assert_eq!(rb["steps"][0]["diff"], "");
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 1, "failed": 1, "errors": 0, "skipped": 0, "manual": 0})
    );
}

#[test]
fn junit_report_reads_in_a_real_consumer() {
    let p = project().file("r.md", "```console {#ok}\n$ echo hi\nhi\n```\n\n```console {#bad}\n$ echo '<no & \"yes\">'\nyes\n```\n\n```console {#slow timeout=1s}\n$ sleep 5\n```\n");
    p.run(&["run", "r.md", "--keep-going", "--report", "junit=j.xml"])
        .expect_code(3);
    let xmllint = std::process::Command::new("xmllint")
        .args(["--noout", "j.xml"])
        .current_dir(p.path())
        .status()
        .expect("xmllint (libxml2-utils)");
    assert!(xmllint.success());
    let script = r#"
import sys
from junitparser import JUnitXml, Failure, Error
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("suite", suite.name, suite.tests, suite.failures, suite.errors)
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        print("case", case.name, ",".join(kinds))
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, "j.xml"])
        .current_dir(p.path())
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("suite r.md 3 1 1"), "{text}");
    assert!(
        text.contains("case ok@local \n") || text.contains("case ok@local\n"),
        "{text}"
    );
    assert!(text.contains("case bad@local Failure"), "{text}");
    assert!(text.contains("case slow@local Error"), "{text}");
}

#[test]
fn variables_and_secrets() {
    let p = Project::new()
        .file("runbook.toml", "[vars]\nREGION = \"eu\"\nsecrets = [\"DB_PASS\"]\n")
        .file(
            "r.md",
            "---\nvars:\n  NAME: world\n  DB_PASS: ~\n---\n\n```console\n$ echo \"$NAME $REGION pw=$DB_PASS\"\nworld eu pw=[secret:DB_PASS]\n```\n\n```console\n$ echo \"x${DB_PASS}y\"\nwrong\n```\n",
        );
    let run = p.run_env(
        &[
            "run",
            "r.md",
            "--keep-going",
            "--report",
            "json=r.json",
            "-v",
        ],
        &[("DB_PASS", "hunter2")],
    );
    run.expect_code(1);
    let all = format!("{}{}{}", run.stdout(), run.stderr(), p.read("r.json"));
    assert!(!all.contains("hunter2"), "a secret leaked:\n{all}");
    assert!(all.contains("x[secret:DB_PASS]y"));
    // --var overrides; a declared variable without a value stops before anything runs.
    p.run_env(&["run", "r.md", "--only", "x"], &[])
        .expect_code(2);
    let q = project().file(
        "r.md",
        "---\nvars:\n  NEEDED: ~\n---\n\n```sh\ntouch ran\n```\n",
    );
    q.run(&["run", "r.md"])
        .expect_code(2)
        .expect_stderr_contains("r.md:3:3: variable `NEEDED` has no value");
    assert!(!q.path().join("ran").exists());
    q.run(&["run", "r.md", "--var", "NEEDED=1"]).expect_code(0);
    p.run_env(&["run", "r.md", "--var", "DB_PASS=x"], &[("DB_PASS", "y")])
        .expect_code(2)
        .expect_stderr_contains("is a secret");
}

#[test]
fn an_output_too_large_is_an_error_not_memory_exhaustion() {
    let p = project().file(
        "r.md",
        "```sh {match=any}\nhead -c 70000000 /dev/zero | tr '\\0' x\n```\n",
    );
    p.run(&["run", "r.md"])
        .expect_code(3)
        .expect_stdout_contains("more than 64 MiB");
}

#[test]
fn requires_in_the_same_command_runs_first() {
    let p = project()
        .file(
            "b.md",
            "---\nrequires: [a.md]\n---\n\n```console\n$ cat marker\nfrom a\n```\n",
        )
        .file("a.md", "```sh\necho 'from a' > marker\n```\n");
    // b is named first, a runs first anyway.
    p.run(&["run", "b.md", "a.md"]).expect_code(0);
    let q = project()
        .file(
            "b.md",
            "---\nrequires: [a.md]\n---\n\n```console\n$ echo b\nb\n```\n",
        )
        .file("a.md", "```console\n$ echo a\nnot a\n```\n");
    let (code, report, _) = run_json(&q, "b.md", &["a.md"]);
    assert_eq!(code, 1);
    let b = report["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "b.md")
        .unwrap();
    assert_eq!(b["steps"][0]["status"], "skipped");
    assert!(b["steps"][0]["message"].as_str().unwrap().contains("a.md"));
}

#[test]
fn exit_3_beats_1() {
    let p = project().file(
        "r.md",
        "```console\n$ echo a\nb\n```\n\n```console {timeout=1s}\n$ sleep 3\n```\n",
    );
    p.run(&["run", "r.md", "--keep-going"]).expect_code(3);
}

#[test]
fn quiet_prints_only_drifts_and_verbose_every_output() {
    let p = project().file("r.md", "```console {#fine}\n$ echo visible-output\nvisible-output\n```\n\n```console {#bad}\n$ echo a\nb\n```\n");
    let q = p.run(&["run", "r.md", "-q"]);
    assert!(!q.stdout().contains("fine"), "{}", q.stdout());
    assert!(q.stdout().contains("bad"));
    let v = p.run(&["run", "r.md", "-v"]);
    v.expect_stdout_contains("| visible-output");
    let n = p.run(&["run", "r.md"]);
    assert!(n.stdout().contains("passed  fine  local"), "{}", n.stdout());
    assert!(
        !n.stdout().contains('\x1b'),
        "no colour when not a terminal"
    );
}

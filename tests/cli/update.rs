//! `runbook update` contract tests (SPEC §3, issue 5): drifted expected blocks are rewritten
//! with what was seen and every other byte of the file stays; `run` passes afterwards.
//!
//! Fixtures live in `tests/fixtures/update/<case>/`: `in/` is copied into a fresh project,
//! and each file under `out/` must equal the project's file after `update`, byte for byte.
//! `SNAPSHOTS=overwrite cargo test --test cli update` rewrites `out/` from what `update` wrote.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::harness::Project;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/update")
}

fn copy_tree(from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn files_under(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir.join(rel)).unwrap() {
        let e = e.unwrap();
        let r = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            files_under(dir, &r, out);
        } else {
            out.push(r);
        }
    }
}

/// A project holding a copy of `tests/fixtures/update/CASE/in`.
fn fixture(case: &str) -> Project {
    let p = Project::new();
    copy_tree(&fixtures().join(case).join("in"), p.path());
    p
}

fn bytes(p: &Project, rel: &str) -> Vec<u8> {
    fs::read(p.path().join(rel)).unwrap()
}

/// Every file under `CASE/out` equals the project's, byte for byte.
#[track_caller]
fn expect_out(p: &Project, case: &str) {
    let out = fixtures().join(case).join("out");
    let overwrite = std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite");
    if overwrite {
        let mut names = Vec::new();
        files_under(&fixtures().join(case).join("in"), Path::new(""), &mut names);
        for rel in names
            .iter()
            .filter(|r| r.extension().is_some_and(|x| x == "md"))
        {
            let dest = out.join(rel);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::write(dest, fs::read(p.path().join(rel)).unwrap()).unwrap();
        }
        return;
    }
    let mut names = Vec::new();
    files_under(&out, Path::new(""), &mut names);
    assert!(
        !names.is_empty(),
        "no expected files under {}",
        out.display()
    );
    for rel in names {
        let want = fs::read(out.join(&rel)).unwrap();
        let got = fs::read(p.path().join(&rel)).unwrap();
        assert!(
            want == got,
            "{case}: {} differs from the fixture\n--- want\n{}\n--- got\n{}",
            rel.display(),
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got)
        );
    }
}

/// update, compare with the fixture, then `run` passes on the rewritten files.
#[track_caller]
fn update_then_run(case: &str, updated: &[&str]) -> Project {
    let p = fixture(case);
    let r = p.run(&["update"]);
    r.expect_code(0);
    for line in updated {
        r.expect_stdout_contains(line);
    }
    expect_out(&p, case);
    p.run(&["run"]).expect_code(0);
    p
}

#[test]
fn console_drift_keeps_wildcards_that_still_match() {
    let p = update_then_run("console_zh", &["updated runbooks/deploy.md: 3 blocks"]);
    let text = p.read("runbooks/deploy.md");
    // The ` (re)` and `...` lines still match and stay; only drifted lines change.
    assert!(text.contains("版本 2.1.0\n构建于 [0-9-]+ (re)\n"), "{text}");
    assert!(
        text.contains("nova-api 运行中\n...\nglance-api 已停止\n"),
        "{text}"
    );
}

#[test]
fn output_blocks_are_rewritten_and_filled() {
    let p = update_then_run("output_en", &["updated runbooks/backup.md: 2 blocks"]);
    let text = p.read("runbooks/backup.md");
    assert!(text.contains("etc\nh[..]e\nsrv\n[0-9]+ (re)\n"), "{text}");
    assert!(text.contains("```output\n3 entries\n```"), "{text}");
}

#[test]
fn table_changes_only_the_cells_outside() {
    let p = update_then_run("table", &["updated runbooks/peers.md: 1 block"]);
    let text = p.read("runbooks/peers.md");
    // `when` and `reach` are ignored, delay/jitter within tolerance: kept as written.
    assert!(
        text.contains(
            "*controller      LOCAL(0)         6 u   65  128  377    0.213  187.330   0.040\n\
             +10.0.0.13       10.0.0.11        7 u   12  128  377    0.250   -1.000   0.040\n"
        ),
        "{text}"
    );
}

#[test]
fn crlf_file_stays_crlf_without_final_newline() {
    let p = update_then_run("crlf", &["updated runbooks/crlf.md: 2 blocks"]);
    let b = bytes(&p, "runbooks/crlf.md");
    let lone_lf = b
        .iter()
        .enumerate()
        .any(|(i, &c)| c == b'\n' && (i == 0 || b[i - 1] != b'\r'));
    assert!(!lone_lf, "{}", String::from_utf8_lossy(&b));
    assert!(b.ends_with(b"```"), "the file had no final newline");
}

#[test]
fn fences_inside_lists_and_quotes_keep_their_prefix() {
    let p = update_then_run("list", &["updated runbooks/install.md: 3 blocks"]);
    let text = p.read("runbooks/install.md");
    assert!(
        text.contains("   $ cat app.conf\n   port = 8080\n"),
        "{text}"
    );
    assert!(
        text.contains("     $ echo deep\n     deep\n     ```"),
        "{text}"
    );
    assert!(text.contains("> a\n>\n> b\n> ```"), "{text}");
}

#[test]
fn translation_is_updated_in_step_with_its_source() {
    let p = update_then_run(
        "translation",
        &[
            "updated runbooks/ntp.md: 2 blocks",
            "updated translations/en/ntp.md: 2 blocks",
        ],
    );
    p.run(&["lint"]).expect_code(0);
}

#[test]
fn permissions_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let p = fixture("output_en");
    let path = p.path().join("runbooks/backup.md");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    p.run(&["update"]).expect_code(0);
    expect_out(&p, "output_en");
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
    // No temporary file is left beside it.
    let hidden: Vec<_> = fs::read_dir(p.path().join("runbooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn no_drift_leaves_the_file_byte_identical() {
    let p = fixture("console_zh");
    p.run(&["update"]).expect_code(0);
    // Now it passes; a second update must not touch it, not even rewrite the same bytes.
    let path = p.path().join("runbooks/deploy.md");
    let before = fs::read(&path).unwrap();
    let meta = fs::metadata(&path).unwrap();
    let r = p.run(&["update"]);
    r.expect_code(0);
    assert!(!r.stdout().contains("updated"), "{}", r.stdout());
    assert_eq!(fs::read(&path).unwrap(), before);
    let after = fs::metadata(&path).unwrap();
    assert_eq!(
        (after.ino(), after.mtime_nsec()),
        (meta.ino(), meta.mtime_nsec())
    );
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let p = fixture("translation");
    let before = (
        bytes(&p, "runbooks/ntp.md"),
        bytes(&p, "translations/en/ntp.md"),
    );
    let r = p.run(&["update", "--dry-run"]);
    r.expect_code(0)
        .expect_stdout_contains("--- a/runbooks/ntp.md\n+++ b/runbooks/ntp.md\n")
        .expect_stdout_contains("+server 10.0.0.12 iburst\n")
        .expect_stdout_contains(
            "-synchronised to [..] at stratum 2\n+synchronised to [..] at stratum 3\n",
        )
        .expect_stdout_contains("--- a/translations/en/ntp.md\n+++ b/translations/en/ntp.md\n")
        .expect_stdout_contains("+   server 10.0.0.12 iburst\r\n");
    assert!(!r.stdout().contains("updated "), "{}", r.stdout());
    let after = (
        bytes(&p, "runbooks/ntp.md"),
        bytes(&p, "translations/en/ntp.md"),
    );
    assert!(before == after, "--dry-run wrote");
}

const EXIT_DRIFT: &str = "# Exit\n\
\n\
```console {#probe timeout=5s}\n\
$ echo missing; exit 1\n\
found\n\
```\n\
\n\
```sh\n\
echo after\n\
```\n\
\n\
```output\n\
before\n\
```\n";

#[test]
fn exit_drift_is_reported_and_left_without_exit_flag() {
    let p = Project::new()
        .file("runbook.toml", "")
        .file("runbooks/exit.md", EXIT_DRIFT);
    let r = p.run(&["update"]);
    r.expect_code(1).expect_stderr_contains(
        "runbooks/exit.md:3:4: exit status drifted: expected 0, got 1 (use --exit to rewrite)",
    );
    // The step is left whole; the next block's drift is still rewritten.
    let text = p.read("runbooks/exit.md");
    assert_eq!(text, EXIT_DRIFT.replace("\nbefore\n", "\nafter\n"));
    r.expect_stdout_contains("updated runbooks/exit.md: 1 block");
}

#[test]
fn exit_flag_rewrites_the_exit_attribute() {
    let p = Project::new()
        .file("runbook.toml", "")
        .file("runbooks/exit.md", EXIT_DRIFT);
    p.run(&["update", "--exit"])
        .expect_code(0)
        .expect_stdout_contains("updated runbooks/exit.md: 2 blocks");
    let want = EXIT_DRIFT
        .replace("{#probe timeout=5s}", "{#probe timeout=5s exit=1}")
        .replace("\nfound\n", "\nmissing\n")
        .replace("\nbefore\n", "\nafter\n");
    assert_eq!(p.read("runbooks/exit.md"), want);
    p.run(&["run"]).expect_code(0);
}

#[test]
fn file_changed_during_the_run_is_not_overwritten() {
    let text = "# 自我修改\n\
\n\
```sh\n\
printf '\\n追加的一行\\n' >> self.md\n\
```\n\
\n\
```console\n\
$ echo 新\n\
旧\n\
```\n";
    let p = Project::new()
        .file("runbook.toml", "")
        .file("runbooks/self.md", text);
    let r = p.run(&["update"]);
    r.expect_code(2)
        .expect_stderr_contains("runbooks/self.md: changed on disk since `runbook update` read it");
    assert!(!r.stdout().contains("updated"), "{}", r.stdout());
    // Exactly what the step left: update wrote nothing.
    assert_eq!(p.read("runbooks/self.md"), format!("{text}\n追加的一行\n"));
}

#[test]
fn steps_that_error_are_never_rewritten() {
    let text = "# Slow\n\
\n\
```console {#slow timeout=1s}\n\
$ sleep 5; echo late\n\
early\n\
```\n\
\n\
```console {#quick}\n\
$ echo now\n\
then\n\
```\n";
    let p = Project::new()
        .file("runbook.toml", "")
        .file("runbooks/slow.md", text);
    p.run(&["update"]).expect_code(3);
    let got = p.read("runbooks/slow.md");
    assert!(got.contains("$ sleep 5; echo late\nearly\n"), "{got}");
    assert!(got.contains("$ echo now\nnow\n"), "{got}");
}

#[test]
fn hosts_that_disagree_get_the_first_ones_text_and_a_warning() {
    let p = Project::new()
        .file(
            "runbook.toml",
            "[hosts.alpha]\nlocal = true\n[hosts.beta]\nlocal = true\n",
        )
        .file(
            "runbooks/who.md",
            "---\nhosts: [alpha, beta]\n---\n\n```console {#who on=alpha,beta}\n$ echo \"I am $RUNBOOK_HOST\"\nI am nobody\n```\n",
        );
    let r = p.run(&["update"]);
    r.expect_code(1)
        .expect_stderr_contains("runbooks/who.md:7:1: warning: hosts disagree on this output: wrote what `alpha` gave; `beta` gave something else");
    assert!(p.read("runbooks/who.md").contains("\nI am alpha\n"));
}

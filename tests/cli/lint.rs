//! `runbook lint`: exact exit status and `PATH:LINE:COL` of each error (issue 3).

use crate::harness::Project;

/// A project with an inventory of two hosts and a group.
fn project() -> Project {
    Project::new().file(
        "runbook.toml",
        "[hosts.controller2]\nssh = \"root@10.0.0.12\"\n[hosts.controller3]\nssh = \"root@10.0.0.13\"\n[groups]\nlab = [\"controller2\", \"controller3\"]\n",
    )
}

/// Lints one runbook and checks exit 2 and that `needle` appears on a line starting with `at`.
#[track_caller]
fn expect_error(text: &str, at: &str, needle: &str) {
    let p = project().file("r.md", text);
    let run = p.run(&["lint", "r.md"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("{at}: ")) && l.contains(needle)),
        "expected `{at}: …{needle}…` in\n{err}"
    );
}

#[test]
fn clean_runbook_lints_with_exit_0() {
    let p = project().file(
        "r.md",
        "---\ntitle: t\nhosts: [controller2, controller3]\n---\n\n# 配置\n\n```console {on=@lab}\n# hostname\ncontroller[..]\n```\n",
    );
    p.run(&["lint", "r.md"]).expect_code(0);
}

#[test]
fn front_matter_errors() {
    expect_error(
        "---\ntitle: t\nowner: me\n---\n",
        "r.md:3:1",
        "unknown field `owner`",
    );
    expect_error("---\nhosts: 3\n---\n", "r.md:2:8", "hosts");
    expect_error(
        "---\ntitle: a\n  b: c\n---\n",
        "r.md:3:4",
        "front matter: mapping values are not allowed",
    );
    expect_error(
        "---\ntitle: [a, b]\n---\n",
        "r.md:2:8",
        "invalid type: sequence",
    );
    expect_error("---\ntitle: t\n\n# no end\n", "r.md:1:1", "never closed");
}

#[test]
fn attribute_errors_point_at_the_attribute() {
    expect_error(
        "```sh {timeout=soon}\ntrue\n```\n",
        "r.md:1:16",
        "bad `timeout` value `soon`",
    );
    expect_error(
        "```sh {exit=x}\ntrue\n```\n",
        "r.md:1:13",
        "bad `exit` value `x`",
    );
    expect_error(
        "```sh {retry=}\ntrue\n```\n",
        "r.md:1:8",
        "`retry` needs a value",
    );
    expect_error(
        "```sh {retry}\ntrue\n```\n",
        "r.md:1:8",
        "`retry` needs a value",
    );
    expect_error(
        "```console {match=fuzzy}\n$ true\n```\n",
        "r.md:1:19",
        "bad `match` value `fuzzy`",
    );
    expect_error(
        "```sh {colour=red}\ntrue\n```\n",
        "r.md:1:8",
        "unknown attribute `colour`",
    );
    expect_error(
        "```sh {timout=1s}\ntrue\n```\n",
        "r.md:1:8",
        "unknown attribute `timout`",
    );
    expect_error(
        "```python {on=controller2}\nprint(1)\n```\n",
        "r.md:1:12",
        "`on` does not apply here",
    );
    expect_error(
        "```sh {serial=yes}\ntrue\n```\n",
        "r.md:1:8",
        "`serial` is a flag",
    );
    expect_error("```sh {timeout=1s\ntrue\n```\n", "r.md:1:7", "never closed");
    expect_error(
        "```console {match=table tol=\"offset=5 latency=2\"}\n$ ntpq -p\n remote offset\n x 1\n```\n",
        "r.md:1:39",
        "the table has no column `latency`",
    );
    expect_error(
        "```console {ignore=when}\n$ ntpq -p\n remote when\n```\n",
        "r.md:1:13",
        "`ignore` works only with `match=table`",
    );
}

#[test]
fn unknown_key_suggests_the_near_one() {
    let p = project().file("r.md", "```sh {timout=1s}\ntrue\n```\n");
    p.run(&["lint", "r.md"])
        .expect_code(2)
        .expect_stderr_contains("did you mean `timeout`?");
}

#[test]
fn output_block_without_executable_block() {
    expect_error(
        "Text.\n\n```output\nx\n```\n",
        "r.md:3:4",
        "no executable block right before it",
    );
    expect_error(
        "```sh\ntrue\n```\n\nprose between\n\n```output\nx\n```\n",
        "r.md:7:4",
        "no executable block",
    );
}

#[test]
fn transcript_errors() {
    expect_error(
        "```console\noutput first\n$ echo\n```\n",
        "r.md:2:1",
        "output before the first command",
    );
    expect_error(
        "```console\n$ echo a\na\n> more\n```\n",
        "r.md:4:1",
        "`> ` continues a command",
    );
    expect_error(
        "```console {match=contains}\n$ seq 3\n1\n...\n```\n",
        "r.md:4:1",
        "`...` works only",
    );
}

#[test]
fn duplicate_ids_name_both_places() {
    let p = project().file("r.md", "```sh {#a}\ntrue\n```\n\n```sh {#a}\ntrue\n```\n");
    let run = p.run(&["lint", "r.md"]);
    run.expect_code(2)
        .expect_stderr_contains("r.md:5:8: duplicate step id `a`");
    run.expect_stderr_contains("first used at r.md:1:8");
}

#[test]
fn hosts_resolve_through_inventory_groups_and_all() {
    expect_error(
        "```sh {on=controller4}\ntrue\n```\n",
        "r.md:1:11",
        "unknown host `controller4`",
    );
    expect_error(
        "```sh {on=@labs}\ntrue\n```\n",
        "r.md:1:11",
        "unknown group `@labs`",
    );
    expect_error(
        "```sh {on=all}\ntrue\n```\n",
        "r.md:1:11",
        "`all` means every host",
    );
    expect_error(
        "---\nhosts: [controller9]\n---\n",
        "r.md:2:9",
        "unknown host `controller9`",
    );
    let ok = project().file(
        "r.md",
        "---\nhosts: [controller2]\n---\n```sh {on=all}\ntrue\n```\n```sh {on=local}\ntrue\n```\n",
    );
    ok.run(&["lint", "r.md"]).expect_code(0);
}

#[test]
fn inventory_replaces_hosts() {
    let p = project()
        .file(
            "inv.toml",
            "[hosts.web1]\nssh = \"web1\"\n[groups]\nweb = [\"web1\"]\n",
        )
        .file("r.md", "```sh {on=@web}\ntrue\n```\n");
    p.run(&["lint", "r.md"]).expect_code(2);
    p.run(&["lint", "r.md", "--inventory", "inv.toml"])
        .expect_code(0);
}

#[test]
fn every_problem_in_every_file_is_reported() {
    let p = project()
        .file(
            "a.md",
            "```sh {timeout=x}\ntrue\n```\n\n```sh {exit=y}\ntrue\n```\n",
        )
        .file("b.md", "```sh {match=z}\ntrue\n```\n");
    let run = p.run(&["lint", "a.md", "b.md"]);
    run.expect_code(2)
        .expect_stderr_contains("a.md:1:16")
        .expect_stderr_contains("a.md:5:13")
        .expect_stderr_contains("b.md:1:14");
}

#[test]
fn errors_show_the_source_line_and_a_caret() {
    let p = project().file("r.md", "# 配置\n\n```sh {timeout=soon}\ntrue\n```\n");
    let run = p.run(&["lint", "r.md"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("3 | ```sh {timeout=soon}\n  |                ^^^^\n"),
        "{}",
        run.stderr()
    );
}

#[test]
fn warnings_do_not_change_the_exit_status() {
    let p = project().file("r.md", "```sh\ntrue\n");
    p.run(&["lint", "r.md"])
        .expect_code(0)
        .expect_stderr_contains("r.md:1:1: warning: this code fence is never closed");
    let p = project().file("r.md", "```sh {norun}\necho x\n```\n\n```output\nx\n```\n");
    p.run(&["lint", "r.md"])
        .expect_code(0)
        .expect_stderr_contains("warning: this `norun` block has expected output");
}

#[test]
fn unreadable_inputs_are_clear_errors() {
    let p = project().file("empty.md", "").file("folder/notes.txt", "x");
    std::fs::write(p.path().join("bin.md"), b"\x00\x01binary").unwrap();
    std::fs::write(p.path().join("latin1.md"), b"# caf\xe9\n").unwrap();
    p.run(&["lint", "empty.md"])
        .expect_code(2)
        .expect_stderr_contains("empty.md:1:1: the runbook is empty");
    p.run(&["lint", "bin.md"])
        .expect_code(2)
        .expect_stderr_contains("bin.md: is a binary file");
    p.run(&["lint", "latin1.md"])
        .expect_code(2)
        .expect_stderr_contains("latin1.md:1:6: is not UTF-8");
    p.run(&["lint", "missing.md"])
        .expect_code(2)
        .expect_stderr_contains("missing.md: no such file or folder");
    p.run(&["lint", "folder"])
        .expect_code(2)
        .expect_stderr_contains("folder: this folder holds no runbooks");
}

#[test]
fn broken_runbook_toml_has_its_own_location() {
    let p = Project::new()
        .file("runbook.toml", "[hosts.a]\nssh = \"x\"\n\n[hosts.b\n")
        .file("r.md", "```sh\ntrue\n```\n");
    p.run(&["lint", "r.md"])
        .expect_code(2)
        .expect_stderr_contains("runbook.toml:4:");
    let p = Project::new()
        .file("runbook.toml", "[hosts.a]\nsssh = \"x\"\n")
        .file("r.md", "```sh\ntrue\n```\n");
    p.run(&["lint", "r.md"])
        .expect_code(2)
        .expect_stderr_contains("runbook.toml:2:1: unknown field `sssh`");
}

#[test]
fn run_lints_first_and_executes_nothing_on_error() {
    let p = project().file(
        "r.md",
        "```sh\ntouch ran.txt\n```\n\n```sh {timeout=never}\ntrue\n```\n",
    );
    p.run(&["run", "r.md"])
        .expect_code(2)
        .expect_stderr_contains("r.md:5:16");
    assert!(
        !p.path().join("ran.txt").exists(),
        "a step ran although lint failed"
    );
}

#[test]
fn a_large_runbook_lints() {
    // About 5 MB: lint is linear (the 50 MB case is in the benchmarks).
    let mut text = String::from("---\ntitle: big\n---\n");
    for i in 0..40_000 {
        text.push_str(&format!(
            "## Step {i}\n\nProse.\n\n```console\n$ echo {i}\n{i}\n```\n\n"
        ));
    }
    let p = project().file("big.md", &text);
    p.run(&["lint", "big.md"])
        .expect_code(0)
        .expect_stderr_contains("40000 step(s)");
}

#[test]
fn default_ids_follow_headings() {
    let p = project().file(
        "r.md",
        "# 配置 NTP 时间同步\n\n```sh\ntrue\n```\n\n```sh\ntrue\n```\n\n```sh {#配置-ntp-时间同步-3}\ntrue\n```\n\n```sh\ntrue\n```\n",
    );
    p.run(&["lint", "r.md"]).expect_code(0);
    let run = p.run(&["run", "r.md", "--report", "json=r.json"]);
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&p.read("r.json")).unwrap();
    let ids: Vec<&str> = report["runbooks"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "配置-ntp-时间同步",
            "配置-ntp-时间同步-2",
            "配置-ntp-时间同步-3",
            "配置-ntp-时间同步-4"
        ]
    );
}

/// Every example in SPEC.md lints as the spec says.
#[test]
fn spec_examples_lint() {
    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/SPEC.md");
    let spec = std::fs::read_to_string(&spec_path).expect("../shared/SPEC.md beside the project");
    // The runbook example of §1 (a fenced markdown block holding a runbook).
    let start = spec.find("```markdown\n").expect("the §1 example") + "```markdown\n".len();
    let end = start + spec[start..].find("\n```\n```").expect("its end") + "\n```\n".len();
    let example = &spec[start..end];
    // The NTP example of §1.5.
    let ntp_start = spec
        .find("```console {#ntp-peers")
        .expect("the §1.5 example");
    let ntp_end = ntp_start + spec[ntp_start..].find("\n```\n").unwrap() + 5;
    let ntp = &spec[ntp_start..ntp_end];
    let p = project().file("r.md", example).file(
        "ntp.md",
        &format!("---\nhosts: [controller2, controller3]\n---\n\n{ntp}"),
    );
    let config = format!(
        "{}[hosts.controller]\nssh = \"c\"\n",
        p.read("runbook.toml")
    );
    let p = p.file("runbook.toml", &config);
    p.run(&["lint", "r.md", "ntp.md"]).expect_code(0);
    // And the runbook.toml example of §2.
    let t_start = spec.find("```toml\n").unwrap() + 8;
    let t_end = t_start + spec[t_start..].find("```").unwrap();
    let q = Project::new()
        .file("runbook.toml", &spec[t_start..t_end])
        .file("ssh_config", "")
        .file(
            "r.md",
            "```sh {on=@controllers}\ntrue\n```\n```sh {on=workstation}\ntrue\n```\n",
        );
    q.run(&["lint", "r.md"]).expect_code(0);
}

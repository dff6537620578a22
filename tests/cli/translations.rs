//! Translation parity (SPEC §2): a translation holds the same executable, file and output
//! blocks as its source, in the same order; lint points at the translation's block and names
//! the source's (issue 9).

use crate::harness::Project;

const SOURCE: &str = "---\ntitle: 配置\nlang: zh-CN\n---\n\n# 配置\n\n说明。\n\n```console {#one}\n$ echo 1\n1\n```\n\n```sh {#two}\necho 2\n```\n\n```output\n2\n```\n\n```text {#hosts file=/tmp/h mode=append}\n10.0.0.11 controller\n```\n";

fn project(translation: &str) -> Project {
    Project::new()
        .file("runbook.toml", "[site]\nlanguages = [\"zh-CN\", \"en\"]\n")
        .file("runbooks/a.md", SOURCE)
        .file("translations/en/a.md", translation)
}

/// The faithful translation: prose differs, blocks are the same.
fn faithful() -> String {
    SOURCE
        .replace("title: 配置\nlang: zh-CN", "title: Configure\nlang: en")
        .replace("# 配置\n\n说明。", "# Configure\n\nExplanation.")
}

#[test]
fn a_faithful_translation_lints_clean() {
    project(&faithful())
        .run(&["lint"])
        .expect_code(0)
        .expect_stderr_contains("1 translation(s)");
}

#[test]
fn a_changed_command_is_an_error_at_the_translation() {
    let p = project(&faithful().replace("$ echo 1\n1", "$ echo one\n1"));
    let run = p.run(&["lint"]);
    run.expect_code(2);
    run.expect_stderr_contains("translations/en/a.md:11:1: this block differs from the source's block `one` at runbooks/a.md:10:1");
    run.expect_stderr_contains("the source has `$ echo 1`");
}

#[test]
fn changed_expected_output_and_info_string_are_errors() {
    let p = project(&faithful().replace("```output\n2\n```", "```output\ntwo\n```"));
    p.run(&["lint"])
        .expect_code(2)
        .expect_stderr_contains("translations/en/a.md:20:1: this block differs from the source's");
    let p = project(&faithful().replace("```console {#one}", "```console {#uno}"));
    p.run(&["lint"])
        .expect_code(2)
        .expect_stderr_contains("info string differs from the source's block `one`");
}

#[test]
fn a_missing_block_names_the_source_block() {
    let p = project(&faithful().replace("```sh {#two}\necho 2\n```\n\n```output\n2\n```\n\n", ""));
    p.run(&["lint"])
        .expect_code(2)
        .expect_stderr_contains("the source's block `two` at runbooks/a.md:15:1 is missing");
}

#[test]
fn an_extra_block_is_an_error() {
    let p = project(&format!("{}\n```sh\necho extra\n```\n", faithful()));
    p.run(&["lint"])
        .expect_code(2)
        .expect_stderr_contains("this block is not in the source");
}

#[test]
fn reordered_blocks_are_errors() {
    let t = faithful();
    let one = "```console {#one}\n$ echo 1\n1\n```\n\n";
    let hosts = "```text {#hosts file=/tmp/h mode=append}\n10.0.0.11 controller\n```\n";
    let reordered = t
        .replace(one, "")
        .replace(hosts, &format!("{hosts}\n{one}"));
    assert_ne!(reordered, t);
    p_lint_fails(&reordered);
}

fn p_lint_fails(translation: &str) {
    let p = project(translation);
    let run = p.run(&["lint"]);
    run.expect_code(2)
        .expect_stderr_contains("translations/en/a.md:");
}

#[test]
fn a_missing_translation_for_a_site_language_is_a_warning() {
    let p = Project::new()
        .file("runbook.toml", "[site]\nlanguages = [\"zh-CN\", \"en\"]\n")
        .file("runbooks/a.md", SOURCE);
    p.run(&["lint"])
        .expect_code(0)
        .expect_stderr_contains("warning: no `en` translation (expected at translations/en/a.md)");
}

#[test]
fn running_a_translation_runs_its_source() {
    let p = project(&faithful());
    let p = p
        .file(
            "runbooks/b.md",
            "```console {#src}\n$ echo source\nsource\n```\n",
        )
        .file(
            "translations/en/b.md",
            "Prose in English.\n\n```console {#src}\n$ echo source\nsource\n```\n",
        );
    p.run(&["run", "translations/en/b.md", "--report", "json=r.json"])
        .expect_code(0);
    assert!(p.read("r.json").contains("\"path\": \"runbooks/b.md\""));
}

//! Splice tests: (document, new text) → document, every other byte kept.

use std::sync::Arc;

use super::splice::{self, Edit};
use crate::doc::{self, Runbook};
use crate::source::SourceFile;

fn parse(text: &str) -> Runbook {
    let file = Arc::new(SourceFile::new("t.md", text.to_string()));
    let (rb, diags) = doc::parse(&file);
    assert!(
        !diags.iter().any(|d| d.is_error()),
        "{text}: {:?}",
        diags.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    rb
}

/// Rewrites expectation `index` of step `step` with `new` and returns the document.
fn rewrite(text: &str, step: usize, index: usize, new: &str) -> String {
    let rb = parse(text);
    let exps = rb.steps[step].expectations();
    let exp = exps[index];
    let b = &rb.blocks[exp.block];
    let console = b.role == doc::Role::Console;
    let edits = splice::expected(&rb.file, &b.fenced, &exp.lines, exp.at, new, console)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let out = splice::apply(text, &edits);
    // What was written reads back as the new text.
    let again = parse(&out);
    let got = again.steps[step].expectations()[index].text();
    assert_eq!(
        crate::matcher::normalize(&got),
        crate::matcher::normalize(new),
        "{out}"
    );
    out
}

#[test]
fn splices_only_the_drifted_lines() {
    let table: &[(&str, usize, usize, &str, &str)] = &[
        // Console: one line drifted among kept ones; trailing spaces on kept lines stay.
        (
            "# T\n\n```console\n$ x\na  \nold\nc\n```\n",
            0,
            0,
            "a\nnew\nc",
            "# T\n\n```console\n$ x\na  \nnew\nc\n```\n",
        ),
        // An empty expectation gets lines right after its command.
        (
            "```console\n$ a\n\n$ b\nB\n```\n",
            0,
            0,
            "A1\nA2",
            "```console\n$ a\nA1\nA2\n\n$ b\nB\n```\n",
        ),
        // The last command with no output: lines go before the closing fence.
        (
            "```console\n$ a\n```\nprose\n",
            0,
            0,
            "A",
            "```console\n$ a\nA\n```\nprose\n",
        ),
        // Output block: lines removed; the trailing blank line of the block stays.
        (
            "```sh\nls\n```\n\n```output {ws=collapse}\none\ntwo\n\n```",
            0,
            0,
            "two",
            "```sh\nls\n```\n\n```output {ws=collapse}\ntwo\n\n```",
        ),
        // Empty output block.
        (
            "```sh\nls\n```\n```output\n```\n",
            0,
            0,
            "x\n\ny",
            "```sh\nls\n```\n```output\nx\n\ny\n```\n",
        ),
        // Everything removed.
        (
            "```console\n$ a\nold\n```\n",
            0,
            0,
            "",
            "```console\n$ a\n```\n",
        ),
        // CRLF: new lines get CRLF, the rest is untouched.
        (
            "# 标题\r\n\r\n```console\r\n$ echo 你好\r\n再见\r\n```\r\n",
            0,
            0,
            "你好",
            "# 标题\r\n\r\n```console\r\n$ echo 你好\r\n你好\r\n```\r\n",
        ),
        // Inside a list item: the body's indentation; blank lines without trailing spaces.
        (
            "1. step\n\n   ```console\n   $ a\n   old\n   ```\n",
            0,
            0,
            "new\n\n  indented",
            "1. step\n\n   ```console\n   $ a\n   new\n\n     indented\n   ```\n",
        ),
        // Inside a quote: `> ` for text, `>` for blank lines.
        (
            "> ```console\n> $ a\n> old\n> ```\n",
            0,
            0,
            "new\n\nx",
            "> ```console\n> $ a\n> new\n>\n> x\n> ```\n",
        ),
        // No trailing newline at the end of the file.
        (
            "```console\n$ a\nold\n```",
            0,
            0,
            "new",
            "```console\n$ a\nnew\n```",
        ),
    ];
    for (text, step, index, new, want) in table {
        assert_eq!(&rewrite(text, *step, *index, new), want, "{text:?}");
    }
}

#[test]
fn no_change_means_no_edit() {
    let text = "```console\n$ a\nx [..]   \n...\n```\n";
    let rb = parse(text);
    let exp = rb.steps[0].expectations()[0];
    let b = &rb.blocks[exp.block];
    let edits =
        splice::expected(&rb.file, &b.fenced, &exp.lines, exp.at, "x [..]\n...", true).unwrap();
    assert!(edits.is_empty(), "{edits:?}");
}

#[test]
fn refuses_text_that_would_change_the_blocks() {
    for (text, new, why) in [
        ("```console\n$ a\nold\n```\n", "$ rm -rf", "as a command"),
        ("```console\n$ a\nold\n```\n", "> x", "as a command"),
        (
            "```sh\na\n```\n```output\nold\n```\n",
            "````",
            "close the code fence",
        ),
        ("```console\n$ a\nold\n", "new", "never closed"),
    ] {
        let file = Arc::new(SourceFile::new("t.md", text.to_string()));
        let (rb, _) = doc::parse(&file);
        let exp = rb.steps[0].expectations()[0];
        let b = &rb.blocks[exp.block];
        let console = b.role == doc::Role::Console;
        let e =
            splice::expected(&rb.file, &b.fenced, &exp.lines, exp.at, new, console).unwrap_err();
        assert!(e.to_string().contains(why), "{text:?}: {e}");
    }
    // `$ ` output is fine in an `output` block.
    let text = "```sh\na\n```\n```output\nold\n```\n";
    assert!(rewrite(text, 0, 0, "$ x").contains("\n$ x\n"));
}

#[test]
fn exit_attribute_is_set_keeping_the_rest() {
    for (text, want) in [
        ("```console\n$ a\n```\n", "```console {exit=1}\n$ a\n```\n"),
        (
            "```console {#a}\n$ a\n```\n",
            "```console {#a exit=1}\n$ a\n```\n",
        ),
        (
            "```console {#a }\n$ a\n```\n",
            "```console {#a exit=1}\n$ a\n```\n",
        ),
        ("```console{}\n$ a\n```\n", "```console{exit=1}\n$ a\n```\n"),
        (
            "```console on=local\n$ a\n```\n",
            "```console on=local exit=1\n$ a\n```\n",
        ),
        (
            "```console {#a exit=0 timeout=5s}\n$ a\n```\n",
            "```console {#a exit=1 timeout=5s}\n$ a\n```\n",
        ),
        (
            "```console {#a exit=\"2\"}\r\n$ a\r\n```\r\n",
            "```console {#a exit=1}\r\n$ a\r\n```\r\n",
        ),
        (
            "- x\n\n  ```sh   \n  a\n  ```\n",
            "- x\n\n  ```sh {exit=1}   \n  a\n  ```\n",
        ),
    ] {
        let rb = parse(text);
        let b = &rb.blocks[rb.steps[0].block];
        let e: Edit = splice::exit_attr(&rb.file, b.fenced.info_span, &b.info, 1);
        let out = splice::apply(text, &[e]);
        assert_eq!(out, want, "{text:?}");
        assert_eq!(parse(&out).steps[0].exit, doc::ExitSpec::Code(1));
    }
}

#[test]
fn line_endings() {
    assert_eq!(splice::line_ending("a\r\nb\n", 0), "\r\n");
    assert_eq!(splice::line_ending("a\r\nb\n", 3), "\n");
    assert_eq!(splice::line_ending("a\r\nb", 3), "\r\n");
    assert_eq!(splice::line_ending("ab", 0), "\n");
}

//! Regression tests for what the fuzz targets (`fuzz/`) check: inputs that broke an invariant
//! of [`crate::doc::invariants`], kept here minimised, and the repository's own runbooks.

use std::path::Path;
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::doc::{self, attrs, invariants, Runbook};
use crate::source::SourceFile;

/// Parses `text`, checks every invariant, and returns the runbook and its diagnostics.
fn parse_checked(text: &str) -> (Runbook, Vec<Diagnostic>) {
    let file = Arc::new(SourceFile::new("r.md", text.to_string()));
    let (rb, diags) = doc::parse(&file);
    if let Err(e) = invariants::check(&rb, &diags) {
        panic!("{e}\ninput: {text:?}");
    }
    (rb, diags)
}

fn messages(diags: &[Diagnostic]) -> Vec<&str> {
    diags.iter().map(|d| d.message.as_str()).collect()
}

/// A fence line indented four columns or more (or by a tab) is body text, not a closing fence
/// (CommonMark 4.5). The block was marked closed, so the "never closed" warning was missing
/// and the splice point for new expected output landed before that body line.
#[test]
fn regression_indented_fence_line_does_not_close_the_block() {
    for text in [
        "```sh\n    ```\n",
        "```sh\necho hi\n\t```\n",
        "- ```sh\n  echo hi\n      ```\n",
        "> ```sh\n> echo hi\n>     ```\n",
    ] {
        let (rb, diags) = parse_checked(text);
        let b = &rb.blocks[0].fenced;
        assert!(!b.closed, "{text:?}");
        assert!(b.lines.last().unwrap().text.ends_with("```"), "{text:?}");
        assert!(
            messages(&diags).contains(
                &"this code fence is never closed: CommonMark runs it to the end of the file"
            ),
            "{text:?}: {diags:?}"
        );
    }
    // The transcript keeps the line as expected output, and the splice point is after it.
    let text = "```console\n$ echo hi\nhi\n    ```\n";
    let (rb, _) = parse_checked(text);
    let e = rb.steps[0].expectations()[0];
    assert_eq!(e.text(), "hi\n    ```");
    // As a `> ` continuation it is the command's last line; new output goes after it.
    let text = "```console\n$ echo \\\n>     ```\n";
    let (rb, _) = parse_checked(text);
    assert_eq!(rb.steps[0].expectations()[0].at, text.len());
    // A properly indented closing fence (up to three spaces) still closes.
    let (rb, diags) = parse_checked("```sh\necho hi\n   ```\n");
    assert!(rb.blocks[0].fenced.closed);
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn info_string_spans_stay_on_char_boundaries() {
    for info in [
        "配置 {#步骤 on=主机}",
        "sh {timeout=五分钟}",
        "sh {#}",
        "sh {配}",
        "sh {a=\"配置",
        "sh {a} 配",
        "sh a}",
        "sh {#a=配 .b}",
        "\u{3000}sh",
    ] {
        let file = format!("```{info}");
        let r = attrs::parse_info(info, 3);
        if let Err(e) = invariants::check_info(&file, 3, info, &r) {
            panic!("{e}\ninput: {info:?}");
        }
    }
}

#[test]
fn odd_documents_keep_the_invariants() {
    for text in [
        "",
        "---\n",
        "---\ntitle: 配置配置\nhosts: [\n---\n",
        "---\ntitle: 配置配置配置\nowner: x\n---\n",
        "```\n",
        "```console {match=table ignore=\"配 x\" tol=\"配=1\"}\n$ x\n配 y\n```\n",
        "```sh {#a}\n```\n```sh {#a}\n```\n",
        "```sh\r\nx\r\n```\r\n```output\r\n```",
        "1. ```console\n\t$ x\n\ty\n",
        "```diff file=配\n@@ 配\n```\n",
    ] {
        parse_checked(text);
    }
}

/// The shipped runbooks and translations are the fuzz corpus's seeds; they must pass too.
#[test]
fn repository_runbooks_keep_the_invariants() {
    fn walk(dir: &Path, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.extension().is_some_and(|x| x == "md") {
                parse_checked(&std::fs::read_to_string(&p).unwrap());
                *n += 1;
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    walk(&root.join("runbooks"), &mut n);
    walk(&root.join("translations"), &mut n);
    assert!(n > 0);
}

//! Byte-range edits on a file's text (trycmd's `replace_lines`, not scrut's regeneration).
//!
//! An expected block is rewritten by a line diff between the lines as written and the new
//! text: lines the diff keeps are not touched (their bytes, trailing white space included,
//! stay), and each run of changed lines becomes one [`Edit`] over exactly those physical lines.
//! New lines take the container prefix of the block's first non-blank body line (list
//! indentation, `> ` of a quote; blank lines get it without trailing spaces) and the line ending
//! of the block's opening fence line. Everything outside the edits is copied byte for byte.

use std::ops::Range;

use similar::{capture_diff_slices, Algorithm, DiffOp};

use crate::doc::attrs::InfoString;
use crate::doc::markdown::{FencedBlock, Line};
use crate::matcher::normalize;
use crate::source::{SourceFile, Span};

/// Replace `range` of the original text with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// Applies edits to `text`. They must not overlap; their order does not matter.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in sorted {
        debug_assert!(e.range.start >= at, "overlapping edits");
        out.push_str(&text[at..e.range.start]);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether two sets of edits touch the same bytes (or insert at the same place).
pub fn overlaps(a: &[Edit], b: &[Edit]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| {
            x.range.start < y.range.end && y.range.start < x.range.end
                || x.range.start == y.range.start
        })
    })
}

/// Why an expected block cannot be rewritten in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The block's fence is never closed.
    Unclosed,
    /// The lines' spans do not hold their text (CommonMark rewrote them: a tab in a list item).
    Unlocated,
    /// A new line would read as a transcript command (`$ `, `# `, `> `).
    LooksLikeCommand(String),
    /// A new line would close the fence.
    ClosesFence(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unclosed => write!(f, "its code fence is never closed"),
            Refusal::Unlocated => write!(
                f,
                "its lines could not be located byte for byte in the file (a tab inside a list item?)"
            ),
            Refusal::LooksLikeCommand(l) => write!(
                f,
                "the output has the line `{l}`, which a console transcript would read as a command"
            ),
            Refusal::ClosesFence(l) => write!(
                f,
                "the output has the line `{l}`, which would close the code fence"
            ),
        }
    }
}

/// The edits that turn the expected lines `lines` (of `block`, starting at `at` when there
/// are none) into `new_text`. `console`: the block is a transcript, whose output lines may not
/// look like commands. No edits when nothing changes.
pub fn expected(
    file: &SourceFile,
    block: &FencedBlock,
    lines: &[Line],
    at: usize,
    new_text: &str,
    console: bool,
) -> Result<Vec<Edit>, Refusal> {
    if !block.closed {
        return Err(Refusal::Unclosed);
    }
    let text = &file.text;
    if lines
        .iter()
        .any(|l| text.get(l.span.range()) != Some(l.text.as_str()))
    {
        return Err(Refusal::Unlocated);
    }
    // Trailing blank lines are not expected output (they normalise away); they stay as written.
    let kept_len = lines
        .iter()
        .rposition(|l| !l.text.trim().is_empty())
        .map_or(0, |i| i + 1);
    let old = &lines[..kept_len];
    let old_norm: Vec<String> = old.iter().map(|l| normalize(&l.text)).collect();
    let old_norm: Vec<&str> = old_norm.iter().map(String::as_str).collect();
    let new: Vec<&str> = if new_text.is_empty() {
        Vec::new()
    } else {
        new_text.split('\n').collect()
    };

    let fence = fence_of(file, block);
    let prefix = prefix_of(file, block);
    let eol = line_ending(text, block.info_span.start);
    let start_of = |l: &Line| line_start(file, l.span.start);
    let end_of = |l: &Line| next_line_start(file, l.span.start);
    let insert_at = |i: usize| -> usize {
        if let Some(l) = old.get(i) {
            start_of(l)
        } else if let Some(l) = old.last() {
            end_of(l)
        } else if let Some(l) = lines.first() {
            start_of(l)
        } else {
            at
        }
    };

    // Consecutive changes form one hunk: (old range, new range).
    let mut hunks: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    for op in capture_diff_slices(Algorithm::Myers, &old_norm, &new) {
        if let DiffOp::Equal { .. } = op {
            continue;
        }
        let (o, n) = (op.old_range(), op.new_range());
        match hunks.last_mut() {
            Some((lo, ln)) if lo.end == o.start && ln.end == n.start => {
                lo.end = o.end;
                ln.end = n.end;
            }
            _ => hunks.push((o, n)),
        }
    }

    let mut edits = Vec::with_capacity(hunks.len());
    for (o, n) in hunks {
        let mut body = String::new();
        for &line in &new[n] {
            if console && looks_like_command(line) {
                return Err(Refusal::LooksLikeCommand(line.to_string()));
            }
            if closes_fence(line, fence) {
                return Err(Refusal::ClosesFence(line.to_string()));
            }
            if line.is_empty() {
                body.push_str(prefix.trim_end());
            } else {
                body.push_str(prefix);
                body.push_str(line);
            }
            body.push_str(eol);
        }
        let range = if o.is_empty() {
            let p = insert_at(o.start);
            p..p
        } else {
            start_of(&old[o.start])..end_of(&old[o.end - 1])
        };
        edits.push(Edit { range, text: body });
    }
    Ok(edits)
}

/// The edit that sets `exit=CODE` in an info string: the attribute's value replaced where it
/// is given, else `exit=CODE` added inside the braces, after the other attributes, or braces
/// added when there are no attributes.
pub fn exit_attr(file: &SourceFile, info_span: Span, info: &InfoString, code: i32) -> Edit {
    let attr = format!("exit={code}");
    if let Some(a) = info.get("exit") {
        return Edit {
            range: a.span.range(),
            text: attr,
        };
    }
    let text = &file.text;
    let after_lang = text[info.lang_span.end..info_span.end].trim_start();
    let end = info_span.end;
    if after_lang.starts_with('{') && text[..end].ends_with('}') {
        let brace = end - 1;
        let before = text[..brace].chars().next_back().unwrap_or('{');
        let sep = if before == '{' || before.is_whitespace() {
            ""
        } else {
            " "
        };
        Edit {
            range: brace..brace,
            text: format!("{sep}{attr}"),
        }
    } else if info.attrs.is_empty() {
        Edit {
            range: end..end,
            text: format!(" {{{attr}}}"),
        }
    } else {
        Edit {
            range: end..end,
            text: format!(" {attr}"),
        }
    }
}

/// `$ `, `# ` or `> ` at the start (or the bare prompt): a transcript would take it as a
/// command or a continuation.
fn looks_like_command(line: &str) -> bool {
    ["$ ", "# ", "> "].iter().any(|p| line.starts_with(p)) || matches!(line, "$" | "#" | ">")
}

/// Whether a body line would close a fence opened with `fence` (e.g. "```").
fn closes_fence(line: &str, fence: &str) -> bool {
    let Some(ch) = fence.chars().next() else {
        return false;
    };
    let t = line.trim();
    t.len() >= fence.len() && t.chars().all(|c| c == ch)
}

/// The fence characters of the opening fence ("```", "~~~~").
fn fence_of<'a>(file: &'a SourceFile, block: &FencedBlock) -> &'a str {
    let before =
        file.text[line_start(file, block.info_span.start)..block.info_span.start].trim_end();
    let ch = before.chars().next_back().unwrap_or('`');
    let n = before.chars().rev().take_while(|c| *c == ch).count();
    &before[before.len() - n * ch.len_utf8()..]
}

/// The bytes before a body line's text: container indentation, `> ` markers, fence indent.
fn prefix_of<'a>(file: &'a SourceFile, block: &FencedBlock) -> &'a str {
    let text = &file.text;
    if let Some(l) = block.lines.iter().find(|l| !l.text.trim().is_empty()) {
        return &text[line_start(file, l.span.start)..l.span.start];
    }
    // No body to copy from: the opening fence line's, up to the fence.
    let start = line_start(file, block.info_span.start);
    let line = &text[start..block.info_span.start];
    let n = line.len() - line.trim_start_matches([' ', '\t', '>']).len();
    &line[..n]
}

/// The line ending of the line that holds `at` (`\r\n` or `\n`); the file's first one when that
/// line has none.
pub fn line_ending(text: &str, at: usize) -> &'static str {
    let crlf = |nl: usize| nl > 0 && text.as_bytes()[nl - 1] == b'\r';
    match text[at..]
        .find('\n')
        .map(|i| at + i)
        .or_else(|| text.find('\n'))
    {
        Some(nl) if crlf(nl) => "\r\n",
        _ => "\n",
    }
}

fn line_start(file: &SourceFile, offset: usize) -> usize {
    file.line_start(file.line_of(offset))
}

/// Where the line after the one holding `offset` starts (the end of the text on the last line).
fn next_line_start(file: &SourceFile, offset: usize) -> usize {
    let line = file.line_of(offset);
    if line < file.line_count() {
        file.line_start(line + 1)
    } else {
        file.text.len()
    }
}

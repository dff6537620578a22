//! The one pulldown-cmark setup. lint, run, update and the site all see a document through
//! [`options`] and [`scan`], so they can never disagree about what a block is.
//!
//! [`scan`] walks the offset iterator and keeps, for each fenced code block, the raw info
//! string with its span, and each body line with the byte span of its text in the file
//! (container indentation and `> ` markers excluded), so `update` can splice exact bytes.

use pulldown_cmark::{
    CodeBlockKind, Event, HeadingLevel, MetadataBlockKind, Options, Parser, Tag, TagEnd,
};

use crate::source::Span;

/// CommonMark plus GitHub tables and a YAML front matter block.
pub fn options() -> Options {
    let mut o = Options::empty();
    o.insert(Options::ENABLE_TABLES);
    o.insert(Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);
    o.insert(Options::ENABLE_STRIKETHROUGH);
    o.insert(Options::ENABLE_TASKLISTS);
    o
}

pub fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, options())
}

/// One line of a block body: its text (no line ending) and where that text sits in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub span: Span,
}

/// A fenced code block as written.
#[derive(Debug, Clone)]
pub struct FencedBlock {
    /// Opening fence to closing fence.
    pub span: Span,
    /// The info string after the fence characters, and its span.
    pub info: String,
    pub info_span: Span,
    pub lines: Vec<Line>,
    /// False when the fence is never closed and CommonMark runs the block to the end of its
    /// container (usually the end of the file).
    pub closed: bool,
}

#[derive(Debug, Clone)]
pub struct Heading {
    pub level: HeadingLevel,
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Item {
    FrontMatter { text: String, span: Span },
    Heading(Heading),
    Block(FencedBlock),
}

/// The front matter, headings and fenced blocks of a document, in order.
pub fn scan(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut heading: Option<Heading> = None;
    let mut block: Option<FencedBlock> = None;
    // The last body line has not seen its line ending yet (see `push_lines`).
    let mut open = false;
    let mut in_meta = false;
    // Where the body text of the open block ends so far.
    let mut body_end = 0;
    for (event, range) in parser(text).into_offset_iter() {
        match event {
            Event::Start(Tag::MetadataBlock(MetadataBlockKind::YamlStyle)) => in_meta = true,
            Event::End(TagEnd::MetadataBlock(_)) => in_meta = false,
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some(Heading {
                    level,
                    text: String::new(),
                    span: Span::new(range.start, range.end),
                })
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    items.push(Item::Heading(h));
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                let (info, info_span) = info_string(text, range.start);
                block = Some(FencedBlock {
                    span: Span::new(range.start, range.end),
                    info,
                    info_span,
                    lines: Vec::new(),
                    closed: false,
                });
                open = false;
                body_end = range.start;
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(mut b) = block.take() {
                    b.closed = is_closed(text, b.span.start, b.span.end, body_end);
                    items.push(Item::Block(b));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if in_meta {
                    items.push(Item::FrontMatter {
                        text: t.to_string(),
                        span: Span::new(range.start, range.end),
                    });
                } else if let Some(b) = block.as_mut() {
                    body_end = body_end.max(range.end);
                    push_lines(&mut b.lines, text, &t, range.start, range.end, &mut open);
                } else if let Some(h) = heading.as_mut() {
                    h.text.push_str(&t);
                }
            }
            _ => {}
        }
    }
    items
}

/// Splits a text event of a code block into lines, each with its span in the file.
///
/// With CRLF line endings pulldown-cmark leaves the `\r` out, so a line's text and its `\n`
/// arrive in separate events (`"$ a"`, then `"\nb"`): `open` says the last line still waits
/// for its line ending, which the next event then starts with.
fn push_lines(
    lines: &mut Vec<Line>,
    source: &str,
    chunk: &str,
    start: usize,
    end: usize,
    open: &mut bool,
) {
    // A chunk is normally a verbatim slice of the source; where CommonMark rewrote it (a tab
    // expanded inside a list item), every line of the chunk is placed at the chunk's start.
    let verbatim = source.get(start..end) == Some(chunk);
    let (mut chunk, mut start) = (chunk, start);
    if *open && !chunk.is_empty() {
        if let Some(rest) = chunk.strip_prefix('\n') {
            chunk = rest;
            start += 1;
        } else if let Some(last) = lines.last_mut() {
            // The same line goes on.
            let piece = chunk.split_inclusive('\n').next().unwrap_or(chunk);
            let body = piece.strip_suffix('\n').unwrap_or(piece);
            let body = body.strip_suffix('\r').unwrap_or(body);
            // The span grows only while both pieces are verbatim source; otherwise the line
            // is placed at a point, like any line CommonMark rewrote.
            let was_verbatim = last.span.len() == last.text.len();
            last.text.push_str(body);
            if verbatim && was_verbatim && last.span.end == start {
                last.span.end = start + body.len();
            } else {
                last.span = Span::at(last.span.start);
            }
            chunk = &chunk[piece.len()..];
            start += piece.len();
            if !piece.ends_with('\n') {
                return;
            }
        }
    }
    *open = !chunk.is_empty() && !chunk.ends_with('\n');
    let mut offset = 0;
    for piece in chunk.split_inclusive('\n') {
        let body = piece.strip_suffix('\n').unwrap_or(piece);
        let body = body.strip_suffix('\r').unwrap_or(body);
        let span = if verbatim {
            Span::new(start + offset, start + offset + body.len())
        } else {
            Span::at(start)
        };
        lines.push(Line {
            text: body.to_string(),
            span,
        });
        offset += piece.len();
    }
}

/// The info string on the opening fence line that starts at `fence_start`.
fn info_string(text: &str, fence_start: usize) -> (String, Span) {
    let line_end = text[fence_start..]
        .find('\n')
        .map_or(text.len(), |i| fence_start + i);
    let line = &text[fence_start..line_end];
    let indent = line.len() - line.trim_start().len();
    let fence_char = line[indent..].chars().next().unwrap_or('`');
    let fence_len = line[indent..]
        .chars()
        .take_while(|c| *c == fence_char)
        .count();
    let after = fence_start + indent + fence_len;
    let raw = &text[after..line_end];
    let raw_trimmed_end = raw.trim_end();
    let lead = raw_trimmed_end.len() - raw_trimmed_end.trim_start().len();
    let start = after + lead;
    let end = after + raw_trimmed_end.len();
    (text[start..end].to_string(), Span::new(start, end))
}

/// Whether the block's last line is a closing fence (and not the opening one). `body_end` is
/// where the block's body text ends: a last line that is body text is no fence, however it
/// looks (a fence line indented four columns or more, or by a tab, is content).
fn is_closed(text: &str, start: usize, end: usize, body_end: usize) -> bool {
    let slice = text[start..end].trim_end_matches(['\n', '\r']);
    let Some(nl) = slice.rfind('\n') else {
        return false;
    };
    if start + nl + 1 < body_end {
        return false;
    }
    let opening = slice.trim_start();
    let fence_char = opening.chars().next().unwrap_or('`');
    let open_len = opening.chars().take_while(|c| *c == fence_char).count();
    let last = slice[nl + 1..].trim();
    // Container markers (`>`) may precede the closing fence inside a block quote.
    let last = last.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    last.len() >= open_len && last.chars().all(|c| c == fence_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str) -> Vec<FencedBlock> {
        scan(text)
            .into_iter()
            .filter_map(|i| match i {
                Item::Block(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn body_lines_map_to_their_bytes_inside_lists_and_quotes() {
        let text = "1. item\n\n   ```console {#a}\n   # echo hi\n   hi\n\n     two\n   ```\n\n> ```sh\n> ls\n> ```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].info, "console {#a}");
        assert_eq!(&text[b[0].info_span.range()], "console {#a}");
        let texts: Vec<_> = b[0].lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["# echo hi", "hi", "", "  two"]);
        for l in &b[0].lines {
            assert_eq!(&text[l.span.range()], l.text);
        }
        assert!(b[0].closed);
        assert_eq!(&text[b[1].lines[0].span.range()], "ls");
        assert!(b[1].closed);
    }

    #[test]
    fn crlf_lines_are_split_once() {
        let text = "```console\r\n$ a\r\nb\r\n\r\n  c\r\n```\r\n> ```sh\r\n> ls\r\n> ```\r\n";
        let b = blocks(text);
        let texts: Vec<_> = b[0].lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["$ a", "b", "", "  c"]);
        for l in b.iter().flat_map(|b| &b.lines) {
            assert_eq!(&text[l.span.range()], l.text);
        }
        let texts: Vec<_> = b[1].lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["ls"]);
    }

    #[test]
    fn unterminated_fence_runs_to_the_end() {
        let b = blocks("```sh\necho x\n");
        assert!(!b[0].closed);
        let b = blocks("~~~~sh\necho x\n~~~~\n");
        assert!(b[0].closed);
        let b = blocks("```sh\n");
        assert!(!b[0].closed);
    }

    #[test]
    fn front_matter_and_headings() {
        let items = scan("---\ntitle: x\n---\n\n## 配置 `NTP`\n");
        assert!(matches!(&items[0], Item::FrontMatter { text, .. } if text == "title: x\n"));
        assert!(matches!(&items[1], Item::Heading(h) if h.text == "配置 NTP"));
    }
}

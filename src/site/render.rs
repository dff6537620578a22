//! A runbook to HTML: the prose from the one pulldown-cmark setup
//! ([`crate::doc::markdown::parser`]), each fenced block by its [`Role`], and each step's latest
//! results. Pure functions of the model and the store's rows, so tests call them directly.
//!
//! Safety: every text from a runbook or an output reaches the page through askama's escaping
//! or pulldown-cmark's text escaping. Raw HTML in prose is shown as text (HTML comments are
//! dropped: they are invisible in any Markdown viewer too), and links and images keep only
//! `http:`, `https:`, `mailto:` and relative addresses.

use std::collections::{HashMap, HashSet};

use askama::Template;
use pulldown_cmark::{CodeBlockKind, CowStr, Event, Tag, TagEnd};

use crate::doc::{Action, Block, FileMode, Role, Runbook};
use crate::outcome::StepResult;
use crate::site::i18n::Ui;
use crate::store::{LatestResult, ManualCheck};

/// What the page knows besides the document: hosts, results, ticks, what may be clicked.
pub struct Annotations<'a> {
    /// Hosts of each step, by step id (the source's steps; a translation has the same ids).
    pub hosts: HashMap<&'a str, &'a [String]>,
    /// Latest results of this runbook, from the store.
    pub latest: &'a [LatestResult],
    /// Manual ticks of this runbook, from the store.
    pub checks: &'a [ManualCheck],
    /// Show Run buttons.
    pub run: bool,
    /// Manual check boxes can be ticked (serve with execution enabled and the token).
    pub tick: bool,
}

/// A heading of the page, for the sidebar.
#[derive(Debug, Clone, PartialEq)]
pub struct TocItem {
    pub level: u8,
    pub id: String,
    pub text: String,
}

/// The rendered document body.
#[derive(Debug, Clone)]
pub struct Body {
    pub html: String,
    pub toc: Vec<TocItem>,
    /// The text of the first `#` heading, when the document has one.
    pub h1: Option<String>,
}

/// One line of a diff, with the changed words of a changed line marked.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffLine {
    /// `add`, `del`, `ctx`, `hunk` or `head`.
    pub class: &'static str,
    pub spans: Vec<DiffSpan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiffSpan {
    pub em: bool,
    pub text: String,
}

/// One host's result for a step: the status badge, when it ran, the output and the diff.
#[derive(Debug, Clone)]
pub struct LaneView {
    pub step: String,
    pub host: String,
    /// `passed`, `failed`, `error`, `skipped`, `manual`, or `none` (never ran).
    pub status: String,
    pub label: &'static str,
    /// RFC 3339, empty when never ran.
    pub when: String,
    pub when_text: String,
    pub last_passed: String,
    pub last_passed_text: String,
    pub duration: String,
    pub exit_code: Option<i64>,
    pub attempts: i64,
    pub actual: String,
    pub diff: Vec<DiffLine>,
    pub message: String,
    pub notes: Vec<String>,
}

impl LaneView {
    pub fn empty(ui: &'static Ui, step: &str, host: &str) -> LaneView {
        LaneView {
            step: step.to_string(),
            host: host.to_string(),
            status: "none".into(),
            label: ui.not_run,
            when: String::new(),
            when_text: String::new(),
            last_passed: String::new(),
            last_passed_text: String::new(),
            duration: String::new(),
            exit_code: None,
            attempts: 0,
            actual: String::new(),
            diff: Vec::new(),
            message: String::new(),
            notes: Vec::new(),
        }
    }

    pub fn from_latest(ui: &'static Ui, r: &LatestResult) -> LaneView {
        let last_passed = r.last_passed.clone().unwrap_or_default();
        LaneView {
            step: r.step.clone(),
            host: r.host.clone(),
            status: r.status.clone(),
            label: ui.status(&r.status),
            when_text: short_time(&r.when),
            when: r.when.clone(),
            last_passed_text: short_time(&last_passed),
            last_passed,
            duration: duration_text(r.duration_ms.max(0) as u64),
            exit_code: r.exit_code,
            attempts: r.attempts,
            actual: r.actual.clone(),
            diff: diff_lines(&r.diff),
            message: r.message.clone().unwrap_or_default(),
            notes: r.notes.clone(),
        }
    }

    /// A result that just arrived from a run in the site (`last_passed` is this one, or
    /// unknown here: the page learns the rest on reload).
    pub fn from_result(ui: &'static Ui, r: &StepResult) -> LaneView {
        let status = r.status.as_str();
        let passed = status == "passed";
        LaneView {
            step: r.id.clone(),
            host: r.host.clone(),
            status: status.to_string(),
            label: ui.status(status),
            when_text: short_time(&r.started_at),
            when: millis(&r.started_at),
            last_passed: if passed {
                millis(&r.started_at)
            } else {
                String::new()
            },
            last_passed_text: if passed {
                short_time(&r.started_at)
            } else {
                String::new()
            },
            duration: duration_text(r.duration_ms),
            exit_code: r.exit_code.map(i64::from),
            attempts: i64::from(r.attempts),
            actual: r.actual.clone(),
            diff: diff_lines(&r.diff),
            message: r.message.clone().unwrap_or_default(),
            notes: r.notes.clone(),
        }
    }

    /// Whether the output starts unfolded: when something is wrong.
    pub fn open(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "error")
    }

    pub fn ran(&self) -> bool {
        !self.when.is_empty()
    }
}

/// A lane on its own, for the live stream (the browser swaps it in for the running lane).
#[derive(Template)]
#[template(path = "lane.html", config = "web/askama.toml")]
pub struct LaneTemplate<'a> {
    pub lane: &'a LaneView,
    pub ui: &'static Ui,
}

/// A manual step's check box for one host.
#[derive(Debug, Clone)]
pub struct CheckView {
    pub host: String,
    pub checked: bool,
}

/// The step part of a block: anchor, hosts, buttons and lanes (or check boxes).
#[derive(Debug, Clone)]
pub struct StepView {
    pub id: String,
    pub hosts: Vec<String>,
    pub lanes: Vec<LaneView>,
    pub run: bool,
    pub manual: bool,
    pub checks: Vec<CheckView>,
    pub tick: bool,
}

/// One command of a transcript as shown: its lines (the first after the prompt, the others
/// after `> `), the text the copy button copies (no prompt), and the expected output.
#[derive(Debug, Clone)]
pub struct CmdView {
    pub prompt: String,
    pub lines: Vec<String>,
    pub copy: String,
    pub expected: String,
}

#[derive(Template)]
#[template(path = "block.html", config = "web/askama.toml")]
pub struct BlockView<'a> {
    pub ui: &'static Ui,
    /// `console`, `script`, `file`, `diff`, `manual`, `norun`, `output` or `code`.
    pub kind: &'static str,
    pub lang: String,
    pub step: Option<&'a StepView>,
    pub cmds: Vec<CmdView>,
    pub code: String,
    pub diff: Vec<DiffLine>,
    pub expected: Option<String>,
    /// For file blocks: what the block does ("appends to /etc/hosts on a, b").
    pub action: String,
}

/// Renders the document's body: prose, blocks and results.
pub fn body(
    doc: &Runbook,
    ann: &Annotations<'_>,
    ui: &'static Ui,
    link: &dyn Fn(&str) -> Option<String>,
) -> Body {
    let text = doc.file.text.as_str();
    let starts: HashMap<usize, usize> = doc
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.fenced.span.start, i))
        .collect();
    // `output` blocks shown inside the step of the script before them.
    let mut consumed: HashSet<usize> = HashSet::new();
    for s in &doc.steps {
        if let Action::Script {
            expected: Some(e), ..
        } = &s.action
        {
            if e.block != s.block {
                consumed.insert(e.block);
            }
        }
    }
    let mut used: HashSet<String> = doc.steps.iter().map(|s| s.id.clone()).collect();
    let mut toc = Vec::new();
    let mut h1 = None;
    let mut out = String::with_capacity(text.len() * 2);
    let mut pending: Vec<Event<'_>> = Vec::new();
    let mut events = crate::doc::markdown::parser(text).into_offset_iter();
    while let Some((event, range)) = events.next() {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => {
                for (e, _) in events.by_ref() {
                    if matches!(e, Event::End(TagEnd::MetadataBlock(_))) {
                        break;
                    }
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                match starts.get(&range.start) {
                    Some(&bi) => {
                        for (e, _) in events.by_ref() {
                            if matches!(e, Event::End(TagEnd::CodeBlock)) {
                                break;
                            }
                        }
                        flush(&mut pending, &mut out);
                        if !consumed.contains(&bi) {
                            out.push_str(&block(doc, bi, ann, ui));
                        }
                    }
                    None => pending.push(Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))),
                }
            }
            Event::Start(Tag::HtmlBlock) => {
                let mut raw = String::new();
                for (e, _) in events.by_ref() {
                    match e {
                        Event::End(TagEnd::HtmlBlock) => break,
                        Event::Html(t) | Event::Text(t) => raw.push_str(&t),
                        _ => {}
                    }
                }
                if !is_comment(&raw) {
                    pending.push(Event::Html(CowStr::from(format!(
                        "<pre class=\"raw-html\"><code>{}</code></pre>\n",
                        escape(&raw)
                    ))));
                }
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                if !is_comment(&t) {
                    pending.push(Event::Text(t));
                }
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest = rewrite_url(&dest_url, link);
                pending.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url: CowStr::from(dest),
                    title,
                    id,
                }));
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest = rewrite_url(&dest_url, &|_| None);
                pending.push(Event::Start(Tag::Image {
                    link_type,
                    dest_url: CowStr::from(dest),
                    title,
                    id,
                }));
            }
            Event::Start(Tag::Heading { level, .. }) => {
                let mut inner: Vec<Event<'_>> = Vec::new();
                let mut plain = String::new();
                for (e, _) in events.by_ref() {
                    match e {
                        Event::End(TagEnd::Heading(_)) => break,
                        Event::Text(ref t) | Event::Code(ref t) => {
                            plain.push_str(t);
                            inner.push(e);
                        }
                        Event::Html(t) | Event::InlineHtml(t) => {
                            if !is_comment(&t) {
                                plain.push_str(&t);
                                inner.push(Event::Text(t));
                            }
                        }
                        Event::Start(Tag::Link { .. }) | Event::End(TagEnd::Link) => {}
                        other => inner.push(other),
                    }
                }
                let n = level as u8;
                let id = unique(slug(&plain), &mut used);
                if n == 1 && h1.is_none() {
                    h1 = Some(plain.clone());
                }
                if (2..=3).contains(&n) {
                    toc.push(TocItem {
                        level: n,
                        id: id.clone(),
                        text: plain.clone(),
                    });
                }
                pending.push(Event::Html(CowStr::from(format!(
                    "<h{n} id=\"{}\"><a class=\"header\" href=\"#{}\">",
                    escape(&id),
                    escape(&id)
                ))));
                pending.extend(inner);
                pending.push(Event::Html(CowStr::from(format!("</a></h{n}>\n"))));
            }
            other => pending.push(other),
        }
    }
    flush(&mut pending, &mut out);
    Body { html: out, toc, h1 }
}

fn flush(pending: &mut Vec<Event<'_>>, out: &mut String) {
    if !pending.is_empty() {
        pulldown_cmark::html::push_html(out, pending.drain(..));
    }
}

fn is_comment(raw: &str) -> bool {
    let t = raw.trim();
    t.starts_with("<!--") && t.ends_with("-->")
}

/// Keeps `http`, `https`, `mailto` and relative addresses; a relative `.md` link to another
/// runbook becomes the address of its page. Anything else becomes `#`.
fn rewrite_url(dest: &str, link: &dyn Fn(&str) -> Option<String>) -> String {
    // Browsers ignore control characters and whitespace inside a scheme (`java\tscript:`).
    let cleaned: String = dest
        .chars()
        .filter(|c| !c.is_ascii_control() && !c.is_whitespace())
        .collect();
    if let Some(colon) = cleaned.find(':') {
        let scheme = &cleaned[..colon];
        let is_scheme = !scheme.is_empty()
            && !scheme.contains(['/', '?', '#'])
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            let s = scheme.to_ascii_lowercase();
            return if matches!(s.as_str(), "http" | "https" | "mailto") {
                dest.to_string()
            } else {
                "#".to_string()
            };
        }
    }
    if cleaned.starts_with("//") {
        // Scheme-relative: another host; keep it but never as a way around the check above.
        return format!("https:{cleaned}");
    }
    if !dest.starts_with('#') && !dest.starts_with('/') {
        if let Some(href) = link(dest) {
            return href;
        }
    }
    dest.to_string()
}

/// A heading's anchor: lower-case letters and digits (any script) joined by `-`.
pub fn slug(text: &str) -> String {
    let mut s = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if dash && !s.is_empty() {
                s.push('-');
            }
            dash = false;
            s.extend(c.to_lowercase());
        } else if c.is_whitespace() || c == '-' || c == '_' || c == '/' || c == '.' {
            dash = true;
        }
    }
    if s.is_empty() {
        "section".into()
    } else {
        s
    }
}

fn unique(base: String, used: &mut HashSet<String>) -> String {
    let mut id = base.clone();
    let mut n = 1;
    while used.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    used.insert(id.clone());
    id
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders block `bi` of `doc` by its role, with its step's results.
fn block(doc: &Runbook, bi: usize, ann: &Annotations<'_>, ui: &'static Ui) -> String {
    let b = &doc.blocks[bi];
    let step = b.step.map(|si| &doc.steps[si]);
    let hosts: Vec<String> = step
        .and_then(|s| ann.hosts.get(s.id.as_str()))
        .map(|h| h.to_vec())
        .unwrap_or_default();
    let step_view = step.map(|s| {
        let manual = s.is_manual();
        StepView {
            id: s.id.clone(),
            lanes: if manual {
                Vec::new()
            } else {
                hosts.iter().map(|h| lane(ann, ui, &s.id, h)).collect()
            },
            checks: if manual {
                hosts
                    .iter()
                    .map(|h| CheckView {
                        host: h.clone(),
                        checked: ann
                            .checks
                            .iter()
                            .any(|c| c.step == s.id && c.host == *h && c.checked),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            hosts: hosts.clone(),
            run: ann.run && !manual,
            manual,
            tick: ann.tick,
        }
    });
    let mut v = BlockView {
        ui,
        kind: "code",
        lang: b.info.lang.clone(),
        step: step_view.as_ref(),
        cmds: Vec::new(),
        code: String::new(),
        diff: Vec::new(),
        expected: None,
        action: String::new(),
    };
    match (b.role, step.map(|s| &s.action)) {
        (Role::Console, Some(Action::Console(cmds))) => {
            v.kind = "console";
            v.cmds = cmds
                .iter()
                .map(|c| CmdView {
                    prompt: c.prompt.to_string(),
                    lines: c.text.split('\n').map(str::to_string).collect(),
                    copy: c.text.clone(),
                    expected: c.expected.text(),
                })
                .collect();
        }
        (Role::Script, Some(Action::Script { code, expected })) => {
            v.kind = "script";
            v.code = code.clone();
            v.expected = expected.as_ref().map(|e| e.text());
        }
        (
            Role::File,
            Some(Action::File {
                path,
                mode,
                perm,
                content,
            }),
        ) => {
            v.kind = "file";
            let verb = match mode {
                FileMode::Replace => ui.writes,
                FileMode::Append => ui.appends,
            };
            v.action = ui.file_action(verb, path, &hosts);
            if let Some(p) = perm {
                v.action.push_str(&format!(" ({} {p:04o})", ui.file_mode));
            }
            v.code = content.clone();
        }
        (Role::Diff, Some(Action::Diff { path, diff, perm })) => {
            v.kind = "diff";
            v.action = ui.file_action(ui.applies, path, &hosts);
            if let Some(p) = perm {
                v.action.push_str(&format!(" ({} {p:04o})", ui.file_mode));
            }
            v.diff = diff_lines(diff);
        }
        (Role::Manual, _) => {
            v.kind = "manual";
            v.code = b.body();
        }
        (Role::NoRun, _) if is_console(b) => {
            v.kind = "norun";
            v.cmds = transcript(b);
        }
        (Role::NoRun, _) => {
            v.kind = "norun";
            v.code = b.body();
        }
        (Role::Output, _) => {
            v.kind = "output";
            v.code = b.body();
        }
        _ => {
            v.code = b.body();
        }
    }
    // A code block's text ends with a newline that the page should not show as a blank line.
    if v.code.ends_with('\n') {
        v.code.pop();
    }
    v.render().unwrap_or_default()
}

fn lane(ann: &Annotations<'_>, ui: &'static Ui, step: &str, host: &str) -> LaneView {
    ann.latest
        .iter()
        .find(|r| r.step == step && r.host == host)
        .map_or_else(
            || LaneView::empty(ui, step, host),
            |r| LaneView::from_latest(ui, r),
        )
}

fn is_console(b: &Block) -> bool {
    matches!(b.info.lang.as_str(), "console" | "shell-session")
}

/// A transcript that is not a step (`norun`): commands and output split by prompt, as the
/// console rules of SPEC §1.2 read them.
fn transcript(b: &Block) -> Vec<CmdView> {
    let mut cmds: Vec<CmdView> = Vec::new();
    for l in &b.fenced.lines {
        let t = l.text.as_str();
        if let Some(rest) = t.strip_prefix("$ ").or_else(|| t.strip_prefix("# ")) {
            cmds.push(CmdView {
                prompt: t[..1].to_string(),
                lines: vec![rest.to_string()],
                copy: rest.to_string(),
                expected: String::new(),
            });
        } else if let (Some(rest), Some(c)) = (t.strip_prefix("> "), cmds.last_mut()) {
            if c.expected.is_empty() {
                c.lines.push(rest.to_string());
                c.copy.push('\n');
                c.copy.push_str(rest);
                continue;
            }
        } else if let Some(c) = cmds.last_mut() {
            if !c.expected.is_empty() {
                c.expected.push('\n');
            }
            c.expected.push_str(t);
        } else {
            cmds.push(CmdView {
                prompt: String::new(),
                lines: Vec::new(),
                copy: String::new(),
                expected: t.to_string(),
            });
        }
    }
    cmds
}

/// Classifies the lines of a unified diff (as the matcher and `diff` blocks write it) and
/// marks the changed words where one line was replaced by another.
pub fn diff_lines(diff: &str) -> Vec<DiffLine> {
    if diff.is_empty() {
        return Vec::new();
    }
    let raw: Vec<&str> = diff.lines().collect();
    let mut classes: Vec<&'static str> = Vec::with_capacity(raw.len());
    let mut in_hunk = false;
    for (i, l) in raw.iter().enumerate() {
        let next = raw.get(i + 1).copied().unwrap_or("");
        let class = if l.starts_with("--- ") && next.starts_with("+++ ") {
            in_hunk = false;
            "head"
        } else if l.starts_with("+++ ") && i > 0 && raw[i - 1].starts_with("--- ") && !in_hunk {
            "head"
        } else if l.starts_with("@@") {
            in_hunk = true;
            "hunk"
        } else if in_hunk && l.starts_with('+') {
            "add"
        } else if in_hunk && l.starts_with('-') {
            "del"
        } else if in_hunk && (l.starts_with(' ') || l.is_empty()) {
            "ctx"
        } else {
            in_hunk = false;
            "head"
        };
        classes.push(class);
    }
    let mut out: Vec<DiffLine> = raw
        .iter()
        .zip(&classes)
        .map(|(l, c)| DiffLine {
            class: c,
            spans: vec![DiffSpan {
                em: false,
                text: l.to_string(),
            }],
        })
        .collect();
    // Pair a run of deletions with the run of insertions right after it, line by line, and
    // mark the words that changed where a pair still shares some.
    let mut i = 0;
    while i < raw.len() {
        if classes[i] != "del" {
            i += 1;
            continue;
        }
        let d0 = i;
        while i < raw.len() && classes[i] == "del" {
            i += 1;
        }
        let a0 = i;
        while i < raw.len() && classes[i] == "add" {
            i += 1;
        }
        for k in 0..(a0 - d0).min(i - a0) {
            let (old, new) = word_diff(&raw[d0 + k][1..], &raw[a0 + k][1..]);
            if old.iter().any(|s| !s.em && !s.text.trim().is_empty()) {
                out[d0 + k].spans = prefixed('-', old);
                out[a0 + k].spans = prefixed('+', new);
            }
        }
    }
    out
}

fn prefixed(sign: char, mut spans: Vec<DiffSpan>) -> Vec<DiffSpan> {
    spans.insert(
        0,
        DiffSpan {
            em: false,
            text: sign.to_string(),
        },
    );
    spans
}

/// The old and new line as spans, the words that differ marked.
fn word_diff(old: &str, new: &str) -> (Vec<DiffSpan>, Vec<DiffSpan>) {
    use similar::{ChangeTag, TextDiff};
    let d = TextDiff::from_words(old, new);
    let mut o: Vec<DiffSpan> = Vec::new();
    let mut n: Vec<DiffSpan> = Vec::new();
    let push = |v: &mut Vec<DiffSpan>, em: bool, t: &str| match v.last_mut() {
        Some(last) if last.em == em => last.text.push_str(t),
        _ => v.push(DiffSpan {
            em,
            text: t.to_string(),
        }),
    };
    for c in d.iter_all_changes() {
        let t = c.value();
        match c.tag() {
            ChangeTag::Equal => {
                push(&mut o, false, t);
                push(&mut n, false, t);
            }
            ChangeTag::Delete => push(&mut o, !t.trim().is_empty(), t),
            ChangeTag::Insert => push(&mut n, !t.trim().is_empty(), t),
        }
    }
    (o, n)
}

/// An RFC 3339 UTC time cut to milliseconds, the precision every browser parses.
fn millis(t: &str) -> String {
    match (t.find('.'), t.strip_suffix('Z')) {
        (Some(dot), Some(_)) => {
            let frac: String = t[dot + 1..t.len() - 1].chars().take(3).collect();
            format!("{}.{frac:0<3}Z", &t[..dot])
        }
        _ => t.to_string(),
    }
}

/// `2026-11-25 10:00 UTC` from a stored RFC 3339 time (the page's script shows it relative
/// and in local time).
pub fn short_time(t: &str) -> String {
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t.to_string(),
    }
}

pub fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests;

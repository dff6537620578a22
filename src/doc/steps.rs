//! Blocks to steps: block kinds (SPEC §1.2), attribute checks (§1.3, §1.5), console
//! transcripts, `output` pairing and step ids.
//!
//! Every problem becomes a [`Diagnostic`] at the exact span; parsing goes on after an error
//! so that `lint` reports all of them at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::diag::Diagnostic;
use crate::doc::attrs::{Attr, InfoString};
use crate::doc::markdown::{FencedBlock, Heading, Line};
use crate::doc::model::*;
use crate::matcher::{self, MatchMode, MatchSpec};
use crate::source::{SourceFile, Span};

const EXEC_KEYS: &[&str] = &[
    "id",
    "class",
    "on",
    "timeout",
    "exit",
    "retry",
    "every",
    "serial",
    "reconnect",
    "norun",
    "manual",
];
const MATCH_KEYS: &[&str] = &["match", "ws", "ignore", "tol"];
const FILE_KEYS: &[&str] = &[
    "id", "class", "on", "timeout", "serial", "norun", "manual", "file", "mode", "perm",
];
const FLAGS: &[&str] = &["serial", "norun", "manual"];

/// Keys only file blocks carry.
const FILE_ONLY_KEYS: &[&str] = &["file", "mode", "perm"];

/// Every key any block may carry, for "did you mean" suggestions.
fn all_keys() -> Vec<&'static str> {
    EXEC_KEYS
        .iter()
        .chain(MATCH_KEYS)
        .chain(FILE_ONLY_KEYS)
        .copied()
        .collect()
}

pub fn role_of(lang: &str, info: &InfoString) -> Role {
    let executable = matches!(lang, "console" | "shell-session" | "sh" | "bash" | "shell");
    if info.has("manual") {
        Role::Manual
    } else if info.has("file") && lang == "diff" {
        Role::Diff
    } else if info.has("file") {
        Role::File
    } else if lang == "output" {
        Role::Output
    } else if executable && info.has("norun") {
        Role::NoRun
    } else if matches!(lang, "console" | "shell-session") {
        Role::Console
    } else if executable {
        Role::Script
    } else {
        Role::Illustration
    }
}

pub struct Builder<'a> {
    file: &'a Arc<SourceFile>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Builder<'a> {
    pub fn new(file: &'a Arc<SourceFile>) -> Builder<'a> {
        Builder {
            file,
            diags: Vec::new(),
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(self.file, span, message));
        self.diags.last_mut().unwrap()
    }

    fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, span, message));
    }

    /// Builds blocks and steps from the scanned fenced blocks, each paired with the heading
    /// nearest above it.
    pub fn build(
        &mut self,
        fenced: Vec<(FencedBlock, Option<Heading>)>,
    ) -> (Vec<Block>, Vec<Step>) {
        let mut blocks: Vec<Block> = Vec::new();
        let mut headings: Vec<Option<Heading>> = Vec::new();
        for (fb, heading) in fenced {
            let info = match crate::doc::attrs::parse_info(&fb.info, fb.info_span.start) {
                Ok(info) => info,
                Err(e) => {
                    self.error(e.span, e.message);
                    // Keep the language so the block's kind is still known.
                    let lang = fb
                        .info
                        .split(|c: char| c.is_whitespace() || c == '{')
                        .next()
                        .unwrap_or("");
                    InfoString {
                        lang: lang.to_string(),
                        lang_span: Span::new(fb.info_span.start, fb.info_span.start + lang.len()),
                        attrs: Vec::new(),
                    }
                }
            };
            if !fb.closed {
                self.warning(
                    Span::new(fb.span.start, fb.info_span.end),
                    "this code fence is never closed: CommonMark runs it to the end of the file",
                );
            }
            let role = role_of(&info.lang, &info);
            self.check_keys(&info, role);
            blocks.push(Block {
                fenced: fb,
                info,
                role,
                step: None,
            });
            headings.push(heading);
        }

        let mut steps: Vec<Step> = Vec::new();
        for i in 0..blocks.len() {
            let role = blocks[i].role;
            match role {
                Role::Output => self.check_output_pairing(&blocks, i),
                Role::Illustration | Role::NoRun => {}
                _ => {
                    if let Some(step) = self.step(&blocks, i) {
                        blocks[i].step = Some(steps.len());
                        steps.push(step);
                    }
                }
            }
            if role == Role::NoRun && self.output_follows(&blocks, i) {
                self.warning(
                    blocks[i].info.lang_span,
                    "this `norun` block has expected output that is never checked",
                );
            }
        }
        self.assign_ids(&blocks, &headings, &mut steps);
        (blocks, steps)
    }

    /// Unknown keys, flags with values, keys without values, keys that do nothing here.
    fn check_keys(&mut self, info: &InfoString, role: Role) {
        let allowed: Vec<&str> = match role {
            Role::Console | Role::Script | Role::NoRun => {
                EXEC_KEYS.iter().chain(MATCH_KEYS).copied().collect()
            }
            Role::Output => ["class"].iter().chain(MATCH_KEYS).copied().collect(),
            Role::File => FILE_KEYS.to_vec(),
            Role::Diff => FILE_KEYS
                .iter()
                .filter(|k| **k != "mode")
                .copied()
                .collect(),
            Role::Manual => vec!["id", "class", "on", "manual", "file", "mode", "perm"],
            Role::Illustration => vec!["id", "class"],
        };
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for a in &info.attrs {
            if a.key != "class" {
                if let Some(first) = seen.get(a.key.as_str()) {
                    let at = self.file.location(first.start);
                    self.error(a.key_span, format!("`{}` is given twice", a.key))
                        .help
                        .push(format!("first given at {at}"));
                    continue;
                }
                seen.insert(&a.key, a.key_span);
            }
            let known = all_keys();
            if !known.contains(&a.key.as_str()) {
                let d = self.error(a.key_span, format!("unknown attribute `{}`", a.key));
                if let Some(s) = suggest(&a.key, &known) {
                    d.help.push(format!("did you mean `{s}`?"));
                }
                continue;
            }
            if !allowed.contains(&a.key.as_str()) {
                let why = match role {
                    Role::Output => "an `output` block takes only `match`, `ws`, `ignore` and `tol`".to_string(),
                    Role::Illustration => format!(
                        "`{}` blocks are never executed; use `console`, `sh` or `bash`, or add `file=PATH`",
                        info.lang
                    ),
                    Role::Diff if a.key == "mode" => "a `diff` block is applied; `mode` is for file blocks".into(),
                    Role::File | Role::Diff => "file blocks are written, not run; their output is not checked".into(),
                    _ => "it has no effect on this block".into(),
                };
                self.error(a.key_span, format!("`{}` does not apply here", a.key))
                    .help
                    .push(why);
                continue;
            }
            let is_flag = FLAGS.contains(&a.key.as_str());
            if is_flag && a.value.is_some() {
                self.error(a.span, format!("`{}` is a flag and takes no value", a.key))
                    .help
                    .push(format!("write just `{}`", a.key));
            } else if !is_flag && a.value.is_none() {
                self.error(a.key_span, format!("`{}` needs a value", a.key))
                    .help
                    .push(value_help(&a.key).into());
            } else if !is_flag && a.value.as_deref() == Some("") {
                self.error(a.span, format!("`{}` needs a value", a.key))
                    .help
                    .push(value_help(&a.key).into());
            }
        }
    }

    fn output_follows(&self, blocks: &[Block], i: usize) -> bool {
        blocks
            .get(i + 1)
            .is_some_and(|n| n.role == Role::Output && only_blank_between(self.file, &blocks[i], n))
    }

    fn check_output_pairing(&mut self, blocks: &[Block], i: usize) {
        let prev = i.checked_sub(1).map(|p| &blocks[p]);
        let adjacent = prev.is_some_and(|p| only_blank_between(self.file, p, &blocks[i]));
        let span = blocks[i].info.lang_span;
        match prev.map(|p| p.role) {
            Some(Role::Script | Role::NoRun) if adjacent => {}
            Some(Role::Console) if adjacent => {
                self.error(span, "an `output` block cannot follow a `console` block")
                    .help
                    .push("write the expected lines in the transcript, or use a `sh` block before this one".into());
            }
            _ => {
                self.error(span, "this `output` block has no executable block right before it").help.push(
                    "put it directly after a `sh` or `bash` block (nothing but blank lines between)".into(),
                );
            }
        }
    }

    fn step(&mut self, blocks: &[Block], i: usize) -> Option<Step> {
        let b = &blocks[i];
        let info = &b.info;
        let mut step = Step {
            id: String::new(),
            id_span: b.info.lang_span,
            block: i,
            line: self.file.line_of(b.fenced.span.start),
            action: Action::Manual {
                text: String::new(),
            },
            on: info
                .get("on")
                .and_then(|a| a.value.clone().map(|v| (v, a.value_span))),
            timeout: DEFAULT_TIMEOUT,
            exit: ExitSpec::Code(0),
            retry: None,
            every: DEFAULT_EVERY,
            serial: info.has("serial"),
            reconnect: None,
        };
        if let Some(t) = self.duration(info, "timeout") {
            step.timeout = t;
        }
        step.retry = self.duration(info, "retry");
        if let Some(e) = self.duration(info, "every") {
            step.every = e;
            if step.retry.is_none() {
                let a = info.get("every").unwrap();
                self.error(a.span, "`every` without `retry`")
                    .help
                    .push("add `retry=DURATION`, e.g. `retry=60s`".into());
            }
        }
        step.reconnect = self.duration(info, "reconnect");
        if let Some(a) = info.get("exit") {
            match a.value.as_deref() {
                Some("any") => step.exit = ExitSpec::Any,
                Some(v) => match v.parse::<i32>() {
                    Ok(n) if (0..=255).contains(&n) => step.exit = ExitSpec::Code(n),
                    _ => {
                        self.error(a.value_span, format!("bad `exit` value `{v}`"))
                            .help
                            .push("write a number from 0 to 255, or `any`".into());
                    }
                },
                None => {}
            }
        }
        step.action = match b.role {
            Role::Manual => Action::Manual { text: b.body() },
            Role::Console => {
                let spec = self.match_spec(&[info], &first_expected_line(b));
                Action::Console(self.transcript(b, i, spec))
            }
            Role::Script => {
                let output = blocks
                    .get(i + 1)
                    .filter(|n| n.role == Role::Output && only_blank_between(self.file, b, n))
                    .map(|n| (i + 1, n));
                let expected = match output {
                    Some((oi, o)) => {
                        let header = o
                            .fenced
                            .lines
                            .iter()
                            .map(|l| l.text.clone())
                            .find(|t| !t.trim().is_empty())
                            .unwrap_or_default();
                        let spec = self.match_spec(&[info, &o.info], &header);
                        self.check_dots(&spec, &o.fenced.lines);
                        Some(Expected {
                            lines: o.fenced.lines.clone(),
                            spec,
                            block: oi,
                            at: body_start(self.file, &o.fenced),
                        })
                    }
                    None => {
                        let spec = self.match_spec(&[info], "");
                        (spec != MatchSpec::default()).then(|| Expected {
                            lines: Vec::new(),
                            spec,
                            block: i,
                            at: body_start(self.file, &b.fenced),
                        })
                    }
                };
                Action::Script {
                    code: b.body(),
                    expected,
                }
            }
            Role::File | Role::Diff => {
                let a = info.get("file").unwrap();
                let path = a.value.clone().unwrap_or_default();
                let perm = info.get("perm").and_then(|p| {
                    let v = p.value.as_deref()?;
                    match u32::from_str_radix(v, 8) {
                        Ok(n) if (3..=4).contains(&v.len()) && n <= 0o7777 => Some(n),
                        _ => {
                            self.error(p.value_span, format!("bad `perm` value `{v}`"))
                                .help
                                .push(
                                    "write octal permission bits such as `0644` or `0600`".into(),
                                );
                            None
                        }
                    }
                });
                if b.role == Role::Diff {
                    if let Err(e) = crate::exec::files::parse_unified_diff(&b.body()) {
                        let span = b.fenced.lines.first().map_or(b.info.lang_span, |l| l.span);
                        self.error(span, format!("this diff does not parse: {e}"));
                    }
                    Action::Diff {
                        path,
                        diff: b.body(),
                        perm,
                    }
                } else {
                    let mode = match info.get("mode").map(|m| (m, m.value.as_deref())) {
                        None | Some((_, Some("replace"))) => FileMode::Replace,
                        Some((_, Some("append"))) => FileMode::Append,
                        Some((m, v)) => {
                            self.error(
                                m.value_span,
                                format!("bad `mode` value `{}`", v.unwrap_or("")),
                            )
                            .help
                            .push("write `mode=replace` (the default) or `mode=append`".into());
                            FileMode::Replace
                        }
                    };
                    Action::File {
                        path,
                        mode,
                        perm,
                        content: b.body(),
                    }
                }
            }
            _ => return None,
        };
        Some(step)
    }

    fn duration(&mut self, info: &InfoString, key: &str) -> Option<Duration> {
        let a = info.get(key)?;
        let v = a.value.as_deref()?;
        if v.is_empty() {
            return None;
        }
        match humantime::parse_duration(v) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                self.error(a.value_span, format!("bad `{key}` value `{v}`"))
                    .help
                    .push("write a duration such as `30s`, `5m` or `1h30m`".into());
                None
            }
        }
    }

    /// The match settings from a block's attributes (later blocks override earlier ones).
    fn match_spec(&mut self, infos: &[&InfoString], header: &str) -> MatchSpec {
        let mut spec = MatchSpec::default();
        let mut table_attrs: Vec<&Attr> = Vec::new();
        for info in infos {
            for a in &info.attrs {
                let Some(v) = a.value.as_deref() else {
                    continue;
                };
                match a.key.as_str() {
                    "match" => {
                        spec.mode = match v {
                            "exact" => MatchMode::Exact,
                            "contains" => MatchMode::Contains,
                            "unordered" => MatchMode::Unordered,
                            "table" => MatchMode::Table,
                            "any" => MatchMode::Any,
                            _ => {
                                let d =
                                    self.error(a.value_span, format!("bad `match` value `{v}`"));
                                d.help.push("write `contains`, `unordered`, `table` or `any` (the default compares line by line)".into());
                                continue;
                            }
                        }
                    }
                    "ws" => {
                        if v == "collapse" {
                            spec.ws_collapse = true;
                        } else {
                            self.error(a.value_span, format!("bad `ws` value `{v}`"))
                                .help
                                .push("the only value is `ws=collapse`".into());
                        }
                    }
                    "ignore" | "tol" => table_attrs.push(a),
                    _ => {}
                }
            }
        }
        let columns = matcher::table_columns(header);
        for a in table_attrs {
            let v = a.value.as_deref().unwrap_or("");
            if spec.mode != MatchMode::Table {
                self.error(
                    a.key_span,
                    format!("`{}` works only with `match=table`", a.key),
                );
                continue;
            }
            let mut cursor = a.value_span.start
                + usize::from(
                    self.file
                        .text
                        .as_bytes()
                        .get(a.value_span.start)
                        .is_some_and(|b| *b == b'"' || *b == b'\''),
                );
            for word in v.split(' ') {
                let word_span = Span::new(cursor, cursor + word.len());
                cursor += word.len() + 1;
                if word.is_empty() {
                    continue;
                }
                let (name, tol) = match (a.key.as_str(), word.split_once('=')) {
                    ("tol", Some((n, t))) => (n, Some(t)),
                    ("tol", None) => {
                        self.error(
                            word_span,
                            format!("`tol` needs `COLUMN=NUMBER`, got `{word}`"),
                        )
                        .help
                        .push("for example `tol=\"delay=5 offset=50\"`".into());
                        continue;
                    }
                    (_, _) => (word, None),
                };
                if !columns.iter().any(|c| c == name) {
                    let d = self.error(word_span, format!("the table has no column `{name}`"));
                    if columns.is_empty() {
                        d.help.push(
                            "the first expected line is the header that names the columns".into(),
                        );
                    } else {
                        d.help
                            .push(format!("its columns are: {}", columns.join(" ")));
                    }
                    continue;
                }
                match tol {
                    None => spec.ignore.push(name.to_string()),
                    Some(t) => match t.parse::<f64>() {
                        Ok(x) if x >= 0.0 && x.is_finite() => spec.tol.push((name.to_string(), x)),
                        _ => {
                            self.error(
                                word_span,
                                format!("bad tolerance `{t}` for column `{name}`"),
                            )
                            .help
                            .push("write a non-negative number, e.g. `offset=50`".into());
                        }
                    },
                }
            }
        }
        spec
    }

    /// `...` works only in the default mode.
    fn check_dots(&mut self, spec: &MatchSpec, lines: &[Line]) {
        if spec.mode == MatchMode::Exact || spec.mode == MatchMode::Any {
            return;
        }
        for l in lines {
            if l.text.trim_end() == "..." {
                self.error(l.span, "`...` works only when lines are compared in order (the default)").help.push(
                    "remove it: `match=contains` already allows other lines between; `[..]` matches within a line".into(),
                );
            }
        }
    }

    /// Splits a console transcript into commands and their expected output.
    fn transcript(&mut self, b: &Block, index: usize, spec: MatchSpec) -> Vec<Command> {
        let mut cmds: Vec<Command> = Vec::new();
        let mut after_output = false;
        for (n, line) in b.fenced.lines.iter().enumerate() {
            let t = line.text.as_str();
            let prompt = if t.starts_with("$ ") || t == "$" {
                Some('$')
            } else if t.starts_with("# ") || t == "#" {
                Some('#')
            } else {
                None
            };
            if let Some(p) = prompt {
                let next_at = b.fenced.lines.get(n + 1).map_or_else(
                    || closing_fence_start(self.file, &b.fenced),
                    |l| line_start(self.file, l.span.start),
                );
                cmds.push(Command {
                    text: t.get(2..).unwrap_or("").to_string(),
                    prompt: p,
                    span: line.span,
                    expected: Expected {
                        lines: Vec::new(),
                        spec: spec.clone(),
                        block: index,
                        at: next_at,
                    },
                });
                after_output = false;
            } else if let Some(rest) =
                t.strip_prefix("> ")
                    .or(if t == ">" { Some("") } else { None })
            {
                match cmds.last_mut() {
                    Some(c) if !after_output => {
                        c.text.push('\n');
                        c.text.push_str(rest);
                        c.span.end = line.span.end;
                        c.expected.at = b.fenced.lines.get(n + 1).map_or_else(
                            || closing_fence_start(self.file, &b.fenced),
                            |l| line_start(self.file, l.span.start),
                        );
                    }
                    _ => {
                        self.error(line.span, "`> ` continues a command, but there is no command right above it").help.push(
                            "output that starts with `> ` goes in an `output` block after a `sh` block".into(),
                        );
                    }
                }
            } else if let Some(c) = cmds.last_mut() {
                c.expected.lines.push(line.clone());
                after_output = true;
            } else if !t.trim().is_empty() {
                self.error(line.span, "output before the first command of a transcript")
                    .help
                    .push(
                        "commands start with `$ ` or `# ` (the prompt is not part of the command)"
                            .into(),
                    );
            }
        }
        if cmds.is_empty() {
            self.error(b.info.lang_span, "this transcript has no command")
                .help
                .push("commands start with `$ ` or `# `".into());
        }
        // Blank lines between one command's output and the next command are not expected output.
        for c in &mut cmds {
            while c
                .expected
                .lines
                .last()
                .is_some_and(|l| l.text.trim().is_empty())
            {
                c.expected.lines.pop();
            }
        }
        let mut spec_checked = false;
        for c in &cmds {
            if !spec_checked && c.expected.spec.mode != MatchMode::Exact {
                spec_checked = true;
            }
            let lines = c.expected.lines.clone();
            self.check_dots(&c.expected.spec, &lines);
        }
        cmds
    }

    fn assign_ids(&mut self, blocks: &[Block], headings: &[Option<Heading>], steps: &mut [Step]) {
        let mut taken: HashMap<String, Span> = HashMap::new();
        // Explicit ids first, from every block (an illustration's id is an anchor too).
        for b in blocks {
            if let Some(a) = b.info.get("id") {
                let Some(id) = a.value.clone() else { continue };
                if let Some(first) = taken.get(&id) {
                    let at = self.file.location(first.start);
                    self.error(a.span, format!("duplicate step id `{id}`"))
                        .help
                        .push(format!(
                            "`{id}` is first used at {at}; ids must be unique in a runbook"
                        ));
                } else {
                    taken.insert(id, a.span);
                }
            }
        }
        let mut counters: HashMap<String, usize> = HashMap::new();
        for step in steps.iter_mut() {
            let b = &blocks[step.block];
            if let Some(a) = b.info.get("id") {
                step.id = a.value.clone().unwrap_or_default();
                step.id_span = a.span;
                continue;
            }
            let base = headings[step.block]
                .as_ref()
                .map(|h| slug(&h.text))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "step".to_string());
            let n = counters.entry(base.clone()).or_insert(0);
            loop {
                *n += 1;
                let candidate = if *n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                if !taken.contains_key(&candidate) {
                    taken.insert(candidate.clone(), b.info.lang_span);
                    step.id = candidate;
                    break;
                }
            }
        }
    }
}

/// GitHub's heading anchor rule: lower case, punctuation and symbols dropped, spaces to
/// hyphens; letters of every script (Chinese included) kept.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_' || is_mark(*c))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn is_mark(c: char) -> bool {
    // Combining marks (accents written as separate code points) stay, as on GitHub.
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

fn value_help(key: &str) -> &'static str {
    match key {
        "timeout" | "retry" | "every" | "reconnect" => "write a duration such as `30s` or `5m`",
        "exit" => "write a number such as `1`, or `any`",
        "on" => "write a host, `HOST1,HOST2`, `@group` or `all`",
        "match" => "write `contains`, `unordered`, `table` or `any`",
        "ws" => "write `ws=collapse`",
        "ignore" => "name the table columns, e.g. `ignore=\"when reach\"`",
        "tol" => "give numeric tolerances, e.g. `tol=\"delay=5 offset=50\"`",
        "file" => "write the path of the file on the host",
        "mode" => "write `replace` or `append`",
        "perm" => "write octal permission bits such as `0644`",
        "id" | "class" => "write a name",
        _ => "give it a value",
    }
}

/// The closest known key within an edit distance of two.
pub fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (levenshtein(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn first_expected_line(b: &Block) -> String {
    // The header of a table in a transcript is the first line after the first command.
    let mut seen_cmd = false;
    for l in &b.fenced.lines {
        let t = l.text.as_str();
        if t.starts_with("$ ") || t.starts_with("# ") || t.starts_with("> ") {
            seen_cmd = true;
        } else if seen_cmd && !t.trim().is_empty() {
            return t.to_string();
        }
    }
    String::new()
}

fn only_blank_between(file: &SourceFile, a: &Block, b: &Block) -> bool {
    file.text[a.fenced.span.end..b.fenced.span.start]
        .chars()
        .all(|c| c.is_whitespace() || c == '>')
}

fn line_start(file: &SourceFile, offset: usize) -> usize {
    file.line_start(file.line_of(offset))
}

/// Where the body of a block starts: the line after the opening fence.
fn body_start(file: &SourceFile, b: &FencedBlock) -> usize {
    match b.lines.first() {
        Some(l) => line_start(file, l.span.start),
        None => closing_fence_start(file, b),
    }
}

/// The start of the closing fence's line (or the end of the block when it is not closed).
fn closing_fence_start(file: &SourceFile, b: &FencedBlock) -> usize {
    if !b.closed {
        return b.span.end;
    }
    let end = file.text[..b.span.end].trim_end_matches(['\n', '\r']).len();
    line_start(file, end.saturating_sub(1).max(b.span.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_github() {
        for (h, s) in [
            ("配置 NTP 时间同步", "配置-ntp-时间同步"),
            ("Hello, World!", "hello-world"),
            ("配置/etc/hosts", "配置etchosts"),
            ("  a_b  c ", "a_b--c"),
            ("1. Prepare", "1-prepare"),
        ] {
            assert_eq!(slug(h), s, "{h}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("timout", &all_keys()), Some("timeout"));
        assert_eq!(suggest("zzzzzz", &all_keys()), None);
    }
}

//! Expected output against actual output: (expected, actual, spec) to a [`Verdict`]. Pure: no
//! hosts, steps or files; the runner hands in the block's expected text (its lines joined with
//! `\n`, as written) and the raw output, and gets back pass/fail, a rewrite and a diff.
//!
//! # Normalisation (both sides, every mode)
//!
//! - terminal escape sequences are removed (colours, cursor moves, OSC titles; `strip-ansi-escapes`);
//!   other control characters but tab are dropped;
//! - `\r\n` becomes `\n`; a `\r` left inside a line overstrikes it from its start, as a terminal
//!   shows it (`50%\r100%` is `100%`);
//! - trailing white space is removed from each line, and trailing blank lines from the text.
//!
//! Leading white space and blank lines before or between lines are kept.
//!
//! # Patterns in the expected text
//!
//! | expected | matches |
//! |---|---|
//! | `...` alone on a line (not indented) | any number of actual lines, none included (default mode only; elsewhere it is text) |
//! | `[..]` inside a line | any text within that one line, none included |
//! | a line ending in ` (re)` | the rest of the line is a regular expression (`regex` crate syntax) that must match the whole actual line |
//!
//! - Several `[..]` in a line: the text between them must appear in order, the first piece as a
//!   prefix and the last as a suffix; any split that works is found (`a[..]b[..]c` matches
//!   `axbybzc`). The match is linear in the line.
//! - A ` (re)` line is anchored (`^(?:RE)$`) and also matches an actual line equal to its own
//!   text, suffix included, so that written-back output always matches itself. `[..]` has no
//!   meaning inside it. An invalid regular expression matches nothing else, and a failed
//!   comparison carries a note naming it (`lint` reports it as an error).
//! - `ws=collapse`: runs of spaces and tabs count as one space, on both sides, before every
//!   comparison: literal lines, the text around `[..]`, and the regular expression's source (so
//!   `a  +` in a regex reads as `a +`).
//!
//! # Modes
//!
//! - `exact` (default): line by line. Matching is the classic wildcard algorithm with `...` as
//!   the star: one pass, backing up to the last `...` on a mismatch. That is linear when the line
//!   after each `...` is distinctive (`1`, `...`, `300000` against `seq 1 300000` is one pass)
//!   and O(expected lines × actual lines) at worst; it never backtracks exponentially.
//! - `contains`: the expected lines appear in the actual in this order (a subsequence, found
//!   greedily, which is exact), other lines between.
//! - `unordered`: the same lines as a multiset. Literal lines pair with equal lines first; the
//!   `[..]`/` (re)` lines are then paired by maximum bipartite matching, so an early loose
//!   pattern never steals the line a later one needs.
//! - `table` (`table.rs`): the first line of each side is the header; its words (split on
//!   spaces and tabs) name the columns, and the two headers compare as their words joined by
//!   one space (`[..]` allowed). A line made only of `=`, `-`, `+`, `|` and white space (a
//!   blank line too) is decoration and compares the same way. Every other line is a row, and
//!   rows compare in order, one to one, so the row count must match. A row splits into cells
//!   on white space; when it has more words than the header, each word joins the header word
//!   nearest to it by display column (overlap counts as distance zero, ties go left), so
//!   ntpq's `45.79.36.123 (t` stays one cell. Cells compare as text with inner white-space
//!   runs collapsed; `[..]` in an expected cell matches any text within the cell; an `ignore`
//!   column matches anything; a `tol` column compares as numbers when both cells are numbers
//!   (sign, digits, decimal point, then a unit of letters or `%` that must be equal on both
//!   sides), passing when the difference is at most the tolerance, and as text otherwise. A row
//!   ending in ` (re)` is one regular expression for the whole row (against its words joined
//!   by one space). An empty expected table matches only empty output.
//! - `any`: always passes; the exit status is checked elsewhere.
//!
//! # `rewritten` and the diff
//!
//! `rewritten` is the actual output in the expected's terms, what `update` writes back. On a
//! pass it is the normalised expected text, byte for byte. On a failure:
//!
//! - `exact`: expected lines are aligned with actual lines by a minimum edit (`diff.rs`); a line
//!   whose pattern still matches keeps its expected text, a `...` stays `...` (absorbing what it
//!   can), and everything else is the actual line. One drifted line among fifty with wildcards
//!   shows as that one line in the diff. A drifted line that held `[..]` keeps each wildcard
//!   whose neighbouring characters are unchanged (`version 1.0 built [..]` becomes
//!   `version 2.0 built [..]`), so `update` does not pin a timestamp.
//! - `contains`: the expected lines found keep their text; each missing one is replaced by the
//!   most similar actual line between its found neighbours (similarity ≥ 0.5, in order), or
//!   dropped if there is none. The rest of the output stays out, so it still reads as an excerpt.
//! - `unordered`: in the expected's order: matched lines as written, a missing line replaced by
//!   the most similar unmatched actual line if any, and the remaining unmatched actual lines at
//!   the end.
//! - `table`: the header and decoration lines as written where they match; each row paired
//!   with an actual row keeps its ignored, in-tolerance and matching cells as written and takes
//!   the actual text only in the cells that fell outside, re-padded so every cell keeps its
//!   start column where it can; unpaired rows are dropped or added as the actual has them.
//! - `any`: the expected text, unchanged.
//!
//! A rewrite is meant to pass when compared again against the same actual output (`update`
//! then run again is clean); the tests check that for every case.
//!
//! `diff` is a unified diff of the normalised expected against `rewritten` in `similar`'s
//! format (`--- expected`, `+++ actual`, three lines of context), empty on a pass. Its changes
//! come from the comparison's own alignment (kept lines are context, dropped expected lines
//! `-`, new lines `+`) rather than a second line diff: linear, and it cannot pair lines
//! differently from the matcher. `notes` say what a diff cannot: a cell outside tolerance
//! (`offset 187.330 differs from -0.620 by more than 50`), a differing text cell
//! (``remote `controller` differs from `*controller` ``), a row count
//! (`the table has 2 rows, expected 1`), a differing table header, an invalid regular
//! expression.
//!
//! # Known limits
//!
//! - The alignment behind a failed rewrite is a dynamic programme over the part between the
//!   common matching prefix and suffix; past four million (expected × actual) cells, that middle
//!   part is written as the plain actual output (its `...` and `[..]` lines are lost there).
//! - Table rows compare in order: a peer list in another order is drift. A row wider than its
//!   header (more words than header words) whose rewrite would split into other cells is
//!   written back as the actual row, whole.
//! - Overstriking counts characters, not display columns (a tab or a CJK character is one).
//!   Table positions do use display columns, with tabs stopping at multiples of eight.
//! - A missing `contains`/`unordered` line looks for its replacement among the first 500
//!   candidate lines only, and lines over 2,000 bytes are never "similar".
//! - The characters U+FDD0 and U+FDD1 (Unicode noncharacters) in the output read as tab and
//!   carriage return.
//! - `[..]` next to a space under `ws=collapse` needs the space on the actual side:
//!   `a [..] b` does not match `a b`.

mod diff;
mod normalize;
mod pattern;
mod table;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

use diff::{align, pick_similar, unified, Emit, Op, UNIT};
pub use normalize::normalize;
use normalize::{comparable, lines};
use pattern::LinePattern;

/// How expected and actual are compared (SPEC §1.5, attributes of `output`/`console` blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// Line by line, with `...`, `[..]` and ` (re)`.
    #[default]
    Exact,
    Contains,
    Unordered,
    Table,
    Any,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchSpec {
    pub mode: MatchMode,
    /// `ws=collapse`: runs of spaces and tabs compare equal to one space.
    pub ws_collapse: bool,
    /// `ignore=`: table columns that may hold anything.
    pub ignore: Vec<String>,
    /// `tol=`: table columns compared as numbers, with the allowed absolute difference.
    pub tol: Vec<(String, f64)>,
}

/// The result of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    /// The actual output after normalisation (escapes and trailing white space removed).
    pub actual: String,
    /// The actual output written in the expected's terms: wherever an expected line (or a
    /// wildcard, regex, ignored cell or in-tolerance cell) accepted the actual text, the
    /// expected text stands; elsewhere the actual text. Diffing expected against this shows
    /// only real drift, and `update` writes exactly this back.
    pub rewritten: String,
    /// Unified diff, expected against `rewritten`; empty when passed.
    pub diff: String,
    /// Explanations of mismatches a diff cannot show ("offset 187.330 differs from -0.620 by more than 50").
    pub notes: Vec<String>,
}

/// What a mode decides; `rewritten` is only read on a failure.
pub(crate) struct Outcome {
    passed: bool,
    rewritten: Vec<Emit>,
    notes: Vec<String>,
}

impl Outcome {
    fn pass() -> Outcome {
        Outcome {
            passed: true,
            rewritten: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The column names of a table's header line.
pub fn table_columns(header: &str) -> Vec<String> {
    table::words(header)
        .iter()
        .map(|w| w.text.to_string())
        .collect()
}

/// Compares; `actual` is taken by value so that a large output is normalised in place, not
/// copied.
pub fn check(expected: &str, actual: impl Into<String>, spec: &MatchSpec) -> Verdict {
    let expected = normalize(expected);
    let actual = normalize::normalize_owned(actual.into());
    let exp = lines(&expected);
    let ws = spec.ws_collapse;
    let outcome = match spec.mode {
        MatchMode::Any => Outcome::pass(),
        // Outputs are large and mostly pass: that is decided without splitting the output
        // into a list of lines, which only a drift's alignment needs.
        MatchMode::Exact => {
            let patterns = parse_all(&exp, ws, true);
            if wildcard_match(&patterns, &actual, ws) {
                Outcome::pass()
            } else {
                drift_exact(&patterns, &exp, &lines(&actual), ws)
            }
        }
        MatchMode::Contains => check_contains(&exp, &lines(&actual), ws),
        MatchMode::Unordered => check_unordered(&exp, &lines(&actual), ws),
        MatchMode::Table => table::check(&exp, &lines(&actual), spec),
    };
    if outcome.passed {
        return Verdict {
            passed: true,
            rewritten: expected,
            actual,
            diff: String::new(),
            notes: Vec::new(),
        };
    }
    let mut notes = outcome.notes;
    notes.extend(bad_regex_notes(&exp, spec));
    let texts: Vec<&str> = outcome
        .rewritten
        .iter()
        .map(|line| match line {
            Emit::Kept(k) => exp[*k],
            Emit::New(text) => text.as_str(),
        })
        .collect();
    let diff = unified(&exp, &outcome.rewritten, &texts);
    let rewritten = texts.join("\n");
    Verdict {
        passed: false,
        actual,
        rewritten,
        diff,
        notes,
    }
}

/// One note per invalid ` (re)` line, numbered within the expected text.
fn bad_regex_notes(expected: &[&str], spec: &MatchSpec) -> Vec<String> {
    if spec.mode == MatchMode::Any {
        return Vec::new();
    }
    let ws = spec.ws_collapse || spec.mode == MatchMode::Table;
    expected
        .iter()
        .enumerate()
        .filter_map(|(k, line)| match LinePattern::parse(line, ws, false) {
            LinePattern::BadRegex { error, .. } => {
                let source = line.strip_suffix(pattern::REGEX_SUFFIX).unwrap_or(line);
                Some(format!(
                    "expected line {}: invalid regular expression `{source}`: {error}",
                    k + 1
                ))
            }
            _ => None,
        })
        .collect()
}

fn parse_all(expected: &[&str], ws: bool, elide: bool) -> Vec<LinePattern> {
    expected
        .iter()
        .map(|line| LinePattern::parse(line, ws, elide))
        .collect()
}

/// Wildcard matching with `...` as the star, over the lines of `text` by byte offset (no list
/// of lines is built): on a mismatch, let the last `...` take one more line and retry from
/// there. Correct for any per-line predicate, O(patterns × lines) at worst. Where the line
/// after a `...` is literal text, the `...` takes every line up to the next one equal to it at
/// once, found by a substring search: the lines it skips would fail there anyway.
fn wildcard_match(patterns: &[LinePattern], text: &str, ws: bool) -> bool {
    let lines = TextLines::new(text);
    let (mut p, mut a) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while a < lines.end {
        let next = match patterns.get(p) {
            Some(LinePattern::AnyLines) => {
                star = Some((p, a));
                p += 1;
                continue;
            }
            Some(pattern) => {
                let (line, next) = lines.at(a);
                pattern.matches(&comparable(line, ws)).then_some(next)
            }
            None => None,
        };
        match (next, star) {
            (Some(next), _) => {
                p += 1;
                a = next;
            }
            (None, Some((star_p, star_a))) => {
                let mut from = lines.at(star_a).1;
                if let (false, Some(LinePattern::Literal(literal))) = (ws, patterns.get(star_p + 1))
                {
                    from = lines.next_equal(from, literal);
                }
                star = Some((star_p, from));
                p = star_p + 1;
                a = from;
            }
            (None, None) => return false,
        }
    }
    patterns[p..]
        .iter()
        .all(|pattern| matches!(pattern, LinePattern::AnyLines))
}

/// The lines of a normalised text (see [`lines`]), addressed by the byte offset where each
/// starts; `end` is past the last one.
struct TextLines<'t> {
    text: &'t str,
    end: usize,
}

impl<'t> TextLines<'t> {
    fn new(text: &'t str) -> TextLines<'t> {
        let end = if text.is_empty() { 0 } else { text.len() + 1 };
        TextLines { text, end }
    }

    /// The line starting at `at`, and where the next one starts.
    fn at(&self, at: usize) -> (&'t str, usize) {
        let rest = &self.text[at..];
        match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], at + i + 1),
            None => (rest, self.end),
        }
    }

    /// Where the first line at or after `from` that equals `literal` starts; `end` if none.
    fn next_equal(&self, from: usize, literal: &str) -> usize {
        if from >= self.end {
            return self.end;
        }
        let bytes = self.text.as_bytes();
        let is_whole_line = |start: usize| {
            let stop = start + literal.len();
            bytes[start..].starts_with(literal.as_bytes())
                && (stop == bytes.len() || bytes[stop] == b'\n')
        };
        if is_whole_line(from) {
            return from;
        }
        let needle = format!("\n{literal}");
        memchr::memmem::find_iter(&bytes[from..], needle.as_bytes())
            .map(|i| from + i + 1)
            .find(|&start| is_whole_line(start))
            .unwrap_or(self.end)
    }
}

/// The alignment behind a failed default-mode comparison.
fn drift_exact(patterns: &[LinePattern], expected: &[&str], actual: &[&str], ws: bool) -> Outcome {
    let comparable_actual: Vec<Cow<'_, str>> = actual.iter().map(|l| comparable(l, ws)).collect();
    let matches = |i: usize, j: usize| patterns[i].matches(&comparable_actual[j]);
    let ops = align(
        patterns.len(),
        actual.len(),
        |i| matches!(patterns[i], LinePattern::AnyLines),
        |i, j| Some(if matches(i, j) { 0 } else { UNIT }),
    );
    let mut rewritten = Vec::with_capacity(actual.len());
    for op in ops {
        match op {
            Op::Pair(i, j) if matches(i, j) => rewritten.push(Emit::Kept(i)),
            Op::Pair(i, j) => rewritten.push(Emit::New(keep_wildcards(expected[i], actual[j], ws))),
            Op::Insert(j) => rewritten.push(Emit::New(actual[j].to_string())),
            Op::Skip(i) => rewritten.push(Emit::Kept(i)),
            Op::Absorb(..) | Op::Delete(_) => {}
        }
    }
    Outcome {
        passed: false,
        rewritten,
        notes: Vec::new(),
    }
}

/// A drifted line that held `[..]` is rewritten with its wildcards kept where they still
/// stand between the same neighbours: `version 1.0 built [..]` against
/// `version 2.0 built 1795604214` becomes `version 2.0 built [..]`, so `update` does not pin
/// a timestamp. A character diff pairs the two lines; the text a wildcard covered gives way to
/// `[..]`, changed literal text takes the actual's. When the result would not match the
/// actual line, the actual line is used as it is.
fn keep_wildcards(expected: &str, actual: &str, ws: bool) -> String {
    const HOLE: char = '\u{0}';
    if !expected.contains(pattern::WILDCARD) || expected.ends_with(pattern::REGEX_SUFFIX) {
        return actual.to_string();
    }
    let holed = expected.replace(pattern::WILDCARD, &HOLE.to_string());
    let diff = similar::TextDiff::from_chars(holed.as_str(), actual);
    let changes: Vec<_> = diff.iter_all_changes().collect();
    // A wildcard is kept only where the characters on both sides of it were kept: otherwise
    // the line changed around it and the actual text says more.
    let kept_neighbour = |range: &mut dyn Iterator<Item = usize>| {
        range
            .map(|k| changes[k].tag())
            .find(|t| *t != similar::ChangeTag::Insert)
            .is_none_or(|t| t == similar::ChangeTag::Equal)
    };
    for (k, c) in changes.iter().enumerate() {
        if c.tag() == similar::ChangeTag::Delete && c.value().contains(HOLE) {
            let before_ok = kept_neighbour(&mut (0..k).rev());
            let after_ok = kept_neighbour(&mut (k + 1..changes.len()));
            if !(before_ok && after_ok) {
                return actual.to_string();
            }
        }
    }
    let mut out = String::with_capacity(actual.len());
    let mut in_hole = false;
    for change in changes {
        let text = change.value();
        match change.tag() {
            similar::ChangeTag::Equal => {
                in_hole = false;
                out.push_str(text);
            }
            similar::ChangeTag::Delete if text.contains(HOLE) => {
                if !in_hole {
                    out.push_str(pattern::WILDCARD);
                }
                in_hole = true;
            }
            similar::ChangeTag::Delete => in_hole = false,
            similar::ChangeTag::Insert if in_hole => {}
            similar::ChangeTag::Insert => out.push_str(text),
        }
    }
    let merged_matches = LinePattern::parse(&out, ws, false).matches(&comparable(actual, ws));
    if merged_matches {
        out
    } else {
        actual.to_string()
    }
}

fn check_contains(expected: &[&str], actual: &[&str], ws: bool) -> Outcome {
    let patterns = parse_all(expected, ws, false);
    let comparable_actual: Vec<Cow<'_, str>> = actual.iter().map(|l| comparable(l, ws)).collect();
    let mut rest = comparable_actual.iter();
    if patterns
        .iter()
        .all(|pattern| rest.any(|line| pattern.matches(line)))
    {
        return Outcome::pass();
    }
    // Items: an implicit `...` before, between and after the expected lines (even indices),
    // the expected line `k` at index `2k + 1`.
    let ops = align(
        2 * patterns.len() + 1,
        actual.len(),
        |i| i % 2 == 0,
        |i, j| patterns[i / 2].matches(&comparable_actual[j]).then_some(0),
    );
    let mut rewritten = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let mut window: Vec<&str> = Vec::new();
    let flush = |missing: &mut Vec<&str>, window: &mut Vec<&str>, rewritten: &mut Vec<Emit>| {
        let picks = pick_similar(missing, window, true);
        rewritten.extend(
            picks
                .into_iter()
                .flatten()
                .map(|k| Emit::New(window[k].to_string())),
        );
        missing.clear();
        window.clear();
    };
    for op in ops {
        match op {
            Op::Pair(i, _) => {
                flush(&mut missing, &mut window, &mut rewritten);
                rewritten.push(Emit::Kept(i / 2));
            }
            Op::Delete(i) if i % 2 == 1 => missing.push(expected[i / 2]),
            Op::Absorb(_, j) | Op::Insert(j) => window.push(actual[j]),
            Op::Delete(_) | Op::Skip(_) => {}
        }
    }
    flush(&mut missing, &mut window, &mut rewritten);
    Outcome {
        passed: false,
        rewritten,
        notes: Vec::new(),
    }
}

fn check_unordered(expected: &[&str], actual: &[&str], ws: bool) -> Outcome {
    let patterns = parse_all(expected, ws, false);
    let comparable_actual: Vec<Cow<'_, str>> = actual.iter().map(|l| comparable(l, ws)).collect();
    // `owner[j]`: the expected line actual line `j` is paired with; `partner[i]` the reverse.
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    let mut partner: Vec<Option<usize>> = vec![None; expected.len()];

    // Literal lines first: pairing a literal with an equal line never hurts the matching.
    let mut by_text: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, line) in comparable_actual.iter().enumerate().rev() {
        by_text.entry(line.as_ref()).or_default().push(j);
    }
    for (i, pattern) in patterns.iter().enumerate() {
        if let LinePattern::Literal(text) = pattern {
            if let Some(j) = by_text.get_mut(text.as_str()).and_then(Vec::pop) {
                owner[j] = Some(i);
                partner[i] = Some(j);
            }
        }
    }
    // Then the patterns, by augmenting paths (Kuhn) over the lines still free.
    let free: Vec<usize> = (0..actual.len()).filter(|&j| owner[j].is_none()).collect();
    let loose: Vec<usize> = (0..expected.len())
        .filter(|&i| !patterns[i].is_literal())
        .collect();
    let edges: Vec<Vec<usize>> = loose
        .iter()
        .map(|&i| {
            free.iter()
                .copied()
                .filter(|&j| patterns[i].matches(&comparable_actual[j]))
                .collect()
        })
        .collect();
    // `seen[j] == k + 1`: line `j` was tried in the search for loose pattern `k`.
    let mut seen = vec![0; actual.len()];
    for k in 0..loose.len() {
        augment(
            k,
            k + 1,
            &loose,
            &edges,
            &mut seen,
            &mut owner,
            &mut partner,
        );
    }

    if expected.len() == actual.len() && partner.iter().all(Option::is_some) {
        return Outcome::pass();
    }
    let missing: Vec<usize> = (0..expected.len())
        .filter(|&i| partner[i].is_none())
        .collect();
    let leftover: Vec<usize> = (0..actual.len()).filter(|&j| owner[j].is_none()).collect();
    let picks = pick_similar(
        &missing.iter().map(|&i| expected[i]).collect::<Vec<_>>(),
        &leftover.iter().map(|&j| actual[j]).collect::<Vec<_>>(),
        false,
    );
    let mut replacement: HashMap<usize, usize> = HashMap::new();
    for (&i, pick) in missing.iter().zip(picks) {
        if let Some(k) = pick {
            replacement.insert(i, leftover[k]);
            owner[leftover[k]] = Some(i);
        }
    }
    let mut rewritten = Vec::with_capacity(actual.len());
    for (i, paired) in partner.iter().enumerate() {
        match (paired, replacement.get(&i)) {
            (Some(_), _) => rewritten.push(Emit::Kept(i)),
            (None, Some(&j)) => rewritten.push(Emit::New(actual[j].to_string())),
            (None, None) => {}
        }
    }
    rewritten.extend(
        leftover
            .iter()
            .filter(|&&j| owner[j].is_none())
            .map(|&j| Emit::New(actual[j].to_string())),
    );
    // Trailing blank lines would be normalised away, and the rewrite would lose lines the
    // actual has: order does not matter here, so they go first.
    let blank = |line: &Emit| match line {
        Emit::Kept(k) => expected[*k].is_empty(),
        Emit::New(text) => text.is_empty(),
    };
    let trailing = rewritten
        .iter()
        .rev()
        .take_while(|line| blank(line))
        .count();
    if trailing > 0 && trailing < rewritten.len() {
        let tail = rewritten.split_off(rewritten.len() - trailing);
        let blanks = tail.into_iter().map(|_| Emit::New(String::new()));
        rewritten.splice(0..0, blanks);
    }
    Outcome {
        passed: false,
        rewritten,
        notes: Vec::new(),
    }
}

/// Kuhn's augmenting path from loose pattern `k`; true when it (re)assigned lines so that the
/// pattern has one.
fn augment(
    k: usize,
    stamp: usize,
    loose: &[usize],
    edges: &[Vec<usize>],
    seen: &mut [usize],
    owner: &mut [Option<usize>],
    partner: &mut [Option<usize>],
) -> bool {
    for &j in &edges[k] {
        if seen[j] == stamp {
            continue;
        }
        seen[j] = stamp;
        let free = match owner[j] {
            None => true,
            Some(other) => {
                // Only loose patterns own lines that were free after the literal pass.
                let other_k = loose.binary_search(&other).expect("a loose pattern");
                augment(other_k, stamp, loose, edges, seen, owner, partner)
            }
        };
        if free {
            owner[j] = Some(loose[k]);
            partner[loose[k]] = Some(j);
            return true;
        }
    }
    false
}

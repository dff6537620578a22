//! `match=table` (SPEC §1.5, "Tables, exactly"): header, decoration lines and rows compared
//! cell by cell, with `ignore` and `tol` columns, and the row-preserving rewrite.
//!
//! Positions are display columns (`unicode-width`, so CJK text counts two; a tab advances to
//! the next multiple of eight). White-space amounts never matter in a table: the header and
//! decoration lines compare as their words joined by one space, cells as their text with inner
//! runs collapsed.

use unicode_width::UnicodeWidthChar;

use super::diff::{align, Emit, Op, UNIT};
use super::normalize::collapse_ws;
use super::pattern::{glob_matches, LinePattern, REGEX_SUFFIX, WILDCARD};
use super::{MatchSpec, Outcome};

/// One white-space-separated word of a line, with its byte range and display columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Word<'a> {
    pub(crate) text: &'a str,
    from_byte: usize,
    to_byte: usize,
    start: usize,
    end: usize,
}

/// One cell of a row: one word, or several that line up under the same header word. The text
/// is the line's own text from the first word to the last (inner spacing kept). An empty text
/// is a column no word lined up under.
#[derive(Debug, Clone, Copy)]
struct Cell<'a> {
    text: &'a str,
    start: usize,
}

enum BodyLine<'a> {
    Decoration(&'a str),
    /// An expected row ending in ` (re)`: one regular expression for the whole row.
    Regex(LinePattern),
    Row(Vec<Cell<'a>>),
}

fn advance(column: usize, c: char) -> usize {
    if c == '\t' {
        (column / 8 + 1) * 8
    } else {
        column + c.width().unwrap_or(0)
    }
}

pub(crate) fn words(line: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut column = 0;
    let mut current: Option<(usize, usize)> = None;
    for (at, c) in line.char_indices() {
        let blank = c == ' ' || c == '\t';
        match (blank, current) {
            (true, Some((from_byte, start))) => {
                words.push(Word {
                    text: &line[from_byte..at],
                    from_byte,
                    to_byte: at,
                    start,
                    end: column,
                });
                current = None;
            }
            (false, None) => current = Some((at, column)),
            _ => {}
        }
        column = advance(column, c);
    }
    if let Some((from_byte, start)) = current {
        words.push(Word {
            text: &line[from_byte..],
            from_byte,
            to_byte: line.len(),
            start,
            end: column,
        });
    }
    words
}

fn width(text: &str) -> usize {
    text.chars().fold(0, advance)
}

/// A line's words joined by one space: how header and decoration lines compare.
fn key(line: &str) -> String {
    words(line)
        .iter()
        .map(|w| w.text)
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_decoration(line: &str) -> bool {
    line.chars()
        .all(|c| matches!(c, '=' | '-' | '+' | '|' | ' ' | '\t'))
}

/// Splits a row into cells. With no more words than the header, each word is a cell; with
/// more, each word joins the header word nearest to it by position (overlap counts as zero,
/// ties go left, and a word never goes left of the word before it).
fn cells<'a>(line: &'a str, header: &[Word<'_>]) -> Vec<Cell<'a>> {
    let tokens = words(line);
    if tokens.len() <= header.len() || header.is_empty() {
        return tokens
            .iter()
            .map(|w| Cell {
                text: w.text,
                start: w.start,
            })
            .collect();
    }
    // Zero when they share a column, else one more than the gap between them (so a word
    // right after a header word's end is nearer the header word it sits under).
    let distance = |w: &Word<'_>, h: &Word<'_>| {
        if w.end <= h.start {
            h.start - w.end + 1
        } else if w.start >= h.end {
            w.start - h.end + 1
        } else {
            0
        }
    };
    // Per header word: the first and last token that joined it.
    let mut spans: Vec<Option<(Word<'a>, Word<'a>)>> = vec![None; header.len()];
    let mut column = 0;
    for token in tokens {
        column = (column..header.len())
            .min_by_key(|&k| distance(&token, &header[k]))
            .unwrap_or(column);
        let span = &mut spans[column];
        *span = Some(match *span {
            Some((first, _)) => (first, token),
            None => (token, token),
        });
    }
    spans
        .iter()
        .zip(header)
        .map(|(span, h)| match span {
            Some((first, last)) => Cell {
                text: &line[first.from_byte..last.to_byte],
                start: first.start,
            },
            None => Cell {
                text: "",
                start: h.start,
            },
        })
        .collect()
}

/// A number as a `tol` column reads it: sign, digits, decimals, then an optional unit made of
/// letters, `%` or `µ`.
fn number(text: &str) -> Option<(f64, &str)> {
    let digits_end = text
        .char_indices()
        .find(|&(at, c)| !(c.is_ascii_digit() || c == '.' || (at == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(at, _)| at);
    let (figure, unit) = text.split_at(digits_end);
    if !figure.chars().any(|c| c.is_ascii_digit())
        || !unit.chars().all(|c| c.is_alphabetic() || c == '%')
    {
        return None;
    }
    Some((figure.parse().ok()?, unit))
}

struct Columns<'s> {
    names: Vec<String>,
    spec: &'s MatchSpec,
}

impl Columns<'_> {
    fn name(&self, k: usize) -> &str {
        self.names.get(k).map_or("?", String::as_str)
    }

    /// Whether an actual cell passes for the expected one; `Err(note)` when not.
    fn compare(&self, k: usize, expected: &str, actual: &str) -> Result<(), String> {
        let name = self.name(k);
        if self.spec.ignore.iter().any(|c| c == name) {
            return Ok(());
        }
        let (e, a) = (collapse_ws(expected), collapse_ws(actual));
        if e.contains(WILDCARD) {
            let parts: Vec<String> = e.split(WILDCARD).map(str::to_string).collect();
            return if glob_matches(&parts, &a) {
                Ok(())
            } else {
                Err(format!("{name} `{actual}` differs from `{expected}`"))
            };
        }
        if let Some(&(_, tol)) = self.spec.tol.iter().find(|(c, _)| c == name) {
            if let (Some((x, xu)), Some((y, yu))) = (number(&e), number(&a)) {
                if xu == yu {
                    // The slack absorbs binary rounding (5.213 - 0.213 > 5.0 in f64).
                    return if (x - y).abs() <= tol + 1e-9 * tol.abs().max(1.0) {
                        Ok(())
                    } else {
                        Err(format!(
                            "{name} {actual} differs from {expected} by more than {tol}"
                        ))
                    };
                }
            }
        }
        if e == a {
            Ok(())
        } else {
            Err(format!("{name} `{actual}` differs from `{expected}`"))
        }
    }

    fn row_cost(&self, expected: &[Cell<'_>], actual: &[Cell<'_>]) -> u64 {
        if expected.len() != actual.len() {
            return UNIT;
        }
        let bad = expected
            .iter()
            .zip(actual)
            .enumerate()
            .filter(|(k, (e, a))| self.compare(*k, e.text, a.text).is_err())
            .count();
        if bad == 0 {
            0
        } else {
            (UNIT * bad as u64 / expected.len() as u64).max(1)
        }
    }
}

/// The expected row with the cells that fell outside replaced by the actual ones. Each cell
/// keeps its start column (the expected one where kept, the actual one where replaced, so
/// right-aligned numbers stay right-aligned), moved right only as far as needed to leave a
/// space after the cell before it.
///
/// `None` when the new row would not split back into the same cells under `header` (a row
/// wider than its header, where moving a cell moves which header word it lines up under);
/// the caller then writes the actual row as it is.
fn rebuild(
    expected: &[Cell<'_>],
    actual: &[Cell<'_>],
    replaced: &[bool],
    header: &[Word<'_>],
) -> Option<String> {
    let chosen = |k: usize| {
        if replaced[k] {
            &actual[k]
        } else {
            &expected[k]
        }
    };
    let mut out = String::new();
    let mut column = 0;
    for (k, (e, a)) in expected.iter().zip(actual).enumerate() {
        let cell = if replaced[k] { a } else { e };
        if cell.text.is_empty() {
            continue;
        }
        let start = if out.is_empty() {
            cell.start
        } else {
            cell.start.max(column + 1)
        };
        out.extend(std::iter::repeat_n(' ', start - column));
        out.push_str(cell.text);
        column = start + width(cell.text);
    }
    let again = cells(&out, header);
    let same = again.len() == expected.len()
        && again
            .iter()
            .enumerate()
            .all(|(k, cell)| cell.text == chosen(k).text);
    same.then_some(out)
}

pub(crate) fn check(expected: &[&str], actual: &[&str], spec: &MatchSpec) -> Outcome {
    let (Some(&exp_header), Some(&act_header)) = (expected.first(), actual.first()) else {
        let passed = expected.is_empty() && actual.is_empty();
        let mut notes = Vec::new();
        if !passed {
            let rows = |lines: &[&str]| lines.iter().skip(1).filter(|l| !is_decoration(l)).count();
            notes.push(if rows(expected) == rows(actual) {
                "the table header differs".to_string()
            } else {
                row_count_note(rows(expected), rows(actual))
            });
        }
        return Outcome {
            passed,
            rewritten: actual.iter().map(|l| Emit::New(l.to_string())).collect(),
            notes,
        };
    };
    let exp_words = words(exp_header);
    let act_words = words(act_header);
    let columns = Columns {
        names: exp_words.iter().map(|w| w.text.to_string()).collect(),
        spec,
    };

    let mut notes = Vec::new();
    let mut rewritten = Vec::with_capacity(actual.len());
    let header_ok = LinePattern::parse(&key(exp_header), false, false).matches(&key(act_header));
    if header_ok {
        rewritten.push(Emit::Kept(0));
    } else {
        notes.push("the table header differs".to_string());
        rewritten.push(Emit::New(act_header.to_string()));
    }

    let exp_body: Vec<BodyLine<'_>> = expected[1..]
        .iter()
        .map(|line| {
            if is_decoration(line) {
                BodyLine::Decoration(line)
            } else if line.ends_with(REGEX_SUFFIX) {
                BodyLine::Regex(LinePattern::parse(&key(line), false, false))
            } else {
                BodyLine::Row(cells(line, &exp_words))
            }
        })
        .collect();
    let act_body: Vec<BodyLine<'_>> = actual[1..]
        .iter()
        .map(|line| {
            if is_decoration(line) {
                BodyLine::Decoration(line)
            } else {
                BodyLine::Row(cells(line, &act_words))
            }
        })
        .collect();

    let pair_cost = |i: usize, j: usize| -> Option<u64> {
        Some(match (&exp_body[i], &act_body[j]) {
            (BodyLine::Decoration(e), BodyLine::Decoration(a)) => {
                u64::from(key(e) != key(a)) * UNIT
            }
            (BodyLine::Regex(pattern), _) => {
                u64::from(!pattern.matches(&key(actual[j + 1]))) * UNIT
            }
            (BodyLine::Row(e), BodyLine::Row(a)) => columns.row_cost(e, a),
            _ => UNIT,
        })
    };
    let ops = align(exp_body.len(), act_body.len(), |_| false, pair_cost);

    let mut passed = header_ok;
    for op in ops {
        match op {
            Op::Pair(i, j) => {
                let line = match (&exp_body[i], &act_body[j]) {
                    (BodyLine::Row(e), BodyLine::Row(a)) if e.len() == a.len() => {
                        let verdicts: Vec<Result<(), String>> = e
                            .iter()
                            .zip(a)
                            .enumerate()
                            .map(|(k, (e, a))| columns.compare(k, e.text, a.text))
                            .collect();
                        let replaced: Vec<bool> = verdicts.iter().map(Result::is_err).collect();
                        if replaced.contains(&true) {
                            passed = false;
                            notes.extend(verdicts.into_iter().filter_map(Result::err));
                            let row = rebuild(e, a, &replaced, &exp_words);
                            Emit::New(row.unwrap_or_else(|| actual[j + 1].to_string()))
                        } else {
                            Emit::Kept(i + 1)
                        }
                    }
                    _ if pair_cost(i, j) == Some(0) => Emit::Kept(i + 1),
                    _ => {
                        passed = false;
                        Emit::New(actual[j + 1].to_string())
                    }
                };
                rewritten.push(line);
            }
            Op::Insert(j) => {
                passed = false;
                rewritten.push(Emit::New(actual[j + 1].to_string()));
            }
            Op::Delete(_) => passed = false,
            Op::Absorb(..) | Op::Skip(_) => unreachable!("tables have no `...`"),
        }
    }

    let count_rows = |body: &[BodyLine<'_>]| {
        body.iter()
            .filter(|l| !matches!(l, BodyLine::Decoration(_)))
            .count()
    };
    let (exp_rows, act_rows) = (count_rows(&exp_body), count_rows(&act_body));
    if exp_rows != act_rows {
        notes.push(row_count_note(exp_rows, act_rows));
    }
    Outcome {
        passed,
        rewritten,
        notes,
    }
}

fn row_count_note(expected: usize, actual: usize) -> String {
    let plural = |n: usize| if n == 1 { "row" } else { "rows" };
    format!(
        "the table has {actual} {}, expected {expected}",
        plural(actual)
    )
}

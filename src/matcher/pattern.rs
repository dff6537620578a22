//! One expected line as a pattern: literal text, `[..]` wildcards, a ` (re)` regular
//! expression, or the `...` line wildcard. Knows nothing about modes beyond whether `...` is
//! live; the callers (`mod.rs`, `table.rs`) decide how lines pair up.

use regex::Regex;

use super::normalize::comparable;

/// `...` alone on a line: any number of lines (default mode only).
pub(crate) const ELIDE: &str = "...";
/// Inside a line: any text within that line, none included.
pub(crate) const WILDCARD: &str = "[..]";
/// Suffix of a line that is a regular expression.
pub(crate) const REGEX_SUFFIX: &str = " (re)";

#[derive(Debug)]
pub(crate) enum LinePattern {
    /// Compared as text (already collapsed under `ws=collapse`).
    Literal(String),
    /// The text around the `[..]`s, in order; at least two parts.
    Glob(Vec<String>),
    /// `literal` is the whole line, suffix included: a line equal to it also matches, so the
    /// actual text written back by `update` always matches itself (as in cram).
    Regex { re: Regex, literal: String },
    /// An invalid ` (re)` line: matches only its own text. `lint` reports the error; `check`
    /// adds a note when the comparison fails.
    BadRegex { literal: String, error: String },
    /// `...`.
    AnyLines,
}

impl LinePattern {
    /// `elide`: whether `...` is the line wildcard (default mode) or literal text.
    pub(crate) fn parse(line: &str, ws_collapse: bool, elide: bool) -> LinePattern {
        if elide && line == ELIDE {
            return LinePattern::AnyLines;
        }
        let text = comparable(line, ws_collapse).into_owned();
        if let Some(source) = line.strip_suffix(REGEX_SUFFIX) {
            let source = comparable(source, ws_collapse);
            return match Regex::new(&format!("^(?:{source})$")) {
                Ok(re) => LinePattern::Regex { re, literal: text },
                Err(err) => LinePattern::BadRegex {
                    literal: text,
                    error: regex_error(&err),
                },
            };
        }
        if text.contains(WILDCARD) {
            return LinePattern::Glob(text.split(WILDCARD).map(str::to_string).collect());
        }
        LinePattern::Literal(text)
    }

    /// `actual` must already be collapsed when the pattern was parsed with `ws_collapse`.
    pub(crate) fn matches(&self, actual: &str) -> bool {
        match self {
            LinePattern::Literal(text) => text == actual,
            LinePattern::Glob(parts) => glob_matches(parts, actual),
            LinePattern::Regex { re, literal } => literal == actual || re.is_match(actual),
            LinePattern::BadRegex { literal, .. } => literal == actual,
            LinePattern::AnyLines => true,
        }
    }

    pub(crate) fn is_literal(&self) -> bool {
        matches!(self, LinePattern::Literal(_))
    }
}

/// `[..]` matching: the first part is a prefix, the last a suffix after everything before it,
/// and each middle part is taken at its leftmost occurrence. Leftmost is always right (it leaves
/// the most text for the rest), so there is no backtracking and the cost is linear in the line.
pub(crate) fn glob_matches(parts: &[String], actual: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return actual.is_empty();
    };
    let Some(mut rest_of_line) = actual.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return rest_of_line.is_empty();
    };
    for part in middle {
        match rest_of_line.find(part.as_str()) {
            Some(at) => rest_of_line = &rest_of_line[at + part.len()..],
            None => return false,
        }
    }
    rest_of_line.ends_with(last.as_str())
}

/// The regex crate's error in one line: its `Display` draws the pattern and a caret over
/// several lines; the last one says what is wrong.
fn regex_error(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_string()
}

//! Expected output against actual output: (expected, actual, spec) to a [`Verdict`]. Pure.
//!
//! PLACEHOLDER: exact comparison only; the full matcher of SPEC §1.5 replaces this file.

use serde::Serialize;

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

/// Removes terminal escape sequences, `\r` before `\n`, trailing white space on each line and
/// trailing blank lines (SPEC §1.5).
pub fn normalize(raw: &str) -> String {
    let stripped = strip_ansi_escapes::strip_str(raw);
    let mut lines: Vec<&str> = stripped.split('\n').map(|l| l.trim_end()).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// The column names of a table's header line.
pub fn table_columns(header: &str) -> Vec<String> {
    header.split_whitespace().map(str::to_string).collect()
}

pub fn check(expected: &str, actual: &str, spec: &MatchSpec) -> Verdict {
    let expected = normalize(expected);
    let actual = normalize(actual);
    let passed = spec.mode == MatchMode::Any || expected == actual;
    let diff = if passed {
        String::new()
    } else {
        similar::TextDiff::from_lines(&format!("{expected}\n"), &format!("{actual}\n"))
            .unified_diff()
            .header("expected", "actual")
            .to_string()
    };
    Verdict {
        passed,
        rewritten: actual.clone(),
        actual,
        diff,
        notes: Vec::new(),
    }
}

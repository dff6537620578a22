//! Diagnostics as data, their rendering, and the exit status.
//!
//! A [`Diagnostic`] is a severity, a message, a place (file and byte span) and optional
//! `help:` lines. Rendering happens once, at the edge, in the compiler style every tool in
//! this family uses: `PATH:LINE:COL: message`, then the source line with a caret under the
//! span, then the help lines. Warnings say `warning:` after the location; errors do not, so
//! that the first line is exactly the `PATH:LINE:COL: message` SPEC §3 promises.

use std::fmt::Write as _;
use std::sync::Arc;

use unicode_width::UnicodeWidthStr;

use crate::source::{SourceFile, Span};

/// How the process ends. Ordered so that the worst outcome wins with `max()`:
/// could-not-execute (3) beats bad input (2) beats drift (1) beats success (0).
///
/// ```
/// use runbook::diag::Exit;
/// assert!(Exit::Fault > Exit::BadInput && Exit::BadInput > Exit::Drift && Exit::Drift > Exit::Ok);
/// assert_eq!([Exit::Drift, Exit::Fault, Exit::Ok].into_iter().max(), Some(Exit::Fault));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Ok = 0,
    Drift = 1,
    BadInput = 2,
    Fault = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in an input file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where; `None` for problems with no place (a path that does not exist).
    pub file: Option<Arc<SourceFile>>,
    pub span: Span,
    pub help: Vec<String>,
    /// A bare path to show when there is no source text (unreadable file).
    pub path: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &Arc<SourceFile>, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: Some(file.clone()),
            span,
            help: Vec::new(),
            path: None,
        }
    }

    pub fn warning(file: &Arc<SourceFile>, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, span, message)
        }
    }

    /// An error about a path whose text could not be read or parsed at all.
    pub fn at_path(path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            span: Span::default(),
            help: Vec::new(),
            path: Some(path.into()),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help.push(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `PATH:LINE:COL` (or the bare path).
    pub fn location(&self) -> String {
        match (&self.file, &self.path) {
            (Some(f), _) => f.location(self.span.start),
            (None, Some(p)) => p.clone(),
            (None, None) => String::from("runbook"),
        }
    }

    /// The full compiler-style rendering, ending in a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        let _ = writeln!(out, "{}: {}{}", self.location(), sev, self.message);
        if let Some(file) = &self.file {
            if !file.text.is_empty() {
                let (line, col) = file.line_col(self.span.start);
                let text = file.line_text(line);
                let gutter = line.to_string().len();
                let prefix: String = text.chars().take(col - 1).collect();
                let pad = UnicodeWidthStr::width(prefix.as_str());
                // The caret covers the span on its first line, at least one column.
                let end_in_line = (file.line_start(line) + text.len()).min(self.span.end);
                let covered = if end_in_line > self.span.start {
                    UnicodeWidthStr::width(&file.text[self.span.start..end_in_line]).max(1)
                } else {
                    1
                };
                let _ = writeln!(out, "{:gutter$} |", "");
                let _ = writeln!(out, "{line} | {text}");
                let _ = writeln!(out, "{:gutter$} | {:pad$}{}", "", "", "^".repeat(covered));
            }
        }
        for h in &self.help {
            let _ = writeln!(out, "  = help: {h}");
        }
        out
    }
}

/// Prints diagnostics to standard error, errors and warnings alike, in the order given, and
/// returns `Exit::BadInput` if any is an error.
pub fn emit(diags: &[Diagnostic]) -> Exit {
    let mut stderr = String::new();
    for d in diags {
        stderr.push_str(&d.render());
    }
    eprint!("{stderr}");
    if diags.iter().any(Diagnostic::is_error) {
        Exit::BadInput
    } else {
        Exit::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret_under_wide_characters() {
        let f = Arc::new(SourceFile::new(
            "r.md",
            "# 配置\n```sh {timeout=soon}\n".to_string(),
        ));
        let off = f.text.find("timeout").unwrap();
        let d = Diagnostic::error(&f, Span::new(off, off + 12), "bad `timeout`")
            .with_help("write a duration such as `30s`");
        let r = d.render();
        assert!(r.starts_with("r.md:2:8: bad `timeout`\n"), "{r}");
        assert!(r.contains("2 | ```sh {timeout=soon}\n"), "{r}");
        assert!(r.contains("  |        ^^^^^^^^^^^^\n"), "{r}");
        assert!(r.contains("= help: write a duration"), "{r}");
        let f2 = Arc::new(SourceFile::new("z.md", "配置 x".to_string()));
        let w = Diagnostic::warning(&f2, Span::new(7, 8), "w").render();
        // "配置 " is five columns wide.
        assert!(w.contains("  |      ^\n"), "{w}");
        assert!(w.starts_with("z.md:1:4: warning: w"), "{w}");
    }
}

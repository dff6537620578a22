//! Markdown runbooks to the model: [`markdown`] holds the one pulldown-cmark setup,
//! [`front_matter`] the YAML header, [`attrs`] info strings, [`model`] the types and
//! [`steps`] the rules that turn blocks into steps.

pub mod attrs;
pub mod front_matter;
#[doc(hidden)]
pub mod invariants;
pub mod markdown;
pub mod model;
pub mod steps;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

pub use model::*;

use crate::diag::Diagnostic;
use crate::source::{SourceFile, Span};

/// Runbooks larger than this are refused rather than parsed (a runbook is prose for people).
pub const MAX_RUNBOOK_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a file as runbook text: UTF-8, not binary, not empty.
pub fn read_source(path: &Path) -> Result<Arc<SourceFile>, Diagnostic> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| Diagnostic::at_path(&shown, format!("cannot read: {}", io_reason(&e))))?;
    if meta.is_dir() {
        return Err(Diagnostic::at_path(
            &shown,
            "is a folder, not a runbook file",
        ));
    }
    if meta.len() > MAX_RUNBOOK_BYTES {
        return Err(Diagnostic::at_path(
            &shown,
            format!(
                "is {} MiB; runbooks larger than 64 MiB are refused",
                meta.len() >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::at_path(&shown, format!("cannot read: {}", io_reason(&e))))?;
    if bytes.is_empty() {
        return Err(Diagnostic::at_path(
            format!("{shown}:1:1"),
            "the runbook is empty",
        ));
    }
    if bytes.contains(&0) {
        return Err(Diagnostic::at_path(
            &shown,
            "is a binary file, not Markdown text",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let col = String::from_utf8_lossy(
            &good[good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)..],
        )
        .chars()
        .count()
            + 1;
        Diagnostic::at_path(
            format!("{shown}:{line}:{col}"),
            "is not UTF-8 text (runbooks must be UTF-8)",
        )
    })?;
    Ok(Arc::new(SourceFile::new(path, text)))
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Parses a runbook, collecting every problem found in the document itself.
pub fn parse(file: &Arc<SourceFile>) -> (Runbook, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut front = front_matter::FrontMatter {
        lang: "en".into(),
        ..Default::default()
    };
    let mut fenced = Vec::new();
    let mut heading = None;
    let mut saw_front = false;
    for item in markdown::scan(&file.text) {
        match item {
            markdown::Item::FrontMatter { text, span } => {
                saw_front = true;
                match front_matter::parse(&text, span) {
                    Ok(f) => front = f,
                    Err(e) => diags.push(Diagnostic::error(file, Span::at(e.offset), e.message)),
                }
            }
            markdown::Item::Heading(h) => heading = Some(h),
            markdown::Item::Block(b) => fenced.push((b, heading.clone())),
        }
    }
    if !saw_front && (file.text.starts_with("---\n") || file.text.starts_with("---\r\n")) {
        let first_line_empty = file
            .text
            .lines()
            .nth(1)
            .is_some_and(|l| l.trim().is_empty());
        if !first_line_empty {
            diags.push(
                Diagnostic::error(file, Span::new(0, 3), "the front matter is never closed")
                    .with_help(
                    "end it with a line `---` (and no blank line right after the opening `---`)",
                ),
            );
        }
    }
    let mut builder = steps::Builder::new(file);
    let (blocks, steps) = builder.build(fenced);
    diags.extend(builder.diags);
    (
        Runbook {
            file: file.clone(),
            front,
            blocks,
            steps,
        },
        diags,
    )
}

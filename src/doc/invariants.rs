//! What the parser promises about every [`Runbook`] it returns, whatever the input: the checks
//! the fuzz targets (`fuzz/`) and the regression tests run.
//!
//! Spans are in bounds and on character boundaries (`update` splices them and diagnostics put
//! a caret under them); a body line's span is exactly its text, or an empty span at a point
//! where CommonMark rewrote the line; every diagnostic renders; step ids are unique unless a
//! duplicate id was reported.

use std::collections::HashSet;

use crate::diag::Diagnostic;
use crate::doc::attrs::{AttrError, InfoString};
use crate::doc::model::{Line, Runbook};
use crate::source::Span;

/// Checks a parsed runbook and its diagnostics; the error says which promise broke.
pub fn check(rb: &Runbook, diags: &[Diagnostic]) -> Result<(), String> {
    let text = rb.file.text.as_str();
    span_ok(text, rb.front.span, "front matter")?;
    for (n, b) in rb.blocks.iter().enumerate() {
        let what = format!("block {n}");
        let f = &b.fenced;
        span_ok(text, f.span, &format!("{what} span"))?;
        span_ok(text, f.info_span, &format!("{what} info span"))?;
        if text[f.info_span.range()] != f.info {
            return Err(format!("{what}: info span does not hold the info string"));
        }
        if f.info_span.start < f.span.start || f.info_span.end > f.span.end {
            return Err(format!("{what}: info span outside the block"));
        }
        lines_ok(text, &f.lines, f.span, &what)?;
        if f.closed {
            // The closing fence is the block's last line and no part of the body: `update`
            // splices expected output in right before it.
            let last = text[f.span.range()].trim_end_matches(['\n', '\r']);
            let fence_line = f.span.start + last.rfind('\n').map_or(0, |i| i + 1);
            if f.lines
                .iter()
                .any(|l| !l.span.is_empty() && l.span.end > fence_line)
            {
                return Err(format!(
                    "{what}: marked closed, but its last line is body text"
                ));
            }
        }
        info_ok(text, &b.info, &what)?;
    }
    for (n, w) in rb.blocks.windows(2).enumerate() {
        if w[0].fenced.span.end > w[1].fenced.span.start {
            return Err(format!("blocks {n} and {} overlap", n + 1));
        }
    }
    let mut ids = HashSet::new();
    let duplicate_reported = diags
        .iter()
        .any(|d| d.message.starts_with("duplicate step id"));
    for s in &rb.steps {
        let what = format!("step `{}`", s.id);
        if s.block >= rb.blocks.len()
            || rb.blocks[s.block]
                .step
                .and_then(|i| rb.steps.get(i))
                .map(|t| &t.id)
                != Some(&s.id)
        {
            return Err(format!("{what}: block index does not point back"));
        }
        span_ok(text, s.id_span, &format!("{what} id span"))?;
        if let Some((_, span)) = &s.on {
            span_ok(text, *span, &format!("{what} on= span"))?;
        }
        if !ids.insert(s.id.as_str()) && !duplicate_reported {
            return Err(format!("{what}: id used twice and no error says so"));
        }
        if let crate::doc::Action::Console(cmds) = &s.action {
            for c in cmds {
                span_ok(text, c.span, &format!("{what} command span"))?;
                within(c.span, rb.blocks[s.block].fenced.span, &what)?;
            }
        }
        for e in s.expectations() {
            if e.at > text.len() || !text.is_char_boundary(e.at) {
                return Err(format!(
                    "{what}: expected output splice point {} is not a char boundary",
                    e.at
                ));
            }
            let holder = rb
                .blocks
                .get(e.block)
                .ok_or_else(|| format!("{what}: expected block index out of range"))?;
            within(Span::at(e.at), holder.fenced.span, &what)?;
            if e.at != text.len() && e.at != 0 && text.as_bytes()[e.at - 1] != b'\n' {
                return Err(format!(
                    "{what}: expected output splice point {} is not a line start",
                    e.at
                ));
            }
            lines_ok(text, &e.lines, holder.fenced.span, &what)?;
        }
    }
    for d in diags {
        check_diagnostic(d)?;
    }
    Ok(())
}

/// A diagnostic's span is in bounds and on char boundaries of its file, and it renders.
pub fn check_diagnostic(d: &Diagnostic) -> Result<(), String> {
    if let Some(f) = &d.file {
        span_ok(&f.text, d.span, &format!("diagnostic `{}`", d.message))?;
    }
    let r = d.render();
    if !r.starts_with(&d.location()) {
        return Err(format!(
            "diagnostic `{}` renders without its location",
            d.message
        ));
    }
    Ok(())
}

/// Checks what [`crate::doc::attrs::parse_info`] returned for `info`, which starts at `base`
/// of `file_text`.
pub fn check_info(
    file_text: &str,
    base: usize,
    info: &str,
    result: &Result<InfoString, AttrError>,
) -> Result<(), String> {
    let range = Span::new(base, base + info.len());
    match result {
        Ok(i) => {
            info_ok(file_text, i, "info string")?;
            for s in std::iter::once(i.lang_span).chain(i.attrs.iter().map(|a| a.span)) {
                within(s, range, "info string")?;
            }
        }
        Err(e) => {
            span_ok(file_text, e.span, "info string error")?;
            within(e.span, range, "info string error")?;
        }
    }
    Ok(())
}

fn within(s: Span, outer: Span, what: &str) -> Result<(), String> {
    if s.start < outer.start || s.end > outer.end {
        return Err(format!("{what}: span {s:?} outside {outer:?}"));
    }
    Ok(())
}

fn span_ok(text: &str, s: Span, what: &str) -> Result<(), String> {
    if s.start > s.end || s.end > text.len() {
        return Err(format!(
            "{what}: span {s:?} out of bounds (len {})",
            text.len()
        ));
    }
    if !text.is_char_boundary(s.start) || !text.is_char_boundary(s.end) {
        return Err(format!("{what}: span {s:?} not on char boundaries"));
    }
    Ok(())
}

fn lines_ok(text: &str, lines: &[Line], block: Span, what: &str) -> Result<(), String> {
    for (k, l) in lines.iter().enumerate() {
        let lw = format!("{what} line {k}");
        span_ok(text, l.span, &lw)?;
        within(l.span, block, &lw)?;
        if !l.span.is_empty() && text[l.span.range()] != l.text {
            return Err(format!(
                "{lw}: span holds {:?}, line is {:?}",
                &text[l.span.range()],
                l.text
            ));
        }
        if l.text.contains('\n') {
            return Err(format!("{lw}: text holds a newline"));
        }
    }
    Ok(())
}

fn info_ok(text: &str, info: &InfoString, what: &str) -> Result<(), String> {
    span_ok(text, info.lang_span, &format!("{what} lang span"))?;
    if text[info.lang_span.range()] != info.lang {
        return Err(format!("{what}: lang span does not hold `{}`", info.lang));
    }
    for a in &info.attrs {
        let aw = format!("{what} attribute `{}`", a.key);
        span_ok(text, a.span, &aw)?;
        span_ok(text, a.key_span, &aw)?;
        span_ok(text, a.value_span, &aw)?;
        within(a.key_span, a.span, &aw)?;
        within(a.value_span, a.span, &aw)?;
        let key = &text[a.key_span.range()];
        if key != a.key && !(key == "#" && a.key == "id") && !(key == "." && a.key == "class") {
            return Err(format!("{aw}: key span holds `{key}`"));
        }
        let raw = &text[a.value_span.range()];
        match &a.value {
            None if !raw.is_empty() => return Err(format!("{aw}: flag with a value span")),
            Some(v) if raw != v && raw.get(1..raw.len().saturating_sub(1)) != Some(v) => {
                return Err(format!("{aw}: value span holds `{raw}`, value is `{v}`"))
            }
            _ => {}
        }
    }
    Ok(())
}

//! What both sides go through before any comparison (SPEC §1.5): escapes, carriage returns,
//! trailing white space, trailing blank lines. Also the `ws=collapse` folding and the line split
//! every mode uses.

use std::borrow::Cow;

/// Stand-ins for `\t` and `\r` while `strip-ansi-escapes` runs: it drops every C0 control but
/// `\n`, and we need tabs (cells, `ws=collapse`) and carriage returns (overstriking) to survive.
/// Unicode noncharacters are reserved for exactly this kind of internal use.
const TAB: char = '\u{FDD0}';
const CR: char = '\u{FDD1}';

/// Removes terminal escape sequences, `\r` before `\n`, trailing white space on each line and
/// trailing blank lines (SPEC §1.5).
///
/// A `\r` inside a line (a progress bar redrawing itself) overstrikes the line from its start,
/// as a terminal shows it: `50%\r100%` becomes `100%`, `abcdef\rXY` becomes `XYcdef`. Other
/// control characters (bell, backspace) are dropped.
pub fn normalize(raw: &str) -> String {
    // Most output is already clean: no escapes, no carriage returns, no trailing white space.
    // Then only trailing blank lines go, and one copy is all the work (large outputs).
    if is_clean(raw) {
        return raw.trim_end_matches('\n').to_string();
    }
    normalize_dirty(raw)
}

/// [`normalize`] the long way, for text that [`is_clean`] does not vouch for.
fn normalize_dirty(raw: &str) -> String {
    let cleaned = if has_escapes_or_controls(raw) {
        Cow::Owned(strip_escapes(raw))
    } else {
        Cow::Borrowed(raw)
    };
    let mut out = String::with_capacity(cleaned.len());
    // Length of `out` up to the end of its last non-blank line.
    let mut keep = 0;
    let has_cr = cleaned.contains('\r');
    for (k, line) in cleaned.split('\n').enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let line = if has_cr {
            overstrike(line.strip_suffix('\r').unwrap_or(line))
        } else {
            Cow::Borrowed(line)
        };
        let line = trim_end(&line);
        out.push_str(line);
        if !line.is_empty() {
            keep = out.len();
        }
    }
    out.truncate(keep);
    out
}

/// [`normalize`] of an owned text: a clean one (most output) is trimmed in place, not copied.
pub fn normalize_owned(mut raw: String) -> String {
    if is_clean(&raw) {
        let kept = raw.trim_end_matches('\n').len();
        raw.truncate(kept);
        return raw;
    }
    normalize_dirty(&raw)
}

/// No escapes or controls, no `\r`, and no line ending in white space (a non-ASCII byte before
/// a line end counts as maybe: it could be Unicode white space).
///
/// One pass over (previous byte, byte) pairs, in blocks folded without an early exit so that
/// the compiler vectorises them: this runs over every output, and outputs can be megabytes.
fn is_clean(raw: &str) -> bool {
    const BLOCK: usize = 4096;
    let bytes = raw.as_bytes();
    let special = |b: u8| is_control(b) | (b == b'\r');
    let may_trail = |b: u8| (b == b' ') | (b == b'\t') | (b >= 0x80);
    let Some(&first) = bytes.first() else {
        return true;
    };
    if special(first) || may_trail(bytes[bytes.len() - 1]) {
        return false;
    }
    let (previous, current) = (&bytes[..bytes.len() - 1], &bytes[1..]);
    previous
        .chunks(BLOCK)
        .zip(current.chunks(BLOCK))
        .all(|(prev, cur)| {
            !prev.iter().zip(cur).fold(false, |dirty, (&p, &c)| {
                dirty | special(c) | ((c == b'\n') & may_trail(p))
            })
        })
}

/// A byte `strip-ansi-escapes` would act on (see [`has_escapes_or_controls`]).
fn is_control(b: u8) -> bool {
    ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0x7f) | (b == 0xc2)
}

/// Whether `strip-ansi-escapes` has anything to do: ESC, C0 controls other than tab, line feed
/// and carriage return, DEL, or a C1 control (UTF-8 `0xC2 0x80..=0x9F`; any `0xC2` lead byte
/// is taken as a maybe, which only costs the slower path). Most output has none, and the
/// stripper walks a state machine per byte.
fn has_escapes_or_controls(raw: &str) -> bool {
    raw.as_bytes().iter().any(|&b| is_control(b))
}

fn strip_escapes(raw: &str) -> String {
    let masked: String = raw
        .chars()
        .map(|c| match c {
            '\t' => TAB,
            '\r' => CR,
            c => c,
        })
        .collect();
    strip_ansi_escapes::strip_str(masked)
        .chars()
        .map(|c| match c {
            TAB => '\t',
            CR => '\r',
            c => c,
        })
        .collect()
}

/// `str::trim_end`, skipping its Unicode scan for the usual line that ends in a visible ASCII
/// character (this runs once per output line).
fn trim_end(line: &str) -> &str {
    match line.as_bytes().last() {
        Some(b) if b.is_ascii_graphic() => line,
        _ => line.trim_end(),
    }
}

/// Applies the carriage returns left inside one line, one character per column.
fn overstrike(line: &str) -> Cow<'_, str> {
    if !line.contains('\r') {
        return Cow::Borrowed(line);
    }
    let mut shown: Vec<char> = Vec::new();
    for pass in line.split('\r') {
        for (column, c) in pass.chars().enumerate() {
            match shown.get_mut(column) {
                Some(slot) => *slot = c,
                None => shown.push(c),
            }
        }
    }
    Cow::Owned(shown.into_iter().collect())
}

/// The lines of a normalised text; the empty text has none.
pub(crate) fn lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').collect()
    }
}

/// `ws=collapse`: every run of spaces and tabs becomes one space.
pub(crate) fn collapse_ws(text: &str) -> Cow<'_, str> {
    if !text.contains('\t') && !text.contains("  ") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if c == ' ' || c == '\t' {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    Cow::Owned(out)
}

/// The text a line is compared as: collapsed under `ws=collapse`, as is otherwise.
pub(crate) fn comparable(text: &str, ws_collapse: bool) -> Cow<'_, str> {
    if ws_collapse {
        collapse_ws(text)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The fast path may only vouch for text the long way leaves as it is.
    #[test]
    fn clean_text_is_what_the_long_way_gives() {
        let pieces = [
            "a", " ", "\t", "\n", "\r", "\x1b[1m", "\u{7f}", "é", "\u{3000}", "配", "\u{85}",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut vouched = 0;
        for _ in 0..50_000 {
            let text: String = (0..rng.gen_range(0..12))
                .map(|_| pieces[rng.gen_range(0..pieces.len())])
                .collect();
            if is_clean(&text) {
                vouched += 1;
                assert_eq!(
                    normalize_dirty(&text),
                    text.trim_end_matches('\n'),
                    "{text:?}"
                );
            }
            assert_eq!(normalize(&text), normalize_dirty(&text), "{text:?}");
            assert_eq!(
                normalize_owned(text.clone()),
                normalize_dirty(&text),
                "{text:?}"
            );
        }
        assert!(vouched > 1000, "{vouched}");
    }
}

//! File blocks (SPEC §1.4): replace, append, unified diffs.

/// One hunk of a unified diff.
#[derive(Debug, Clone, PartialEq)]
pub struct Hunk {
    pub old_start: usize,
    pub lines: Vec<HunkLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

/// Parses the hunks of a unified diff (the `---`/`+++` headers are optional).
pub fn parse_unified_diff(text: &str) -> Result<Vec<Hunk>, String> {
    let mut hunks: Vec<Hunk> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if hunks.is_empty()
            && (line.starts_with("--- ")
                || line.starts_with("+++ ")
                || line.starts_with("diff ")
                || line.starts_with("index "))
        {
            continue;
        }
        if let Some(rest) = line.strip_prefix("@@ ") {
            let old = rest.split_whitespace().next().unwrap_or("");
            let start = old.trim_start_matches('-').split(',').next().unwrap_or("");
            let old_start = start
                .parse::<usize>()
                .map_err(|_| format!("line {}: bad hunk header `{line}`", n + 1))?;
            hunks.push(Hunk {
                old_start,
                lines: Vec::new(),
            });
            continue;
        }
        let Some(h) = hunks.last_mut() else {
            return Err(format!(
                "line {}: expected a hunk header `@@ -L,N +L,N @@`",
                n + 1
            ));
        };
        if line == "\\ No newline at end of file" {
            continue;
        }
        let (tag, body) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        h.lines.push(match tag {
            " " | "" => HunkLine::Context(body.to_string()),
            "-" => HunkLine::Remove(body.to_string()),
            "+" => HunkLine::Add(body.to_string()),
            _ => {
                return Err(format!(
                    "line {}: a diff line starts with ` `, `-` or `+`",
                    n + 1
                ))
            }
        });
    }
    if hunks.is_empty() {
        return Err("it has no hunk (`@@ -L,N +L,N @@`)".into());
    }
    Ok(hunks)
}

/// What applying a diff would do.
#[derive(Debug, Clone, PartialEq)]
pub enum Patched {
    /// The new content.
    Changed(String),
    /// Every hunk is already in place (the diff applies in reverse).
    AlreadyApplied,
}

/// Applies hunks to `current`. A hunk is looked for at its line number first, then nearest to
/// it; a diff that applies neither forwards nor (as already applied) backwards is an error
/// that shows the first hunk that does not fit.
pub fn apply_diff(current: &str, hunks: &[Hunk]) -> Result<Patched, String> {
    match apply(current, hunks, false) {
        Ok(new) => Ok(Patched::Changed(new)),
        Err(bad) => {
            if apply(current, hunks, true).is_ok() {
                Ok(Patched::AlreadyApplied)
            } else {
                Err(format!(
                    "this hunk does not fit the file:\n{}",
                    render_hunk(&hunks[bad])
                ))
            }
        }
    }
}

fn render_hunk(h: &Hunk) -> String {
    let mut s = String::new();
    let old = h
        .lines
        .iter()
        .filter(|l| !matches!(l, HunkLine::Add(_)))
        .count();
    let new = h
        .lines
        .iter()
        .filter(|l| !matches!(l, HunkLine::Remove(_)))
        .count();
    s.push_str(&format!(
        "@@ -{},{} +{},{} @@\n",
        h.old_start, old, h.old_start, new
    ));
    for l in &h.lines {
        match l {
            HunkLine::Context(t) => s.push_str(&format!(" {t}\n")),
            HunkLine::Remove(t) => s.push_str(&format!("-{t}\n")),
            HunkLine::Add(t) => s.push_str(&format!("+{t}\n")),
        }
    }
    s
}

/// Applies (or, `reverse`, un-applies) every hunk; on failure, the index of the hunk.
fn apply(current: &str, hunks: &[Hunk], reverse: bool) -> Result<String, usize> {
    let ends_with_newline = current.ends_with('\n') || current.is_empty();
    let mut lines: Vec<String> = current.lines().map(str::to_string).collect();
    // Applying from the last hunk keeps earlier line numbers valid.
    let mut shift: isize = 0;
    let mut order: Vec<usize> = (0..hunks.len()).collect();
    order.sort_by_key(|i| hunks[*i].old_start);
    let mut edits: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut floor = 0;
    for &i in &order {
        let h = &hunks[i];
        let (old, new): (Vec<&str>, Vec<&str>) = {
            let mut old = Vec::new();
            let mut new = Vec::new();
            for l in &h.lines {
                match (l, reverse) {
                    (HunkLine::Context(t), _) => {
                        old.push(t.as_str());
                        new.push(t.as_str());
                    }
                    (HunkLine::Remove(t), false) | (HunkLine::Add(t), true) => old.push(t.as_str()),
                    (HunkLine::Add(t), false) | (HunkLine::Remove(t), true) => new.push(t.as_str()),
                }
            }
            (old, new)
        };
        let want = (h.old_start.saturating_sub(1) as isize + shift).max(0) as usize;
        let fits = |at: usize| {
            at + old.len() <= lines.len()
                && lines[at..at + old.len()]
                    .iter()
                    .zip(&old)
                    .all(|(a, b)| a.trim_end() == b.trim_end())
        };
        let found = (0..=lines.len())
            .flat_map(|d| [want.checked_add(d), want.checked_sub(d)])
            .flatten()
            .find(|at| *at >= floor && fits(*at));
        let Some(at) = found else { return Err(i) };
        shift += new.len() as isize - old.len() as isize;
        floor = at + old.len();
        edits.push((at, old.len(), new.iter().map(|s| s.to_string()).collect()));
        if old.is_empty() && lines.is_empty() {
            floor = 0;
        }
    }
    for (at, len, new) in edits.into_iter().rev() {
        lines.splice(at..at + len, new);
    }
    let mut out = lines.join("\n");
    if ends_with_newline && !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// `mode=append`: each line of the block not yet in the file is appended (running twice
/// changes nothing). `None` when nothing is missing.
pub fn append_missing(current: &str, block: &str) -> Option<String> {
    let have: std::collections::HashSet<&str> = current.lines().map(str::trim_end).collect();
    let missing: Vec<&str> = block
        .lines()
        .filter(|l| !l.trim().is_empty() && !have.contains(l.trim_end()))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = current.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for l in missing {
        out.push_str(l);
        out.push('\n');
    }
    Some(out)
}

/// Shell text that prints a file's content exactly, or exits 44 when it does not exist.
pub fn read_script(path: &str) -> String {
    let p = super::session::quote(path);
    format!("if [ -e {p} ]; then cat -- {p}; else (exit 44); fi")
}

pub const MISSING_FILE_STATUS: i32 = 44;

/// Shell text that writes `content` to `path` atomically: a temporary file beside it, the
/// old file's permissions and owner copied (or `perm`, or 0644 for a new file), synced to
/// disk, then renamed over the target. A symbolic link is followed, so the link stays.
pub fn write_script(path: &str, content: &str, perm: Option<u32>) -> String {
    let p = super::session::quote(path);
    let perm_cmd = match perm {
        Some(m) => format!("chmod {m:04o} \"$t\" || exit 1"),
        None => "if [ -e \"$p\" ]; then chmod --reference=\"$p\" \"$t\" 2>/dev/null; chown --reference=\"$p\" \"$t\" 2>/dev/null; else chmod 0644 \"$t\"; fi; :".into(),
    };
    format!(
        "(p={p}; if [ -L \"$p\" ]; then p=$(readlink -f -- \"$p\") || exit 1; fi\n\
         t=\"$(dirname -- \"$p\")/.$(basename -- \"$p\").runbook-tmp.$$\"\n\
         printf '%s' {content} > \"$t\" || {{ rm -f -- \"$t\"; exit 1; }}\n\
         {perm_cmd}\n\
         sync \"$t\" 2>/dev/null || sync\n\
         mv -f -- \"$t\" \"$p\" || {{ rm -f -- \"$t\"; exit 1; }})",
        content = super::session::quote(content)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NTP: &str = "driftfile /var/lib/ntp/drift\n# Please consider joining the pool.\nserver 0.centos.pool.ntp.org iburst\nserver 1.centos.pool.ntp.org iburst\n\n#broadcast 192.168.1.255\n";
    const DIFF: &str = "--- a/etc/ntp.conf\n+++ b/etc/ntp.conf\n@@ -2,4 +2,5 @@\n # Please consider joining the pool.\n-server 0.centos.pool.ntp.org iburst\n-server 1.centos.pool.ntp.org iburst\n+#server 0.centos.pool.ntp.org iburst\n+#server 1.centos.pool.ntp.org iburst\n+server controller iburst\n \n";

    #[test]
    fn diff_applies_then_is_already_applied() {
        let hunks = parse_unified_diff(DIFF).unwrap();
        let Patched::Changed(new) = apply_diff(NTP, &hunks).unwrap() else {
            panic!()
        };
        assert!(new.contains("#server 0.centos.pool.ntp.org iburst\n#server 1.centos.pool.ntp.org iburst\nserver controller iburst\n\n#broadcast"));
        assert_eq!(apply_diff(&new, &hunks).unwrap(), Patched::AlreadyApplied);
        // Shifted by an extra first line: still found near its line number.
        let shifted = format!("# local edit\n{NTP}");
        assert!(matches!(
            apply_diff(&shifted, &hunks).unwrap(),
            Patched::Changed(_)
        ));
    }

    #[test]
    fn diff_that_fits_neither_way_shows_the_hunk() {
        let hunks = parse_unified_diff(DIFF).unwrap();
        let e = apply_diff("something else\n", &hunks).unwrap_err();
        assert!(e.contains("-server 0.centos.pool.ntp.org iburst"), "{e}");
    }

    #[test]
    fn append_is_idempotent() {
        let block = "10.0.0.11 controller\n10.0.0.12 controller2\n";
        let once = append_missing("127.0.0.1 localhost\n10.0.0.11 controller\n", block).unwrap();
        assert_eq!(
            once,
            "127.0.0.1 localhost\n10.0.0.11 controller\n10.0.0.12 controller2\n"
        );
        assert_eq!(append_missing(&once, block), None);
        assert_eq!(
            append_missing("no newline", "x\n").unwrap(),
            "no newline\nx\n"
        );
    }

    #[test]
    fn bad_diffs_do_not_parse() {
        assert!(parse_unified_diff("just text\n").is_err());
        assert!(parse_unified_diff("@@ -x +1 @@\n").is_err());
    }
}

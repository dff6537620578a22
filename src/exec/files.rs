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

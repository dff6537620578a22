//! Secrets never leave the engine: every secret value in output is replaced by
//! `[secret:NAME]` before anything prints, reports, stores or shows it (SPEC §2), including a
//! value that arrives split across two chunks of a stream.

/// Replaces secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (value, replacement), longest value first so a secret containing another wins.
    secrets: Vec<(String, String)>,
}

impl Redactor {
    pub fn new(secrets: &[(String, String)]) -> Redactor {
        let mut s: Vec<(String, String)> = secrets
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (v.clone(), format!("[secret:{n}]")))
            .collect();
        s.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        Redactor { secrets: s }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The text with every secret replaced; borrowed when there is nothing to replace.
    pub fn redact<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for (v, r) in &self.secrets {
            if out.contains(v.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(v.as_str(), r));
            }
        }
        out
    }

    /// Longest secret, in bytes: a stream holds back one byte less than this.
    fn longest(&self) -> usize {
        self.secrets.first().map_or(0, |(v, _)| v.len())
    }

    pub fn stream(&self) -> RedactingStream<'_> {
        RedactingStream {
            redactor: self,
            held: Vec::new(),
        }
    }
}

/// Redacts a stream of chunks: holds back a tail that could be the start of a secret.
pub struct RedactingStream<'a> {
    redactor: &'a Redactor,
    held: Vec<u8>,
}

impl RedactingStream<'_> {
    /// Takes a chunk, returns the text that is safe to show now.
    pub fn push(&mut self, chunk: &[u8]) -> String {
        self.held.extend_from_slice(chunk);
        if self.redactor.is_empty() {
            let out = String::from_utf8_lossy(&self.held).into_owned();
            self.held.clear();
            return out;
        }
        let text = String::from_utf8_lossy(&self.held).into_owned();
        // Keep back the last (longest - 1) bytes, which could begin a secret.
        let keep = self.redactor.longest().saturating_sub(1);
        let mut cut = text.len().saturating_sub(keep);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        // Do not cut through a secret that starts before `cut` and ends after it.
        for (v, _) in &self.redactor.secrets {
            let start_min = cut.saturating_sub(v.len() - 1);
            for (i, _) in text[start_min..].match_indices(v.as_str()) {
                let s = start_min + i;
                if s < cut && s + v.len() > cut {
                    cut = s;
                }
            }
        }
        let out = self.redactor.redact(&text[..cut]).into_owned();
        self.held = text.as_bytes()[cut..].to_vec();
        out
    }

    /// Everything still held back.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.held).into_owned();
        self.held.clear();
        self.redactor.redact(&text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_in_the_middle_of_a_line() {
        let r = Redactor::new(&[("DB_PASS".into(), "hunter2".into())]);
        assert_eq!(r.redact("pw=hunter2;x"), "pw=[secret:DB_PASS];x");
    }

    #[test]
    fn replaces_across_chunk_boundaries() {
        let r = Redactor::new(&[("TOKEN".into(), "s3cr3t-value".into())]);
        let text = "token is s3cr3t-value and again s3cr3t-value.";
        for split in 0..text.len() {
            for split2 in split..text.len() {
                let mut s = r.stream();
                let mut out = s.push(&text.as_bytes()[..split]);
                out += &s.push(&text.as_bytes()[split..split2]);
                out += &s.push(&text.as_bytes()[split2..]);
                out += &s.finish();
                assert_eq!(
                    out, "token is [secret:TOKEN] and again [secret:TOKEN].",
                    "{split} {split2}"
                );
            }
        }
    }
}

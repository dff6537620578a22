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

/// Redacts a stream of chunks: holds back a tail that could be the start of a secret, and
/// the first bytes of a character the next chunk completes (a read can end inside one).
pub struct RedactingStream<'a> {
    redactor: &'a Redactor,
    held: Vec<u8>,
}

impl RedactingStream<'_> {
    /// Takes a chunk, returns the text that is safe to show now.
    pub fn push(&mut self, chunk: &[u8]) -> String {
        self.held.extend_from_slice(chunk);
        let text = self.take_complete();
        if self.redactor.is_empty() {
            return text;
        }
        // Keep back the last (longest - 1) bytes, which could begin a secret.
        let keep = self.redactor.longest().saturating_sub(1);
        let mut cut = text.len().saturating_sub(keep);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        // Do not cut through a secret that starts before `cut` and ends after it.
        for (v, _) in &self.redactor.secrets {
            let mut start_min = cut.saturating_sub(v.len() - 1);
            while !text.is_char_boundary(start_min) {
                start_min -= 1;
            }
            for (i, _) in text[start_min..].match_indices(v.as_str()) {
                let s = start_min + i;
                if s < cut && s + v.len() > cut {
                    cut = s;
                }
            }
        }
        let out = self.redactor.redact(&text[..cut]).into_owned();
        let mut held = text.as_bytes()[cut..].to_vec();
        held.append(&mut self.held);
        self.held = held;
        out
    }

    /// Takes the held bytes as text, but for a character at their end that the next chunk
    /// may complete (invalid bytes show as U+FFFD).
    fn take_complete(&mut self) -> String {
        let rest = self.held.split_off(incomplete_tail(&self.held));
        match String::from_utf8(std::mem::replace(&mut self.held, rest)) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// Everything still held back.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.held).into_owned();
        self.held.clear();
        self.redactor.redact(&text).into_owned()
    }
}

/// Where the last character of `bytes` starts if it is incomplete (its lead byte announces
/// more bytes than follow), else `bytes.len()`.
fn incomplete_tail(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(3) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: the lead is further back
        }
        let width = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if width > back { n - back } else { n };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_in_the_middle_of_a_line() {
        let r = Redactor::new(&[("DB_PASS".into(), "hunter2".into())]);
        assert_eq!(r.redact("pw=hunter2;x"), "pw=[secret:DB_PASS];x");
    }

    /// Streams `text` cut into three chunks at every pair of places, and checks each result.
    fn assert_streams_in_three_chunks(r: &Redactor, text: &str, want: &str) {
        for split in 0..text.len() {
            for split2 in split..text.len() {
                let mut s = r.stream();
                let mut out = s.push(&text.as_bytes()[..split]);
                out += &s.push(&text.as_bytes()[split..split2]);
                out += &s.push(&text.as_bytes()[split2..]);
                out += &s.finish();
                assert_eq!(out, want, "{split} {split2}");
            }
        }
    }

    #[test]
    fn replaces_across_chunk_boundaries() {
        let r = Redactor::new(&[("TOKEN".into(), "s3cr3t-value".into())]);
        assert_streams_in_three_chunks(
            &r,
            "token is s3cr3t-value and again s3cr3t-value.",
            "token is [secret:TOKEN] and again [secret:TOKEN].",
        );
    }

    /// A read can end inside a character (Chinese output, 3 bytes each): the streamed text
    /// must still be the text, with or without secrets, and invalid bytes show as U+FFFD.
    #[test]
    fn characters_split_across_chunks_stay_whole() {
        let plain = Redactor::new(&[]);
        let secret = Redactor::new(&[("PASS".into(), "密码值".into())]);
        let text = "时间同步 密码值 ok\n";
        assert_streams_in_three_chunks(&plain, text, text);
        assert_streams_in_three_chunks(&secret, text, "时间同步 [secret:PASS] ok\n");
        let mut s = plain.stream();
        let mut out = s.push(b"a\xffb\xe6\x97");
        out += &s.finish();
        assert_eq!(out, "a\u{fffd}b\u{fffd}");
    }
}

//! Info strings: `LANG {#id .class key=value key="with spaces" flag}`.
//!
//! The braces are optional (`console on=controller2` reads the same as
//! `console {on=controller2}`). Every attribute keeps the byte spans of its key and value so
//! that lint can point at the exact column. This module only splits; what keys mean, and which
//! are allowed where, is decided in [`crate::doc::steps`] and [`crate::lint`].

use crate::source::Span;

/// One attribute. `#x` is `id=x`, `.x` is `class=x`, a bare word is a flag (`value: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: String,
    pub value: Option<String>,
    pub key_span: Span,
    pub value_span: Span,
    /// The whole attribute, key to end of value.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InfoString {
    pub lang: String,
    pub lang_span: Span,
    pub attrs: Vec<Attr>,
}

impl InfoString {
    pub fn get(&self, key: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.key == key)
    }
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|a| a.value.as_deref())
    }
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// A malformed info string: where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrError {
    pub span: Span,
    pub message: String,
}

/// Parses `text`, which starts at byte `base` of its file.
pub fn parse_info(text: &str, base: usize) -> Result<InfoString, AttrError> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    let lang_start = i;
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'{' {
        i += 1;
    }
    let mut info = InfoString {
        lang: text[lang_start..i].to_string(),
        lang_span: Span::new(base + lang_start, base + i),
        attrs: Vec::new(),
    };
    i = skip_ws(bytes, i);
    let mut braced = false;
    let mut brace_at = 0;
    if i < bytes.len() && bytes[i] == b'{' {
        braced = true;
        brace_at = i;
        i += 1;
    }
    loop {
        i = skip_ws(bytes, i);
        if i >= bytes.len() {
            if braced {
                return Err(AttrError {
                    span: Span::new(base + brace_at, base + brace_at + 1),
                    message: "this `{` is never closed".into(),
                });
            }
            break;
        }
        if bytes[i] == b'}' {
            if !braced {
                return Err(err(base, i, i + 1, "unexpected `}`"));
            }
            let rest = skip_ws(bytes, i + 1);
            if rest < bytes.len() {
                return Err(err(base, rest, bytes.len(), "text after the closing `}`"));
            }
            break;
        }
        let start = i;
        let (key, key_end, implied) = match bytes[i] {
            b'#' => (String::from("id"), i + 1, true),
            b'.' => (String::from("class"), i + 1, true),
            _ => {
                while i < bytes.len() && is_key_byte(bytes[i]) {
                    i += 1;
                }
                if i == start {
                    let ch = text[start..].chars().next().unwrap_or(' ');
                    return Err(err(
                        base,
                        start,
                        start + ch.len_utf8(),
                        format!("unexpected `{ch}` in attributes"),
                    ));
                }
                (text[start..i].to_string(), i, false)
            }
        };
        let key_span = Span::new(base + start, base + key_end);
        let value_start;
        let value;
        if implied {
            i = key_end;
            value_start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'}' {
                i += 1;
            }
            if i == value_start {
                return Err(err(
                    base,
                    start,
                    i.max(start + 1),
                    format!("`{}` needs a name right after it", &text[start..start + 1]),
                ));
            }
            value = Some(text[value_start..i].to_string());
        } else if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                value_start = i;
                i += 1;
                let inner = i;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(err(
                        base,
                        value_start,
                        value_start + 1,
                        "this quote is never closed",
                    ));
                }
                value = Some(text[inner..i].to_string());
                i += 1;
            } else {
                value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'}' {
                    i += 1;
                }
                value = Some(text[value_start..i].to_string());
            }
        } else {
            value_start = i;
            value = None;
        }
        if i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'}' {
            let ch = text[i..].chars().next().unwrap_or(' ');
            return Err(err(
                base,
                i,
                i + ch.len_utf8(),
                format!("unexpected `{ch}` after `{key}`"),
            ));
        }
        info.attrs.push(Attr {
            key,
            value,
            key_span,
            value_span: Span::new(base + value_start, base + i),
            span: Span::new(base + start, base + i),
        });
    }
    Ok(info)
}

fn err(base: usize, start: usize, end: usize, message: impl Into<String>) -> AttrError {
    AttrError {
        span: Span::new(base + start, base + end),
        message: message.into(),
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(info: &InfoString) -> Vec<(String, Option<String>)> {
        info.attrs
            .iter()
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect()
    }

    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, Option<&'a str>)]);

    #[test]
    fn parses_the_forms_of_the_spec() {
        let table: &[Case] = &[
            ("console", "console", &[]),
            (
                "console {#set-hostname on=controller2}",
                "console",
                &[("id", Some("set-hostname")), ("on", Some("controller2"))],
            ),
            (
                "sh {timeout=30s serial}",
                "sh",
                &[("timeout", Some("30s")), ("serial", None)],
            ),
            (
                r#"console {match=table ignore="when reach" tol='delay=5'}"#,
                "console",
                &[
                    ("match", Some("table")),
                    ("ignore", Some("when reach")),
                    ("tol", Some("delay=5")),
                ],
            ),
            (
                "text file=/etc/hosts mode=append",
                "text",
                &[("file", Some("/etc/hosts")), ("mode", Some("append"))],
            ),
            (
                "bash{.wide norun}",
                "bash",
                &[("class", Some("wide")), ("norun", None)],
            ),
            ("", "", &[]),
            (
                "output {ws=collapse}",
                "output",
                &[("ws", Some("collapse"))],
            ),
        ];
        for (text, lang, attrs) in table {
            let info = parse_info(text, 0).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(info.lang, *lang, "{text}");
            let want: Vec<_> = attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect();
            assert_eq!(kv(&info), want, "{text}");
        }
    }

    #[test]
    fn spans_point_into_the_file() {
        let line = "```console {#a timeout=soon}";
        let info = parse_info(&line[3..], 3).unwrap();
        let t = info.get("timeout").unwrap();
        assert_eq!(&line[t.key_span.range()], "timeout");
        assert_eq!(&line[t.value_span.range()], "soon");
        assert_eq!(&line[info.get("id").unwrap().span.range()], "#a");
    }

    #[test]
    fn reports_malformed_strings() {
        for (text, msg) in [
            ("sh {timeout=1s", "never closed"),
            ("sh {x=\"abc}", "never closed"),
            ("sh {a} b", "after the closing"),
            ("sh {# }", "needs a name"),
            ("sh {=x}", "unexpected `=`"),
            ("sh a}", "unexpected `}`"),
        ] {
            let e = parse_info(text, 0).unwrap_err();
            assert!(e.message.contains(msg), "{text}: {}", e.message);
        }
    }
}

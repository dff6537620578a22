//! The YAML front matter of a runbook (SPEC §1): `title`, `hosts`, `default_host`, `vars`,
//! `lang`, `requires`. Any other key, or a value of the wrong type, is an error at its place.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::source::Span;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontMatter {
    pub title: Option<String>,
    pub hosts: Vec<String>,
    pub default_host: Option<String>,
    /// Declared variables with their defaults (`~` for none).
    pub vars: BTreeMap<String, Option<String>>,
    /// BCP 47 tag of the source text; `en` when not given.
    pub lang: String,
    pub requires: Vec<String>,
    /// The YAML text in the file (empty when there is no front matter).
    pub span: Span,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    title: Option<String>,
    #[serde(default)]
    hosts: Vec<String>,
    default_host: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, Option<Scalar>>,
    lang: Option<String>,
    #[serde(default)]
    requires: Vec<String>,
}

/// A variable's default may be written as a string, a number or a boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    I(i64),
    F(f64),
    B(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::S(s) => s,
            Scalar::I(i) => i.to_string(),
            Scalar::F(f) => f.to_string(),
            Scalar::B(b) => b.to_string(),
        }
    }
}

/// A front matter problem at a byte offset of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontMatterError {
    pub offset: usize,
    pub message: String,
}

/// Parses the YAML text found at `span` of a file.
pub fn parse(yaml: &str, span: Span) -> Result<FrontMatter, FrontMatterError> {
    let raw: Raw = if yaml.trim().is_empty() {
        serde_yaml_ng::from_str("{}").expect("empty map")
    } else {
        serde_yaml_ng::from_str(yaml).map_err(|e| {
            let offset = span.start + e.location().map_or(0, |l| l.index());
            let message = e.to_string();
            // serde_yaml appends " at line L column C" which would be wrong for the file.
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            FrontMatterError {
                offset,
                message: format!("front matter: {message}"),
            }
        })?
    };
    Ok(FrontMatter {
        title: raw.title,
        hosts: raw.hosts,
        default_host: raw.default_host,
        vars: raw
            .vars
            .into_iter()
            .map(|(k, v)| (k, v.map(Scalar::into_string)))
            .collect(),
        lang: raw.lang.unwrap_or_else(|| "en".to_string()),
        requires: raw.requires,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let fm = parse(
            "title: 配置 NTP\nhosts: [a, b]\ndefault_host: a\nvars: {PORT: 80, NAME: ~}\nlang: zh-CN\nrequires: [x.md]\n",
            Span::new(4, 10),
        )
        .unwrap();
        assert_eq!(fm.title.as_deref(), Some("配置 NTP"));
        assert_eq!(fm.hosts, ["a", "b"]);
        assert_eq!(fm.vars["PORT"].as_deref(), Some("80"));
        assert_eq!(fm.vars["NAME"], None);
        assert_eq!(fm.lang, "zh-CN");
        assert_eq!(fm.requires, ["x.md"]);
        assert_eq!(parse("", Span::default()).unwrap().lang, "en");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors_at_their_place() {
        let yaml = "title: x\nowner: me\n";
        let e = parse(yaml, Span::new(4, 4 + yaml.len())).unwrap_err();
        assert!(e.message.contains("unknown field `owner`"), "{}", e.message);
        assert_eq!(e.offset, 4 + 9);
        let yaml = "hosts: 3\n";
        let e = parse(yaml, Span::new(4, 13)).unwrap_err();
        assert!(e.message.contains("hosts"), "{}", e.message);
        let e = parse("title: [unclosed\n", Span::new(4, 20)).unwrap_err();
        assert!(e.message.starts_with("front matter:"), "{}", e.message);
    }
}

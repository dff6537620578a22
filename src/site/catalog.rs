//! The site's map: every source runbook as an [`Entry`] with the languages it can be read in,
//! the address of each page, and the reader's language from `Accept-Language`.
//!
//! Addresses are the same in `serve` and `build`, so every link is relative and works from
//! `file://`: `LANG/index.html` is the index in a language and `LANG/KEY.html` a runbook,
//! where KEY is the runbook's path under `runbooks/` without `.md`
//! (`zh-CN/openstack-ha/02-hosts-and-ntp.html`). A translation lives at its language's
//! address with the same KEY (SPEC §2). Nothing is looked up on disk by address: a request
//! names a page only if the catalog has it, so no path can reach outside the runbook folder.

use std::collections::HashMap;

use crate::doc::Runbook;
use crate::lint::{Workspace, RUNBOOKS_DIR};
use crate::plan::{self, Filters};

/// One source runbook and its translations.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index into `Workspace::runbooks`.
    pub source: usize,
    /// Address key: the path under `runbooks/` without `.md`, with `/`.
    pub key: String,
    /// Project-relative path of the source (`runbooks/x.md`): what runs and what the store
    /// records.
    pub path: String,
    /// The folder under `runbooks/` (`openstack-ha`), empty at the top.
    pub group: String,
    /// Languages this runbook can be read in, the source's first; with the index into
    /// `Workspace::translations` for a translation.
    pub versions: Vec<(String, Option<usize>)>,
    /// Hosts of each source step, in step order (as `run` resolves them).
    pub hosts: Vec<Vec<String>>,
}

impl Entry {
    pub fn source_lang(&self) -> &str {
        &self.versions[0].0
    }

    pub fn has(&self, lang: &str) -> bool {
        self.versions.iter().any(|(l, _)| l == lang)
    }

    /// The document shown in `lang` (the source when there is no such translation).
    pub fn doc<'w>(&self, ws: &'w Workspace, lang: &str) -> &'w Runbook {
        match self.versions.iter().find(|(l, _)| l == lang) {
            Some((_, Some(t))) => &ws.translations[*t].2,
            _ => &ws.runbooks[self.source],
        }
    }

    /// `LANG/KEY.html`, relative to the site's root.
    pub fn href(&self, lang: &str) -> String {
        format!("{lang}/{}.html", self.key)
    }

    /// Hosts of the source step with this id.
    pub fn step_hosts<'a>(&'a self, ws: &Workspace, id: &str) -> &'a [String] {
        let rb = &ws.runbooks[self.source];
        rb.steps
            .iter()
            .position(|s| s.id == id)
            .and_then(|i| self.hosts.get(i))
            .map_or(&[], Vec::as_slice)
    }
}

/// The pages of a workspace.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub title: String,
    /// Languages with at least one page: `[site] languages` first, then the others found.
    pub languages: Vec<String>,
    pub entries: Vec<Entry>,
    by_key: HashMap<String, usize>,
}

/// A request resolved to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Index {
        lang: String,
    },
    Page {
        entry: usize,
        lang: String,
    },
    /// A runbook named without a language (`KEY.html`): the reader's language decides.
    Negotiate {
        entry: usize,
    },
}

impl Catalog {
    pub fn new(ws: &Workspace) -> Catalog {
        let planned = plan::plan(ws, &Filters::default()).unwrap_or_default();
        let mut entries: Vec<Entry> = Vec::new();
        let mut by_key = HashMap::new();
        for (i, rb) in ws.runbooks.iter().enumerate() {
            let path = ws.rel_path(rb);
            let mut key = key_of(&path);
            if by_key.contains_key(&key) {
                key = format!("{key}-{i}");
            }
            let group = key.rsplit_once('/').map_or("", |(g, _)| g).to_string();
            let mut versions = vec![(rb.front.lang.clone(), None)];
            for (t, (lang, src, _)) in ws.translations.iter().enumerate() {
                if *src == i && !versions.iter().any(|(l, _)| l == lang) {
                    versions.push((lang.clone(), Some(t)));
                }
            }
            let hosts = match planned.iter().find(|p| p.runbook == i) {
                Some(p) => {
                    let mut hosts = vec![Vec::new(); rb.steps.len()];
                    for s in &p.steps {
                        hosts[s.step] = s.hosts.clone();
                    }
                    hosts
                }
                None => vec![Vec::new(); rb.steps.len()],
            };
            by_key.insert(key.clone(), entries.len());
            entries.push(Entry {
                source: i,
                key,
                path,
                group,
                versions,
                hosts,
            });
        }
        let mut languages: Vec<String> = Vec::new();
        let present = |l: &str| entries.iter().any(|e| e.has(l));
        for l in &ws.project.site.languages {
            if present(l) && !languages.contains(l) {
                languages.push(l.clone());
            }
        }
        for e in &entries {
            for (l, _) in &e.versions {
                if !languages.contains(l) {
                    languages.push(l.clone());
                }
            }
        }
        if languages.is_empty() {
            languages.push(
                ws.project
                    .site
                    .languages
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "en".into()),
            );
        }
        Catalog {
            title: ws
                .project
                .site
                .title
                .clone()
                .unwrap_or_else(|| "runbook".into()),
            languages,
            entries,
            by_key,
        }
    }

    pub fn entry_by_key(&self, key: &str) -> Option<usize> {
        self.by_key.get(key).copied()
    }

    /// The entry whose source is this project-relative path (`runbooks/x.md`).
    pub fn entry_by_path(&self, path: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.path == path)
    }

    /// Resolves a request path (already percent-decoded, without the leading `/`).
    pub fn resolve(&self, path: &str) -> Option<Found> {
        if path.is_empty() || path == "index.html" {
            return Some(Found::Index {
                lang: String::new(),
            });
        }
        if let Some((first, rest)) = path.split_once('/') {
            if let Some(lang) = self.languages.iter().find(|l| *l == first) {
                if rest.is_empty() || rest == "index.html" {
                    return Some(Found::Index { lang: lang.clone() });
                }
                let key = rest.strip_suffix(".html")?;
                let entry = self.entry_by_key(key)?;
                return self.entries[entry].has(lang).then(|| Found::Page {
                    entry,
                    lang: lang.clone(),
                });
            }
        }
        let key = path
            .strip_suffix(".html")
            .or_else(|| path.strip_suffix(".md"))?;
        let key = key.strip_prefix("runbooks/").unwrap_or(key);
        self.entry_by_key(key)
            .map(|entry| Found::Negotiate { entry })
    }

    /// The language to show first: the reader's most preferred one among `available`, else
    /// `fallback`.
    pub fn negotiate(accept: Option<&str>, available: &[String], fallback: &str) -> String {
        for want in parse_accept_language(accept.unwrap_or("")) {
            if want == "*" {
                break;
            }
            if let Some(l) = available.iter().find(|l| l.eq_ignore_ascii_case(&want)) {
                return l.clone();
            }
            let p = crate::site::i18n::primary(&want);
            if let Some(l) = available
                .iter()
                .find(|l| crate::site::i18n::primary(l) == p)
            {
                return l.clone();
            }
        }
        fallback.to_string()
    }

    /// The site-relative address a relative Markdown link in the page `entry`/`lang` points
    /// to, when it names another runbook: `01-prepare-nodes.md#x` → `zh-CN/…/01-prepare-nodes.html#x`.
    pub fn link(&self, from: &Entry, lang: &str, dest: &str) -> Option<String> {
        let (path, frag) = match dest.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (dest, None),
        };
        let target = path.strip_suffix(".md")?;
        let mut parts: Vec<&str> = from.key.split('/').collect();
        parts.pop();
        for seg in target.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                s => parts.push(s),
            }
        }
        let key = parts.join("/");
        let e = &self.entries[self.entry_by_key(&key)?];
        let l = if e.has(lang) { lang } else { e.source_lang() };
        let mut href = e.href(l);
        if let Some(f) = frag {
            href.push('#');
            href.push_str(f);
        }
        Some(href)
    }
}

/// `runbooks/openstack-ha/x.md` → `openstack-ha/x`; a path outside `runbooks/` keeps only its
/// plain components, so a key never holds `..` or a leading `/`.
fn key_of(path: &str) -> String {
    let p = path
        .strip_prefix(&format!("{RUNBOOKS_DIR}/"))
        .unwrap_or(path);
    let p = p.strip_suffix(".md").unwrap_or(p);
    let parts: Vec<&str> = p
        .split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    if parts.is_empty() {
        "runbook".into()
    } else {
        parts.join("/")
    }
}

/// Language tags by preference (q-values honoured, stable for equal q).
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let mut tags: Vec<(f32, usize, String)> = Vec::new();
    for (i, item) in header.split(',').enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        if tag.is_empty() {
            continue;
        }
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        if q > 0.0 {
            tags.push((q, i, tag.to_string()));
        }
    }
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, _, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_order_and_matching() {
        let avail = vec!["zh-CN".to_string(), "en".to_string()];
        let cases = [
            (Some("en-US,en;q=0.9"), "en"),
            (Some("zh-TW,zh;q=0.9,en;q=0.8"), "zh-CN"),
            (Some("fr, en;q=0.5"), "en"),
            (Some("en;q=0.4, zh-CN;q=0.8"), "zh-CN"),
            (Some("de"), "zh-CN"),
            (Some(""), "zh-CN"),
            (None, "zh-CN"),
        ];
        for (header, want) in cases {
            assert_eq!(
                Catalog::negotiate(header, &avail, "zh-CN"),
                want,
                "{header:?}"
            );
        }
    }

    #[test]
    fn keys_stay_inside() {
        assert_eq!(key_of("runbooks/a/b.md"), "a/b");
        assert_eq!(key_of("../x/y.md"), "x/y");
        assert_eq!(key_of("/etc/passwd.md"), "etc/passwd");
    }
}

//! Whole pages from askama templates (`web/templates/`): the index and a runbook page, each
//! inside the same chrome (sidebar of runbooks, language switch). `serve` and `build` call the
//! same functions; only [`Mode`] differs.

use std::collections::HashMap;

use askama::Template;

use crate::lint::Workspace;
use crate::outcome::Status;
use crate::site::catalog::{Catalog, Entry};
use crate::site::i18n::{self, Ui};
use crate::site::render::{self, Annotations, TocItem};
use crate::store::{LatestResult, ManualCheck};

/// How the page is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Served by `runbook serve`: `exec` when execution is enabled, `auth` when the reader
    /// holds the token cookie.
    Serve { exec: bool, auth: bool },
    /// Written by `runbook build`: read-only files.
    Static,
}

/// What a page needs besides its own document.
pub struct Context<'a> {
    pub ws: &'a Workspace,
    pub cat: &'a Catalog,
    /// Latest results of every runbook shown (the store's rows).
    pub latest: &'a [LatestResult],
    pub checks: &'a [ManualCheck],
    pub mode: Mode,
}

pub struct Chrome {
    pub ui: &'static Ui,
    pub lang: String,
    /// The way from this page to the site's root (`../../`), so links work from `file://`.
    pub root: String,
    pub site_title: String,
    pub page_title: String,
    pub nav: Vec<NavGroup>,
    pub langs: Vec<LangLink>,
    pub live: bool,
    pub exec: bool,
    pub auth: bool,
    /// The source path the page's Run buttons run (empty on the index).
    pub runbook: String,
    pub notice: String,
}

pub struct NavGroup {
    pub name: String,
    pub items: Vec<NavItem>,
}

pub struct NavItem {
    pub title: String,
    pub href: String,
    pub active: bool,
    pub toc: Vec<TocItem>,
    /// The language shown when the runbook is not in the page's language.
    pub lang_note: String,
    pub status: String,
    pub status_label: &'static str,
}

pub struct LangLink {
    pub tag: String,
    pub name: String,
    pub href: String,
    pub current: bool,
}

pub struct IndexGroup {
    pub name: String,
    pub rows: Vec<IndexRow>,
}

pub struct IndexRow {
    pub title: String,
    pub href: String,
    pub path: String,
    pub steps: usize,
    pub langs: Vec<LangLink>,
    pub hosts: Vec<HostStatus>,
}

/// A runbook's latest status on one host: the worst of its steps' latest results.
pub struct HostStatus {
    pub host: String,
    pub status: String,
    pub label: &'static str,
    pub when: String,
    pub when_text: String,
}

pub struct VarField {
    pub name: String,
    pub value: String,
    pub placeholder: String,
    pub secret: bool,
}

#[derive(Template)]
#[template(path = "index.html", config = "web/askama.toml")]
pub struct IndexPage {
    pub chrome: Chrome,
    pub groups: Vec<IndexGroup>,
}

#[derive(Template)]
#[template(path = "runbook.html", config = "web/askama.toml")]
pub struct RunbookPage {
    pub chrome: Chrome,
    pub body: String,
    /// The document has its own `#` heading (otherwise the title is shown as one).
    pub h1: bool,
    pub vars: Vec<VarField>,
}

#[derive(Template)]
#[template(path = "notice.html", config = "web/askama.toml")]
pub struct NoticePage<'a> {
    pub lang: &'a str,
    pub root: &'a str,
    pub title: &'a str,
    pub message: &'a str,
}

/// `../` once per folder level of a site-relative address.
pub fn root_of(address: &str) -> String {
    "../".repeat(address.matches('/').count())
}

/// The index in `lang`, at `address` (site-relative: `index.html` or `LANG/index.html`).
pub fn index(ctx: &Context<'_>, lang: &str, address: &str) -> String {
    let ui = i18n::ui(lang);
    let root = root_of(address);
    let mut groups: Vec<IndexGroup> = Vec::new();
    for e in &ctx.cat.entries {
        let shown = if e.has(lang) { lang } else { e.source_lang() };
        let doc = e.doc(ctx.ws, shown);
        let latest: Vec<&LatestResult> =
            ctx.latest.iter().filter(|r| r.runbook == e.path).collect();
        let row = IndexRow {
            title: doc.title(),
            href: format!("{root}{}", e.href(shown)),
            path: e.path.clone(),
            steps: doc.steps.len(),
            langs: entry_langs(e, shown, &root),
            hosts: host_statuses(ui, e, &latest),
        };
        match groups.iter_mut().find(|g| g.name == e.group) {
            Some(g) => g.rows.push(row),
            None => groups.push(IndexGroup {
                name: e.group.clone(),
                rows: vec![row],
            }),
        }
    }
    let chrome = Chrome {
        ui,
        lang: lang.to_string(),
        site_title: ctx.cat.title.clone(),
        page_title: String::new(),
        nav: nav(ctx, lang, &root, None, Vec::new()),
        langs: ctx
            .cat
            .languages
            .iter()
            .map(|l| LangLink {
                tag: l.clone(),
                name: i18n::native_name(l),
                href: format!("{root}{l}/index.html"),
                current: l == lang,
            })
            .collect(),
        notice: notice(ctx.mode, ui),
        root,
        live: matches!(ctx.mode, Mode::Serve { .. }),
        exec: matches!(ctx.mode, Mode::Serve { exec: true, .. }),
        auth: matches!(ctx.mode, Mode::Serve { auth: true, .. }),
        runbook: String::new(),
    };
    IndexPage { chrome, groups }.render().unwrap_or_default()
}

/// The page of catalog entry `entry` in `lang`.
pub fn runbook(ctx: &Context<'_>, entry: usize, lang: &str) -> String {
    let e = &ctx.cat.entries[entry];
    let ui = i18n::ui(lang);
    let address = e.href(lang);
    let root = root_of(&address);
    let doc = e.doc(ctx.ws, lang);
    let source = &ctx.ws.runbooks[e.source];
    let latest: Vec<LatestResult> = ctx
        .latest
        .iter()
        .filter(|r| r.runbook == e.path)
        .cloned()
        .collect();
    let checks: Vec<ManualCheck> = ctx
        .checks
        .iter()
        .filter(|c| c.runbook == e.path)
        .cloned()
        .collect();
    let (exec, auth) = match ctx.mode {
        Mode::Serve { exec, auth } => (exec, auth),
        Mode::Static => (false, false),
    };
    let hosts: HashMap<&str, &[String]> = source
        .steps
        .iter()
        .zip(&e.hosts)
        .map(|(s, h)| (s.id.as_str(), h.as_slice()))
        .collect();
    let ann = Annotations {
        hosts,
        latest: &latest,
        checks: &checks,
        run: exec && auth,
        tick: exec && auth,
    };
    let link = |dest: &str| ctx.cat.link(e, lang, dest).map(|h| format!("{root}{h}"));
    let body = render::body(doc, &ann, ui, &link);
    let title = doc.title();
    let vars = if exec && auth {
        var_fields(ctx.ws, source)
    } else {
        Vec::new()
    };
    let chrome = Chrome {
        ui,
        lang: lang.to_string(),
        site_title: ctx.cat.title.clone(),
        page_title: title,
        nav: nav(ctx, lang, &root, Some(entry), body.toc),
        langs: entry_langs(e, lang, &root),
        notice: notice(ctx.mode, ui),
        root,
        live: matches!(ctx.mode, Mode::Serve { .. }),
        exec,
        auth,
        runbook: e.path.clone(),
    };
    RunbookPage {
        chrome,
        body: body.html,
        h1: body.h1.is_some(),
        vars,
    }
    .render()
    .unwrap_or_default()
}

/// A short page for refusals and missing pages (403, 404).
pub fn notice_page(lang: &str, title: &str, message: &str) -> String {
    NoticePage {
        lang,
        root: "/",
        title,
        message,
    }
    .render()
    .unwrap_or_default()
}

fn notice(mode: Mode, ui: &'static Ui) -> String {
    match mode {
        Mode::Serve { exec: false, .. } => ui.read_only.to_string(),
        Mode::Serve { auth: false, .. } => ui.need_token.to_string(),
        Mode::Serve { .. } => String::new(),
        Mode::Static => ui.static_note.to_string(),
    }
}

fn entry_langs(e: &Entry, current: &str, root: &str) -> Vec<LangLink> {
    e.versions
        .iter()
        .map(|(l, _)| LangLink {
            tag: l.clone(),
            name: i18n::native_name(l),
            href: format!("{root}{}", e.href(l)),
            current: l == current,
        })
        .collect()
}

fn nav(
    ctx: &Context<'_>,
    lang: &str,
    root: &str,
    active: Option<usize>,
    mut toc: Vec<TocItem>,
) -> Vec<NavGroup> {
    let mut groups: Vec<NavGroup> = Vec::new();
    for (i, e) in ctx.cat.entries.iter().enumerate() {
        let shown = if e.has(lang) { lang } else { e.source_lang() };
        let status = worst(ctx.latest.iter().filter(|r| r.runbook == e.path));
        let item = NavItem {
            title: e.doc(ctx.ws, shown).title(),
            href: format!("{root}{}", e.href(shown)),
            active: active == Some(i),
            toc: if active == Some(i) {
                std::mem::take(&mut toc)
            } else {
                Vec::new()
            },
            lang_note: if shown == lang {
                String::new()
            } else {
                shown.to_string()
            },
            status_label: i18n::ui(lang).status(&status),
            status,
        };
        match groups.iter_mut().find(|g| g.name == e.group) {
            Some(g) => g.items.push(item),
            None => groups.push(NavGroup {
                name: e.group.clone(),
                items: vec![item],
            }),
        }
    }
    groups
}

/// The worst latest status (a manual step counts as passed), or `none`.
fn worst<'a>(rows: impl Iterator<Item = &'a LatestResult>) -> String {
    rows.filter_map(|r| Status::parse(&r.status))
        .map(|s| {
            if s == Status::Manual {
                Status::Passed
            } else {
                s
            }
        })
        .max()
        .map_or_else(|| "none".to_string(), |s| s.as_str().to_string())
}

fn host_statuses(ui: &'static Ui, e: &Entry, latest: &[&LatestResult]) -> Vec<HostStatus> {
    let mut hosts: Vec<String> = Vec::new();
    for hs in &e.hosts {
        for h in hs {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
    }
    for r in latest {
        if !hosts.contains(&r.host) {
            hosts.push(r.host.clone());
        }
    }
    hosts
        .into_iter()
        .map(|h| {
            let rows: Vec<&LatestResult> = latest.iter().copied().filter(|r| r.host == h).collect();
            let status = worst(rows.iter().copied());
            let when = rows
                .iter()
                .map(|r| r.when.as_str())
                .max()
                .unwrap_or("")
                .to_string();
            HostStatus {
                label: ui.status(&status),
                status,
                when_text: render::short_time(&when),
                when,
                host: h,
            }
        })
        .collect()
}

/// The form fields for a runbook's variables: declared ones with their defaults, then the
/// project's secrets it may need (password fields; never filled in by the page).
fn var_fields(ws: &Workspace, rb: &crate::doc::Runbook) -> Vec<VarField> {
    let mut out = Vec::new();
    for (name, default) in &rb.front.vars {
        let secret = ws.project.secrets.contains(name);
        let value = if secret {
            String::new()
        } else {
            ws.project
                .vars
                .get(name)
                .cloned()
                .or_else(|| default.clone())
                .unwrap_or_default()
        };
        out.push(VarField {
            name: name.clone(),
            placeholder: if secret {
                "••••••".into()
            } else {
                String::new()
            },
            value,
            secret,
        });
    }
    out
}

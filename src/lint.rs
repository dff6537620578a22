//! Loading runbooks from the paths given, and every check that needs more than one document:
//! hosts against the project, `requires`, and translation parity (SPEC §2).
//!
//! `run`, `update`, `serve` and `build` all go through [`load`], so none of them can execute a
//! runbook that `lint` would refuse.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::doc::{self, Block, Role, Runbook};
use crate::project::{display_path, Project, LOCAL};
use crate::source::Span;

pub const RUNBOOKS_DIR: &str = "runbooks";
pub const TRANSLATIONS_DIR: &str = "translations";

/// Everything loaded for one command.
pub struct Workspace {
    pub project: Project,
    /// Source runbooks, in the order given (folders sorted by path).
    pub runbooks: Vec<Runbook>,
    /// Translations found for those runbooks: (language, source index, translation).
    pub translations: Vec<(String, usize, Runbook)>,
    pub diags: Vec<Diagnostic>,
}

impl Workspace {
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// The path of a runbook relative to the project folder (`runbooks/x.md`), with `/`.
    pub fn rel_path(&self, rb: &Runbook) -> String {
        rel_to(&self.project.root, &rb.file.path)
    }

    pub fn translation(&self, source: usize, lang: &str) -> Option<&Runbook> {
        self.translations
            .iter()
            .find(|(l, s, _)| *s == source && l == lang)
            .map(|(_, _, t)| t)
    }
}

/// A path relative to `root`, with forward slashes; the path as given when outside it.
pub fn rel_to(root: &Path, path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match abs.strip_prefix(root) {
        Ok(r) => r
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.display().to_string(),
    }
}

/// Finds the project, reads and parses every runbook under `paths` (default `runbooks/`),
/// and runs every check.
pub fn load(paths: &[PathBuf], inventory: Option<&Path>) -> Workspace {
    let mut diags = Vec::new();
    let start = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let mut project = match Project::discover(&start) {
        Ok(p) => p,
        Err(d) => {
            diags.push(d);
            Project::bare(std::env::current_dir().unwrap_or_default())
        }
    };
    if let Some(inv) = inventory {
        if let Err(d) = project.apply_inventory(inv) {
            diags.push(d);
        }
    }
    let paths: Vec<PathBuf> = if paths.is_empty() {
        vec![project.root.join(RUNBOOKS_DIR)]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for p in &paths {
        collect(p, &mut files, &mut diags);
    }
    // A translation named directly stands for its source, which is what runs (SPEC §2).
    let mut sources: Vec<PathBuf> = Vec::new();
    for f in files {
        let f = match translation_source(&project.root, &f) {
            Some((_, src)) if src.is_file() => src,
            Some((lang, src)) => {
                diags.push(Diagnostic::at_path(
                    display_path(&f),
                    format!(
                        "this `{lang}` translation has no source: `{}` does not exist",
                        display_path(&src)
                    ),
                ));
                continue;
            }
            None => f,
        };
        let key = std::path::absolute(&f).unwrap_or(f.clone());
        if !sources
            .iter()
            .any(|s| std::path::absolute(s).unwrap_or(s.clone()) == key)
        {
            sources.push(f);
        }
    }
    let mut runbooks = Vec::new();
    for f in &sources {
        match doc::read_source(&shown_path(f)) {
            Ok(file) => {
                let (rb, d) = doc::parse(&file);
                diags.extend(d);
                runbooks.push(rb);
            }
            Err(d) => diags.push(d),
        }
    }
    let mut ws = Workspace {
        project,
        runbooks,
        translations: Vec::new(),
        diags,
    };
    for i in 0..ws.runbooks.len() {
        let d = check_hosts(&ws.project, &ws.runbooks[i]);
        ws.diags.extend(d);
        let d = check_requires(&ws.project, &ws.runbooks[i]);
        ws.diags.extend(d);
    }
    load_translations(&mut ws);
    ws
}

/// The path as the user would write it (relative to the current directory when possible).
fn shown_path(p: &Path) -> PathBuf {
    PathBuf::from(display_path(p))
}

fn collect(path: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    if !path.is_dir() {
        diags.push(Diagnostic::at_path(
            display_path(path),
            "no such file or folder",
        ));
        return;
    }
    let mut found = Vec::new();
    walk(path, &mut found);
    found.sort();
    if found.is_empty() {
        diags.push(Diagnostic::at_path(
            display_path(path),
            "this folder holds no runbooks (`*.md` files)",
        ));
    }
    out.extend(found);
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// `translations/LANG/REL` → (LANG, `runbooks/REL`), for a path under the project's
/// translations folder.
pub fn translation_source(root: &Path, path: &Path) -> Option<(String, PathBuf)> {
    let rel = rel_to(root, path);
    let rest = rel.strip_prefix(&format!("{TRANSLATIONS_DIR}/"))?;
    let (lang, sub) = rest.split_once('/')?;
    Some((lang.to_string(), root.join(RUNBOOKS_DIR).join(sub)))
}

/// `runbooks/REL` → `translations/LANG/REL`.
pub fn translation_path(root: &Path, source: &Path, lang: &str) -> Option<PathBuf> {
    let rel = rel_to(root, source);
    let sub = rel.strip_prefix(&format!("{RUNBOOKS_DIR}/"))?;
    Some(root.join(TRANSLATIONS_DIR).join(lang).join(sub))
}

fn check_hosts(project: &Project, rb: &Runbook) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let f = &rb.file;
    let fm_span = |name: &str| -> Span {
        let region = &f.text[rb.front.span.range()];
        region.find(name).map_or(rb.front.span, |i| {
            Span::new(
                rb.front.span.start + i,
                rb.front.span.start + i + name.len(),
            )
        })
    };
    for h in &rb.front.hosts {
        if !project.knows(h) {
            let mut d = Diagnostic::error(f, fm_span(h), format!("unknown host `{h}` in `hosts:`"));
            d.help.push(hosts_help(project));
            diags.push(d);
        }
    }
    if let Some(h) = &rb.front.default_host {
        if let Err(e) = project.resolve_on(h, &rb.front.hosts) {
            diags.push(
                Diagnostic::error(f, fm_span(h), format!("`default_host`: {e}"))
                    .with_help(hosts_help(project)),
            );
        }
    }
    for s in &rb.steps {
        if let Some((value, span)) = &s.on {
            match project.resolve_on(value, &rb.front.hosts) {
                Err(e) => diags.push(Diagnostic::error(f, *span, e).with_help(hosts_help(project))),
                Ok(hosts) if !rb.front.hosts.is_empty() => {
                    for h in hosts
                        .iter()
                        .filter(|h| *h != LOCAL && !rb.front.hosts.contains(h))
                    {
                        diags.push(Diagnostic::warning(
                            f,
                            *span,
                            format!("host `{h}` is not listed in the front matter's `hosts:`"),
                        ));
                    }
                }
                Ok(_) => {}
            }
        }
    }
    diags
}

fn hosts_help(project: &Project) -> String {
    let names: Vec<&str> = project.hosts.keys().map(String::as_str).collect();
    match &project.config {
        Some(c) if !names.is_empty() => format!("hosts known from {}: {}, and `local`", c.path.display(), names.join(", ")),
        _ => "define hosts under [hosts] in runbook.toml, or pass --inventory FILE; `local` is always this machine".into(),
    }
}

fn check_requires(project: &Project, rb: &Runbook) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for r in &rb.front.requires {
        if resolve_require(project, rb, r).is_none() {
            let region = &rb.file.text[rb.front.span.range()];
            let span = region.find(r.as_str()).map_or(rb.front.span, |i| {
                Span::new(rb.front.span.start + i, rb.front.span.start + i + r.len())
            });
            diags.push(
                Diagnostic::error(&rb.file, span, format!("`requires` names `{r}`, which does not exist"))
                    .with_help("paths are relative to the project folder (where runbook.toml is), e.g. `runbooks/setup.md`"),
            );
        }
    }
    diags
}

/// A `requires` entry as a path: relative to the project folder, else to the runbook's folder.
pub fn resolve_require(project: &Project, rb: &Runbook, req: &str) -> Option<PathBuf> {
    let a = project.root.join(req);
    if a.is_file() {
        return Some(a);
    }
    let b = rb.file.path.parent()?.join(req);
    b.is_file().then_some(b)
}

fn load_translations(ws: &mut Workspace) {
    let root = ws.project.root.clone();
    let mut langs: Vec<String> = ws.project.site.languages.clone();
    if let Ok(entries) = std::fs::read_dir(root.join(TRANSLATIONS_DIR)) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() && !langs.contains(&name) {
                langs.push(name);
            }
        }
    }
    for i in 0..ws.runbooks.len() {
        let src_lang = ws.runbooks[i].front.lang.clone();
        for lang in &langs {
            if *lang == src_lang {
                continue;
            }
            let Some(tpath) = translation_path(&root, &ws.runbooks[i].file.path, lang) else {
                continue;
            };
            if !tpath.is_file() {
                if ws.project.site.languages.contains(lang) {
                    let src = &ws.runbooks[i];
                    ws.diags.push(Diagnostic::warning(
                        &src.file,
                        Span::default(),
                        format!(
                            "no `{lang}` translation (expected at {})",
                            display_path(&tpath)
                        ),
                    ));
                }
                continue;
            }
            match doc::read_source(&shown_path(&tpath)) {
                Ok(file) => {
                    let (t, d) = doc::parse(&file);
                    ws.diags.extend(d);
                    ws.diags
                        .extend(check_translation(&ws.runbooks[i], &t, lang));
                    ws.translations.push((lang.clone(), i, t));
                }
                Err(d) => ws.diags.push(d),
            }
        }
    }
}

/// The blocks a translation must hold exactly as its source does (`update` rewrites them in
/// step, too).
pub fn is_parity_block(b: &Block) -> bool {
    matches!(
        b.role,
        Role::Console
            | Role::Script
            | Role::Output
            | Role::File
            | Role::Diff
            | Role::NoRun
            | Role::Manual
    )
}

fn same_block(a: &Block, b: &Block) -> bool {
    if a.role != b.role {
        return false;
    }
    if a.role == Role::Manual {
        // A manual step's text is instructions for people and may be translated; its id may not.
        return a.info.get("id").map(|x| &x.value) == b.info.get("id").map(|x| &x.value);
    }
    a.fenced.info == b.fenced.info
        && a.fenced
            .lines
            .iter()
            .map(|l| &l.text)
            .eq(b.fenced.lines.iter().map(|l| &l.text))
}

/// Translation parity (SPEC §2): the same executable, file and output blocks, in order.
pub fn check_translation(src: &Runbook, tr: &Runbook, lang: &str) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let sb: Vec<&Block> = src.blocks.iter().filter(|b| is_parity_block(b)).collect();
    let tb: Vec<&Block> = tr.blocks.iter().filter(|b| is_parity_block(b)).collect();
    let sloc = |b: &Block| src.file.location(b.fenced.span.start);
    let describe = |b: &Block| match b.step.and_then(|i| src.steps.get(i)) {
        Some(s) => format!("block `{}` at {}", s.id, sloc(b)),
        None => format!("`{}` block at {}", b.info.lang, sloc(b)),
    };
    let (mut i, mut j) = (0, 0);
    while i < sb.len() || j < tb.len() {
        match (sb.get(i), tb.get(j)) {
            (Some(s), Some(t)) if same_block(s, t) => {
                i += 1;
                j += 1;
            }
            (Some(s), Some(t)) => {
                if sb[i + 1..].iter().any(|x| same_block(x, t)) {
                    diags.push(Diagnostic::error(
                        &tr.file,
                        t.info.lang_span,
                        format!(
                            "the source's {} is missing from this translation before this block",
                            describe(s)
                        ),
                    ));
                    i += 1;
                } else if tb[j + 1..].iter().any(|x| same_block(s, x)) {
                    diags.push(Diagnostic::error(&tr.file, t.info.lang_span, "this block is not in the source; a translation holds the same blocks as its source").with_help(format!("the next source block is the {}", describe(s))));
                    j += 1;
                } else {
                    diags.push(block_difference(tr, t, s, &describe(s)));
                    i += 1;
                    j += 1;
                }
            }
            (Some(s), None) => {
                let end = Span::at(tr.file.text.len());
                diags.push(Diagnostic::error(
                    &tr.file,
                    end,
                    format!(
                        "the source's {} is missing from this translation",
                        describe(s)
                    ),
                ));
                i += 1;
            }
            (None, Some(t)) => {
                diags.push(Diagnostic::error(&tr.file, t.info.lang_span, "this block is not in the source; a translation holds the same blocks as its source"));
                j += 1;
            }
            (None, None) => break,
        }
    }
    for (what, a, b) in [
        (
            "hosts",
            format!("{:?}", src.front.hosts),
            format!("{:?}", tr.front.hosts),
        ),
        (
            "default_host",
            format!("{:?}", src.front.default_host),
            format!("{:?}", tr.front.default_host),
        ),
        (
            "vars",
            format!("{:?}", src.front.vars),
            format!("{:?}", tr.front.vars),
        ),
        (
            "requires",
            format!("{:?}", src.front.requires),
            format!("{:?}", tr.front.requires),
        ),
    ] {
        if a != b {
            diags.push(Diagnostic::error(
                &tr.file,
                tr.front.span,
                format!(
                    "`{what}` differs from the source's ({})",
                    src.file.location(src.front.span.start)
                ),
            ));
        }
    }
    if tr.front.lang != lang {
        diags.push(Diagnostic::warning(
            &tr.file,
            tr.front.span,
            format!(
                "this translation lives under `{lang}` but says `lang: {}`",
                tr.front.lang
            ),
        ));
    }
    diags
}

fn block_difference(tr: &Runbook, t: &Block, s: &Block, described: &str) -> Diagnostic {
    if t.fenced.info != s.fenced.info || t.role != s.role {
        return Diagnostic::error(
            &tr.file,
            t.fenced.info_span,
            format!("this block's info string differs from the source's {described}"),
        )
        .with_help(format!("the source has ```{}", s.fenced.info));
    }
    let n = t
        .fenced
        .lines
        .iter()
        .zip(&s.fenced.lines)
        .position(|(a, b)| a.text != b.text)
        .unwrap_or(t.fenced.lines.len().min(s.fenced.lines.len()));
    let span = t.fenced.lines.get(n).map_or(t.fenced.info_span, |l| l.span);
    let help = match s.fenced.lines.get(n) {
        Some(l) => format!("the source has `{}`", l.text),
        None => "the source's block ends before this line".to_string(),
    };
    Diagnostic::error(
        &tr.file,
        span,
        format!("this block differs from the source's {described}"),
    )
    .with_help(help)
}

/// Convenience for tests and tools: does this workspace lint clean?
pub fn errors(ws: &Workspace) -> Vec<&Diagnostic> {
    ws.diags.iter().filter(|d| d.is_error()).collect()
}

//! `runbook build`: the site as plain files, read-only, annotated with the latest results in
//! the store. Every link is relative (see [`crate::site::catalog`]), so the folder works from
//! `file://` and from any static web host.
//!
//! Layout: `index.html` (the index in the first language), `LANG/index.html`,
//! `LANG/KEY.html` for each runbook in each language it is written in, `assets/site.css`,
//! `assets/site.js`.

use std::path::{Path, PathBuf};

use crate::lint::Workspace;
use crate::site::assets;
use crate::site::catalog::Catalog;
use crate::site::pages::{self, Context, Mode};
use crate::store::{LatestResult, ManualCheck};

/// Writes the site into `out`; returns the files written.
pub fn write_site(
    ws: &Workspace,
    latest: &[LatestResult],
    checks: &[ManualCheck],
    out: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let cat = Catalog::new(ws);
    let ctx = Context {
        ws,
        cat: &cat,
        latest,
        checks,
        mode: Mode::Static,
    };
    let mut written = Vec::new();
    let mut put = |rel: &str, text: &str| -> std::io::Result<()> {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, text)?;
        written.push(path);
        Ok(())
    };
    for (name, body, _) in assets::ALL {
        put(&format!("assets/{name}"), body)?;
    }
    put(
        "index.html",
        &pages::index(&ctx, &cat.languages[0], "index.html"),
    )?;
    for lang in &cat.languages {
        let address = format!("{lang}/index.html");
        put(&address, &pages::index(&ctx, lang, &address))?;
    }
    for (i, e) in cat.entries.iter().enumerate() {
        for (lang, _) in &e.versions {
            put(&e.href(lang), &pages::runbook(&ctx, i, lang))?;
        }
    }
    Ok(written)
}

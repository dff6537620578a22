//! The style sheet and the script, embedded in the binary so the one file serves everything.

pub const CSS: &str = include_str!("../../web/static/site.css");
pub const JS: &str = include_str!("../../web/static/site.js");

/// Every asset: (file name under `assets/`, content, media type).
pub const ALL: &[(&str, &str, &str)] = &[
    ("site.css", CSS, "text/css; charset=utf-8"),
    ("site.js", JS, "text/javascript; charset=utf-8"),
];

/// An asset by file name: its content and media type.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    ALL.iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, body, mime)| (*body, *mime))
}

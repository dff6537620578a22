//! The project folder and its `runbook.toml` (SPEC §2): hosts, groups, `[ssh]`, `[site]`,
//! `[vars]`; `--inventory FILE` replacing hosts and groups; resolving `on=` to host names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::diag::Diagnostic;
use crate::source::{SourceFile, Span};

pub const CONFIG_FILE: &str = "runbook.toml";
/// The host name that always means this machine.
pub const LOCAL: &str = "local";

/// How to reach a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local,
    /// Any destination the system `ssh` accepts (`user@host`, an alias, `ssh://user@host:port`).
    Ssh(String),
}

#[derive(Debug, Clone)]
pub struct SshSettings {
    /// An ssh_config file for every host (`ssh -F`), absolute.
    pub config: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            config: None,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SiteSettings {
    pub title: Option<String>,
    pub languages: Vec<String>,
}

/// The project: its folder, hosts, groups and settings.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder that holds `runbook.toml` (or the current directory without one).
    pub root: PathBuf,
    pub config: Option<Arc<SourceFile>>,
    pub hosts: BTreeMap<String, Target>,
    pub groups: BTreeMap<String, Vec<String>>,
    pub ssh: SshSettings,
    pub site: SiteSettings,
    pub vars: BTreeMap<String, String>,
    pub secrets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    hosts: BTreeMap<String, RawHost>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    ssh: Option<RawSsh>,
    site: Option<RawSite>,
    vars: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    ssh: Option<String>,
    #[serde(default)]
    local: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSsh {
    config: Option<String>,
    connect_timeout: Option<String>,
    keepalive: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    title: Option<String>,
    #[serde(default)]
    languages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    #[serde(default)]
    hosts: BTreeMap<String, RawHost>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
}

impl Project {
    /// A project with no configuration, rooted at `root`.
    pub fn bare(root: PathBuf) -> Project {
        Project {
            root,
            config: None,
            hosts: BTreeMap::new(),
            groups: BTreeMap::new(),
            ssh: SshSettings::default(),
            site: SiteSettings::default(),
            vars: BTreeMap::new(),
            secrets: Vec::new(),
        }
    }

    /// Finds `runbook.toml` by walking up from `start` (a file or folder) and loads it; without
    /// one, the current directory is the project folder.
    pub fn discover(start: &Path) -> Result<Project, Diagnostic> {
        let abs = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        let mut dir = if abs.is_dir() {
            Some(abs.as_path())
        } else {
            abs.parent()
        };
        while let Some(d) = dir {
            let candidate = d.join(CONFIG_FILE);
            if candidate.is_file() {
                return Project::load(&candidate);
            }
            dir = d.parent();
        }
        Ok(Project::bare(
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        ))
    }

    /// Loads a `runbook.toml`.
    pub fn load(path: &Path) -> Result<Project, Diagnostic> {
        let shown = display_path(path);
        let file = read_toml_source(path, &shown)?;
        let raw: RawConfig = toml::from_str(&file.text).map_err(|e| toml_error(&file, &e))?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = std::path::absolute(&root).unwrap_or(root);
        let mut p = Project::bare(root.clone());
        p.hosts = hosts_from(&file, raw.hosts)?;
        p.groups = raw.groups;
        if let Some(ssh) = raw.ssh {
            p.ssh.config = ssh.config.map(|c| root.join(c));
            if let Some(t) = ssh.connect_timeout {
                p.ssh.connect_timeout = toml_duration(&file, "connect_timeout", &t)?;
            }
            if let Some(t) = ssh.keepalive {
                p.ssh.keepalive = toml_duration(&file, "keepalive", &t)?;
            }
        }
        if let Some(site) = raw.site {
            p.site = SiteSettings {
                title: site.title,
                languages: site.languages,
            };
        }
        if let Some(vars) = raw.vars {
            for (k, v) in vars {
                match (k.as_str(), v) {
                    ("secrets", toml::Value::Array(a)) => {
                        for s in a {
                            match s {
                                toml::Value::String(s) => p.secrets.push(s),
                                other => return Err(key_error(&file, "secrets", format!("`secrets` lists variable names as strings, found `{other}`"))),
                            }
                        }
                    }
                    (_, toml::Value::String(s)) => {
                        p.vars.insert(k, s);
                    }
                    (
                        _,
                        v @ (toml::Value::Integer(_)
                        | toml::Value::Float(_)
                        | toml::Value::Boolean(_)),
                    ) => {
                        p.vars.insert(k, v.to_string());
                    }
                    (_, other) => {
                        return Err(key_error(
                            &file,
                            &k,
                            format!(
                                "variable `{k}` must be a string or a number, found {}",
                                other.type_str()
                            ),
                        ))
                    }
                }
            }
        }
        p.config = Some(file);
        p.check_groups()?;
        Ok(p)
    }

    /// `--inventory FILE`: replaces hosts and groups.
    pub fn apply_inventory(&mut self, path: &Path) -> Result<(), Diagnostic> {
        let shown = display_path(path);
        let file = read_toml_source(path, &shown)?;
        let raw: RawInventory = toml::from_str(&file.text).map_err(|e| toml_error(&file, &e))?;
        self.hosts = hosts_from(&file, raw.hosts)?;
        self.groups = raw.groups;
        self.config = self.config.clone().or(Some(file));
        self.check_groups()
    }

    fn check_groups(&self) -> Result<(), Diagnostic> {
        for (g, members) in &self.groups {
            for m in members {
                if m != LOCAL && !self.hosts.contains_key(m) {
                    let msg = format!("group `{g}` names `{m}`, which is not a host under [hosts]");
                    return Err(match &self.config {
                        Some(f) => Diagnostic::error(f, find_span(f, m), msg),
                        None => Diagnostic::at_path(CONFIG_FILE, msg),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn target(&self, host: &str) -> Option<Target> {
        if host == LOCAL {
            return Some(self.hosts.get(host).cloned().unwrap_or(Target::Local));
        }
        self.hosts.get(host).cloned()
    }

    pub fn knows(&self, host: &str) -> bool {
        self.target(host).is_some()
    }

    /// Resolves an `on=` value (`HOST`, `H1,H2`, `@group`, `all`) to host names, in order,
    /// without duplicates. `declared` is the runbook's `hosts:`.
    pub fn resolve_on(&self, value: &str, declared: &[String]) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = Vec::new();
        for part in value.split(',').map(str::trim) {
            let names: Vec<String> = if part == "all" {
                if declared.is_empty() {
                    return Err(
                        "`all` means every host in the front matter's `hosts:`, and it lists none"
                            .into(),
                    );
                }
                declared.to_vec()
            } else if let Some(g) = part.strip_prefix('@') {
                match self.groups.get(g) {
                    Some(m) => m.clone(),
                    None => {
                        let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
                        let hint = crate::doc::steps::suggest(g, &known)
                            .map(|s| format!("; did you mean `@{s}`?"))
                            .unwrap_or_default();
                        return Err(format!("unknown group `@{g}`{hint}"));
                    }
                }
            } else if part.is_empty() {
                return Err("empty host name in `on=`".into());
            } else {
                vec![part.to_string()]
            };
            for n in names {
                if !self.knows(&n) {
                    let known: Vec<&str> = self
                        .hosts
                        .keys()
                        .map(String::as_str)
                        .chain([LOCAL])
                        .collect();
                    let hint = crate::doc::steps::suggest(&n, &known)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(format!("unknown host `{n}`{hint}"));
                }
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        Ok(out)
    }

    /// Where the run store lives.
    pub fn store_path(&self) -> PathBuf {
        self.root.join(".runbook").join("runs.sqlite")
    }

    /// A path as shown to the user: relative to the current directory when it lies under it.
    pub fn show(&self, path: &Path) -> String {
        display_path(path)
    }
}

/// A path relative to the current directory where possible, as users typed it.
pub fn display_path(path: &Path) -> String {
    if path.is_absolute() {
        if let Ok(cwd) = std::env::current_dir() {
            if let Ok(rel) = path.strip_prefix(&cwd) {
                return rel.display().to_string();
            }
        }
    }
    path.display().to_string()
}

fn read_toml_source(path: &Path, shown: &str) -> Result<Arc<SourceFile>, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::at_path(shown, format!("cannot read: {}", crate::doc::io_reason(&e)))
    })?;
    Ok(Arc::new(SourceFile::new(shown, text)))
}

fn toml_error(file: &Arc<SourceFile>, e: &toml::de::Error) -> Diagnostic {
    let span = e
        .span()
        .map_or(Span::default(), |r| Span::new(r.start, r.end));
    Diagnostic::error(file, span, e.message().trim().to_string())
}

fn key_error(file: &Arc<SourceFile>, key: &str, msg: String) -> Diagnostic {
    Diagnostic::error(file, find_span(file, key), msg)
}

/// The first place a word occurs in the file, for errors found after deserialising.
fn find_span(file: &SourceFile, word: &str) -> Span {
    file.text
        .find(word)
        .map_or(Span::default(), |i| Span::new(i, i + word.len()))
}

fn toml_duration(file: &Arc<SourceFile>, key: &str, value: &str) -> Result<Duration, Diagnostic> {
    humantime::parse_duration(value).map_err(|_| {
        key_error(file, value, format!("bad `{key}` value `{value}`"))
            .with_help("write a duration such as `10s`")
    })
}

fn hosts_from(
    file: &Arc<SourceFile>,
    raw: BTreeMap<String, RawHost>,
) -> Result<BTreeMap<String, Target>, Diagnostic> {
    let mut hosts = BTreeMap::new();
    for (name, h) in raw {
        let target = match (h.ssh, h.local) {
            (Some(_), true) => {
                return Err(key_error(
                    file,
                    &name,
                    format!("host `{name}` has both `ssh` and `local = true`"),
                ))
            }
            (Some(dest), false) if !dest.trim().is_empty() => Target::Ssh(dest),
            (None, true) => Target::Local,
            _ => {
                return Err(key_error(
                    file,
                    &name,
                    format!("host `{name}` needs `ssh = \"DESTINATION\"` or `local = true`"),
                ))
            }
        };
        hosts.insert(name, target);
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(toml_text: &str) -> Result<Project, Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(&p, toml_text).unwrap();
        Project::load(&p)
    }

    #[test]
    fn resolves_hosts_groups_and_all() {
        let p = project(
            "[hosts.c2]\nssh = \"root@10.0.0.12\"\n[hosts.c3]\nssh = \"c3\"\n[hosts.ws]\nlocal = true\n[groups]\nlab = [\"c2\", \"c3\"]\n[vars]\nPORT = 80\nsecrets = [\"PW\"]\n",
        )
        .unwrap();
        let declared = vec!["c2".to_string(), "c3".to_string()];
        assert_eq!(p.resolve_on("c2", &declared).unwrap(), ["c2"]);
        assert_eq!(
            p.resolve_on("@lab,c2,local", &declared).unwrap(),
            ["c2", "c3", "local"]
        );
        assert_eq!(p.resolve_on("all", &declared).unwrap(), ["c2", "c3"]);
        assert!(p
            .resolve_on("c4", &declared)
            .unwrap_err()
            .contains("did you mean `c2`"));
        assert!(p
            .resolve_on("@lob", &declared)
            .unwrap_err()
            .contains("`@lab`"));
        assert_eq!(p.target("ws"), Some(Target::Local));
        assert_eq!(p.vars["PORT"], "80");
        assert_eq!(p.secrets, ["PW"]);
    }

    #[test]
    fn config_errors_have_their_place() {
        let e = project("[hosts.a]\nssh = \"x\"\n[sites]\n").unwrap_err();
        assert!(e.render().contains(":3:"), "{}", e.render());
        let e = project("[hosts.a]\nssh = \n").unwrap_err();
        assert!(e.render().contains("runbook.toml:2:"), "{}", e.render());
        let e = project("[groups]\ng = [\"nope\"]\n").unwrap_err();
        assert!(e.message.contains("`nope`"), "{}", e.message);
    }
}

//! Putting a rewritten runbook on disk: only if it still holds the bytes `update` read before
//! the run, and atomically (a temporary file beside it, permissions copied, then a rename), so
//! a reader sees the old text or the new, never half of one. A symbolic link is followed: the
//! file it points to is replaced, the link stays.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::FileChange;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: changed on disk since `runbook update` read it (did a step write to it?); not overwritten")]
    Changed { path: String },
    #[error("{path}: cannot write: {reason}")]
    Io { path: String, reason: String },
}

impl WriteError {
    /// The file, as the user named it.
    pub fn path(&self) -> &str {
        match self {
            WriteError::Changed { path } | WriteError::Io { path, .. } => path,
        }
    }

    /// What went wrong, without the path.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        full.strip_prefix(&format!("{}: ", self.path()))
            .unwrap_or(&full)
            .to_string()
    }
}

fn io(path: &str, e: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_string(),
        reason: crate::doc::io_reason(&e),
    }
}

/// Fails when the file no longer holds the text it was read with.
pub fn check_unchanged(change: &FileChange) -> Result<(), WriteError> {
    let shown = change.file.path.display().to_string();
    let now = fs::read(&change.file.path).map_err(|e| io(&shown, e))?;
    if now != change.file.text.as_bytes() {
        return Err(WriteError::Changed { path: shown });
    }
    Ok(())
}

/// Writes the new text over the file, if it is still as read.
pub fn write(change: &FileChange) -> Result<(), WriteError> {
    let shown = change.file.path.display().to_string();
    let target: PathBuf =
        fs::canonicalize(&change.file.path).unwrap_or_else(|_| change.file.path.clone());
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let perms = fs::metadata(&target)
        .map_err(|e| io(&shown, e))?
        .permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".runbook-update-")
        .tempfile_in(dir)
        .map_err(|e| io(&shown, e))?;
    tmp.write_all(change.new_text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .and_then(|()| fs::set_permissions(tmp.path(), perms))
        .map_err(|e| io(&shown, e))?;
    // As late as possible: a step, an editor or a second `update` may have written meanwhile.
    check_unchanged(change)?;
    tmp.persist(&target).map_err(|e| io(&shown, e.error))?;
    Ok(())
}

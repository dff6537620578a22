//! Reports: the terminal ([`console`]), JSON ([`json`]) and JUnit XML ([`junit`]). Each reads
//! [`crate::outcome`] and steers nothing.

pub mod console;
pub mod json;
pub mod junit;

use std::path::Path;

/// Writes a report file atomically: a temporary file beside it, then a rename, so a reader
/// never sees half a report.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

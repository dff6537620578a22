//! Execution: one shell session per host ([`session`]), its transports ([`local`] and SSH),
//! file blocks ([`files`]), secret redaction ([`redact`]) and the runner that drives steps
//! ([`runner`]).

pub mod files;
pub mod local;
pub mod redact;
pub mod runner;
pub mod session;

/// Opens a remote session (the SSH transport).
pub async fn ssh_connect(
    host: &str,
    dest: &str,
    _settings: &crate::project::SshSettings,
    _env: &[(String, String)],
) -> Result<session::Shell, String> {
    Err(format!(
        "{host} ({dest}): SSH hosts are not supported by this build yet"
    ))
}

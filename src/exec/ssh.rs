//! The `ssh` transport: one multiplexed OpenSSH connection per host and one persistent remote
//! shell on it, driven by [`Shell`] exactly like the local one.
//!
//! The connection is the system `ssh` (through the openssh crate's native multiplexing), so
//! `~/.ssh/config` aliases, `ProxyJump`, `IdentityFile` and the agent work as they do for the
//! user. The crate's defaults would break our contract, so every connection sets:
//! - `StrictHostKeyChecking=yes`: an unknown or changed host key is an error whose message
//!   spells out how to verify and record the key; nothing is ever written to `known_hosts`;
//! - `ConnectTimeout` from `[ssh] connect_timeout` (whole seconds, rounded up);
//! - `ServerAliveInterval` from `[ssh] keepalive`, and `ServerAliveCountMax=3` when an
//!   `[ssh] config` file is given (we pass a copy of it with that line first; without one,
//!   OpenSSH's default is 3 too, unless `~/.ssh/config` changes it). A connection that stops
//!   answering is therefore given up within about three keep-alive intervals: the master
//!   exits, the shell's output ends and the running command fails with
//!   [`ShellError::Closed`](crate::exec::session::ShellError::Closed), carrying ssh's reason;
//! - `ControlPersist` of a few idle seconds and its control socket in a private temporary
//!   folder. We tell the master to exit when the shell is closed or dropped; if we are killed
//!   instead, the remote shell reads end-of-file once its current command ends, and the
//!   master, idle, exits a few seconds later.
//!
//! The remote shell. sshd runs our command through the login shell, which we replace at once
//! with `sh -c`; that prints a handshake line and `exec`s `bash --noprofile --norc` (or `sh`),
//! which then reads the session protocol from the channel (as `/dev/fd/3`, standard input
//! being `/dev/null`, where the host allows), in the login directory. For a
//! session without a terminal sshd calls `setsid()` before starting the login shell, so the
//! shell's PID is also its process group (and session) id; the handshake checks this with
//! `kill -0 -PID`. A timeout signals that whole group (`kill -TERM -PGID`, then `-KILL`)
//! through a second channel of the same connection: closing the shell's channel alone would
//! leave the command running, since without a terminal nothing sends it SIGHUP.
//!
//! Exit statuses never go through ssh: the sentinel carries `$?`, so statuses 127 and 255,
//! which the openssh crate turns into errors of its own, are ordinary results here.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::session::{CommandInput, Shell, ShellControl};
use crate::project::SshSettings;

/// How long the master stays up with no channel open (which only happens after we are gone).
const MASTER_IDLE: usize = 10;

/// Bound on one signal sent over a second channel (a dead network must not hang a kill).
const SIGNAL_BOUND: Duration = Duration::from_secs(2);

/// Bound on closing: the shell's channel ending, then the master's shutdown.
const CLOSE_BOUND: Duration = Duration::from_millis(500);

/// What the shell prints once it knows its PID (spelled out again in [`REMOTE_SHELL`]);
/// nothing before it is ours (a login shell may print from its rc files).
const READY: &str = "__RUNBOOK_READY";

/// The remote command. The login shell may be anything, so it only runs `sh -c` with a
/// script free of single quotes.
/// The shell reads the protocol from descriptor 3 (see [`CommandInput`]) where `/dev/fd/3`
/// can be opened (not where /dev/fd is missing, nor for a socket), else from standard input;
/// the handshake says which (`i`).
const REMOTE_SHELL: &str = "exec sh -c '\
if kill -0 -$$ 2>/dev/null; then g=1; else g=0; fi; \
if command -v bash >/dev/null 2>&1; then s=\"bash --noprofile --norc\"; else s=sh; fi; \
exec 3<&0; if (: </dev/fd/3) 2>/dev/null; then i=3; else i=0; fi; \
printf \"%s %s %s %s\\n\" __RUNBOOK_READY $$ $g $i; \
if [ $i = 3 ]; then exec $s /dev/fd/3 </dev/null; fi; \
exec $s 3<&-'";

/// Why a host's session could not be started. Each message is one line naming the host and
/// the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error(
        "{host} ({destination}): host unreachable: {reason}; check the address and that sshd \
         runs there (connect timeout {}, set by `[ssh] connect_timeout`)",
        humantime::format_duration(*connect_timeout)
    )]
    Unreachable {
        host: String,
        destination: String,
        reason: String,
        connect_timeout: Duration,
    },
    #[error(
        "{host} ({destination}): authentication failed ({reason}); check the user name and \
         that your public key is in the host's authorized_keys (ssh-copy-id), or name the key \
         with IdentityFile in the ssh config"
    )]
    AuthFailed {
        host: String,
        destination: String,
        reason: String,
    },
    #[error(
        "{host} ({destination}): host key is not known; verify it and add it: {add} \
         (after checking the fingerprint)"
    )]
    UnknownHostKey {
        host: String,
        destination: String,
        /// The command that records the key, e.g. `ssh-keyscan -p 22 10.0.0.12 >> ~/.ssh/known_hosts`.
        add: String,
    },
    #[error(
        "{host} ({destination}): host key has CHANGED (REMOTE HOST IDENTIFICATION HAS CHANGED): \
         someone may be intercepting the connection, or the host was reinstalled; only once \
         you have verified the new key, remove the old one: {remove} and add the new one: {add}"
    )]
    ChangedHostKey {
        host: String,
        destination: String,
        /// E.g. `ssh-keygen -f ~/.ssh/known_hosts -R 10.0.0.12`.
        remove: String,
        add: String,
    },
    #[error(
        "{host} ({destination}): neither bash nor sh can be started on the host ({reason}); \
         install bash, or put sh on the login user's PATH"
    )]
    NoShell {
        host: String,
        destination: String,
        reason: String,
    },
    #[error("{host} ({destination}): ssh failed: {reason}")]
    Other {
        host: String,
        destination: String,
        reason: String,
    },
}

impl SshError {
    /// The host's name in the inventory.
    pub fn host(&self) -> &str {
        match self {
            SshError::Unreachable { host, .. }
            | SshError::AuthFailed { host, .. }
            | SshError::UnknownHostKey { host, .. }
            | SshError::ChangedHostKey { host, .. }
            | SshError::NoShell { host, .. }
            | SshError::Other { host, .. } => host,
        }
    }
}

/// Connects to `destination` and starts the host's shell with `env` exported, in the login
/// directory. `timeout` bounds the shell's start once connected; connecting is bounded by
/// `settings.connect_timeout`.
pub async fn start(
    host_name: &str,
    destination: &str,
    settings: &SshSettings,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Shell, SshError> {
    let who = Who {
        host: host_name.to_string(),
        destination: destination.to_string(),
    };
    let config = match &settings.config {
        Some(path) => Some(forced_config(path).map_err(|e| who.other(e))?),
        None => None,
    };
    let mut builder = SessionBuilder::default();
    builder
        .known_hosts_check(KnownHosts::Strict)
        .connect_timeout(whole_seconds(settings.connect_timeout))
        .server_alive_interval(whole_seconds(settings.keepalive))
        .control_directory(std::env::temp_dir())
        .control_persist(ControlPersist::IdleFor(
            MASTER_IDLE.try_into().expect("non-zero"),
        ));
    if let Some(config) = &config {
        builder.config_file(config.path());
    }
    // ssh bounds each connection attempt by ConnectTimeout; this only guards against a
    // server that accepts and then never finishes the handshake.
    let bound = settings.connect_timeout * 2 + Duration::from_secs(5);
    let session = match tokio::time::timeout(bound, builder.connect_mux(destination)).await {
        Err(_) => {
            return Err(SshError::Unreachable {
                host: who.host,
                destination: who.destination,
                reason: format!("no answer within {}", humantime::format_duration(bound)),
                connect_timeout: settings.connect_timeout,
            })
        }
        Ok(Err(e)) => {
            let text = match &e {
                openssh::Error::Connect(io) => io.to_string(),
                other => error_chain(other),
            };
            let resolved = resolve(destination, config.as_ref().map(|c| c.path())).await;
            return Err(classify(&who, &text, settings.connect_timeout, &resolved));
        }
        Ok(Ok(session)) => Arc::new(session),
    };
    drop(config);
    let log = session.control_socket().parent().map(|dir| dir.join("log"));
    let seen = log
        .as_deref()
        .and_then(|l| std::fs::metadata(l).ok())
        .map_or(0, |m| m.len());

    let mut child = session
        .clone()
        .arc_raw_command(REMOTE_SHELL)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .await
        .map_err(|e| who.other(format!("cannot open a channel: {}", error_chain(&e))))?;
    let stdin = child.stdin().take().expect("piped stdin");
    let mut stdout = child.stdout().take().expect("piped stdout");
    let stderr = child.stderr().take().expect("piped stderr");
    let stderr = tokio::spawn(collect_start(stderr));

    let handshake = tokio::time::timeout(timeout, read_handshake(&mut stdout)).await;
    let (leader, input, rest) = match handshake {
        Ok(Some(found)) => found,
        Ok(None) => {
            // The login shell could not start ours: read why.
            let status = tokio::time::timeout(CLOSE_BOUND * 4, child.wait()).await;
            let text = tokio::time::timeout(CLOSE_BOUND, stderr)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_default();
            let text = last_line(&String::from_utf8_lossy(&text));
            let not_found = matches!(
                status,
                Ok(Err(openssh::Error::Remote(ref e))) if e.kind() == std::io::ErrorKind::NotFound
            ) || text.contains("not found");
            return Err(if not_found {
                SshError::NoShell {
                    host: who.host,
                    destination: who.destination,
                    reason: text,
                }
            } else {
                who.other(format!(
                    "the remote shell ended at once{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                ))
            });
        }
        Err(_) => {
            return Err(who.other(format!(
                "the remote shell did not start within {}",
                humantime::format_duration(timeout)
            )))
        }
    };
    // Detached, the task goes on draining standard error (empty once the session joins it
    // to standard output), so a stray write there can never block the shell.
    drop(stderr);

    let stdout = LostReader {
        inner: Box::pin(std::io::Cursor::new(rest).chain(stdout)),
        ctl: session.control_socket().to_path_buf(),
        log,
        seen,
        ended: None,
    };
    let control = SshControl {
        session: Some(session),
        child: Some(child),
        leader,
    };
    Shell::start(
        Box::pin(stdin),
        input,
        Box::pin(stdout),
        Box::new(control),
        env,
        None,
        timeout,
    )
    .await
    .map_err(|e| who.other(format!("the session did not start: {e}")))
}

struct Who {
    host: String,
    destination: String,
}

impl Who {
    fn other(&self, reason: impl Into<String>) -> SshError {
        SshError::Other {
            host: self.host.clone(),
            destination: self.destination.clone(),
            reason: reason.into(),
        }
    }
}

/// The remote shell's PID, and whether it leads its own process group.
#[derive(Debug, Clone, Copy)]
struct Leader {
    pid: u32,
    group: bool,
}

/// Reads up to and including the handshake line; returns the leader and any bytes after it.
/// `None` when the output ends first.
async fn read_handshake<R: AsyncRead + Unpin>(
    r: &mut R,
) -> Option<(Leader, CommandInput, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(at) = memchr::memmem::find(&buf, READY.as_bytes()) {
            if let Some(nl) = buf[at..].iter().position(|b| *b == b'\n') {
                let line = String::from_utf8_lossy(&buf[at..at + nl]).to_string();
                let mut words = line.split_whitespace().skip(1);
                let pid = words.next()?.parse().ok()?;
                let group = words.next() == Some("1");
                let input = match words.next() {
                    Some("3") => CommandInput::OwnFd,
                    _ => CommandInput::Stdin,
                };
                return Some((Leader { pid, group }, input, buf[at + nl + 1..].to_vec()));
            }
        }
        // Whatever a login shell prints before us is bounded in practice; refuse a flood.
        if buf.len() > 1 << 20 {
            return None;
        }
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Keeps the first few KiB of the shell's standard error (why it could not start) and
/// discards the rest.
async fn collect_start<R: AsyncRead + Unpin>(mut r: R) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        if kept.len() < 8192 {
            kept.extend_from_slice(&chunk[..n]);
        }
    }
    kept
}

/// The shell's output. Its end is reported as an error that says which end it was: the
/// shell exited (the master still answers), or the connection was lost, with what the
/// master logged about it ("Timeout, server ... not responding").
struct LostReader {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    /// The master's control socket and log.
    ctl: PathBuf,
    log: Option<PathBuf>,
    /// Bytes of the log already there when the session started.
    seen: u64,
    ended: Option<BoxFuture<'static, String>>,
}

impl AsyncRead for LostReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if let Some(ended) = self.ended.as_mut() {
                let reason = std::task::ready!(ended.as_mut().poll(cx));
                self.ended = None;
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    reason,
                )));
            }
            let before = buf.filled().len();
            match self.inner.as_mut().poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                    let ended = why_ended(self.ctl.clone(), self.log.clone(), self.seen);
                    self.ended = Some(Box::pin(ended));
                }
                other => return other,
            }
        }
    }
}

async fn why_ended(ctl: PathBuf, log: Option<PathBuf>, seen: u64) -> String {
    // A master that is shutting down no longer answers; one whose shell merely exited does.
    let master = Session::resume_mux(ctl.into_boxed_path(), None);
    let alive = matches!(
        tokio::time::timeout(Duration::from_secs(1), master.check()).await,
        Ok(Ok(()))
    );
    if alive {
        return "the remote shell exited".into();
    }
    let logged = log
        .and_then(|l| std::fs::read(l).ok())
        .map(|text| {
            let new = text.get(seen as usize..).unwrap_or_default();
            last_line(&String::from_utf8_lossy(new))
        })
        .unwrap_or_default();
    if logged.is_empty() {
        "connection lost: the host closed it".into()
    } else {
        format!("connection lost: {logged}")
    }
}

struct SshControl {
    session: Option<Arc<Session>>,
    child: Option<openssh::Child<Arc<Session>>>,
    leader: Leader,
}

impl SshControl {
    async fn signal(&self, signal: &str) {
        let Some(session) = &self.session else {
            return;
        };
        let Leader { pid, group } = self.leader;
        // Without a group of its own (an sshd that does not call setsid) only the shell can
        // be signalled: killing its group would hit sshd.
        let command = if group {
            format!("kill -{signal} -{pid}")
        } else {
            format!("kill -{signal} {pid}")
        };
        let mut kill = session.raw_command(command);
        kill.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The group may be gone already, or the connection: neither is an error here.
        let _ = tokio::time::timeout(SIGNAL_BOUND, kill.status()).await;
    }
}

/// A session dropped while its shell still runs (a run cancelled from the site, whose last
/// watcher left) must not leave the command running on the host: dropping the channel does
/// not end a remote command that has no terminal, so its group is killed explicitly, from a
/// task of its own (a destructor cannot wait).
impl Drop for SshControl {
    fn drop(&mut self) {
        if self.child.is_none() {
            return; // closed properly
        }
        let (Some(session), Ok(runtime)) =
            (self.session.clone(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let Leader { pid, group } = self.leader;
        let target = if group {
            format!("-{pid}")
        } else {
            pid.to_string()
        };
        let child = self.child.take();
        runtime.spawn(async move {
            let mut kill = session.raw_command(format!("kill -KILL {target}"));
            kill.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = tokio::time::timeout(SIGNAL_BOUND, kill.status()).await;
            drop(child);
        });
    }
}

impl ShellControl for SshControl {
    fn signal_group(&mut self, signal: &'static str) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let signal = if signal == "KILL" { "KILL" } else { "TERM" };
            self.signal(signal).await;
        })
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(child) = self.child.take() {
                // A shell told to exit reports its status at once (even while a background
                // job it left holds the output, which it may keep, as locally); one that does
                // not is stuck: end its group, as the local transport does.
                if tokio::time::timeout(CLOSE_BOUND, child.wait())
                    .await
                    .is_err()
                {
                    self.signal("KILL").await;
                }
            }
            if let Some(session) = self.session.take() {
                // Dropping the session tells the master to exit (a blocking write to its
                // control socket); a wedged master must not hang us.
                let closing = tokio::task::spawn_blocking(move || drop(session));
                let _ = tokio::time::timeout(CLOSE_BOUND * 4, closing).await;
            }
        })
    }
}

/// Whole seconds for ssh's options, rounded up: `0` would mean "no timeout" to ssh.
fn whole_seconds(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// The user's `[ssh] config`, with `ServerAliveCountMax 3` put first (ssh keeps the first
/// value it reads) so the keep-alive bound holds. A copy rather than an `Include`, which
/// would apply a stricter permission check to the user's file than `ssh -F` does.
fn forced_config(path: &Path) -> Result<tempfile::NamedTempFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the ssh config {}: {e}", path.display()))?;
    let mut file = tempfile::Builder::new()
        .prefix("runbook-ssh-config-")
        .tempfile()
        .map_err(|e| format!("cannot write a temporary ssh config: {e}"))?;
    use std::io::Write;
    write!(file, "ServerAliveCountMax 3\n{text}\n")
        .map_err(|e| format!("cannot write a temporary ssh config: {e}"))?;
    Ok(file)
}

/// Where ssh really connects, for the fix in a host key message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    hostname: String,
    port: u16,
    known_hosts: String,
}

/// Asks `ssh -G` how `destination` resolves (aliases, `HostName`, `Port`,
/// `UserKnownHostsFile`); falls back to reading the destination itself.
async fn resolve(destination: &str, config: Option<&Path>) -> Resolved {
    let plain = SessionBuilder::default();
    let (builder, host) = plain.resolve(destination);
    let port = builder
        .get_port()
        .and_then(|p| p.parse().ok())
        .unwrap_or(22);
    let host = host.rsplit('@').next().unwrap_or(host).to_string();
    let mut fallback = Resolved {
        hostname: host.clone(),
        port,
        known_hosts: "~/.ssh/known_hosts".into(),
    };
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.arg("-G").arg("-p").arg(port.to_string());
    if let Some(c) = config {
        cmd.arg("-F").arg(c);
    }
    if let Some(user) = builder.get_user() {
        cmd.arg("-l").arg(user);
    }
    cmd.arg(&host)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let Ok(Ok(out)) = tokio::time::timeout(Duration::from_secs(5), cmd.output()).await else {
        return fallback;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "hostname" => fallback.hostname = value.to_string(),
            "port" => fallback.port = value.parse().unwrap_or(fallback.port),
            "userknownhostsfile" => {
                if let Some(first) = value.split_whitespace().next() {
                    fallback.known_hosts = first.to_string();
                }
            }
            _ => {}
        }
    }
    fallback
}

/// Turns what ssh printed when the connection failed into one of our errors.
fn classify(who: &Who, text: &str, connect_timeout: Duration, at: &Resolved) -> SshError {
    let (host, destination) = (who.host.clone(), who.destination.clone());
    let add = format!(
        "ssh-keyscan -p {} {} >> {}",
        at.port, at.hostname, at.known_hosts
    );
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("has changed and you have requested strict checking")
    {
        let remove = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("ssh-keygen -f"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                let name = if at.port == 22 {
                    at.hostname.clone()
                } else {
                    format!("[{}]:{}", at.hostname, at.port)
                };
                format!("ssh-keygen -f {} -R '{name}'", at.known_hosts)
            });
        return SshError::ChangedHostKey {
            host,
            destination,
            remove,
            add,
        };
    }
    if text.contains("host key is known for") || text.contains("Host key verification failed") {
        return SshError::UnknownHostKey {
            host,
            destination,
            add,
        };
    }
    let line = last_line(text);
    if text.contains("Permission denied (") || text.contains("Too many authentication failures") {
        return SshError::AuthFailed {
            host,
            destination,
            reason: line,
        };
    }
    const UNREACHABLE: &[&str] = &[
        "Connection refused",
        "Connection timed out",
        "Operation timed out",
        "Network is unreachable",
        "No route to host",
        "Could not resolve hostname",
        "Name or service not known",
        "Temporary failure in name resolution",
        "kex_exchange_identification",
        "Connection closed by",
        "Connection reset by",
        "banner exchange",
    ];
    if UNREACHABLE.iter().any(|s| text.contains(s)) {
        return SshError::Unreachable {
            host,
            destination,
            reason: line,
            connect_timeout,
        };
    }
    SshError::Other {
        host,
        destination,
        reason: if line.is_empty() {
            "ssh exited without saying why".into()
        } else {
            line
        },
    }
}

/// The last non-empty line of ssh's output, without its `ssh: ` prefix or final period.
fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.strip_prefix("ssh: ").unwrap_or(line);
    line.strip_suffix('.').unwrap_or(line).to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Who {
        Who {
            host: "controller2".into(),
            destination: "root@10.0.0.12".into(),
        }
    }

    fn at() -> Resolved {
        Resolved {
            hostname: "10.0.0.12".into(),
            port: 22,
            known_hosts: "~/.ssh/known_hosts".into(),
        }
    }

    fn kind(text: &str) -> String {
        let e = classify(&who(), text, Duration::from_secs(10), &at());
        format!("{e:?}")
            .split([' ', '{'])
            .next()
            .unwrap()
            .to_string()
    }

    #[test]
    fn classifies_what_ssh_prints() {
        let table = [
            ("ssh: connect to host 10.0.0.12 port 22: Connection refused", "Unreachable"),
            ("ssh: connect to host 10.0.0.12 port 22: Connection timed out", "Unreachable"),
            ("ssh: connect to host 10.0.0.12 port 22: No route to host", "Unreachable"),
            ("ssh: Could not resolve hostname nope: Name or service not known", "Unreachable"),
            ("kex_exchange_identification: read: Connection reset by peer", "Unreachable"),
            ("root@10.0.0.12: Permission denied (publickey).", "AuthFailed"),
            (
                "No ED25519 host key is known for 10.0.0.12 and you have requested strict checking.\r\nHost key verification failed.",
                "UnknownHostKey",
            ),
            (
                "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n\
                 Offending ED25519 key in /root/.ssh/known_hosts:3\r\n  remove with:\r\n  ssh-keygen -f '/root/.ssh/known_hosts' -R '10.0.0.12'\r\n\
                 Host key for 10.0.0.12 has changed and you have requested strict checking.\r\nHost key verification failed.",
                "ChangedHostKey",
            ),
            ("something else entirely", "Other"),
        ];
        for (text, want) in table {
            assert_eq!(kind(text), want, "{text}");
        }
    }

    #[test]
    fn messages_name_the_host_and_the_fix() {
        let unknown = classify(
            &who(),
            "No ED25519 host key is known for 10.0.0.12 and you have requested strict checking.\nHost key verification failed.",
            Duration::from_secs(10),
            &at(),
        );
        assert_eq!(
            unknown.to_string(),
            "controller2 (root@10.0.0.12): host key is not known; verify it and add it: \
             ssh-keyscan -p 22 10.0.0.12 >> ~/.ssh/known_hosts (after checking the fingerprint)"
        );
        let changed = classify(
            &who(),
            "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\n  ssh-keygen -f '/k' -R '10.0.0.12'\n",
            Duration::from_secs(10),
            &at(),
        );
        assert!(
            changed
                .to_string()
                .contains("remove the old one: ssh-keygen -f '/k' -R '10.0.0.12' and add"),
            "{changed}"
        );
        let refused = classify(
            &who(),
            "ssh: connect to host 10.0.0.12 port 22: Connection refused\n",
            Duration::from_secs(10),
            &at(),
        );
        assert_eq!(
            refused.to_string(),
            "controller2 (root@10.0.0.12): host unreachable: connect to host 10.0.0.12 port 22: \
             Connection refused; check the address and that sshd runs there (connect timeout \
             10s, set by `[ssh] connect_timeout`)"
        );
        for e in [unknown, changed, refused] {
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[allow(dead_code)]
    fn start_can_be_spawned(settings: &SshSettings) {
        fn send<T: Send + 'static>(_: T) {}
        let settings = settings.clone();
        send(async move { start("h", "d", &settings, &[], Duration::ZERO).await });
    }

    #[test]
    fn option_seconds_round_up_and_never_reach_zero() {
        assert_eq!(
            whole_seconds(Duration::from_millis(1500)),
            Duration::from_secs(2)
        );
        assert_eq!(whole_seconds(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            whole_seconds(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}

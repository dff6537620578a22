//! One persistent shell per host, driven over pipes with a sentinel protocol.
//!
//! The transport (a local `bash` child, or a remote one over an SSH channel) only provides
//! the shell's standard input and output and a way to signal its process group; everything
//! else — framing, timeouts, streaming, the output cap — is here, so local and remote hosts
//! behave the same (STYLE: one session abstraction).
//!
//! Protocol. The shell reads it from file descriptor 3 while its standard input is
//! `/dev/null` and its standard error is joined to its standard output
//! ([`CommandInput::OwnFd`]), so nothing a command reads can swallow the text of later steps.
//! Each command is sent as one line, `eval '<command>';__rb` (the command single-quoted),
//! and `__rb`, defined at start, prints `<NONCE> <status>\n` with the status the command left
//! in `$?` (a function sees the caller's `$?` as it starts):
//! - `eval` keeps `cd` and `export` in the session, and a syntax error in the command is an
//!   ordinary non-zero status instead of breaking the framing;
//! - where the shell must read the protocol from its standard input (a remote host without
//!   `/dev/fd`, [`CommandInput::Stdin`]), each command gets `</dev/null 2>&1` instead. The
//!   first form is the default because a shell reads a pipe one byte at a time and each
//!   redirection costs it a dozen system calls: a trivial step costs a third less;
//! - the sentinel is found by scanning the output, never by waiting for end-of-file, so a
//!   background child that keeps the pipe open cannot hang the run;
//! - the sentinel is found wherever it begins, also right after output without a final
//!   newline (the nonce is random, so output cannot hold it by chance); it is written in one
//!   piece, so a trivial step costs the reader two wake-ups, not three;
//! - a command that runs `exit N` ends the shell, but an EXIT trap set at start prints
//!   `<NONCE> exit N\n`: the step gets status N and the session is marked ended, so the
//!   next step opens a new one.

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Output larger than this (per command) is an error rather than memory exhaustion.
pub const MAX_OUTPUT: usize = 64 * 1024 * 1024;

/// How long a command that ignores SIGTERM is given before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(1000);

/// What a transport must provide besides the pipes.
pub trait ShellControl: Send {
    /// Sends `signal` (a name such as `TERM` or `KILL`) to the shell's whole process group.
    fn signal_group(&mut self, signal: &'static str) -> BoxFuture<'_, ()>;
    /// Ends the transport (waits for nothing that could hang).
    fn close(&mut self) -> BoxFuture<'_, ()>;
    /// Whether any process of the shell's group is still alive. Transports that cannot tell
    /// cheaply answer `true`, and the whole grace period is waited.
    fn group_alive(&mut self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}

/// Why a command has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The shell's output ended: the connection dropped, the host rebooted, or the command
    /// ran `exit`.
    #[error("the shell ended before the command finished ({0})")]
    Closed(String),
    #[error("the command printed more than {} MiB; output that large is not kept", MAX_OUTPUT >> 20)]
    TooLarge,
}

/// A finished command.
#[derive(Debug, Clone)]
pub struct Ran {
    pub output: Vec<u8>,
    pub exit_code: i32,
    pub duration: Duration,
}

/// Where the shell reads the protocol from (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandInput {
    /// File descriptor 3 (opened as the script `/dev/fd/3`), standard input `/dev/null`.
    OwnFd,
    /// Standard input: each command redirects its own.
    Stdin,
}

pub struct Shell {
    stdin: Pin<Box<dyn AsyncWrite + Send>>,
    input: CommandInput,
    stdout: Pin<Box<dyn AsyncRead + Send>>,
    control: Box<dyn ShellControl>,
    nonce: String,
    /// Bytes read after the last sentinel (normally empty).
    pending: Vec<u8>,
    /// Reused for every read: allocating (and zeroing) it per command showed in profiles.
    read_buf: Box<[u8]>,
    dead: bool,
}

/// Quotes a string for any POSIX shell: `'...'`, with `'` written as `'\''`.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('\'');
    for c in s.chars() {
        if c == '\'' {
            q.push_str("'\\''");
        } else {
            q.push(c);
        }
    }
    q.push('\'');
    q
}

impl Shell {
    /// Wraps a started shell and runs the setup: standard error joined to standard output,
    /// `env` exported, and the working directory changed to `cwd` when given.
    pub async fn start(
        stdin: Pin<Box<dyn AsyncWrite + Send>>,
        input: CommandInput,
        stdout: Pin<Box<dyn AsyncRead + Send>>,
        control: Box<dyn ShellControl>,
        env: &[(String, String)],
        cwd: Option<&str>,
        timeout: Duration,
    ) -> Result<Shell, ShellError> {
        let nonce = format!("__RUNBOOK_{:016x}", rand::random::<u64>());
        let shell_nonce = nonce.clone();
        let mut shell = Shell {
            stdin,
            input,
            stdout,
            control,
            nonce,
            pending: Vec::new(),
            read_buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            dead: false,
        };
        // A command that runs `exit N` ends the session; the trap still frames its status, so
        // the step sees N and the next step starts a new session.
        // `__rb` frames a status; defining it once keeps each step's text short, which
        // matters because a shell reads a pipe one byte at a time.
        // The shell reads the protocol through its own descriptor for `/dev/fd/3`: closing 3
        // keeps commands from inheriting it.
        let close_input = match input {
            CommandInput::OwnFd => " 3<&-",
            CommandInput::Stdin => "",
        };
        let mut setup = format!(
            "exec 2>&1{close_input}\ntrap 'printf \"%s exit %d\\n\" {n} \"$?\"' EXIT\n__rb() {{ printf '%s %d\\n' {n} \"$?\"; }}\n",
            n = shell_nonce
        );
        for (k, v) in env {
            setup.push_str(&format!("export {k}={}\n", quote(v)));
        }
        if let Some(dir) = cwd {
            setup.push_str(&format!("cd {} || exit 97\n", quote(dir)));
        }
        setup.push_str("__rb\n");
        // The setup runs as a plain command so that its completion is framed like any other.
        let ran = shell.run_raw(&setup, timeout, &mut |_| {}).await?;
        if ran.exit_code != 0 {
            return Err(ShellError::Closed(format!(
                "the session setup failed: {}",
                String::from_utf8_lossy(&ran.output).trim()
            )));
        }
        Ok(shell)
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Runs one command (any shell text, several lines allowed) and returns its interleaved
    /// output and exit status. `on_output` sees the output as it arrives.
    pub async fn run(
        &mut self,
        command: &str,
        timeout: Duration,
        on_output: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Ran, ShellError> {
        let redirect = match self.input {
            CommandInput::OwnFd => "",
            CommandInput::Stdin => " </dev/null 2>&1",
        };
        let script = format!("eval {}{redirect};__rb\n", quote(command));
        self.run_raw(&script, timeout, on_output).await
    }

    async fn run_raw(
        &mut self,
        script: &str,
        timeout: Duration,
        on_output: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Ran, ShellError> {
        if self.dead {
            return Err(ShellError::Closed("the session already ended".into()));
        }
        let started = Instant::now();
        if let Err(e) = self.stdin.write_all(script.as_bytes()).await {
            self.dead = true;
            return Err(ShellError::Closed(format!(
                "cannot write to the shell: {e}"
            )));
        }
        let _ = self.stdin.flush().await;
        match tokio::time::timeout(timeout, self.read_until_sentinel(on_output)).await {
            Ok(Ok((output, exit_code))) => Ok(Ran {
                output,
                exit_code,
                duration: started.elapsed(),
            }),
            Ok(Err(e)) => {
                self.dead = true;
                if e == ShellError::TooLarge {
                    self.kill().await;
                }
                Err(e)
            }
            Err(_) => {
                self.kill().await;
                Err(ShellError::Timeout(timeout))
            }
        }
    }

    /// Ends the shell's whole process tree: TERM, a short grace, then KILL.
    pub async fn kill(&mut self) {
        self.dead = true;
        self.control.signal_group("TERM").await;
        let deadline = Instant::now() + KILL_GRACE;
        while Instant::now() < deadline && self.control.group_alive().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.control.signal_group("KILL").await;
        self.control.close().await;
    }

    pub async fn close(mut self) {
        if !self.dead {
            let _ = self.stdin.write_all(b"exit 0\n").await;
            let _ = self.stdin.flush().await;
        }
        self.control.close().await;
    }

    async fn read_until_sentinel(
        &mut self,
        on_output: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<(Vec<u8>, i32), ShellError> {
        let marker = format!("{} ", self.nonce).into_bytes();
        let mut buf = std::mem::take(&mut self.pending);
        let mut scanned = 0; // bytes of `buf` known not to start the marker
        let mut streamed = 0; // bytes of `buf` already given to `on_output`
        loop {
            if let Some(pos) = memchr::memmem::find(&buf[scanned..], &marker).map(|p| p + scanned) {
                let rest = &buf[pos + marker.len()..];
                if let Some(nl) = rest.iter().position(|b| *b == b'\n') {
                    let status = std::str::from_utf8(&rest[..nl]).unwrap_or("").trim();
                    // `exit N` in a command ends the shell; its EXIT trap still reports N.
                    let status = match status.strip_prefix("exit ") {
                        Some(code) => {
                            self.dead = true;
                            code
                        }
                        None => status,
                    };
                    let code: i32 = status.parse().unwrap_or(-1);
                    self.pending = rest[nl + 1..].to_vec();
                    if pos > streamed {
                        on_output(&buf[streamed..pos]);
                    }
                    buf.truncate(pos);
                    return Ok((buf, code));
                }
            } else {
                // No marker yet: it can only begin within the last `marker.len() - 1` bytes.
                scanned = buf.len().saturating_sub(marker.len() - 1);
                // Show everything but the longest tail that could begin the marker.
                let hold_from = (scanned..buf.len())
                    .find(|&i| marker.starts_with(&buf[i..]))
                    .unwrap_or(buf.len());
                if hold_from > streamed {
                    on_output(&buf[streamed..hold_from]);
                    streamed = hold_from;
                }
            }
            if buf.len() > MAX_OUTPUT {
                return Err(ShellError::TooLarge);
            }
            let n = match self.stdout.read(&mut self.read_buf).await {
                Ok(0) => return Err(ShellError::Closed("end of output".into())),
                Ok(n) => n,
                Err(e) => return Err(ShellError::Closed(e.to_string())),
            };
            buf.extend_from_slice(&self.read_buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}

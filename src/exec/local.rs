//! The `local` transport: a `bash --noprofile --norc` child (or `sh` where there is no bash)
//! in its own process group, so a timeout can end the whole tree.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncWrite;
use tokio::process::{Child, Command};

use super::session::{CommandInput, Shell, ShellControl, ShellError};

struct LocalControl {
    child: Child,
    pgid: Option<Pid>,
}

impl ShellControl for LocalControl {
    fn signal_group(&mut self, signal: &'static str) -> BoxFuture<'_, ()> {
        let sig = if signal == "KILL" {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, sig);
        }
        Box::pin(async {})
    }

    fn group_alive(&mut self) -> BoxFuture<'_, bool> {
        // Reap the shell first if it exited, so a zombie leader does not count; then signal 0
        // asks whether anything of the group is left.
        let _ = self.child.try_wait();
        let alive = self.pgid.is_some_and(|pgid| killpg(pgid, None).is_ok());
        Box::pin(async move { alive })
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Give a shell that was told to exit a moment, then make sure nothing is left.
            if tokio::time::timeout(Duration::from_millis(200), self.child.wait())
                .await
                .is_err()
            {
                if let Some(pgid) = self.pgid {
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
            }
        })
    }
}

/// A session dropped mid-command (a cancelled run: the site's last watcher left) must not
/// leave the command running: `kill_on_drop` ends only the shell, so end its whole group.
impl Drop for LocalControl {
    fn drop(&mut self) {
        // `id()` is `None` once the shell has been reaped; its group id may be reused then.
        if let (Some(pgid), Some(_)) = (self.pgid, self.child.id()) {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

fn find_shell() -> (&'static str, &'static [&'static str]) {
    let has_bash = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("bash").is_file()))
        .unwrap_or(false);
    if has_bash {
        ("bash", &["--noprofile", "--norc"])
    } else {
        ("sh", &[])
    }
}

/// Starts a local shell in `cwd` with `env` exported. It reads the protocol from a pipe on
/// file descriptor 3 (the script `/dev/fd/3`); its standard input is `/dev/null`.
pub async fn start(
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Shell, ShellError> {
    spawn(cwd, env, timeout, CommandInput::OwnFd).await
}

/// Starts the shell; with [`CommandInput::Stdin`] (for tests of that protocol, which remote
/// hosts without `/dev/fd` use) it reads the protocol from standard input.
async fn spawn(
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
    input: CommandInput,
) -> Result<Shell, ShellError> {
    let (program, args) = find_shell();
    let cannot = |e: std::io::Error| ShellError::Closed(format!("cannot start `{program}`: {e}"));
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let (commands, mut child): (Pin<Box<dyn AsyncWrite + Send>>, Child) = match input {
        CommandInput::OwnFd => {
            let (read_end, write_end) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| cannot(e.into()))?;
            let fd = read_end.as_raw_fd();
            command.arg("/dev/fd/3").stdin(Stdio::null());
            // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl) are
            // made, on a descriptor that exists in the child.
            unsafe {
                command.pre_exec(move || {
                    // dup2 onto itself would keep close-on-exec: clear it instead.
                    let done = if fd == 3 {
                        libc::fcntl(3, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(fd, 3)
                    };
                    if done == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = command.spawn().map_err(cannot)?;
            drop(read_end);
            let sender =
                tokio::net::unix::pipe::Sender::from_owned_fd(write_end).map_err(cannot)?;
            (Box::pin(sender), child)
        }
        CommandInput::Stdin => {
            let mut child = command.stdin(Stdio::piped()).spawn().map_err(cannot)?;
            let stdin = child.stdin.take().expect("piped stdin");
            (Box::pin(stdin), child)
        }
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let stdout = child.stdout.take().expect("piped stdout");
    Shell::start(
        commands,
        input,
        Box::pin(stdout),
        Box::new(LocalControl { child, pgid }),
        env,
        None,
        timeout,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const T: Duration = Duration::from_secs(10);

    async fn shell() -> Shell {
        shell_reading(CommandInput::OwnFd).await
    }

    async fn shell_reading(input: CommandInput) -> Shell {
        spawn(
            Path::new("/"),
            &[
                ("RUNBOOK_HOST".into(), "local".into()),
                ("GREETING".into(), "it's me".into()),
            ],
            T,
            input,
        )
        .await
        .unwrap()
    }

    async fn out(sh: &mut Shell, cmd: &str) -> (String, i32) {
        let r = sh.run(cmd, T, &mut |_| {}).await.unwrap();
        (String::from_utf8(r.output).unwrap(), r.exit_code)
    }

    #[tokio::test]
    async fn state_persists_and_status_comes_back() {
        let mut sh = shell().await;
        assert_eq!(
            out(&mut sh, "cd /tmp && export X=42").await,
            (String::new(), 0)
        );
        assert_eq!(
            out(&mut sh, "pwd; echo $X $RUNBOOK_HOST \"$GREETING\"").await,
            ("/tmp\n42 local it's me\n".into(), 0)
        );
        assert_eq!(
            out(&mut sh, "printf 'no newline'; (exit 7)").await,
            ("no newline".into(), 7)
        );
        // A tail that looks like the start of the sentinel is output all the same.
        assert_eq!(
            out(&mut sh, "printf 'x __RUNBOOK_'").await,
            ("x __RUNBOOK_".into(), 0)
        );
        assert_eq!(
            out(&mut sh, "echo out; echo err >&2").await,
            ("out\nerr\n".into(), 0)
        );
        let (o, code) = out(&mut sh, "if then fi").await;
        assert_ne!(code, 0);
        assert!(o.contains("syntax error"), "{o}");
        assert_eq!(out(&mut sh, "echo still alive").await.0, "still alive\n");
        sh.close().await;
    }

    #[tokio::test]
    async fn exit_in_a_command_reports_its_status_and_ends_the_session() {
        let mut sh = shell().await;
        assert_eq!(out(&mut sh, "echo bye; exit 3").await, ("bye\n".into(), 3));
        assert!(sh.is_dead());
        assert!(sh.run("echo x", T, &mut |_| {}).await.is_err());
    }

    #[tokio::test]
    async fn stdin_is_empty_and_cannot_swallow_later_commands() {
        for input in [CommandInput::OwnFd, CommandInput::Stdin] {
            let mut sh = shell_reading(input).await;
            assert_eq!(
                out(&mut sh, "cat; read x; echo \"read=$x status=$?\"")
                    .await
                    .0,
                "read= status=1\n",
                "{input:?}"
            );
            assert_eq!(
                out(&mut sh, "echo next; echo err >&2").await.0,
                "next\nerr\n"
            );
            assert_eq!(out(&mut sh, "cd /tmp; (exit 4)").await, (String::new(), 4));
            assert_eq!(out(&mut sh, "pwd").await.0, "/tmp\n");
            sh.close().await;
        }
    }

    #[tokio::test]
    async fn commands_do_not_inherit_the_protocol_pipe() {
        let mut sh = shell().await;
        assert_eq!(
            out(
                &mut sh,
                "[ -e /proc/self/fd/3 ] && echo open || echo closed"
            )
            .await
            .0,
            "closed\n"
        );
        // A command may use descriptor 3 for its own ends.
        assert_eq!(
            out(&mut sh, "exec 3>/dev/null; echo x >&3; exec 3>&-; echo ok")
                .await
                .0,
            "ok\n"
        );
        sh.close().await;
    }

    #[tokio::test]
    async fn background_child_holding_the_pipe_does_not_hang() {
        let mut sh = shell().await;
        let t = Instant::now();
        assert_eq!(out(&mut sh, "sleep 30 & echo started").await.0, "started\n");
        assert_eq!(out(&mut sh, "echo after").await.0, "after\n");
        assert!(t.elapsed() < Duration::from_secs(5));
        sh.close().await;
    }

    #[tokio::test]
    async fn timeout_ends_the_process_tree() {
        let mut sh = shell().await;
        let marker = format!("runbook-timeout-{}", rand::random::<u32>());
        let t = Instant::now();
        let err = sh
            .run(
                &format!("bash -c 'trap \"\" TERM; exec -a {marker} sleep 30' & sleep 30"),
                Duration::from_millis(500),
                &mut |_| {},
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ShellError::Timeout(_)));
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let left = std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        assert!(
            left.stdout.is_empty(),
            "left behind: {}",
            String::from_utf8_lossy(&left.stdout)
        );
        assert!(sh.is_dead());
    }

    #[tokio::test]
    async fn output_streams_before_the_command_ends() {
        let mut sh = shell().await;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Duration, usize)>::new()));
        let s2 = seen.clone();
        let t = Instant::now();
        let r = sh
            .run(
                "echo first; sleep 1; echo second",
                T,
                &mut move |b: &[u8]| s2.lock().unwrap().push((t.elapsed(), b.len())),
            )
            .await
            .unwrap();
        assert_eq!(r.output, b"first\nsecond\n");
        let first = seen.lock().unwrap().first().copied();
        assert!(first.unwrap().0 < Duration::from_millis(900), "{first:?}");
        sh.close().await;
    }
}

//! The `local` transport: a `bash --noprofile --norc` child (or `sh` where there is no bash)
//! in its own process group, so a timeout can end the whole tree.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::session::{Shell, ShellControl, ShellError};

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

/// Starts a local shell in `cwd` with `env` exported.
pub async fn start(
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Shell, ShellError> {
    let (program, args) = find_shell();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ShellError::Closed(format!("cannot start `{program}`: {e}")))?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    Shell::start(
        Box::pin(stdin),
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
        start(
            Path::new("/"),
            &[
                ("RUNBOOK_HOST".into(), "local".into()),
                ("GREETING".into(), "it's me".into()),
            ],
            T,
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
        let mut sh = shell().await;
        assert_eq!(
            out(&mut sh, "cat; read x; echo \"read=$x status=$?\"")
                .await
                .0,
            "read= status=1\n"
        );
        assert_eq!(out(&mut sh, "echo next").await.0, "next\n");
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

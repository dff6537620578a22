//! The SSH transport against real OpenSSH servers (loopback, and network namespaces for a cut
//! network): what a user relies on — one persistent remote shell per host, statuses as the
//! command left them, timeouts that leave nothing behind, and each fault as its own error.
//! Runs as root (sshd and `ip netns` need it).

#[path = "support/sshd.rs"]
mod sshd;

use std::time::{Duration, Instant};

use runbook::exec::session::{Shell, ShellError};
use runbook::exec::ssh::{self, SshError};
use runbook::project::SshSettings;
use sshd::{NetnsHost, Sshd};

const T: Duration = Duration::from_secs(10);

fn settings(sshd: &Sshd) -> SshSettings {
    SshSettings {
        config: Some(sshd.client_config()),
        connect_timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(1),
    }
}

async fn connect(sshd: &Sshd) -> Result<Shell, SshError> {
    ssh::start(
        "web1",
        &sshd.destination(),
        &settings(sshd),
        &[
            ("RUNBOOK_HOST".into(), "web1".into()),
            ("GREETING".into(), "it's me".into()),
        ],
        T,
    )
    .await
}

async fn out(sh: &mut Shell, cmd: &str) -> (String, i32) {
    let r = sh.run(cmd, T, &mut |_| {}).await.unwrap();
    (String::from_utf8(r.output).unwrap(), r.exit_code)
}

fn pgrep(marker: &str) -> String {
    let o = std::process::Command::new("pgrep")
        .args(["-af", marker])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn marker(what: &str) -> String {
    format!("runbook-{what}-{:08x}", rand::random::<u32>())
}

#[tokio::test]
async fn state_persists_across_commands_on_the_host() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    // The login directory, bash, and the exported environment.
    assert_eq!(
        out(&mut sh, "pwd; test -n \"$BASH_VERSION\" && echo bash").await,
        ("/root\nbash\n".into(), 0)
    );
    assert_eq!(
        out(&mut sh, "echo $RUNBOOK_HOST \"$GREETING\"").await,
        ("web1 it's me\n".into(), 0)
    );
    assert_eq!(
        out(&mut sh, "cd /tmp && export X=42").await,
        (String::new(), 0)
    );
    assert_eq!(
        out(&mut sh, "pwd; echo $X; echo err >&2").await,
        ("/tmp\n42\nerr\n".into(), 0)
    );
    assert_eq!(
        out(&mut sh, "cat; echo \"stdin empty: $?\"").await,
        ("stdin empty: 0\n".into(), 0)
    );
    sh.close().await;
}

#[tokio::test]
async fn statuses_255_and_127_are_results_and_the_session_goes_on() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    assert_eq!(out(&mut sh, "(exit 255)").await, (String::new(), 255));
    assert_eq!(out(&mut sh, "sh -c 'exit 127'").await, (String::new(), 127));
    let (o, code) = out(&mut sh, "no-such-command-here").await;
    assert_eq!(code, 127);
    assert!(o.contains("not found"), "{o}");
    assert_eq!(out(&mut sh, "echo still here").await.0, "still here\n");
    sh.close().await;
}

/// What the kill relies on: sshd starts a terminal-less session's shell with `setsid()`, so
/// the shell leads its own session and process group, and the commands it runs stay in it.
#[tokio::test]
async fn the_remote_shell_leads_its_own_process_group() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    let (o, _) = out(
        &mut sh,
        "ps -o pid=,pgid=,sid= -p $$; sleep 5 & ps -o pid=,pgid=,sid= -p $!; kill $!",
    )
    .await;
    let rows: Vec<Vec<u32>> = o
        .lines()
        .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
        .collect();
    let (shell, child) = (&rows[0], &rows[1]);
    assert_eq!(shell[0], shell[1], "the shell's pgid is its pid: {o}");
    assert_eq!(shell[0], shell[2], "the shell's sid is its pid: {o}");
    assert_eq!(
        child[1], shell[0],
        "a command runs in the shell's group: {o}"
    );
    sh.close().await;
}

#[tokio::test]
async fn timeout_ends_the_remote_process_tree() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    let m = marker("timeout");
    let t = Instant::now();
    let err = sh
        .run(
            &format!("bash -c 'trap \"\" TERM; exec -a {m} sleep 30' & sleep 30"),
            Duration::from_millis(500),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ShellError::Timeout(_)), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(sh.is_dead());
    // The command ignored SIGTERM; SIGKILL after the grace ends it all the same.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pgrep(&m), "", "left behind on the host");
    sh.close().await;
}

/// A background job keeps the shell's channel open after the shell exits; closing must not
/// wait for it. (Like the local transport, a job the shell started in the background is left
/// running: `nohup ... &` in a runbook is meant to outlive it.)
#[tokio::test]
async fn close_is_bounded_while_a_background_job_holds_the_output() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    let m = marker("background");
    out(&mut sh, &format!("(exec -a {m} sleep 30) & echo started")).await;
    let t = Instant::now();
    sh.close().await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let _ = std::process::Command::new("pkill")
        .args(["-f", &m])
        .status();
}

#[tokio::test]
async fn exit_in_a_command_reports_its_status_and_ends_the_session() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    let ran = sh.run("echo bye; exit 3", T, &mut |_| {}).await.unwrap();
    assert_eq!((ran.output.as_slice(), ran.exit_code), (&b"bye\n"[..], 3));
    assert!(sh.is_dead());
    sh.close().await;
}

#[tokio::test]
async fn unknown_host_key_is_refused_and_known_hosts_left_alone() {
    let sshd = Sshd::start();
    std::fs::write(sshd.known_hosts(), "").unwrap();
    let err = connect(&sshd).await.err().expect("must not connect");
    let SshError::UnknownHostKey { ref add, .. } = err else {
        panic!("{err}");
    };
    assert_eq!(
        add,
        &format!(
            "ssh-keyscan -p {} 127.0.0.1 >> {}",
            sshd.port(),
            sshd.known_hosts().display()
        )
    );
    assert!(
        err.to_string().starts_with(&format!(
            "web1 ({}): host key is not known; verify it and add it: ssh-keyscan",
            sshd.destination()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(sshd.known_hosts()).unwrap(), "");
}

#[tokio::test]
async fn changed_host_key_is_refused() {
    let mut sshd = Sshd::start();
    let before = std::fs::read_to_string(sshd.known_hosts()).unwrap();
    sshd.regenerate_host_key();
    sshd.restart();
    let err = connect(&sshd).await.err().expect("must not connect");
    let SshError::ChangedHostKey { ref remove, .. } = err else {
        panic!("{err}");
    };
    assert!(remove.starts_with("ssh-keygen -f"), "{remove}");
    assert!(remove.contains(&sshd.known_hosts_name()), "{remove}");
    assert!(!err.to_string().contains('\n'));
    assert_eq!(std::fs::read_to_string(sshd.known_hosts()).unwrap(), before);
}

#[tokio::test]
async fn wrong_client_key_fails_authentication() {
    let sshd = Sshd::start();
    let other = sshd.dir().join("stranger_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(made.success());
    let config = std::fs::read_to_string(sshd.client_config())
        .unwrap()
        .replace(
            &sshd.client_key().display().to_string(),
            &other.display().to_string(),
        );
    let config_path = sshd.dir().join("stranger_config");
    std::fs::write(&config_path, config).unwrap();
    let s = SshSettings {
        config: Some(config_path),
        ..settings(&sshd)
    };
    let err = ssh::start("web1", &sshd.destination(), &s, &[], T)
        .await
        .err()
        .expect("must not log in");
    assert!(matches!(err, SshError::AuthFailed { .. }), "{err}");
    assert!(err.to_string().contains("Permission denied"), "{err}");
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let mut sshd = Sshd::start();
    sshd.stop();
    let t = Instant::now();
    let err = connect(&sshd).await.err().expect("nothing listens");
    assert!(matches!(err, SshError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(err.to_string().contains("[ssh] connect_timeout"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[tokio::test]
async fn missing_shell_is_its_own_error() {
    // The login shell (bash) starts, but finds no `sh` on its PATH.
    let sshd = Sshd::builder()
        .extra_config("SetEnv PATH=/nonexistent")
        .start();
    let err = connect(&sshd).await.err().expect("no shell to start");
    assert!(matches!(err, SshError::NoShell { .. }), "{err}");
}

#[tokio::test]
async fn sh_is_used_where_there_is_no_bash() {
    // A PATH with `sh` (dash) and nothing else: the login shell is bash by its full path,
    // but the session cannot find one.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/bin/dash", dir.path().join("sh")).unwrap();
    let sshd = Sshd::builder()
        .extra_config(&format!("SetEnv PATH={}", dir.path().display()))
        .start();
    let mut sh = connect(&sshd).await.unwrap();
    assert_eq!(
        out(
            &mut sh,
            "echo ${BASH_VERSION:-no bash}; cd /tmp; (exit 255)"
        )
        .await,
        ("no bash\n".into(), 255)
    );
    assert_eq!(out(&mut sh, "echo $PWD").await.0, "/tmp\n");
    sh.close().await;
}

#[tokio::test]
async fn killed_sshd_ends_the_running_command_promptly() {
    let mut sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    let t = Instant::now();
    let mut ignore = |_: &[u8]| {};
    let (ran, ()) = tokio::join!(sh.run("sleep 30", T, &mut ignore), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sshd.stop();
    });
    let err = ran.unwrap_err();
    assert!(matches!(err, ShellError::Closed(_)), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(err.to_string().contains("connection lost"), "{err}");
    sh.close().await;
}

/// What `reconnect=` relies on: after a reboot the old session is gone, and a new one starts.
#[tokio::test]
async fn restarted_sshd_takes_a_new_session() {
    let mut sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    out(&mut sh, "export BEFORE=1").await;
    sshd.restart();
    let err = sh.run("echo old", T, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, ShellError::Closed(_)), "{err}");
    sh.close().await;
    let mut sh = connect(&sshd).await.unwrap();
    assert_eq!(out(&mut sh, "echo ${BEFORE:-fresh}").await.0, "fresh\n");
    sh.close().await;
}

/// A cut network sends no error: only the keep-alives notice it, within three intervals.
#[tokio::test]
async fn cut_network_is_noticed_within_three_keepalives() {
    let host = NetnsHost::start();
    // A user's config asking for more keep-alives does not stretch the bound.
    let config = host.sshd.dir().join("patient_config");
    let text = std::fs::read_to_string(host.sshd.client_config()).unwrap();
    std::fs::write(&config, format!("{text}  ServerAliveCountMax 30\n")).unwrap();
    let s = SshSettings {
        config: Some(config),
        connect_timeout: Duration::from_secs(1),
        keepalive: Duration::from_secs(1),
    };
    let mut sh = ssh::start("db1", &host.sshd.destination(), &s, &[], T)
        .await
        .unwrap();
    assert_eq!(out(&mut sh, "echo up").await.0, "up\n");
    let t = Instant::now();
    let mut ignore = |_: &[u8]| {};
    let (ran, ()) = tokio::join!(sh.run("sleep 30", T * 3, &mut ignore), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        host.link_down();
    });
    let err = ran.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(err, ShellError::Closed(_)), "{err}");
    // 3 × 1 s of keep-alives, plus up to one interval before the first, plus slack.
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert!(err.to_string().contains("not responding"), "{err}");
    sh.close().await;

    // While it is down, a new session is refused at once ("No route to host")...
    let t = Instant::now();
    let err = ssh::start("db1", &host.sshd.destination(), &s, &[], T)
        .await
        .err()
        .expect("the network is down");
    assert!(matches!(err, SshError::Unreachable { .. }), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // ... and an address that never answers is given up after the connect timeout.
    let t = Instant::now();
    let err = ssh::start("db2", &host.silent_destination(), &s, &[], T)
        .await
        .err()
        .expect("nothing answers there");
    assert!(matches!(err, SshError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );

    host.link_up();
    let mut sh = ssh::start("db1", &host.sshd.destination(), &s, &[], T)
        .await
        .unwrap();
    assert_eq!(out(&mut sh, "echo back").await.0, "back\n");
    sh.close().await;
}

/// The site cancels a run by dropping it: the remote command must not keep running.
#[tokio::test]
async fn a_dropped_session_leaves_nothing_running_on_the_host() {
    let sshd = Sshd::start();
    let mut sh = connect(&sshd).await.unwrap();
    let m = marker("dropped");
    let cmd = format!("exec -a {m} sleep 30");
    let cancelled =
        tokio::time::timeout(Duration::from_millis(700), sh.run(&cmd, T, &mut |_| {})).await;
    assert!(cancelled.is_err(), "the command must still be running");
    assert!(!pgrep(&m).is_empty(), "the command runs before the drop");
    drop(sh);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !pgrep(&m).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pgrep(&m), "", "left running after the session was dropped");
}

//! SSH contract tests: the built `runbook` binary against real OpenSSH servers (loopback, and
//! network namespaces for a cut network), checking what SPEC.md fixes for remote hosts — exit
//! status, one console line a step and host, one JSON entry a step and host, and each fault as
//! one line naming the host and the fix. Runs as root (sshd and `ip netns` need it).
//!
//! Every "host" is this machine behind its own sshd, so a file the test or a step writes is
//! seen by both: steps leave timestamps and markers in the project folder.

#[path = "../support/sshd.rs"]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Project, Run};
use sshd::{NetnsHost, Sshd};

/// The ssh side of a test project: a client key of its own, an `ssh_config` and a
/// `known_hosts` in the project folder, and the `runbook.toml` naming the hosts.
struct Lab {
    project: Project,
    hosts: Vec<(String, String)>,
    groups: String,
    connect_timeout: &'static str,
    keepalive: &'static str,
}

impl Lab {
    fn new() -> Lab {
        let project = Project::new();
        let d = project.path();
        let out = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "runbook-cli-test",
                "-f",
            ])
            .arg(d.join("id"))
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "{out:?}");
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {d}/id\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  UpdateHostKeys no\n  BatchMode yes\n",
                d = d.display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("known_hosts"), "").unwrap();
        Lab {
            project,
            hosts: Vec::new(),
            groups: String::new(),
            connect_timeout: "5s",
            keepalive: "1s",
        }
    }

    fn path(&self) -> &Path {
        self.project.path()
    }

    /// Our key in the server's `authorized_keys`.
    fn authorize(&self, sshd: &Sshd) {
        let key = std::fs::read_to_string(self.path().join("id.pub")).unwrap();
        let mut keys = std::fs::read_to_string(sshd.dir().join("authorized_keys")).unwrap();
        keys.push_str(&key);
        std::fs::write(sshd.dir().join("authorized_keys"), keys).unwrap();
    }

    /// The server's host key in our `known_hosts`.
    fn trust(&self, sshd: &Sshd) {
        let mut known = std::fs::read_to_string(self.path().join("known_hosts")).unwrap();
        known.push_str(&format!(
            "{} {}\n",
            sshd.known_hosts_name(),
            sshd.host_public_key()
        ));
        std::fs::write(self.path().join("known_hosts"), known).unwrap();
    }

    /// A host `name` on this server, which knows our key and whose key we know.
    fn host(mut self, name: &str, sshd: &Sshd) -> Lab {
        self.authorize(sshd);
        self.trust(sshd);
        self.hosts.push((name.into(), sshd.destination()));
        self
    }

    /// A host at any destination, set up by the caller.
    fn raw_host(mut self, name: &str, destination: String) -> Lab {
        self.hosts.push((name.into(), destination));
        self
    }

    fn group(mut self, name: &str, members: &[&str]) -> Lab {
        self.groups
            .push_str(&format!("{name} = {}\n", toml_list(members)));
        self
    }

    fn file(mut self, rel: &str, text: &str) -> Lab {
        self.project = self.project.file(rel, text);
        self
    }

    /// Writes `runbook.toml`; the project is ready to run.
    fn build(self) -> Project {
        let mut toml = format!(
            "[ssh]\nconfig = \"ssh_config\"\nconnect_timeout = \"{}\"\nkeepalive = \"{}\"\n",
            self.connect_timeout, self.keepalive
        );
        for (name, dest) in &self.hosts {
            toml.push_str(&format!("[hosts.{name}]\nssh = \"{dest}\"\n"));
        }
        toml.push_str(&format!("[groups]\n{}", self.groups));
        self.project.file("runbook.toml", &toml)
    }
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A console fence (three backticks are awkward inside `format!`).
const F: &str = "```";

fn report(p: &Project) -> Value {
    serde_json::from_str(&p.read("report.json")).expect("JSON report")
}

/// Every step entry of the report, across runbooks.
fn entries(report: &Value) -> Vec<Value> {
    report["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["steps"].as_array().unwrap().clone())
        .collect()
}

/// The one entry for this step and host.
#[track_caller]
fn entry(report: &Value, id: &str, host: &str) -> Value {
    let found: Vec<Value> = entries(report)
        .into_iter()
        .filter(|s| s["id"] == id && s["host"] == host)
        .collect();
    assert_eq!(found.len(), 1, "one entry for {id}@{host} in {report:#}");
    found.into_iter().next().unwrap()
}

#[track_caller]
fn status(report: &Value, id: &str, host: &str) -> String {
    entry(report, id, host)["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The console line of a step on a host: `STATUS ID  HOST  DURATION`.
#[track_caller]
fn console_line(run: &Run, word: &str, id: &str, host: &str) {
    let found = run.stdout().lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() >= 4 && w[0] == word && w[1] == id && w[2] == host
    });
    assert!(
        found,
        "no `{word} {id} {host}` line\n--- stdout\n{}",
        run.stdout()
    );
}

/// The line printed right after a step's console line (its message, when it failed).
#[track_caller]
fn line_after(run: &Run, word: &str, id: &str, host: &str) -> String {
    let out = run.stdout();
    let mut lines = out.lines().skip_while(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        !(w.len() >= 4 && w[0] == word && w[1] == id && w[2] == host)
    });
    assert!(
        lines.next().is_some(),
        "no `{word} {id} {host}` line\n{out}"
    );
    lines.next().unwrap_or_default().to_string()
}

fn pgrep(marker: &str) -> String {
    let o = Command::new("pgrep")
        .args(["-af", marker])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A thread that runs an action each time a file appears (removing the file first); stopped
/// and joined on drop, so whatever the action holds (a server, a namespace) is gone with it.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn when_file_appears(file: PathBuf, mut then: impl FnMut() + Send + 'static) -> Watcher {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            if file.exists() {
                let _ = std::fs::remove_file(&file);
                then();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    Watcher {
        stop,
        thread: Some(thread),
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `(host, nanoseconds)` from lines `HOST EVENT NANOS` that a step appended to a log.
fn events(log: &str, event: &str) -> Vec<(String, u128)> {
    log.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 3 && w[1] == event).then(|| (w[0].to_string(), w[2].parse().unwrap()))
        })
        .collect()
}

/// Whether every host's [start, end] interval is disjoint from every other's.
fn one_at_a_time(log: &str) -> bool {
    let starts = events(log, "start");
    let ends = events(log, "end");
    let span = |h: &str| {
        let s = starts.iter().find(|(n, _)| n == h).unwrap().1;
        let e = ends.iter().find(|(n, _)| n == h).unwrap().1;
        (s, e)
    };
    let hosts: Vec<&String> = starts.iter().map(|(h, _)| h).collect();
    hosts.iter().all(|a| {
        hosts.iter().filter(|b| a != *b).all(|b| {
            let (s1, e1) = span(a);
            let (s2, e2) = span(b);
            e1 <= s2 || e2 <= s1
        })
    })
}

/// A `sh` step that logs `HOST start`/`HOST end` with nanosecond times around a short sleep.
fn timed_step(attrs: &str, log: &Path) -> String {
    format!(
        "{F}sh {{{attrs}}}\necho \"$RUNBOOK_HOST start $(date +%s%N)\" >> {log}\nsleep 0.4\necho \"$RUNBOOK_HOST end $(date +%s%N)\" >> {log}\n{F}\n\n",
        log = log.display()
    )
}

#[test]
fn multi_host_runbook_fans_out_by_group_list_all_and_serial() {
    let (a, b, c) = (Sshd::start(), Sshd::start(), Sshd::start());
    let lab = Lab::new();
    let dir = lab.path().to_path_buf();
    let parallel_log = dir.join("parallel.log");
    let serial_log = dir.join("serial.log");
    let mut md = String::from("---\ntitle: Fan-out\nhosts: [h1, h2, h3]\n---\n\n");
    md.push_str(&format!(
        "{F}sh {{#web on=@web}}\necho \"web $RUNBOOK_HOST\"\n{F}\n\n"
    ));
    md.push_str(&format!(
        "{F}sh {{#pair on=h1,h3}}\necho \"pair $RUNBOOK_HOST\"\n{F}\n\n"
    ));
    md.push_str(&format!(
        "{F}sh {{#everyone on=all}}\necho \"all $RUNBOOK_HOST\"\n{F}\n\n"
    ));
    md.push_str(&timed_step("#together on=all", &parallel_log));
    md.push_str(&timed_step("#in-turn on=all serial", &serial_log));
    let p = lab
        .host("h1", &a)
        .host("h2", &b)
        .host("h3", &c)
        .group("web", &["h1", "h2"])
        .file("runbooks/fan.md", &md)
        .build();

    let run = p.run(&["run", "--report", "json=report.json"]);
    run.expect_code(0);
    let r = report(&p);
    let want: &[(&str, &[&str])] = &[
        ("web", &["h1", "h2"]),
        ("pair", &["h1", "h3"]),
        ("everyone", &["h1", "h2", "h3"]),
        ("together", &["h1", "h2", "h3"]),
        ("in-turn", &["h1", "h2", "h3"]),
    ];
    assert_eq!(
        entries(&r).len(),
        want.iter().map(|(_, h)| h.len()).sum::<usize>(),
        "one entry per step and host, no more: {r:#}"
    );
    for (id, hosts) in want {
        for h in *hosts {
            assert_eq!(status(&r, id, h), "passed", "{id}@{h}");
            console_line(&run, "passed", id, h);
        }
    }
    // Each host ran with its own inventory name.
    for h in ["h1", "h2", "h3"] {
        assert_eq!(entry(&r, "everyone", h)["actual"], format!("all {h}"));
    }
    // Parallel: every host had started before any had finished.
    let log = std::fs::read_to_string(&parallel_log).unwrap();
    let last_start = events(&log, "start").iter().map(|e| e.1).max().unwrap();
    let first_end = events(&log, "end").iter().map(|e| e.1).min().unwrap();
    assert!(last_start < first_end, "not parallel:\n{log}");
    // Serial: one host after another, in the order of `hosts:`.
    let log = std::fs::read_to_string(&serial_log).unwrap();
    assert!(one_at_a_time(&log), "not one at a time:\n{log}");
    let order: Vec<String> = events(&log, "start").into_iter().map(|e| e.0).collect();
    assert_eq!(order, ["h1", "h2", "h3"], "{log}");

    // --jobs 1: even a parallel step runs on one host at a time.
    std::fs::remove_file(&parallel_log).unwrap();
    p.run(&["run", "--jobs", "1", "--only", "together"])
        .expect_code(0);
    let log = std::fs::read_to_string(&parallel_log).unwrap();
    assert_eq!(events(&log, "end").len(), 3, "{log}");
    assert!(one_at_a_time(&log), "--jobs 1 ran hosts at once:\n{log}");
}

#[test]
fn state_persists_remotely_and_a_drift_on_one_host_names_that_host() {
    let (a, b, c) = (Sshd::start(), Sshd::start(), Sshd::start());
    let md = format!(
        "---\ntitle: State\nhosts: [h1, h2, h3]\n---\n\n\
         {F}console {{#login on=all}}\n$ test \"$(pwd)\" = \"$HOME\" && echo home\nhome\n{F}\n\n\
         {F}sh {{#go-to-tmp on=all}}\ncd /tmp\nexport RB_ANSWER=42\n{F}\n\n\
         {F}console {{#still-there on=all}}\n$ pwd\n/tmp\n$ echo \"answer=$RB_ANSWER\"\nanswer=42\n{F}\n\n\
         {F}console {{#same-everywhere on=all}}\n$ test \"$RUNBOOK_HOST\" = h2 && echo drifted || echo same\nsame\n{F}\n\n\
         {F}console {{#never on=all}}\n$ echo never\nnever\n{F}\n"
    );
    let p = Lab::new()
        .host("h1", &a)
        .host("h2", &b)
        .host("h3", &c)
        .file("runbooks/state.md", &md)
        .build();
    let run = p.run(&["run", "--report", "json=report.json"]);
    run.expect_code(1);
    let r = report(&p);
    for h in ["h1", "h2", "h3"] {
        for id in ["login", "go-to-tmp", "still-there"] {
            assert_eq!(status(&r, id, h), "passed", "{id}@{h}");
            console_line(&run, "passed", id, h);
        }
        // The failed step stops the runbook on every host.
        assert_eq!(status(&r, "never", h), "skipped");
    }
    assert_eq!(status(&r, "same-everywhere", "h2"), "failed");
    console_line(&run, "FAILED", "same-everywhere", "h2");
    for h in ["h1", "h3"] {
        assert_eq!(status(&r, "same-everywhere", h), "passed");
        console_line(&run, "passed", "same-everywhere", h);
    }
    let drift = entry(&r, "same-everywhere", "h2");
    assert!(
        drift["diff"].as_str().unwrap().contains("-same\n+drifted"),
        "{drift:#}"
    );
    // The terminal shows the diff right under the host's line, headed by the expected block.
    let out = run.stdout();
    let at = out.find("FAILED  same-everywhere  h2").unwrap();
    let below = &out[at..];
    assert!(below.contains("runbooks/state.md:"), "{out}");
    assert!(
        below.contains("-same") && below.contains("+drifted"),
        "{out}"
    );
    assert_eq!(r["summary"]["failed"], 1, "{r:#}");
}

#[test]
fn file_blocks_on_a_remote_host_replace_atomically_append_and_diff_idempotently() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let a = Sshd::start();
    let lab = Lab::new();
    let files = lab.path().join("etc");
    std::fs::create_dir(&files).unwrap();
    let conf = files.join("app.conf");
    std::fs::write(&conf, "old = 1\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&conf, Some(65534), Some(65534)).unwrap();
    let inode_before = std::fs::metadata(&conf).unwrap().ino();
    let secret = files.join("secret");
    let hosts = files.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let ntp = files.join("ntp.conf");
    let ntp_before = "driftfile /var/lib/ntp/drift\nserver 0.centos.pool.ntp.org iburst\nserver 1.centos.pool.ntp.org iburst\n";
    std::fs::write(&ntp, ntp_before).unwrap();
    let other = files.join("other.conf");
    std::fs::write(&other, "nothing like it\n").unwrap();

    let md = format!(
        "---\ntitle: Files\ndefault_host: h1\nhosts: [h1]\n---\n\n\
         {F}ini {{#conf file={conf}}}\nnew = 2\n{F}\n\n\
         {F}text {{#secret file={secret} perm=0600}}\ntoken\n{F}\n\n\
         {F}text {{#hosts file={hosts} mode=append}}\n10.0.0.11 controller\n10.0.0.12 controller2\n{F}\n\n\
         {F}diff {{#ntp file={ntp}}}\n--- a/ntp.conf\n+++ b/ntp.conf\n@@ -1,3 +1,3 @@\n driftfile /var/lib/ntp/drift\n-server 0.centos.pool.ntp.org iburst\n+server controller iburst\n server 1.centos.pool.ntp.org iburst\n{F}\n",
        conf = conf.display(),
        secret = secret.display(),
        hosts = hosts.display(),
        ntp = ntp.display(),
    );
    let bad = format!(
        "---\ntitle: Bad diff\ndefault_host: h1\nhosts: [h1]\n---\n\n\
         {F}diff {{#misfit file={other}}}\n@@ -1,2 +1,2 @@\n keep me\n-server 0.centos.pool.ntp.org iburst\n+server controller iburst\n{F}\n",
        other = other.display(),
    );
    let p = lab
        .host("h1", &a)
        .file("runbooks/files.md", &md)
        .file("runbooks/bad-diff.md", &bad)
        .build();

    let run = p.run(&["run", "runbooks/files.md", "--report", "json=report.json"]);
    run.expect_code(0);
    for id in ["conf", "secret", "hosts", "ntp"] {
        console_line(&run, "passed", id, "h1");
    }
    // Replace: new content in a new inode (written beside, renamed over), mode and owner kept.
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "new = 2\n");
    let m = std::fs::metadata(&conf).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
    assert_ne!(m.ino(), inode_before, "not replaced by a rename");
    let m = std::fs::metadata(&secret).unwrap();
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "token\n");
    assert_eq!(m.mode() & 0o7777, 0o600);
    let appended = "127.0.0.1 localhost\n10.0.0.11 controller\n10.0.0.12 controller2\n";
    assert_eq!(std::fs::read_to_string(&hosts).unwrap(), appended);
    let patched = "driftfile /var/lib/ntp/drift\nserver controller iburst\nserver 1.centos.pool.ntp.org iburst\n";
    assert_eq!(std::fs::read_to_string(&ntp).unwrap(), patched);
    // Nothing left beside the files.
    let mut left: Vec<String> = std::fs::read_dir(&files)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["app.conf", "hosts", "ntp.conf", "other.conf", "secret"]
    );

    // Again: everything is already as written; nothing changes.
    let inode = std::fs::metadata(&conf).unwrap().ino();
    let run = p.run(&["run", "runbooks/files.md", "--report", "json=report.json"]);
    run.expect_code(0);
    let r = report(&p);
    for id in ["conf", "secret", "hosts", "ntp"] {
        assert_eq!(status(&r, id, "h1"), "passed");
        let actual = entry(&r, id, "h1")["actual"].as_str().unwrap().to_string();
        assert!(actual.contains("unchanged"), "{id}: {actual}");
    }
    assert_eq!(std::fs::read_to_string(&hosts).unwrap(), appended);
    assert_eq!(std::fs::read_to_string(&ntp).unwrap(), patched);
    assert_eq!(std::fs::metadata(&conf).unwrap().ino(), inode);

    // A diff that fits neither way: drift, with the hunk that does not fit; file untouched.
    let run = p.run(&[
        "run",
        "runbooks/bad-diff.md",
        "--report",
        "json=report.json",
    ]);
    run.expect_code(1);
    console_line(&run, "FAILED", "misfit", "h1");
    run.expect_stdout_contains("-server 0.centos.pool.ntp.org iburst")
        .expect_stdout_contains("+server controller iburst");
    let r = report(&p);
    assert!(entry(&r, "misfit", "h1")["diff"]
        .as_str()
        .unwrap()
        .contains(" keep me"));
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "nothing like it\n"
    );
}

#[test]
fn statuses_255_and_127_pass_when_expected_and_the_session_goes_on() {
    let a = Sshd::start();
    let md = format!(
        "---\ntitle: Statuses\ndefault_host: h1\nhosts: [h1]\n---\n\n\
         {F}sh {{#status-255 exit=255}}\nexport RB_KEPT=yes\nbash -c 'exit 255'\n{F}\n\n\
         {F}sh {{#status-127 exit=127}}\nno-such-command-rbtest\n{F}\n\n\
         {F}console {{#after}}\n$ echo \"kept=$RB_KEPT\"\nkept=yes\n{F}\n"
    );
    let p = Lab::new()
        .host("h1", &a)
        .file("runbooks/statuses.md", &md)
        .build();
    let run = p.run(&["run", "--report", "json=report.json"]);
    run.expect_code(0);
    let r = report(&p);
    for (id, code) in [("status-255", 255), ("status-127", 127), ("after", 0)] {
        console_line(&run, "passed", id, "h1");
        assert_eq!(entry(&r, id, "h1")["exit_code"], code, "{id}");
    }
}

#[test]
fn remote_timeout_ends_the_command_on_the_host_and_a_later_step_gets_a_new_session() {
    let a = Sshd::start();
    // A command that ignores SIGTERM (and so does its child: ignored signals are inherited),
    // whose processes, `sh` and `sleep`, both carry a unique mark for `pgrep -f`.
    let mark = format!("30.{:09}", rand::random::<u32>() % 1_000_000_000);
    let md = format!(
        "---\ntitle: Timeout\ndefault_host: h1\nhosts: [h1]\n---\n\n\
         {F}sh {{#set}}\nexport RB_OLD=1\n{F}\n\n\
         {F}sh {{#slow timeout=1s}}\nsh -c 'trap \"\" TERM; sleep {mark}; echo done'\n{F}\n\n\
         {F}console {{#after}}\n$ echo \"${{RB_OLD:-new session}}\"\nnew session\n{F}\n"
    );
    let p = Lab::new()
        .host("h1", &a)
        .file("runbooks/timeout.md", &md)
        .build();
    let started = Instant::now();
    let run = p.run(&["run", "--report", "json=report.json"]);
    run.expect_code(3);
    assert!(started.elapsed() < Duration::from_secs(10));
    console_line(&run, "ERROR", "slow", "h1");
    let msg = entry(&report(&p), "slow", "h1")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("h1") && msg.contains("timed out after 1s"),
        "{msg}"
    );
    assert_eq!(status(&report(&p), "after", "h1"), "skipped");
    assert_eq!(pgrep(&mark), "", "the timed-out command is still running");

    let run = p.run(&["run", "--keep-going", "--report", "json=report.json"]);
    run.expect_code(3);
    console_line(&run, "ERROR", "slow", "h1");
    console_line(&run, "passed", "after", "h1");
    assert_eq!(pgrep(&mark), "", "the timed-out command is still running");
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The report's message for a step on a host, checked to be one line naming the host.
#[track_caller]
fn one_line_message(r: &Value, id: &str, host: &str) -> String {
    let e = entry(r, id, host);
    assert_eq!(e["status"], "error", "{e:#}");
    let msg = e["message"].as_str().unwrap_or_default().to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    let named = msg
        .strip_prefix(host)
        .is_some_and(|rest| rest.starts_with(": ") || rest.starts_with(" ("));
    assert!(named, "does not start with the host's name: {msg}");
    msg
}

#[test]
fn connection_faults_are_errors_that_name_the_host_and_the_fix() {
    let good = Sshd::start();
    let wrong_key = Sshd::start();
    let unknown = Sshd::start();
    let mut changed = Sshd::start();
    let silent = NetnsHost::start();
    let no_shell = Sshd::builder()
        .extra_config("SetEnv PATH=/nonexistent")
        .start();
    let lab = Lab::new();
    lab.trust(&wrong_key); // known host, but our key is not authorised there
    lab.authorize(&unknown); // our key is authorised, but its host key is not known
    let mut lab = lab
        .host("good", &good)
        .host("changed", &changed)
        .host("noshell", &no_shell)
        .raw_host("down", format!("ssh://root@127.0.0.1:{}", closed_port()))
        .raw_host("silent", silent.silent_destination())
        .raw_host("wrongkey", wrong_key.destination())
        .raw_host("unknown", unknown.destination());
    lab.connect_timeout = "2s";
    changed.regenerate_host_key();
    changed.restart();
    let md = format!(
        "---\ntitle: Faults\nhosts: [good, down, silent, wrongkey, unknown, changed, noshell]\n---\n\n\
         {F}console {{#hello on=all}}\n$ echo hello\nhello\n{F}\n\n\
         {F}console {{#again on=all}}\n$ echo again\nagain\n{F}\n"
    );
    let p = lab.file("runbooks/faults.md", &md).build();
    let known_before = p.read("known_hosts");

    let started = Instant::now();
    let run = p.run(&["run", "--keep-going", "--report", "json=report.json"]);
    let took = started.elapsed();
    run.expect_code(3);
    // Each unreachable host costs one connect timeout, all at once.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let r = report(&p);
    // The healthy host's results are kept.
    for id in ["hello", "again"] {
        assert_eq!(status(&r, id, "good"), "passed");
        console_line(&run, "passed", id, "good");
    }
    let checks: &[(&str, &[&str])] = &[
        (
            "down",
            &["host unreachable", "Connection refused", "connect_timeout"],
        ),
        ("silent", &["host unreachable", "connect_timeout"]),
        ("wrongkey", &["authentication failed", "authorized_keys"]),
        (
            "unknown",
            &["host key is not known", "ssh-keyscan", "known_hosts"],
        ),
        ("changed", &["host key has CHANGED", "ssh-keygen -f", "-R"]),
        ("noshell", &["neither bash nor sh", "install bash"]),
    ];
    for (host, needles) in checks {
        console_line(&run, "ERROR", "hello", host);
        let msg = one_line_message(&r, "hello", host);
        for n in *needles {
            assert!(msg.contains(n), "{host}: {msg:?} lacks {n:?}");
        }
        // The terminal shows the same line right under the host's.
        let line = line_after(&run, "ERROR", "hello", host);
        assert!(
            line.starts_with("  ") && line.ends_with(&format!(": {msg}")),
            "{line}"
        );
        // A host that could not be reached stays an error for the rest of the run.
        assert_eq!(status(&r, "again", host), "error");
    }
    // Never a silent accept: known_hosts is as it was.
    assert_eq!(p.read("known_hosts"), known_before);

    // The same with nothing known at all, the host alone in its run.
    let lab = Lab::new();
    lab.authorize(&unknown);
    let p = lab
        .raw_host("unknown", unknown.destination())
        .file(
            "runbooks/faults.md",
            &md.replace(
                "hosts: [good, down, silent, wrongkey, unknown, changed, noshell]",
                "hosts: [unknown]",
            ),
        )
        .build();
    let run = p.run(&["run", "--report", "json=report.json"]);
    run.expect_code(3);
    let msg = one_line_message(&report(&p), "hello", "unknown");
    assert!(msg.contains("host key is not known"), "{msg}");
    assert_eq!(p.read("known_hosts"), "", "known_hosts was written to");
}

#[test]
fn connection_lost_mid_step_is_an_error_for_that_host_only() {
    let good = Sshd::start();
    let killed = Arc::new(Mutex::new(Sshd::start()));
    let cut = Arc::new(NetnsHost::start());
    let lab = Lab::new();
    let dir = lab.path().to_path_buf();
    let lab = lab
        .host("good", &good)
        .host("killed", &killed.lock().unwrap())
        .host("cut", &cut.sshd);
    let md = format!(
        "---\ntitle: Lost\nhosts: [good, killed, cut]\n---\n\n\
         {F}sh {{#wait on=all}}\ncase $RUNBOOK_HOST in\n  good) sleep 1; echo fine ;;\n  *) touch {dir}/go-$RUNBOOK_HOST; sleep 30 ;;\nesac\n{F}\n",
        dir = dir.display()
    );
    let p = lab.file("runbooks/lost.md", &md).build();
    let victim = killed.clone();
    let killer = when_file_appears(dir.join("go-killed"), move || victim.lock().unwrap().stop());
    let cut_at = Arc::new(Mutex::new(None::<Instant>));
    let (net, at) = (cut.clone(), cut_at.clone());
    let cutter = when_file_appears(dir.join("go-cut"), move || {
        net.link_down();
        *at.lock().unwrap() = Some(Instant::now());
    });

    let run = p.run(&["run", "--report", "json=report.json"]);
    let ended = Instant::now();
    drop((killer, cutter));
    run.expect_code(3);
    let cut_at = cut_at.lock().unwrap().expect("the network was cut");
    let noticed = ended - cut_at;
    // keepalive = 1s: three unanswered keep-alives, plus closing up.
    assert!(
        noticed < Duration::from_secs(6),
        "a cut network took {noticed:?} to notice"
    );
    let r = report(&p);
    assert_eq!(status(&r, "wait", "good"), "passed");
    console_line(&run, "passed", "wait", "good");
    for host in ["killed", "cut"] {
        console_line(&run, "ERROR", "wait", host);
        let msg = one_line_message(&r, "wait", host);
        assert!(msg.contains("connection lost"), "{host}: {msg}");
        assert!(msg.contains("check that the host is up"), "{host}: {msg}");
    }
    let msg = one_line_message(&r, "wait", "cut");
    assert!(
        msg.contains("not responding"),
        "the cut is not named: {msg}"
    );
}

#[test]
fn reconnect_waits_for_a_rebooted_host_and_starts_its_session_anew() {
    let host = Arc::new(Mutex::new(Sshd::start()));
    let lab = Lab::new();
    let dir = lab.path().to_path_buf();
    let lab = lab.host("h1", &host.lock().unwrap());
    let reboot = |attrs: &str| {
        format!(
            "---\ntitle: Reboot\ndefault_host: h1\nhosts: [h1]\n---\n\n\
             {F}sh {{#before}}\nexport RB_BEFORE=set\n{F}\n\n\
             {F}sh {{#reboot {attrs}}}\ntouch {dir}/reboot-now\nsleep 30\n{F}\n\n\
             {F}console {{#after}}\n$ echo \"before=${{RB_BEFORE:-gone}}\"\nbefore=gone\n{F}\n\n\
             {F}sh {{#again}}\nexport RB_BEFORE=set\n{F}\n\n\
             {F}sh {{#reboot-returns {attrs}}}\n(sleep 0.3; touch {dir}/reboot-now) >/dev/null 2>&1 &\necho going down\n{F}\n\n\
             {F}console {{#after-again}}\n$ echo \"before=${{RB_BEFORE:-gone}}\"\nbefore=gone\n{F}\n",
            dir = dir.display()
        )
    };
    let p = lab
        .file("runbooks/with.md", &reboot("reconnect=30s"))
        .file("runbooks/without.md", &reboot(""))
        .build();
    let server = host.clone();
    let rebooter = when_file_appears(dir.join("reboot-now"), move || {
        let mut s = server.lock().unwrap();
        s.stop();
        std::thread::sleep(Duration::from_millis(300));
        s.restart();
    });

    let started = Instant::now();
    let run = p.run(&["run", "runbooks/with.md", "--report", "json=report.json"]);
    run.expect_code(0);
    assert!(started.elapsed() < Duration::from_secs(15));
    // Whether the command is cut off by the drop (`reboot` in a script) or returns before it
    // (`systemctl reboot`), the step passes and the next one runs in a fresh session.
    for id in [
        "before",
        "reboot",
        "after",
        "again",
        "reboot-returns",
        "after-again",
    ] {
        console_line(&run, "passed", id, "h1");
    }

    let run = p.run(&["run", "runbooks/without.md", "--report", "json=report.json"]);
    drop(rebooter);
    run.expect_code(3);
    console_line(&run, "ERROR", "reboot", "h1");
    let r = report(&p);
    let msg = one_line_message(&r, "reboot", "h1");
    assert!(msg.contains("connection lost"), "{msg}");
    assert_eq!(status(&r, "after", "h1"), "skipped");
}

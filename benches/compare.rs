//! `cargo bench --bench compare`: runbook against its peers and against the physical limit,
//! on the same work, in the same run (issue 10).
//!
//! What it does, in order:
//! 1. prints the machine (nproc, CPU model, kernel) and the tool versions;
//! 2. installs the peers it needs, once, under the target folder: cram, prysk and ansible-core
//!    into a Python virtual environment (`bench-venv`), scrut with `cargo install`
//!    (`bench-tools`; takes ~5 min the first time; `BENCH_NO_SCRUT=1` skips it);
//! 3. for each workload, writes the inputs each tool needs (same commands, same expected
//!    output), checks once that every tool passes it, and once that every tool fails a copy
//!    with one wrong expected line (a tool that does not is reported as failing, not timed);
//! 4. times every tool, whole process, wall clock, over `BENCH_ROUNDS` rounds (default 7;
//!    the remote workload `BENCH_REMOTE_ROUNDS`, default 3: Ansible takes 1–2 min a run), the
//!    tools in turn within each round (A B C A B C ...), and prints medians and ratios to the
//!    limit as a Markdown table, with the goals of issue 10 marked met or not met.
//!    `BENCH_ONLY=echo,seq,state,remote,lint,site` runs some of the workloads.
//! 5. `site`: starts `runbook serve runbooks --addr 127.0.0.1:PORT` (a free port) from the
//!    repository root, trades the printed token for the cookie, and over hand-written
//!    HTTP/1.1 on loopback measures: the tutorial page (`/zh-CN/openstack-ha/02-hosts-and-ntp.html`,
//!    checked for 200 and its title, then 200 sequential GETs on one keep-alive connection,
//!    request sent to last byte; goal median ≤ 5 ms); 200 concurrent GETs of it, one
//!    connection each (goal: no errors); and, on a temp project whose one step prints
//!    `date +%s%N` ten times 0.1 s apart, the time from each line's stamp to its arrival on
//!    `GET /api/events` after `POST /api/run` (goal ≤ 50 ms). The server's peak RSS is its
//!    VmHWM. Every `runbook serve` is killed (its process group) at the end and on a failure.
//!
//! The loopback sshd servers set `SHLVL=1` for their sessions, so bash does not source root's
//! `~/.bashrc` for each non-interactive ssh command (on the project's machines it runs
//! `pyenv init`, about 1 s each, which would swamp every remote figure, Ansible's most).
//!
//! The limit is this same program run as `compare --limit FILE` (local) or
//! `compare --limit-ssh CONFIG FILE HOST...`: it reads the steps (cram-like `  $ command`
//! lines, expected output under them, `...` alone on a line for any lines), drives one bare
//! persistent `bash` per host over pipes, ends each command with a sentinel line carrying
//! `$?`, checks the output, and does nothing else. On several hosts each step runs on all of
//! them at once and the next starts when all have finished, as in runbook.
//!
//! Every sshd the harness starts is stopped at the end, on a panic, and on SIGINT/SIGTERM/SIGHUP.

#[path = "../tests/support/sshd.rs"]
mod sshd;

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use sshd::Sshd;

const RUNBOOK: &str = env!("CARGO_BIN_EXE_runbook");
const SENTINEL: &str = "__LIMIT_SENTINEL__";
/// A timed run that takes longer than this is killed (and the tool reported as failing).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// The limit.

struct Step {
    command: String,
    expected: Vec<String>,
}

fn parse_steps(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("  $ ") {
            steps.push(Step {
                command: cmd.to_string(),
                expected: Vec::new(),
            });
        } else if let (Some(exp), Some(step)) = (line.strip_prefix("  "), steps.last_mut()) {
            step.expected.push(exp.to_string());
        }
    }
    steps
}

/// `expected` against the output's lines; `...` alone on a line matches any lines.
fn lines_match(expected: &[String], output: &[u8]) -> bool {
    let text = String::from_utf8_lossy(output);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let actual: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').collect()
    };
    let segments: Vec<&[String]> = expected.split(|l| l == "...").collect();
    if segments.len() == 1 {
        return actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| a == e);
    }
    let eq = |a: &[&str], e: &[String]| a.len() == e.len() && a.iter().zip(e).all(|(a, e)| a == e);
    let (first, last) = (segments[0], segments[segments.len() - 1]);
    if actual.len() < first.len() + last.len() || !eq(&actual[..first.len()], first) {
        return false;
    }
    let end = actual.len() - last.len();
    if !eq(&actual[end..], last) {
        return false;
    }
    let mut at = first.len();
    for seg in &segments[1..segments.len() - 1] {
        match (at..=end.saturating_sub(seg.len())).find(|&i| eq(&actual[i..i + seg.len()], seg)) {
            Some(i) => at = i + seg.len(),
            None => return false,
        }
    }
    true
}

struct BareShell {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl BareShell {
    fn start(mut cmd: Command) -> BareShell {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the shell");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"exec 2>&1\n").unwrap();
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().unwrap());
        BareShell {
            child,
            stdin,
            stdout,
        }
    }

    /// Runs one command; true when its status is 0 and its output is as expected.
    fn step(&mut self, step: &Step) -> bool {
        let script = format!("{}\nprintf '\\n{SENTINEL} %d\\n' \"$?\"\n", step.command);
        self.stdin.write_all(script.as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut line = Vec::new();
        let status = loop {
            line.clear();
            if self.stdout.read_until(b'\n', &mut line).unwrap() == 0 {
                return false;
            }
            if let Some(rest) = line.strip_prefix(SENTINEL.as_bytes()) {
                break String::from_utf8_lossy(rest)
                    .trim()
                    .parse::<i32>()
                    .unwrap_or(-1);
            }
            out.extend_from_slice(&line);
        };
        out.pop(); // the sentinel's leading newline
        status == 0 && lines_match(&step.expected, &out)
    }

    fn finish(self) -> bool {
        drop(self.stdin);
        let mut child = self.child;
        child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

/// `--limit FILE`: one local bash. Exit 0 when every step passed, 1 at the first that did not.
fn limit_local(file: &str) -> i32 {
    let steps = parse_steps(&fs::read_to_string(file).expect("steps file"));
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc"]);
    let mut shell = BareShell::start(cmd);
    for step in &steps {
        if !shell.step(step) {
            eprintln!("limit: step failed: {}", step.command);
            return 1;
        }
    }
    if shell.finish() {
        0
    } else {
        1
    }
}

/// `--limit-ssh CONFIG FILE HOST...`: one persistent `ssh HOST bash` per host, all connected
/// at once; each step on every host at once, the next when all have finished.
fn limit_ssh(config: &str, file: &str, hosts: &[String]) -> i32 {
    let steps = Arc::new(parse_steps(&fs::read_to_string(file).expect("steps file")));
    let barrier = Arc::new(Barrier::new(hosts.len()));
    let failed = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = hosts
        .iter()
        .map(|host| {
            let (steps, barrier, failed) = (steps.clone(), barrier.clone(), failed.clone());
            let mut cmd = Command::new("ssh");
            cmd.args(["-F", config, "-T", host, "bash --noprofile --norc"]);
            std::thread::spawn(move || {
                let mut shell = BareShell::start(cmd);
                for step in steps.iter() {
                    if !shell.step(step) {
                        failed.store(true, Ordering::SeqCst);
                    }
                    barrier.wait();
                    if failed.load(Ordering::SeqCst) {
                        break;
                    }
                }
                shell.finish()
            })
        })
        .collect();
    let mut ok = true;
    for t in threads {
        ok &= t.join().unwrap_or(false);
    }
    if ok && !failed.load(Ordering::SeqCst) {
        0
    } else {
        1
    }
}

// ---------------------------------------------------------------------------------------------
// Cleaning up: servers, the running tool, on every way out.

static SERVERS: Mutex<Vec<Sshd>> = Mutex::new(Vec::new());
/// Process group of the tool being run (each runs in its own), 0 when none.
static RUNNING: AtomicI32 = AtomicI32::new(0);
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);
/// The harness's work folder, removed on a signal too.
static WORK_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

fn stop_servers() {
    let mut servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    for s in servers.iter_mut() {
        s.stop();
    }
    servers.clear();
    drop(servers);
    stop_site_servers();
}

extern "C" fn on_signal(sig: libc::c_int) {
    let b = sig as u8;
    let fd = SIGNAL_PIPE.load(Ordering::SeqCst);
    unsafe {
        libc::write(fd, &b as *const u8 as *const libc::c_void, 1);
    }
}

fn install_signal_cleanup() {
    let mut fds = [0i32; 2];
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
    }
    SIGNAL_PIPE.store(fds[1], Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    let read_fd = fds[0];
    std::thread::spawn(move || {
        let mut b = [0u8; 1];
        let n = unsafe { libc::read(read_fd, b.as_mut_ptr() as *mut libc::c_void, 1) };
        if n == 1 {
            let pg = RUNNING.load(Ordering::SeqCst);
            if pg > 0 {
                unsafe {
                    libc::killpg(pg, libc::SIGKILL);
                }
            }
            eprintln!("\ninterrupted: stopping the servers");
            stop_servers();
            if let Some(d) = WORK_DIR.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = fs::remove_dir_all(d);
            }
            let _ = fs::remove_file(
                std::env::temp_dir().join(format!("runbook-bench-out-{}", std::process::id())),
            );
            std::process::exit(128 + b[0] as i32);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Running a tool.

#[derive(Clone)]
struct Invocation {
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    /// Untimed, before each run (e.g. removing what the last run made).
    setup: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Untimed, after each run (e.g. closing Ansible's persistent connections).
    teardown: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Invocation {
    fn new(program: impl Into<PathBuf>, args: &[&str], cwd: &Path) -> Invocation {
        Invocation {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            cwd: cwd.to_path_buf(),
            env: Vec::new(),
            setup: None,
            teardown: None,
        }
    }
    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    fn setup(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.setup = Some(Arc::new(f));
        self
    }
    fn teardown(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.teardown = Some(Arc::new(f));
        self
    }
    /// The same invocation with `from` replaced by `to` in its arguments.
    fn with_arg(&self, from: &str, to: &str) -> Invocation {
        let mut i = self.clone();
        for a in &mut i.args {
            if a == from {
                *a = to.to_string();
            }
        }
        i
    }
}

struct Measured {
    status: ExitStatus,
    wall: Duration,
    /// Peak resident set of the process (and of the children it waited for), KiB.
    maxrss_kib: i64,
    /// User + system CPU of the process and the children it waited for.
    cpu: Duration,
    output: String,
}

/// Runs once, whole process, wall clock from spawn to reaped; output kept only if `capture`.
fn measure(inv: &Invocation, capture: bool) -> Measured {
    if let Some(f) = &inv.setup {
        f();
    }
    let out_path = std::env::temp_dir().join(format!("runbook-bench-out-{}", std::process::id()));
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .current_dir(&inv.cwd)
        .stdin(Stdio::null())
        .process_group(0);
    for (k, v) in &inv.env {
        cmd.env(k, v);
    }
    if capture {
        let f = fs::File::create(&out_path).expect("output file");
        cmd.stdout(f.try_clone().unwrap()).stderr(f);
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let (tx, rx) = mpsc::channel::<i32>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let pid = rx.recv().unwrap_or(0);
        if pid > 0 && done_rx.recv_timeout(RUN_TIMEOUT).is_err() {
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    });
    let start = Instant::now();
    // Reaped below with wait4, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", inv.program.display()));
    let pid = child.id() as i32;
    RUNNING.store(pid, Ordering::SeqCst);
    let _ = tx.send(pid);
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    RUNNING.store(0, Ordering::SeqCst);
    let _ = done_tx.send(());
    let _ = watchdog.join();
    assert_eq!(r, pid, "wait4");
    // Whatever the tool left in its group (it should leave nothing).
    unsafe {
        libc::killpg(pid, libc::SIGKILL);
    }
    if let Some(f) = &inv.teardown {
        f();
    }
    use std::os::unix::process::ExitStatusExt;
    let output = if capture {
        let s = fs::read_to_string(&out_path).unwrap_or_default();
        let _ = fs::remove_file(&out_path);
        s
    } else {
        String::new()
    };
    Measured {
        status: ExitStatus::from_raw(status),
        wall,
        maxrss_kib: usage.ru_maxrss,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        output,
    }
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

// ---------------------------------------------------------------------------------------------
// Workloads.

struct Tool {
    name: String,
    /// Passes the workload.
    good: Option<Invocation>,
    /// The same with one wrong expected line: must not pass.
    bad: Option<Invocation>,
    /// Why it is not timed, when it is not.
    skip: Option<String>,
    is_limit: bool,
}

impl Tool {
    fn new(name: &str, good: Invocation, bad: Invocation) -> Tool {
        Tool {
            name: name.into(),
            good: Some(good),
            bad: Some(bad),
            skip: None,
            is_limit: false,
        }
    }
    fn limit(mut self) -> Tool {
        self.is_limit = true;
        self
    }
    fn absent(name: &str, why: &str) -> Tool {
        Tool {
            name: name.into(),
            good: None,
            bad: None,
            skip: Some(why.into()),
            is_limit: false,
        }
    }
}

struct Workload {
    name: String,
    tools: Vec<Tool>,
    rounds: usize,
    goal: Option<Goal>,
}

struct Goal {
    tool: String,
    /// The tool the ratio is taken against; `None`: the limit.
    against: Option<&'static str>,
    max_ratio: f64,
    max_rss_mib: Option<f64>,
    text: String,
}

struct Row {
    workload: String,
    tool: String,
    median: Option<Duration>,
    range: Option<(Duration, Duration)>,
    ratio: Option<f64>,
    peak_rss_kib: Option<i64>,
    cpu: Option<Duration>,
    note: String,
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn run_workload(w: &mut Workload, rows: &mut Vec<Row>, goals: &mut Vec<String>) {
    eprintln!("== {}", w.name);
    // Verdicts first: each tool must pass the workload and fail the broken copy.
    for t in w.tools.iter_mut() {
        let (Some(good), Some(bad)) = (&t.good, &t.bad) else {
            continue;
        };
        let m = measure(good, true);
        if !m.status.success() {
            eprintln!(
                "   {}: did not pass ({}):\n{}",
                t.name,
                m.status,
                tail(&m.output, 1500)
            );
            t.skip = Some(format!("fails the workload ({})", m.status));
            continue;
        }
        let m = measure(bad, true);
        if m.status.success() {
            eprintln!("   {}: passed the broken copy", t.name);
            t.skip = Some("passes a wrong expectation too".into());
        }
    }
    let timed: Vec<usize> = (0..w.tools.len())
        .filter(|&i| w.tools[i].skip.is_none())
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); w.tools.len()];
    let mut rss: Vec<i64> = vec![0; w.tools.len()];
    let mut cpu: Vec<Vec<Duration>> = vec![Vec::new(); w.tools.len()];
    let mut failed: Vec<Option<String>> = vec![None; w.tools.len()];
    for round in 0..w.rounds {
        for &i in &timed {
            if failed[i].is_some() {
                continue;
            }
            let m = measure(w.tools[i].good.as_ref().unwrap(), false);
            if !m.status.success() {
                failed[i] = Some(format!("failed in round {} ({})", round + 1, m.status));
                continue;
            }
            times[i].push(m.wall);
            cpu[i].push(m.cpu);
            rss[i] = rss[i].max(m.maxrss_kib);
        }
        eprint!("   round {}/{}:", round + 1, w.rounds);
        for &i in &timed {
            if let Some(d) = times[i].last() {
                eprint!(" {} {:.3}s", w.tools[i].name, d.as_secs_f64());
            }
        }
        eprintln!();
    }
    for (i, f) in failed.iter().enumerate() {
        if let Some(f) = f {
            w.tools[i].skip = Some(f.clone());
        }
    }
    let medians: Vec<Option<Duration>> = (0..w.tools.len())
        .map(|i| {
            if w.tools[i].skip.is_none() && !times[i].is_empty() {
                Some(median(&mut times[i].clone()))
            } else {
                None
            }
        })
        .collect();
    let limit = w
        .tools
        .iter()
        .position(|t| t.is_limit)
        .and_then(|i| medians[i]);
    for (i, t) in w.tools.iter().enumerate() {
        let mut sorted = times[i].clone();
        sorted.sort();
        rows.push(Row {
            workload: w.name.clone(),
            tool: t.name.clone(),
            median: medians[i],
            range: if t.skip.is_none() && !sorted.is_empty() {
                Some((sorted[0], *sorted.last().unwrap()))
            } else {
                None
            },
            ratio: match (medians[i], limit) {
                (Some(m), Some(l)) => Some(m.as_secs_f64() / l.as_secs_f64()),
                _ => None,
            },
            peak_rss_kib: (t.skip.is_none() && rss[i] > 0).then_some(rss[i]),
            cpu: (t.skip.is_none() && !cpu[i].is_empty()).then(|| median(&mut cpu[i].clone())),
            note: t.skip.clone().unwrap_or_default(),
        });
    }
    if let Some(g) = &w.goal {
        let i = w.tools.iter().position(|t| t.name == g.tool).unwrap();
        let base = match g.against {
            Some(name) => w
                .tools
                .iter()
                .position(|t| t.name == name)
                .and_then(|j| medians[j]),
            None => limit,
        };
        let ratio = match (medians[i], base) {
            (Some(m), Some(l)) => Some(m.as_secs_f64() / l.as_secs_f64()),
            _ => None,
        };
        let mut met = ratio.is_some_and(|r| r <= g.max_ratio);
        let mut seen = match ratio {
            Some(r) => format!("{r:.2}×"),
            None => "not timed".into(),
        };
        if let Some(mib) = g.max_rss_mib {
            let peak = rss[i] as f64 / 1024.0;
            met &= rss[i] > 0 && peak < mib;
            let _ = write!(seen, ", peak RSS {peak:.1} MiB");
        }
        goals.push(format!(
            "| {} | {} | {} | {} |",
            w.name,
            g.text,
            seen,
            if met { "**met**" } else { "**not met**" }
        ));
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut i = s.len().saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// One step a line pair: the command and its expected output lines.
type Spec = Vec<(String, Vec<String>)>;

fn write_cram(path: &Path, spec: &Spec) {
    let mut s = String::new();
    for (cmd, exp) in spec {
        let _ = writeln!(s, "  $ {cmd}");
        for e in exp {
            let _ = writeln!(s, "  {e}");
        }
    }
    fs::write(path, s).unwrap();
}

fn write_runbook(path: &Path, spec: &Spec, hosts: Option<&[String]>) {
    let mut s = String::from("---\ntitle: bench\n");
    if let Some(h) = hosts {
        let _ = writeln!(s, "hosts: [{}]", h.join(", "));
    }
    s.push_str("---\n\n");
    let on = if hosts.is_some() { " on=all" } else { "" };
    for (i, (cmd, exp)) in spec.iter().enumerate() {
        let _ = writeln!(s, "```console {{#s{i}{on}}}\n$ {cmd}");
        for e in exp {
            let _ = writeln!(s, "{e}");
        }
        s.push_str("```\n\n");
    }
    fs::write(path, s).unwrap();
}

fn write_scrut(path: &Path, spec: &Spec) {
    let mut s = String::from("# bench\n\n");
    for (cmd, exp) in spec {
        let _ = writeln!(s, "```scrut\n$ {cmd}");
        for e in exp {
            let _ = writeln!(s, "{e}");
        }
        s.push_str("```\n\n");
    }
    fs::write(path, s).unwrap();
}

fn write_playbook(path: &Path, spec: &Spec) {
    let mut s = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for (i, (cmd, exp)) in spec.iter().enumerate() {
        let _ = writeln!(
            s,
            "    - name: s{i}\n      command: {cmd}\n      register: r\n      failed_when: r.rc != 0 or r.stdout != {:?}",
            exp.join("\n")
        );
    }
    fs::write(path, s).unwrap();
}

/// The spec with the first expected line made wrong (a tool that stops at the first failure
/// then stops early: Ansible's check takes seconds instead of minutes).
fn broken(spec: &Spec) -> Spec {
    let mut s = spec.clone();
    let step = s.iter_mut().find(|(_, exp)| !exp.is_empty()).unwrap();
    step.1[0].push_str("-wrong");
    s
}

fn echo_spec(n: usize) -> Spec {
    (0..n)
        .map(|i| (format!("echo {i}"), vec![i.to_string()]))
        .collect()
}

fn state_spec(n: usize) -> Spec {
    let mut s: Spec = vec![("export PREV=0 && mkdir -p s0 && cd s0".into(), vec![])];
    for i in 1..n {
        s.push((
            format!("echo \"$PREV ${{PWD##*/}}\" && mkdir -p s{i} && cd s{i} && export PREV={i}"),
            vec![format!("{} s{}", i - 1, i - 1)],
        ));
    }
    s
}

/// A runbook of ordinary size for `lint`: prose, a transcript, a script with its output, a
/// file block, a manual step, an illustration.
fn lint_runbook(i: usize) -> String {
    format!(
        "---\ntitle: Runbook {i}\nlang: en\nvars:\n  NAME: world{i}\n---\n\n\
         # Runbook {i}\n\nSome prose about step {i}, with a [link](https://example.org) and `code`.\n\n\
         ## Check the greeting\n\n```console\n$ echo hello $NAME\nhello world{i}\n```\n\n\
         ## List\n\n```sh {{#list-{i} timeout=30s}}\nseq 1 3\n```\n\n```output\n1\n...\n3\n```\n\n\
         ## Configure\n\n```ini {{file=/tmp/runbook-lint-{i}.ini perm=0644}}\n[main]\nkey = {i}\n```\n\n\
         ```console {{#table-{i} match=table ignore=\"when\"}}\n$ printf 'name when\\na 1\\n'\nname when\na 2\n```\n\n\
         Edit by hand:\n\n```text {{manual}}\nvi /etc/hosts\n```\n\n```python\nprint('illustration')\n```\n\n\
         | a | b |\n|---|---|\n| 1 | 2 |\n"
    )
}

// ---------------------------------------------------------------------------------------------

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn target_dir() -> PathBuf {
    // target/release/deps/compare-HASH
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn venv(target: &Path) -> Result<PathBuf, String> {
    let dir = target.join("bench-venv");
    let bin = dir.join("bin");
    let pkgs = ["cram==0.7", "prysk==0.20.0", "ansible-core==2.19.14"];
    let stamp = dir.join(".installed");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(&pkgs.join(" ")) {
        return Ok(bin);
    }
    eprintln!("installing {} into {}", pkgs.join(" "), dir.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(bin.join("pip"))
            .args(["install", "-q"])
            .args(pkgs)
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        fs::write(&stamp, pkgs.join(" ")).unwrap();
        Ok(bin)
    } else {
        Err("not installable here (pip install failed)".into())
    }
}

fn scrut(target: &Path) -> Result<PathBuf, String> {
    let on_path = sh("command -v scrut");
    if !on_path.is_empty() {
        return Ok(on_path.into());
    }
    let root = target.join("bench-tools");
    let bin = root.join("bin/scrut");
    if bin.exists() {
        return Ok(bin);
    }
    if std::env::var_os("BENCH_NO_SCRUT").is_some() {
        return Err("not installed (BENCH_NO_SCRUT)".into());
    }
    eprintln!("installing scrut with cargo install (once, ~5 min on 2 cores)");
    let ok = Command::new("cargo")
        .args(["install", "scrut", "--locked", "--root"])
        .arg(&root)
        .arg("--target-dir")
        .arg(target.join("bench-tools-build"))
        .status()
        .is_ok_and(|s| s.success());
    if ok && bin.exists() {
        Ok(bin)
    } else {
        Err("not installable here (cargo install scrut failed)".into())
    }
}

fn rounds(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--limit") {
        std::process::exit(limit_local(&args[2]));
    }
    if args.get(1).map(String::as_str) == Some("--limit-ssh") {
        std::process::exit(limit_ssh(&args[2], &args[3], &args[4..]));
    }
    install_signal_cleanup();
    let result = std::panic::catch_unwind(bench);
    stop_servers();
    if result.is_err() {
        std::process::exit(101);
    }
}

fn bench() {
    let target = target_dir();
    let me = std::env::current_exe().unwrap();
    let me = me.to_str().unwrap().to_string();
    let local_rounds = rounds("BENCH_ROUNDS", 7);
    let remote_rounds = rounds("BENCH_REMOTE_ROUNDS", 3);
    let total = Instant::now();

    let py = venv(&target);
    let scrut = scrut(&target);
    let venv_tool = |name: &str| py.as_ref().map(|b| b.join(name)).map_err(|e| e.clone());

    let machine = format!(
        "{} CPUs ({}), {} ({}), kernel {}",
        sh("nproc"),
        sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'"),
        sh(". /etc/os-release && echo $PRETTY_NAME"),
        sh("uname -m"),
        sh("uname -r"),
    );
    let mut versions = vec![
        format!("runbook {}", sh(&format!("{RUNBOOK} --version"))),
        sh("bash --version | head -1"),
        sh("ssh -V 2>&1"),
    ];
    if let Ok(b) = &py {
        versions.push(format!(
            "cram {}, prysk {}, ansible-core {}",
            sh(&format!(
                "{}/pip show cram | sed -n 's/^Version: //p'",
                b.display()
            )),
            sh(&format!(
                "{}/pip show prysk | sed -n 's/^Version: //p'",
                b.display()
            )),
            sh(&format!(
                "{}/pip show ansible-core | sed -n 's/^Version: //p'",
                b.display()
            )),
        ));
    }
    if let Ok(s) = &scrut {
        versions.push(sh(&format!("{} --version", s.display())));
    }
    eprintln!("machine: {machine}");
    let load_start = sh("cut -d' ' -f1 /proc/loadavg");
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let want = |key: &str| only.is_empty() || only.split(',').any(|k| k == key);

    let work = tempfile::Builder::new()
        .prefix("runbook-bench-")
        .tempdir()
        .unwrap();
    let w = work.path();
    *WORK_DIR.lock().unwrap() = Some(w.to_path_buf());
    let mut rows = Vec::new();
    let mut goals = Vec::new();

    // 1. 500 trivial steps, locally.
    if want("echo") {
        let d = w.join("echo");
        fs::create_dir_all(&d).unwrap();
        let spec = echo_spec(500);
        for (suffix, s) in [("", spec.clone()), ("-bad", broken(&spec))] {
            write_cram(&d.join(format!("steps{suffix}.t")), &s);
            write_runbook(&d.join(format!("steps{suffix}.md")), &s, None);
            write_scrut(&d.join(format!("scrut{suffix}.md")), &s);
        }
        let rb = Invocation::new(RUNBOOK, &["run", "steps.md", "-q"], &d);
        let limit = Invocation::new(&me, &["--limit", "steps.t"], &d);
        let mut tools = vec![
            Tool::new(
                "runbook",
                rb.clone(),
                rb.with_arg("steps.md", "steps-bad.md"),
            ),
            Tool::new(
                "limit",
                limit.clone(),
                limit.with_arg("steps.t", "steps-bad.t"),
            )
            .limit(),
        ];
        for name in ["cram", "prysk"] {
            match venv_tool(name) {
                Ok(p) => {
                    let i = Invocation::new(p, &["--shell=/bin/bash", "steps.t"], &d);
                    tools.push(Tool::new(
                        name,
                        i.clone(),
                        i.with_arg("steps.t", "steps-bad.t"),
                    ));
                }
                Err(e) => tools.push(Tool::absent(name, &e)),
            }
        }
        match &scrut {
            Ok(p) => {
                let i = Invocation::new(p, &["test", "--shell", "/bin/bash", "scrut.md"], &d);
                tools.push(Tool::new(
                    "scrut",
                    i.clone(),
                    i.with_arg("scrut.md", "scrut-bad.md"),
                ));
            }
            Err(e) => tools.push(Tool::absent("scrut", e)),
        }
        run_workload(
            &mut Workload {
                name: "500 trivial steps, local".into(),
                tools,
                rounds: local_rounds,
                goal: Some(Goal {
                    tool: "runbook".into(),
                    against: None,
                    max_ratio: 1.3,
                    max_rss_mib: None,
                    text: "runbook ≤ 1.3× limit".into(),
                }),
            },
            &mut rows,
            &mut goals,
        );
    }

    // 2. One step printing 300,000 lines, matched with `...`.
    if want("seq") {
        let d = w.join("seq");
        fs::create_dir_all(&d).unwrap();
        let spec: Spec = vec![(
            "seq 1 300000".into(),
            vec!["1".into(), "...".into(), "300000".into()],
        )];
        for (suffix, s) in [("", spec.clone()), ("-bad", broken(&spec))] {
            write_cram(&d.join(format!("steps{suffix}.t")), &s);
            write_runbook(&d.join(format!("steps{suffix}.md")), &s, None);
        }
        let all: String = (1..=300000).map(|i| format!("{i}\n")).collect();
        fs::write(d.join("expected"), &all).unwrap();
        fs::write(d.join("expected-bad"), format!("{all}x\n")).unwrap();
        let rb = Invocation::new(RUNBOOK, &["run", "steps.md", "-q"], &d);
        let limit = Invocation::new(&me, &["--limit", "steps.t"], &d);
        let floor = Invocation::new("bash", &["-c", "seq 1 300000 | cmp -s - expected"], &d);
        run_workload(
            &mut Workload {
                name: "seq 1 300000 with `...`".into(),
                tools: vec![
                    Tool::new(
                        "runbook",
                        rb.clone(),
                        rb.with_arg("steps.md", "steps-bad.md"),
                    ),
                    Tool::new(
                        "limit",
                        limit.clone(),
                        limit.with_arg("steps.t", "steps-bad.t"),
                    )
                    .limit(),
                    Tool::new(
                        "floor: seq | cmp",
                        floor.clone(),
                        Invocation::new(
                            "bash",
                            &["-c", "seq 1 300000 | cmp -s - expected-bad"],
                            &d,
                        ),
                    ),
                ],
                rounds: local_rounds,
                // Issue #4's goal for large outputs: within 2× of the floor.
                goal: Some(Goal {
                    tool: "runbook".into(),
                    against: Some("floor: seq | cmp"),
                    max_ratio: 2.0,
                    max_rss_mib: Some(64.0),
                    text: "runbook ≤ 2× seq \\| cmp, peak RSS < 64 MiB".into(),
                }),
            },
            &mut rows,
            &mut goals,
        );
    }

    // 3. 50 steps that cd/export and use the state.
    if want("state") {
        let d = w.join("state");
        fs::create_dir_all(&d).unwrap();
        let spec = state_spec(50);
        for (suffix, s) in [("", spec.clone()), ("-bad", broken(&spec))] {
            write_cram(&d.join(format!("steps{suffix}.t")), &s);
            write_runbook(&d.join(format!("steps{suffix}.md")), &s, None);
        }
        let clean = {
            let d = d.clone();
            move || {
                let _ = fs::remove_dir_all(d.join("s0"));
            }
        };
        let rb = Invocation::new(RUNBOOK, &["run", "steps.md", "-q"], &d).setup(clean.clone());
        let limit = Invocation::new(&me, &["--limit", "steps.t"], &d).setup(clean);
        run_workload(
            &mut Workload {
                name: "50 steps with cd/export".into(),
                tools: vec![
                    Tool::new(
                        "runbook",
                        rb.clone(),
                        rb.with_arg("steps.md", "steps-bad.md"),
                    ),
                    Tool::new(
                        "limit",
                        limit.clone(),
                        limit.with_arg("steps.t", "steps-bad.t"),
                    )
                    .limit(),
                ],
                rounds: local_rounds,
                goal: Some(Goal {
                    tool: "runbook".into(),
                    against: None,
                    max_ratio: 1.3,
                    max_rss_mib: None,
                    text: "runbook ≤ 1.3× limit".into(),
                }),
            },
            &mut rows,
            &mut goals,
        );
    }

    // 4. Remote: 50 trivial steps on 10 loopback sshd.
    if want("remote") {
        let d = w.join("remote");
        fs::create_dir_all(&d).unwrap();
        eprintln!("starting 10 sshd on 127.0.0.1");
        let mut ssh_config = String::new();
        let mut hosts = Vec::new();
        {
            let mut servers = SERVERS.lock().unwrap();
            for i in 0..10 {
                // SHLVL=1 keeps bash from sourcing root's ~/.bashrc for each non-interactive
                // ssh command (on these machines it runs `pyenv init`, ~1 s each).
                let s = Sshd::builder().extra_config("SetEnv SHLVL=1").start();
                let dir = s.dir().display().to_string();
                let _ = write!(
                    ssh_config,
                    "Host h{i}\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {dir}/client_key\n  \
                     IdentitiesOnly yes\n  UserKnownHostsFile {dir}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  \
                     UpdateHostKeys no\n  BatchMode yes\n\n",
                    s.port()
                );
                hosts.push(format!("h{i}"));
                servers.push(s);
            }
        }
        let config = d.join("ssh_config");
        fs::write(&config, &ssh_config).unwrap();
        let config = config.display().to_string();
        let mut toml = format!("[ssh]\nconfig = {config:?}\n\n");
        for h in &hosts {
            let _ = writeln!(toml, "[hosts.{h}]\nssh = {h:?}\n");
        }
        fs::write(d.join("runbook.toml"), toml).unwrap();
        let spec = echo_spec(50);
        for (suffix, s) in [("", spec.clone()), ("-bad", broken(&spec))] {
            write_cram(&d.join(format!("steps{suffix}.t")), &s);
            write_runbook(&d.join(format!("steps{suffix}.md")), &s, Some(&hosts));
            write_playbook(&d.join(format!("playbook{suffix}.yml")), &s);
        }
        let inventory: String = hosts.iter().map(|h| format!("{h}\n")).collect();
        fs::write(d.join("inventory.ini"), format!("[all]\n{inventory}")).unwrap();
        fs::write(
            d.join("ansible.cfg"),
            format!(
                "[defaults]\ninventory = inventory.ini\nforks = 10\ninterpreter_python = /usr/bin/python3\n\
                 retry_files_enabled = False\n\n[ssh_connection]\n\
                 ssh_args = -F {config} -o ControlMaster=auto -o ControlPersist=60s\n"
            ),
        )
        .unwrap();

        let rb = Invocation::new(RUNBOOK, &["run", "steps.md", "-q"], &d);
        let mut limit_args = vec!["--limit-ssh", &config, "steps.t"];
        limit_args.extend(hosts.iter().map(String::as_str));
        let limit = Invocation::new(&me, &limit_args, &d);
        let mut tools = vec![
            Tool::new(
                "runbook",
                rb.clone(),
                rb.with_arg("steps.md", "steps-bad.md"),
            ),
            Tool::new(
                "limit",
                limit.clone(),
                limit.with_arg("steps.t", "steps-bad.t"),
            )
            .limit(),
        ];
        match venv_tool("ansible-playbook") {
            Ok(p) => {
                // Each run starts cold: its own ControlPath folder, its masters closed after.
                let cp = d.join("cp");
                let (cp1, cp2) = (cp.clone(), cp.clone());
                let config2 = config.clone();
                let i = Invocation::new(p, &["playbook.yml"], &d)
                    .env(
                        "ANSIBLE_CONFIG",
                        &d.join("ansible.cfg").display().to_string(),
                    )
                    .env("ANSIBLE_SSH_CONTROL_PATH_DIR", &cp.display().to_string())
                    .env("ANSIBLE_NOCOLOR", "1")
                    .setup(move || {
                        let _ = fs::remove_dir_all(&cp1);
                        fs::create_dir_all(&cp1).unwrap();
                    })
                    .teardown(move || {
                        for e in fs::read_dir(&cp2).into_iter().flatten().flatten() {
                            let _ = Command::new("ssh")
                                .args(["-F", &config2, "-O", "exit", "-o"])
                                .arg(format!("ControlPath={}", e.path().display()))
                                .arg("h0")
                                .stdout(Stdio::null())
                                .stderr(Stdio::null())
                                .status();
                        }
                    });
                tools.push(Tool::new(
                    "ansible (command)",
                    i.clone(),
                    i.with_arg("playbook.yml", "playbook-bad.yml"),
                ));
            }
            Err(e) => tools.push(Tool::absent("ansible", &e)),
        }
        run_workload(
            &mut Workload {
                name: "remote: 50 steps × 10 hosts".into(),
                tools,
                rounds: remote_rounds,
                goal: Some(Goal {
                    tool: "runbook".into(),
                    against: None,
                    max_ratio: 1.5,
                    max_rss_mib: None,
                    text: "runbook ≤ 1.5× limit".into(),
                }),
            },
            &mut rows,
            &mut goals,
        );
        stop_servers();
    }

    // 5. lint of 1,000 runbooks.
    if want("lint") {
        let d = w.join("lint");
        fs::create_dir_all(d.join("runbooks")).unwrap();
        fs::create_dir_all(d.join("bad/runbooks")).unwrap();
        for i in 0..1000 {
            let text = lint_runbook(i);
            fs::write(d.join(format!("runbooks/r{i:04}.md")), &text).unwrap();
            let bad = if i == 999 {
                text.replace("timeout=30s", "timeout=30s colour=red")
            } else {
                text
            };
            fs::write(d.join(format!("bad/runbooks/r{i:04}.md")), bad).unwrap();
        }
        let good = Invocation::new(RUNBOOK, &["lint", "runbooks"], &d);
        let bad = Invocation::new(RUNBOOK, &["lint", "runbooks"], &d.join("bad"));
        run_workload(
            &mut Workload {
                name: "lint 1,000 runbooks".into(),
                tools: vec![Tool::new("runbook", good, bad)],
                rounds: local_rounds,
                goal: None,
            },
            &mut rows,
            &mut goals,
        );
    }

    // 6. The site: a `runbook serve` child process on loopback.
    if want("site") {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        site_workload(repo, w, &mut rows, &mut goals);
    }

    // The table.
    let mut out = String::new();
    let _ = writeln!(out, "\nMachine: {machine}");
    let _ = writeln!(
        out,
        "Load average (1 min) at start {load_start}, at end {}",
        sh("cut -d' ' -f1 /proc/loadavg")
    );
    let _ = writeln!(out, "Tools: {}", versions.join("; "));
    let _ = writeln!(
        out,
        "Medians over {local_rounds} rounds ({remote_rounds} for the remote workload), tools in turn within each round; whole process, wall clock.\n"
    );
    if want("site") {
        let _ = writeln!(
            out,
            "Site rows: one `runbook serve` process; per-request (or per-line) times, not whole process; peak RSS is the server's.\n"
        );
    }
    let _ = writeln!(
        out,
        "| workload | tool | median wall | min – max | × limit | median CPU | peak RSS | note |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.tool.replace('|', "\\|"),
            r.median.map_or("—".into(), wall),
            r.range
                .map_or("—".into(), |(a, b)| format!("{} – {}", wall(a), wall(b))),
            r.ratio.map_or("—".into(), |x| format!("{x:.2}×")),
            r.cpu
                .map_or("—".into(), |c| format!("{:.3} s", c.as_secs_f64())),
            r.peak_rss_kib
                .map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            r.note,
        );
    }
    let _ = writeln!(out, "\n| workload | goal | measured | |\n|---|---|---|---|");
    for g in &goals {
        let _ = writeln!(out, "{g}");
    }
    let _ = writeln!(
        out,
        "\nWhole benchmark: {:.0} s",
        total.elapsed().as_secs_f64()
    );
    print!("{out}");
    let _ = std::io::stdout().flush();
}

// ---------------------------------------------------------------------------------------------
// The site: a `runbook serve` child process, spoken to over plain HTTP/1.1 on loopback.

/// The `runbook serve` processes started by the harness (each in its own process group, so
/// that a run's shell goes with it); killed by [`stop_servers`].
static SITE_SERVERS: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());

fn stop_site_servers() {
    let mut children = SITE_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    for c in children.iter_mut() {
        unsafe {
            libc::killpg(c.id() as i32, libc::SIGKILL);
        }
        let _ = c.wait();
    }
    children.clear();
}

struct Serve {
    pid: u32,
    port: u16,
    token: String,
}

impl Serve {
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn cookie(&self) -> String {
        format!("runbook_token_{}={}", self.port, self.token)
    }

    fn connect(&self) -> std::io::Result<BufReader<std::net::TcpStream>> {
        let s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(BufReader::new(s))
    }

    /// Peak resident set of the server so far, from /proc.
    fn peak_rss_kib(&self) -> Option<i64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// Starts `runbook serve PATH --addr 127.0.0.1:PORT` in `cwd` on a free port, and reads the
/// token from the URL it prints.
fn start_serve(cwd: &Path, path: &str) -> Result<Serve, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let mut child = Command::new(RUNBOOK)
        .args(["serve", path, "--addr", &format!("127.0.0.1:{port}")])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start runbook serve: {e}"))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<String>();
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    SITE_SERVERS.lock().unwrap().push(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some((_, t)) = line.split_once("?token=") {
                    let token = t.split_whitespace().next().unwrap_or("").to_string();
                    return Ok(Serve { pid, port, token });
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => {
                return Err(format!(
                    "runbook serve printed no token URL:\n{}",
                    tail(&seen, 1500)
                ))
            }
        }
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn write_request(
    conn: &mut BufReader<std::net::TcpStream>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    if method == "POST" {
        let _ = write!(req, "Content-Length: {}\r\n", body.len());
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    conn.get_mut().write_all(&bytes)
}

fn read_head(conn: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(bad("connection closed before the response"));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// Reads one response, its body whole (Content-Length or chunked).
fn read_response(conn: &mut impl BufRead) -> std::io::Result<Response> {
    let (status, headers) = read_head(conn)?;
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(n) = r.header("content-length") {
        let n: usize = n.parse().unwrap_or(0);
        r.body.resize(n, 0);
        conn.read_exact(&mut r.body)?;
    } else if r
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut ch = Chunked::new(conn);
        ch.read_to_end(&mut r.body)?;
    }
    Ok(r)
}

/// A chunked body as a plain reader.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Self {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> std::io::Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF after the previous chunk.
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size")
            })?;
            if self.left == 0 {
                self.done = true;
                let mut end = String::new();
                self.inner.read_line(&mut end)?;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        self.left -= n;
        Ok(n)
    }
}

use std::io::Read as _;

/// Seconds with three decimals; milliseconds under 0.1 s (the site's figures).
fn wall(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        ms(d)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn goal_line(workload: &str, goal: &str, seen: &str, met: bool) -> String {
    format!(
        "| {workload} | {goal} | {seen} | {} |",
        if met { "**met**" } else { "**not met**" }
    )
}

fn site_row(workload: &str, times: &mut [Duration], rss: Option<i64>, note: String) -> Row {
    let range = (!times.is_empty()).then(|| {
        let mut s = times.to_vec();
        s.sort();
        (s[0], *s.last().unwrap())
    });
    Row {
        workload: workload.into(),
        tool: "runbook serve".into(),
        median: (!times.is_empty()).then(|| median(times)),
        range,
        ratio: None,
        peak_rss_kib: rss,
        cpu: None,
        note,
    }
}

const TUTORIAL: &str = "/zh-CN/openstack-ha/02-hosts-and-ntp.html";

/// The three site measurements; `repo` is the repository root (the project's own runbooks).
fn site_workload(repo: &Path, work: &Path, rows: &mut Vec<Row>, goals: &mut Vec<String>) {
    const RENDER: &str = "site: tutorial page render (200 sequential GETs, keep-alive)";
    const LINES: &str = "site: host line → event stream (10 lines)";
    const READERS: &str = "site: 200 concurrent readers of the tutorial page";
    eprintln!("== site");
    let title = fs::read_to_string(repo.join("runbooks/openstack-ha/02-hosts-and-ntp.md"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("title:").map(|s| s.trim().to_string()))
        })
        .unwrap_or_default();
    let failed = |rows: &mut Vec<Row>, goals: &mut Vec<String>, names: &[&str], why: &str| {
        eprintln!("   {why}");
        for n in names {
            rows.push(site_row(n, &mut [], None, why.replace('\n', " ")));
            goals.push(goal_line(n, "see above", "not measured", false));
        }
    };

    // 1 and 3: the project's own runbooks.
    match start_serve(repo, "runbooks") {
        Err(e) => failed(rows, goals, &[RENDER, READERS], &e),
        Ok(srv) => {
            match site_render(&srv, &title) {
                Ok(mut times) => {
                    let med = median(&mut times.clone());
                    let mut sorted = times.clone();
                    sorted.sort();
                    let p90 = sorted[sorted.len() * 9 / 10];
                    rows.push(site_row(
                        RENDER,
                        &mut times,
                        srv.peak_rss_kib(),
                        format!("median {}, p90 {}", ms(med), ms(p90)),
                    ));
                    goals.push(goal_line(
                        RENDER,
                        "median ≤ 5 ms",
                        &ms(med),
                        med <= Duration::from_millis(5),
                    ));
                }
                Err(e) => failed(rows, goals, &[RENDER], &e),
            }
            let (total, mut each, errors) = site_readers(&srv, &title, 200);
            let med = (!each.is_empty()).then(|| median(&mut each.clone()));
            let mut row = site_row(
                READERS,
                &mut each,
                srv.peak_rss_kib(),
                format!(
                    "total {}, {} errors{}; per request: median {}",
                    ms(total),
                    errors.len(),
                    errors
                        .first()
                        .map(|e| format!(" (first: {e})"))
                        .unwrap_or_default(),
                    med.map_or("—".into(), ms)
                ),
            );
            row.median = Some(total);
            rows.push(row);
            goals.push(goal_line(
                READERS,
                "no errors",
                &format!("{} errors in {}", errors.len(), ms(total)),
                errors.is_empty(),
            ));
        }
    }
    stop_site_servers();

    // 2: a temp project with one step that prints its clock.
    let d = work.join("site-lines");
    fs::create_dir_all(d.join("runbooks")).unwrap();
    fs::write(d.join("runbook.toml"), "").unwrap();
    fs::write(
        d.join("runbooks/tick.md"),
        "---\ntitle: Tick\nlang: en\n---\n\n# Tick\n\n```sh {#tick}\n\
         for i in 1 2 3 4 5 6 7 8 9 10; do date +%s%N; sleep 0.1; done\n```\n",
    )
    .unwrap();
    match start_serve(&d, "runbooks").and_then(|srv| site_lines(&srv).map(|l| (l, srv))) {
        Err(e) => failed(rows, goals, &[LINES], &e),
        Ok((mut lat, srv)) => {
            let med = median(&mut lat.clone());
            let max = *lat.iter().max().unwrap();
            let n = lat.len();
            rows.push(site_row(
                LINES,
                &mut lat,
                srv.peak_rss_kib(),
                format!("{n} lines: median {}, max {}", ms(med), ms(max)),
            ));
            goals.push(goal_line(
                LINES,
                "≤ 50 ms (max)",
                &format!("median {}, max {}", ms(med), ms(max)),
                n == 10 && max <= Duration::from_millis(50),
            ));
        }
    }
    stop_site_servers();
}

fn get_page(srv: &Serve, conn: &mut BufReader<std::net::TcpStream>) -> std::io::Result<Response> {
    let host = srv.host();
    let cookie = srv.cookie();
    write_request(
        conn,
        "GET",
        TUTORIAL,
        &[
            ("Host", &host),
            ("Cookie", &cookie),
            ("Accept-Language", "zh-CN"),
        ],
        b"",
    )?;
    read_response(conn)
}

fn check_page(r: &Response, title: &str) -> Result<(), String> {
    if r.status != 200 {
        return Err(format!("GET {TUTORIAL}: status {}", r.status));
    }
    if !String::from_utf8_lossy(&r.body).contains(title) {
        return Err(format!(
            "GET {TUTORIAL}: the title {title:?} is not on the page"
        ));
    }
    Ok(())
}

/// Trades the token for the cookie, as a browser does on the printed URL.
fn trade_token(srv: &Serve) -> Result<(), String> {
    let mut conn = srv.connect().map_err(|e| e.to_string())?;
    let host = srv.host();
    write_request(
        &mut conn,
        "GET",
        &format!("/?token={}", srv.token),
        &[("Host", &host)],
        b"",
    )
    .map_err(|e| e.to_string())?;
    let r = read_response(&mut conn).map_err(|e| e.to_string())?;
    let ok = r.status == 303
        && r.header("set-cookie")
            .is_some_and(|c| c.starts_with(&srv.cookie()));
    if !ok {
        return Err(format!("the token URL gave {} and no cookie", r.status));
    }
    Ok(())
}

fn site_render(srv: &Serve, title: &str) -> Result<Vec<Duration>, String> {
    trade_token(srv)?;
    let mut conn = srv.connect().map_err(|e| e.to_string())?;
    let first = get_page(srv, &mut conn).map_err(|e| e.to_string())?;
    check_page(&first, title)?;
    eprintln!("   page: {} bytes", first.body.len());
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        let r = get_page(srv, &mut conn).map_err(|e| e.to_string())?;
        times.push(t.elapsed());
        if r.status != 200 {
            return Err(format!("GET {TUTORIAL}: status {}", r.status));
        }
    }
    Ok(times)
}

/// `n` threads, each on its own connection, released at once: the total time, each
/// request's time, and the errors.
fn site_readers(srv: &Serve, title: &str, n: usize) -> (Duration, Vec<Duration>, Vec<String>) {
    let barrier = Arc::new(Barrier::new(n + 1));
    let port = srv.port;
    let cookie = srv.cookie();
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            let title = title.to_string();
            let cookie = cookie.clone();
            std::thread::spawn(move || -> Result<Duration, String> {
                let srv = Serve {
                    pid: 0,
                    port,
                    token: String::new(),
                };
                barrier.wait();
                let t = Instant::now();
                let mut conn = srv.connect().map_err(|e| format!("connect: {e}"))?;
                let host = srv.host();
                write_request(
                    &mut conn,
                    "GET",
                    TUTORIAL,
                    &[
                        ("Host", &host),
                        ("Cookie", &cookie),
                        ("Connection", "close"),
                    ],
                    b"",
                )
                .map_err(|e| format!("send: {e}"))?;
                let r = read_response(&mut conn).map_err(|e| format!("read: {e}"))?;
                let d = t.elapsed();
                check_page(&r, &title)?;
                Ok(d)
            })
        })
        .collect();
    barrier.wait();
    let t = Instant::now();
    let mut each = Vec::new();
    let mut errors = Vec::new();
    for th in threads {
        match th.join() {
            Ok(Ok(d)) => each.push(d),
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("thread panicked".into()),
        }
    }
    (t.elapsed(), each, errors)
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

/// Subscribes to the event stream, runs the step, and returns, for each output line, the
/// time from its `date +%s%N` to its arrival here.
fn site_lines(srv: &Serve) -> Result<Vec<Duration>, String> {
    const RUNBOOK_PATH: &str = "runbooks/tick.md";
    trade_token(srv)?;
    let host = srv.host();
    let cookie = srv.cookie();
    let origin = format!("http://{host}");
    let mut sse = srv.connect().map_err(|e| e.to_string())?;
    write_request(
        &mut sse,
        "GET",
        &format!("/api/events?runbook={RUNBOOK_PATH}"),
        &[
            ("Host", &host),
            ("Cookie", &cookie),
            ("Accept", "text/event-stream"),
        ],
        b"",
    )
    .map_err(|e| e.to_string())?;
    let (status, headers) = read_head(&mut sse).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("GET /api/events: status {status}"));
    }
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let reader: Box<dyn BufRead + Send> = if chunked {
        Box::new(BufReader::new(Chunked::new(sse)))
    } else {
        Box::new(sse)
    };
    // Read the stream on its own thread, stamping each line as it arrives.
    let (tx, rx) = mpsc::channel::<(i128, String)>();
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let at = now_ns();
            if tx.send((at, line)).is_err() {
                break;
            }
        }
    });

    let mut post = srv.connect().map_err(|e| e.to_string())?;
    let body =
        serde_json::json!({"runbook": RUNBOOK_PATH, "mode": "step", "step": "tick"}).to_string();
    write_request(
        &mut post,
        "POST",
        "/api/run",
        &[
            ("Host", &host),
            ("Cookie", &cookie),
            ("Origin", &origin),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let r = read_response(&mut post).map_err(|e| e.to_string())?;
    if r.status != 202 {
        return Err(format!(
            "POST /api/run: status {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }

    let mut lat = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((at, line)) = rx.recv_timeout(left) else {
            return Err(format!("the run did not end in 30 s ({} lines)", lat.len()));
        };
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim()) else {
            continue;
        };
        match v["t"].as_str() {
            Some("out") => {
                for l in v["text"].as_str().unwrap_or("").lines() {
                    if let Ok(stamp) = l.trim().parse::<i128>() {
                        let d = (at - stamp).max(0) as u64;
                        lat.push(Duration::from_nanos(d));
                    }
                }
            }
            Some("end") => break,
            _ => {}
        }
    }
    if lat.is_empty() {
        return Err("no output line came on the event stream".into());
    }
    Ok(lat)
}

//! The runner: drives planned steps through one shell session per host and turns what they
//! print into [`StepResult`]s, sent to a [`Sink`] as each step ends.
//!
//! Order and failure (SPEC §1.3): runbooks run in plan order, steps in document order; a
//! step on several hosts runs on them at once (at most `jobs`), or one after another with
//! `serial`; it passes only where it passes on every host. A step that fails stops its
//! runbook unless `keep_going`; the rest are reported `skipped`. Sessions are opened for every
//! host of a runbook at once when it starts (connections dominate short runs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::diag::Diagnostic;
use crate::doc::{Action, ExitSpec, FileMode, Runbook, Step};
use crate::exec::files::{self, Patched};
use crate::exec::redact::Redactor;
use crate::exec::session::{Shell, ShellError};
use crate::lint::Workspace;
use crate::matcher::{self, MatchSpec};
use crate::outcome::{now_rfc3339, Check, RunbookResult, SkipReason, Status, StepResult};
use crate::plan::PlannedRunbook;
use crate::project::{Project, Target};

/// How long opening a session may take on this machine (remote hosts use `connect_timeout`).
const LOCAL_START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub keep_going: bool,
    /// Hosts at work at once.
    pub jobs: usize,
    /// `--var NAME=VALUE`, in the order given.
    pub vars: Vec<(String, String)>,
    /// Secret values given by other means than the environment (the site's password field).
    pub secret_values: Vec<(String, String)>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            keep_going: false,
            jobs: 32,
            vars: Vec::new(),
            secret_values: Vec::new(),
        }
    }
}

/// What the runner reports while it works. Output is already redacted.
#[derive(Debug)]
pub enum Event<'a> {
    RunbookStarted {
        path: &'a str,
        title: &'a str,
    },
    StepStarted {
        path: &'a str,
        id: &'a str,
        host: &'a str,
    },
    Output {
        path: &'a str,
        id: &'a str,
        host: &'a str,
        text: &'a str,
    },
    StepFinished {
        path: &'a str,
        result: &'a StepResult,
        runbook: &'a Runbook,
    },
    RunbookFinished {
        result: &'a RunbookResult,
    },
}

/// A consumer of events: the terminal, the store, the site's streams.
pub trait Sink: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Sends every event to several sinks.
pub struct Fanout(pub Vec<Arc<dyn Sink>>);

impl Sink for Fanout {
    fn event(&self, event: &Event<'_>) {
        for s in &self.0 {
            s.event(event);
        }
    }
}

/// Answers whether a required runbook (project-relative path) last passed on these hosts.
pub type RequiresCheck = dyn Fn(&str, &[String]) -> Result<(), String> + Send + Sync;

/// The environment of each runbook's sessions: variables and secrets (SPEC §2). A declared
/// variable without a value is an error before anything runs.
pub fn environment(
    ws: &Workspace,
    rb: &Runbook,
    opts: &RunOptions,
) -> Result<(Vec<(String, String)>, Redactor), Diagnostic> {
    let project = &ws.project;
    let mut values: Vec<(String, Option<String>)> = Vec::new();
    let set = |name: &str, value: Option<String>, values: &mut Vec<(String, Option<String>)>| {
        match values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => {
                if value.is_some() {
                    slot.1 = value;
                }
            }
            None => values.push((name.to_string(), value)),
        }
    };
    for (k, v) in &rb.front.vars {
        set(k, v.clone(), &mut values);
    }
    for (k, v) in &project.vars {
        set(k, Some(v.clone()), &mut values);
    }
    for (k, v) in &opts.vars {
        if project.secrets.contains(k) {
            return Err(Diagnostic::at_path(
                "--var",
                format!("`{k}` is a secret: its value comes only from the environment of runbook"),
            )
            .with_help(format!("export {k}=... before running, instead of --var")));
        }
        set(k, Some(v.clone()), &mut values);
    }
    let mut secrets = Vec::new();
    for name in &project.secrets {
        let value = opts
            .secret_values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok());
        if let Some(v) = &value {
            secrets.push((name.clone(), v.clone()));
        }
        set(name, value, &mut values);
    }
    let mut env = Vec::new();
    for (k, v) in values {
        match v {
            Some(v) => env.push((k, v)),
            None if rb.front.vars.contains_key(&k) => {
                let region = &rb.file.text[rb.front.span.range()];
                let at = region
                    .find(k.as_str())
                    .map_or(rb.front.span.start, |i| rb.front.span.start + i);
                let how = if project.secrets.contains(&k) {
                    format!("it is a secret: export {k}=... in the environment of runbook")
                } else {
                    format!("give it a value: --var {k}=VALUE, or under [vars] in runbook.toml")
                };
                return Err(Diagnostic::error(
                    &rb.file,
                    crate::source::Span::new(at, at + k.len()),
                    format!("variable `{k}` has no value"),
                )
                .with_help(how));
            }
            None => {}
        }
    }
    Ok((env, Redactor::new(&secrets)))
}

/// Opens a session on a host: a local shell in the runbook's folder, or a remote one.
pub async fn open_session(
    project: &Project,
    host: &str,
    cwd: &Path,
    env: &[(String, String)],
) -> Result<Shell, String> {
    let mut env = env.to_vec();
    env.push(("RUNBOOK_HOST".into(), host.to_string()));
    match project.target(host) {
        Some(Target::Local) => {
            let mut shell = crate::exec::local::start(cwd, &env, LOCAL_START_TIMEOUT)
                .await
                .map_err(|e| format!("{host}: {e}"))?;
            let _ = shell
                .run(
                    &format!(
                        "cd {}",
                        crate::exec::session::quote(&cwd.display().to_string())
                    ),
                    LOCAL_START_TIMEOUT,
                    &mut |_| {},
                )
                .await;
            Ok(shell)
        }
        Some(Target::Ssh(dest)) => open_remote(project, host, &dest, &env).await,
        None => Err(format!("{host}: unknown host")),
    }
}

async fn open_remote(
    project: &Project,
    host: &str,
    dest: &str,
    env: &[(String, String)],
) -> Result<Shell, String> {
    // The handshake has its own bound (connect_timeout); this one covers the shell's setup.
    let setup = project.ssh.connect_timeout + Duration::from_secs(20);
    crate::exec::ssh::start(host, dest, &project.ssh, env, setup)
        .await
        .map_err(|e| e.to_string())
}

pub struct Runner<'w> {
    pub ws: &'w Workspace,
    pub opts: RunOptions,
    pub sink: Arc<dyn Sink>,
    pub requires: Arc<RequiresCheck>,
}

/// Per-runbook context shared by the hosts' tasks.
struct Ctx<'a> {
    rb: &'a Runbook,
    path: String,
    redactor: Redactor,
    sink: Arc<dyn Sink>,
}

impl Ctx<'_> {
    /// Sends a result that needed no host (skipped, manual) and keeps it.
    fn report(&self, r: StepResult, out: &mut Vec<StepResult>) {
        self.sink.event(&Event::StepFinished {
            path: &self.path,
            result: &r,
            runbook: self.rb,
        });
        out.push(r);
    }
}

impl<'w> Runner<'w> {
    /// Runs the planned runbooks in order. Environments must have been checked with
    /// [`environment`] first (the CLI does, to exit 2 before anything runs).
    pub async fn run(&self, planned: &[PlannedRunbook]) -> Vec<RunbookResult> {
        let mut results: Vec<RunbookResult> = Vec::new();
        let mut status_of: HashMap<usize, Status> = HashMap::new();
        for p in planned {
            let rb = &self.ws.runbooks[p.runbook];
            let path = self.ws.rel_path(rb);
            let (env, redactor) = environment(self.ws, rb, &self.opts).unwrap_or_default();
            let ctx = Ctx {
                rb,
                path: path.clone(),
                redactor,
                sink: self.sink.clone(),
            };
            self.sink.event(&Event::RunbookStarted {
                path: &path,
                title: &rb.title(),
            });
            let unmet = self.unmet_requirement(p, &status_of);
            let steps = match unmet {
                Some(reason) => self.skip_all(&ctx, p, SkipReason::Requires, &reason),
                None => self.run_runbook(&ctx, p, &env).await,
            };
            let result = RunbookResult::new(path, steps);
            status_of.insert(p.runbook, result.status);
            self.sink.event(&Event::RunbookFinished { result: &result });
            results.push(result);
        }
        results
    }

    fn unmet_requirement(
        &self,
        p: &PlannedRunbook,
        status_of: &HashMap<usize, Status>,
    ) -> Option<String> {
        for &r in &p.requires_in_run {
            let st = status_of.get(&r).copied().unwrap_or(Status::Skipped);
            if st != Status::Passed {
                return Some(format!(
                    "requires {}, which {} in this run",
                    self.ws.rel_path(&self.ws.runbooks[r]),
                    st.as_str()
                ));
            }
        }
        let hosts = p.hosts();
        for r in &p.requires_elsewhere {
            if let Err(why) = (self.requires)(r, &hosts) {
                return Some(format!("required runbook {why}"));
            }
        }
        None
    }

    fn skip_all(
        &self,
        ctx: &Ctx<'_>,
        p: &PlannedRunbook,
        reason: SkipReason,
        message: &str,
    ) -> Vec<StepResult> {
        let mut out = Vec::new();
        for ps in &p.steps {
            let step = &ctx.rb.steps[ps.step];
            let why = if ps.selected {
                reason
            } else {
                SkipReason::NotSelected
            };
            for h in &ps.hosts {
                let r = skipped(step, h, why, message);
                ctx.report(r, &mut out);
            }
        }
        out
    }

    async fn run_runbook(
        &self,
        ctx: &Ctx<'_>,
        p: &PlannedRunbook,
        env: &[(String, String)],
    ) -> Vec<StepResult> {
        let cwd: PathBuf = ctx
            .rb
            .file
            .path
            .parent()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let cwd = std::path::absolute(&cwd).unwrap_or(cwd);
        let project = &self.ws.project;
        // Connect to every host at once.
        let hosts = p.hosts();
        let opened: Vec<(String, Result<Shell, String>)> = stream::iter(hosts.iter().cloned())
            .map(|h| {
                let cwd = cwd.clone();
                async move {
                    let r = open_session(project, &h, &cwd, env).await;
                    (h, r)
                }
            })
            .buffer_unordered(self.opts.jobs.max(1))
            .collect()
            .await;
        let mut sessions: HashMap<String, Slot> = HashMap::new();
        for (h, r) in opened {
            sessions.insert(
                h,
                match r {
                    Ok(s) => Slot::Open(s),
                    Err(e) => Slot::Failed(e),
                },
            );
        }
        let mut out = Vec::new();
        let mut stopped = false;
        for ps in &p.steps {
            let step = &ctx.rb.steps[ps.step];
            if !ps.selected || stopped {
                let reason = if !ps.selected {
                    SkipReason::NotSelected
                } else {
                    SkipReason::EarlierFailure
                };
                let msg = if !ps.selected {
                    "not selected by --only/--from"
                } else {
                    "an earlier step failed"
                };
                for h in &ps.hosts {
                    let r = skipped(step, h, reason, msg);
                    ctx.report(r, &mut out);
                }
                continue;
            }
            if let Action::Manual { text } = &step.action {
                for h in &ps.hosts {
                    let mut r = base_result(step, h);
                    r.status = Status::Manual;
                    r.expected = text.clone();
                    ctx.report(r, &mut out);
                }
                continue;
            }
            let mut taken: Vec<(String, Slot)> = ps
                .hosts
                .iter()
                .map(|h| {
                    (
                        h.clone(),
                        sessions
                            .remove(h)
                            .unwrap_or(Slot::Failed(format!("{h}: no session"))),
                    )
                })
                .collect();
            let jobs = if step.serial {
                1
            } else {
                self.opts.jobs.max(1)
            };
            let run_one = |(h, slot): (String, Slot)| {
                let cwd = &cwd;
                async move {
                    let on = OnHost {
                        project,
                        ctx,
                        step,
                        host: &h,
                        cwd,
                        env,
                    };
                    let (slot, r) = run_on_host(&on, slot).await;
                    (h, slot, r)
                }
            };
            // Most steps run on one host: no stream machinery for them.
            let results: Vec<(String, Slot, StepResult)> = if taken.len() == 1 {
                vec![run_one(taken.remove(0)).await]
            } else {
                stream::iter(taken.drain(..))
                    .map(run_one)
                    .buffered(jobs)
                    .collect()
                    .await
            };
            for (h, slot, r) in results {
                sessions.insert(h, slot);
                if matches!(r.status, Status::Failed | Status::Error) && !self.opts.keep_going {
                    stopped = true;
                }
                out.push(r);
            }
        }
        for (_, slot) in sessions.drain() {
            if let Slot::Open(s) = slot {
                s.close().await;
            }
        }
        out
    }
}

enum Slot {
    Open(Shell),
    Failed(String),
}

/// One step on one host: what the functions below need to run it.
#[derive(Clone, Copy)]
struct OnHost<'a> {
    project: &'a Project,
    ctx: &'a Ctx<'a>,
    step: &'a Step,
    host: &'a str,
    cwd: &'a Path,
    env: &'a [(String, String)],
}

fn base_result(step: &Step, host: &str) -> StepResult {
    StepResult {
        id: step.id.clone(),
        host: host.to_string(),
        line: step.line,
        status: Status::Passed,
        exit_code: None,
        duration_ms: 0,
        attempts: 0,
        expected: String::new(),
        actual: String::new(),
        diff: String::new(),
        message: None,
        skip_reason: None,
        notes: Vec::new(),
        started_at: now_rfc3339(),
        checks: Vec::new(),
    }
}

fn skipped(step: &Step, host: &str, reason: SkipReason, message: &str) -> StepResult {
    let mut r = base_result(step, host);
    r.status = Status::Skipped;
    r.skip_reason = Some(reason);
    r.message = Some(message.to_string());
    r
}

/// Runs one step on one host, reopening the session first if an earlier timeout ended it.
async fn run_on_host(on: &OnHost<'_>, slot: Slot) -> (Slot, StepResult) {
    let OnHost {
        project,
        ctx,
        step,
        host,
        cwd,
        env,
    } = *on;
    ctx.sink.event(&Event::StepStarted {
        path: &ctx.path,
        id: &step.id,
        host,
    });
    let started = Instant::now();
    let mut result = base_result(step, host);
    let mut shell = match slot {
        Slot::Open(s) if !s.is_dead() => s,
        Slot::Open(_) => match open_session(project, host, cwd, env).await {
            Ok(s) => s,
            Err(e) => return finish_error(ctx, result, started, e, Slot::Failed),
        },
        Slot::Failed(e) => return finish_error(ctx, result, started, e, Slot::Failed),
    };
    let deadline = step.retry.map(|r| started + r);
    loop {
        result.attempts += 1;
        let attempt = attempt(&mut shell, on).await;
        match attempt {
            Err(ShellError::Closed(_)) if step.reconnect.is_some() => {
                drop(shell);
                return reconnect(on, result, started).await;
            }
            Err(e) => {
                let msg = match &e {
                    ShellError::Timeout(_) => format!(
                        "{host}: step `{}` {e}; its processes on the host were ended",
                        step.id
                    ),
                    ShellError::Closed(_) => format!(
                        "{host}: {e}; check that the host is up and reachable, then run again"
                    ),
                    ShellError::TooLarge => format!("{host}: {e}"),
                };
                // A dead session is reopened by the next step that needs this host.
                return finish_error(ctx, result, started, msg, |_| Slot::Open(shell));
            }
            Ok(a) => {
                let passed = a.status == Status::Passed;
                result.status = a.status;
                result.exit_code = a.exit_code;
                result.expected = a.expected;
                result.actual = a.actual;
                result.diff = a.diff;
                result.notes = a.notes;
                result.message = a.message;
                result.checks = a.checks;
                if step.reconnect.is_some() && passed {
                    // The command finished without dropping the connection: wait for the drop.
                    return wait_for_drop(on, shell, result, started).await;
                }
                let again = !passed && deadline.is_some_and(|d| Instant::now() + step.every < d);
                if !again {
                    break;
                }
                tokio::time::sleep(step.every).await;
            }
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    ctx.sink.event(&Event::StepFinished {
        path: &ctx.path,
        result: &result,
        runbook: ctx.rb,
    });
    (Slot::Open(shell), result)
}

fn finish_error(
    ctx: &Ctx<'_>,
    mut result: StepResult,
    started: Instant,
    msg: String,
    slot: impl FnOnce(String) -> Slot,
) -> (Slot, StepResult) {
    result.status = Status::Error;
    result.message = Some(ctx.redactor.redact(&msg).into_owned());
    result.duration_ms = started.elapsed().as_millis() as u64;
    if result.attempts == 0 {
        result.attempts = 1;
    }
    ctx.sink.event(&Event::StepFinished {
        path: &ctx.path,
        result: &result,
        runbook: ctx.rb,
    });
    (slot(msg), result)
}

async fn wait_for_drop(
    on: &OnHost<'_>,
    mut shell: Shell,
    result: StepResult,
    started: Instant,
) -> (Slot, StepResult) {
    let OnHost {
        ctx, step, host, ..
    } = *on;
    let limit = step.reconnect.unwrap_or_default();
    match shell.run("sleep 86400", limit, &mut |_| {}).await {
        Err(ShellError::Closed(_)) => reconnect(on, result, started).await,
        _ => {
            let msg = format!(
                "{host}: step `{}` has reconnect= but the connection did not drop within {}",
                step.id,
                humantime::format_duration(limit)
            );
            finish_error(ctx, result, started, msg, |_| Slot::Open(shell))
        }
    }
}

/// After a command that dropped the connection: open a new session, trying until `reconnect=`.
async fn reconnect(
    on: &OnHost<'_>,
    mut result: StepResult,
    started: Instant,
) -> (Slot, StepResult) {
    let OnHost {
        project,
        ctx,
        step,
        host,
        cwd,
        env,
    } = *on;
    let limit = step.reconnect.unwrap_or_default();
    let deadline = started + limit;
    let mut last = String::new();
    // A host going down for a reboot may still answer for a moment; give it one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while Instant::now() < deadline {
        match open_session(project, host, cwd, env).await {
            Ok(shell) => {
                result.status = Status::Passed;
                result.duration_ms = started.elapsed().as_millis() as u64;
                result.notes.push(format!("{host} dropped the connection and answered again after {} ms; the session started anew", result.duration_ms));
                ctx.sink.event(&Event::StepFinished {
                    path: &ctx.path,
                    result: &result,
                    runbook: ctx.rb,
                });
                return (Slot::Open(shell), result);
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let msg = format!(
        "{host}: did not answer again within reconnect={} after step `{}` ({last})",
        humantime::format_duration(limit),
        step.id
    );
    finish_error(ctx, result, started, msg, Slot::Failed)
}

/// One attempt's findings.
struct Attempt {
    status: Status,
    exit_code: Option<i32>,
    expected: String,
    actual: String,
    diff: String,
    notes: Vec<String>,
    message: Option<String>,
    checks: Vec<Check>,
}

impl Attempt {
    fn new() -> Attempt {
        Attempt {
            status: Status::Passed,
            exit_code: None,
            expected: String::new(),
            actual: String::new(),
            diff: String::new(),
            notes: Vec::new(),
            message: None,
            checks: Vec::new(),
        }
    }
}

/// Runs a command, streaming its redacted output to the sink.
async fn run_streamed(
    shell: &mut Shell,
    on: &OnHost<'_>,
    command: &str,
) -> Result<(String, i32), ShellError> {
    let OnHost {
        ctx, step, host, ..
    } = *on;
    let mut stream = ctx.redactor.stream();
    let sink = ctx.sink.clone();
    let path = ctx.path.as_str();
    let id = step.id.as_str();
    let mut emit = |chunk: &[u8]| {
        let text = stream.push(chunk);
        if !text.is_empty() {
            sink.event(&Event::Output {
                path,
                id,
                host,
                text: &text,
            });
        }
    };
    let ran = shell.run(command, step.timeout, &mut emit).await?;
    let tail = stream.finish();
    if !tail.is_empty() {
        ctx.sink.event(&Event::Output {
            path,
            id,
            host,
            text: &tail,
        });
    }
    // Take the output as it is when it is UTF-8 (the usual case): no copy of a large output.
    let text = String::from_utf8(ran.output)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let redacted = match ctx.redactor.redact(&text) {
        std::borrow::Cow::Owned(o) => Some(o),
        std::borrow::Cow::Borrowed(_) => None,
    };
    Ok((redacted.unwrap_or(text), ran.exit_code))
}

async fn attempt(shell: &mut Shell, on: &OnHost<'_>) -> Result<Attempt, ShellError> {
    let OnHost { ctx, step, .. } = *on;
    let mut a = Attempt::new();
    let file = &ctx.rb.file;
    match &step.action {
        Action::Console(cmds) => {
            let multi = cmds.len() > 1;
            for (i, cmd) in cmds.iter().enumerate() {
                let want = if i + 1 == cmds.len() {
                    step.exit
                } else {
                    ExitSpec::Code(0)
                };
                let (actual, code) = run_streamed(shell, on, &cmd.text).await?;
                let expected_text = cmd.expected.text();
                let mut verdict = matcher::check(&expected_text, actual, &cmd.expected.spec);
                let heading_at = cmd
                    .expected
                    .lines
                    .first()
                    .map_or(cmd.span.start, |l| l.span.start);
                if multi {
                    a.expected
                        .push_str(&format!("{} {}\n", cmd.prompt, cmd.text));
                    a.actual.push_str(&format!("{} {}\n", cmd.prompt, cmd.text));
                }
                push_text(
                    &mut a.expected,
                    &crate::matcher::normalize(&expected_text),
                    multi,
                );
                if multi {
                    push_text(&mut a.actual, &verdict.actual, multi);
                } else {
                    a.actual = std::mem::take(&mut verdict.actual);
                }
                a.exit_code = Some(code);
                let exit_ok = want.accepts(code);
                record(
                    &mut a,
                    file.location(heading_at),
                    verdict,
                    i,
                    exit_ok,
                    want,
                    code,
                );
                if !exit_ok {
                    break;
                }
            }
        }
        Action::Script {
            code: script,
            expected,
        } => {
            let (actual, code) = run_streamed(shell, on, script).await?;
            a.exit_code = Some(code);
            let exit_ok = step.exit.accepts(code);
            match expected {
                Some(e) => {
                    let expected_text = e.text();
                    let mut verdict = matcher::check(&expected_text, actual, &e.spec);
                    a.expected = crate::matcher::normalize(&expected_text);
                    a.actual = std::mem::take(&mut verdict.actual);
                    let at = e
                        .lines
                        .first()
                        .map_or(ctx.rb.blocks[e.block].fenced.span.start, |l| l.span.start);
                    record(
                        &mut a,
                        file.location(at),
                        verdict,
                        0,
                        exit_ok,
                        step.exit,
                        code,
                    );
                }
                None => {
                    let verdict = matcher::check(
                        "",
                        actual,
                        &MatchSpec {
                            mode: matcher::MatchMode::Any,
                            ..Default::default()
                        },
                    );
                    a.actual = verdict.actual;
                    if !exit_ok {
                        fail_exit(&mut a, step.exit, code);
                    }
                }
            }
        }
        Action::File {
            path,
            mode,
            perm,
            content,
        } => file_step(shell, on, &mut a, path, Some(*mode), *perm, content).await?,
        Action::Diff { path, diff, perm } => {
            file_step(shell, on, &mut a, path, None, *perm, diff).await?
        }
        Action::Manual { .. } => a.status = Status::Manual,
    }
    Ok(a)
}

fn push_text(buf: &mut String, text: &str, multi: bool) {
    buf.push_str(text);
    if multi && !text.is_empty() {
        buf.push('\n');
    }
}

fn record(
    a: &mut Attempt,
    heading: String,
    verdict: matcher::Verdict,
    index: usize,
    exit_ok: bool,
    want: ExitSpec,
    code: i32,
) {
    if !verdict.passed {
        a.status = Status::Failed;
        a.diff.push_str(&format!("{heading}\n{}", verdict.diff));
        a.notes.extend(verdict.notes.iter().cloned());
    }
    if !exit_ok {
        fail_exit(a, want, code);
    }
    a.checks.push(Check {
        expectation: index,
        verdict,
    });
}

fn fail_exit(a: &mut Attempt, want: ExitSpec, code: i32) {
    a.status = Status::Failed;
    let want = match want {
        ExitSpec::Code(c) => c.to_string(),
        ExitSpec::Any => "any".into(),
    };
    a.message = Some(format!("exit status {code}, expected {want}"));
}

async fn file_step(
    shell: &mut Shell,
    on: &OnHost<'_>,
    a: &mut Attempt,
    path: &str,
    mode: Option<FileMode>,
    perm: Option<u32>,
    body: &str,
) -> Result<(), ShellError> {
    let OnHost {
        ctx, step, host, ..
    } = *on;
    let read = shell
        .run(&files::read_script(path), step.timeout, &mut |_| {})
        .await?;
    let current = match read.exit_code {
        0 => Some(String::from_utf8_lossy(&read.output).into_owned()),
        files::MISSING_FILE_STATUS => None,
        code => {
            a.status = Status::Failed;
            a.exit_code = Some(code);
            a.message = Some(format!(
                "cannot read {path} on {host}: {}",
                String::from_utf8_lossy(&read.output).trim()
            ));
            return Ok(());
        }
    };
    a.expected = body.to_string();
    let new = match (mode, &current) {
        (Some(FileMode::Replace), Some(cur)) if cur == body => None,
        (Some(FileMode::Replace), _) => Some(body.to_string()),
        (Some(FileMode::Append), cur) => files::append_missing(cur.as_deref().unwrap_or(""), body),
        (None, None) => {
            a.status = Status::Failed;
            a.message = Some(format!(
                "{path} does not exist on {host}, so the diff cannot be applied"
            ));
            return Ok(());
        }
        (None, Some(cur)) => {
            match files::parse_unified_diff(body).and_then(|h| files::apply_diff(cur, &h)) {
                Ok(Patched::Changed(n)) => Some(n),
                Ok(Patched::AlreadyApplied) => None,
                Err(e) => {
                    a.status = Status::Failed;
                    a.message = Some(format!("the diff for {path} does not apply on {host}"));
                    a.diff = format!(
                        "{}\n{e}",
                        ctx.rb
                            .file
                            .location(ctx.rb.blocks[step.block].fenced.span.start)
                    );
                    return Ok(());
                }
            }
        }
    };
    let what = match (&new, mode) {
        (None, None) => "diff already applied, unchanged".to_string(),
        (None, _) => "already as written, unchanged".to_string(),
        (Some(_), None) => "diff applied".to_string(),
        (Some(_), Some(FileMode::Append)) => "missing lines appended".to_string(),
        (Some(_), Some(FileMode::Replace)) => if current.is_some() {
            "content replaced"
        } else {
            "file created"
        }
        .to_string(),
    };
    let script = match (&new, perm) {
        (Some(content), _) => Some(files::write_script(path, content, perm)),
        (None, Some(p)) => Some(format!(
            "chmod {p:04o} {}",
            crate::exec::session::quote(path)
        )),
        (None, None) => None,
    };
    if let Some(script) = script {
        let w = shell.run(&script, step.timeout, &mut |_| {}).await?;
        a.exit_code = Some(w.exit_code);
        if w.exit_code != 0 {
            a.status = Status::Failed;
            a.message = Some(format!(
                "cannot write {path} on {host}: {}",
                String::from_utf8_lossy(&w.output).trim()
            ));
            return Ok(());
        }
    } else {
        a.exit_code = Some(0);
    }
    a.actual = format!("{path}: {what}");
    Ok(())
}

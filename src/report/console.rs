//! The terminal report (SPEC §3.1): one line a step and host as it ends (status, id, host,
//! duration); a drift prints its diff headed by the expected block's `PATH:LINE`; the run
//! ends with the summary counts. While a step runs longer than a second and standard error is
//! a terminal, a live line shows it with its elapsed time and last line of output. Colour
//! only on a terminal and never with `NO_COLOR`. `-q`: only drifts and errors; `-v`: every
//! output.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::exec::runner::{Event, Sink};
use crate::outcome::{RunbookResult, Status, StepResult, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

struct Running {
    started: Instant,
    last_line: String,
}

struct State {
    running: BTreeMap<(String, String), Running>,
    live_shown: bool,
}

pub struct Console {
    verbosity: Verbosity,
    color: bool,
    live: bool,
    state: Arc<Mutex<State>>,
}

const RESET: &str = "\x1b[0m";

impl Console {
    pub fn new(verbosity: Verbosity) -> Arc<Console> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = !no_color && std::io::stdout().is_terminal();
        let live = std::io::stderr().is_terminal() && verbosity != Verbosity::Quiet;
        let c = Arc::new(Console {
            verbosity,
            color,
            live,
            state: Arc::new(Mutex::new(State {
                running: BTreeMap::new(),
                live_shown: false,
            })),
        });
        if live {
            let state = Arc::downgrade(&c.state);
            let color = c.color;
            std::thread::spawn(move || loop {
                std::thread::sleep(Duration::from_millis(200));
                let Some(state) = state.upgrade() else { break };
                let mut st = state.lock().unwrap();
                draw_live(&mut st, color);
            });
        }
        c
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn status_word(&self, s: Status) -> String {
        let (code, word) = match s {
            Status::Passed => ("32", "passed "),
            Status::Failed => ("31;1", "FAILED "),
            Status::Error => ("35;1", "ERROR  "),
            Status::Skipped => ("33", "skipped"),
            Status::Manual => ("36", "manual "),
        };
        self.paint(code, word)
    }

    fn print(&self, text: &str) {
        let mut st = self.state.lock().unwrap();
        clear_live(&mut st);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn step_line(&self, r: &StepResult) -> String {
        let mut line = format!(
            "{} {}  {}  {}\n",
            self.status_word(r.status),
            r.id,
            self.paint("2", &r.host),
            duration(r.duration_ms)
        );
        if r.attempts > 1 {
            line = line.trim_end().to_string() + &format!("  ({} attempts)\n", r.attempts);
        }
        if r.status == Status::Skipped {
            if let Some(m) = &r.message {
                line = line.trim_end().to_string() + &format!("  — {m}\n");
            }
        }
        line
    }

    fn details(&self, path: &str, r: &StepResult) -> String {
        let mut out = String::new();
        if let Some(m) = &r.message {
            if r.status != Status::Skipped {
                out.push_str(&format!(
                    "  {}: {}\n",
                    self.paint("1", &format!("{path}:{}", r.line)),
                    m
                ));
            }
        }
        if !r.diff.is_empty() {
            for l in r.diff.lines() {
                let painted = if l.starts_with("+++") || l.starts_with("---") {
                    self.paint("1", l)
                } else if l.starts_with('+') {
                    self.paint("32", l)
                } else if l.starts_with('-') {
                    self.paint("31", l)
                } else if l.starts_with("@@") {
                    self.paint("36", l)
                } else {
                    l.to_string()
                };
                out.push_str("  ");
                out.push_str(&painted);
                out.push('\n');
            }
        }
        for n in &r.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }

    /// The closing summary line.
    pub fn summary(&self, results: &[RunbookResult], elapsed: Duration) {
        let s = Summary::of(results.iter().flat_map(|r| &r.steps));
        let total = s.passed + s.failed + s.errors + s.skipped + s.manual;
        let mut parts = vec![self.paint("32", &format!("{} passed", s.passed))];
        let mut push = |n: usize, what: &str, code: &str| {
            let t = format!("{n} {what}");
            parts.push(if n > 0 { self.paint(code, &t) } else { t });
        };
        push(s.failed, "failed", "31;1");
        push(s.errors, "errors", "35;1");
        push(s.skipped, "skipped", "33");
        push(s.manual, "manual", "36");
        let line = format!(
            "\nrunbook finished {total} step result(s) in {:.2}s — {}\n",
            elapsed.as_secs_f64(),
            parts.join(", ")
        );
        self.print(&line);
    }
}

impl Sink for Console {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::RunbookStarted { path, title } => {
                if self.verbosity != Verbosity::Quiet {
                    self.print(&format!(
                        "{} {}\n",
                        self.paint("1", path),
                        self.paint("2", &format!("— {title}"))
                    ));
                }
            }
            Event::StepStarted { path: _, id, host } => {
                if self.live {
                    let mut st = self.state.lock().unwrap();
                    st.running.insert(
                        (id.to_string(), host.to_string()),
                        Running {
                            started: Instant::now(),
                            last_line: String::new(),
                        },
                    );
                }
            }
            Event::Output { id, host, text, .. } => {
                if self.live {
                    let mut st = self.state.lock().unwrap();
                    if let Some(r) = st.running.get_mut(&(id.to_string(), host.to_string())) {
                        if let Some(l) = text.lines().rev().find(|l| !l.trim().is_empty()) {
                            r.last_line = strip_escapes(l);
                        }
                    }
                }
            }
            Event::StepFinished { path, result, .. } => {
                if self.live {
                    self.state
                        .lock()
                        .unwrap()
                        .running
                        .remove(&(result.id.clone(), result.host.clone()));
                }
                let bad = matches!(result.status, Status::Failed | Status::Error);
                if self.verbosity == Verbosity::Quiet && !bad {
                    return;
                }
                let mut text = self.step_line(result);
                if bad {
                    text.push_str(&self.details(path, result));
                }
                if self.verbosity == Verbosity::Verbose && !result.actual.is_empty() {
                    for l in result.actual.lines() {
                        text.push_str(&format!("  | {l}\n"));
                    }
                }
                self.print(&text);
            }
            Event::RunbookFinished { .. } => {}
        }
    }
}

fn strip_escapes(s: &str) -> String {
    strip_ansi_escapes::strip_str(s)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

fn clear_live(st: &mut State) {
    if st.live_shown {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(b"\r\x1b[2K");
        let _ = e.flush();
        st.live_shown = false;
    }
}

fn draw_live(st: &mut State, color: bool) {
    let now = Instant::now();
    let long: Vec<String> = st
        .running
        .iter()
        .filter(|(_, r)| now.duration_since(r.started) > Duration::from_secs(1))
        .map(|((id, host), r)| {
            let secs = now.duration_since(r.started).as_secs_f64();
            let last: String = r.last_line.chars().take(60).collect();
            format!(
                "{id} on {host} {secs:.0}s {}",
                if last.is_empty() {
                    String::new()
                } else {
                    format!("│ {last}")
                }
            )
        })
        .collect();
    if long.is_empty() {
        clear_live(st);
        return;
    }
    let width = terminal_width().saturating_sub(2);
    let mut line: String = format!("… {}", long.join("  ·  "));
    if line.chars().count() > width {
        line = line.chars().take(width).collect();
    }
    let mut e = std::io::stderr().lock();
    let text = if color {
        format!("\r\x1b[2K\x1b[2m{line}{RESET}")
    } else {
        format!("\r\x1b[2K{line}")
    };
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
    st.live_shown = true;
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

//! Runs started from the page, and the streams that watch them.
//!
//! Each runbook has a [`Channel`]: a tokio broadcast channel (as mdBook's `serve` pushes
//! reloads) that every open page of that runbook, in any language, subscribes to through
//! server-sent events. A run's messages are also kept while it lasts, so a page opened
//! mid-run (or one whose connection dropped and came back) replays it from the start.
//!
//! One run at a time in the whole server: two runs on the same hosts would step on each
//! other. When the last page watching a run has been gone for the grace period, the run is
//! cancelled: its future is dropped, which closes the sessions (the local transport kills the
//! shell's process group), so closing the tab leaves nothing running on a host.
//!
//! Messages are JSON objects with a `t` field:
//! `begin {run, steps: [{step, hosts}]}`, `start {step, host}`, `out {step, host, text}`,
//! `done {step, host, status, html: {LANG: lane}}`, `end {run, status, exit, cancelled}`,
//! `lagged` (this page missed messages).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::exec::runner::{Event, Sink};
use crate::outcome::SkipReason;
use crate::site::i18n;
use crate::site::render::{LaneTemplate, LaneView};

/// Output kept for late watchers, per run; past it, only the step verdicts are kept.
const REPLAY_CAP: usize = 8 * 1024 * 1024;

pub struct Live {
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    active: Mutex<Option<Active>>,
    next_run: AtomicU64,
    /// How long a run may go unwatched before it is cancelled.
    pub grace: Duration,
}

struct Active {
    run: u64,
    runbook: String,
    cancel: watch::Sender<bool>,
}

pub struct Channel {
    tx: broadcast::Sender<Arc<str>>,
    state: Mutex<ChannelState>,
}

#[derive(Default)]
struct ChannelState {
    watchers: usize,
    recording: bool,
    replay: Vec<Arc<str>>,
    replay_bytes: usize,
}

/// Held by each open stream; counts the watchers.
pub struct WatchGuard {
    channel: Arc<Channel>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut st = self.channel.lock();
        st.watchers = st.watchers.saturating_sub(1);
    }
}

impl Channel {
    fn new() -> Channel {
        Channel {
            tx: broadcast::channel(4096).0,
            state: Mutex::new(ChannelState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChannelState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends to every watcher, and keeps it for late ones while a run lasts. Under the lock,
    /// so a watcher that subscribes sees each message exactly once: in its replay or live.
    pub fn send(&self, msg: String) {
        self.send_kind(msg, false)
    }

    /// [`Channel::send`] for a chunk of output, which late watchers may miss past the cap.
    fn send_output(&self, msg: String) {
        self.send_kind(msg, true)
    }

    fn send_kind(&self, msg: String, is_output: bool) {
        // Valid JSON either way; no `<` in the stream, so it reads as nothing but text even if
        // something shows it as HTML.
        let msg: Arc<str> = Arc::from(msg.replace('<', "\\u003c"));
        let mut st = self.lock();
        if st.recording && (!is_output || st.replay_bytes < REPLAY_CAP) {
            st.replay_bytes += msg.len();
            st.replay.push(msg.clone());
        }
        let _ = self.tx.send(msg);
    }

    pub fn watchers(&self) -> usize {
        self.lock().watchers
    }

    fn begin(&self, msg: String) {
        {
            let mut st = self.lock();
            st.replay.clear();
            st.replay_bytes = 0;
            st.recording = true;
        }
        self.send(msg);
    }

    fn end(&self, msg: String) {
        self.send(msg);
        let mut st = self.lock();
        st.recording = false;
        st.replay.clear();
        st.replay_bytes = 0;
    }
}

impl Live {
    pub fn new(grace: Duration) -> Live {
        Live {
            channels: Mutex::new(HashMap::new()),
            active: Mutex::new(None),
            next_run: AtomicU64::new(1),
            grace,
        }
    }

    pub fn channel(&self, runbook: &str) -> Arc<Channel> {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(runbook.to_string())
            .or_insert_with(|| Arc::new(Channel::new()))
            .clone()
    }

    /// Subscribes to a runbook's channel: the messages of the run in progress so far, the
    /// receiver for the next ones, and the guard that counts this watcher.
    pub fn watch(
        &self,
        runbook: &str,
    ) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>, WatchGuard) {
        let channel = self.channel(runbook);
        let (replay, rx) = {
            let mut st = channel.lock();
            st.watchers += 1;
            (st.replay.clone(), channel.tx.subscribe())
        };
        (replay, rx, WatchGuard { channel })
    }

    /// Claims the server for a run on `runbook`; `Err` names the runbook already running.
    pub fn try_begin(&self, runbook: &str) -> Result<(u64, watch::Receiver<bool>), String> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = active.as_ref() {
            return Err(a.runbook.clone());
        }
        let run = self.next_run.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        *active = Some(Active {
            run,
            runbook: runbook.to_string(),
            cancel: tx,
        });
        Ok((run, rx))
    }

    /// Releases the server after run `run`.
    pub fn finish(&self, run: u64) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.as_ref().is_some_and(|a| a.run == run) {
            *active = None;
        }
    }

    /// Cancels the run on `runbook` (any run, with `None`); whether there was one.
    pub fn cancel(&self, runbook: Option<&str>) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.as_ref() {
            Some(a) if runbook.is_none_or(|r| r == a.runbook) => {
                let _ = a.cancel.send(true);
                true
            }
            _ => false,
        }
    }

    pub fn running(&self) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Starts recording a run on the runbook's channel and announces it.
    pub fn announce(&self, runbook: &str, run: u64, steps: &[(String, Vec<String>)]) {
        let steps: Vec<_> = steps
            .iter()
            .map(|(s, h)| json!({"step": s, "hosts": h}))
            .collect();
        self.channel(runbook)
            .begin(json!({"t": "begin", "run": run, "steps": steps}).to_string());
    }

    pub fn conclude(&self, runbook: &str, run: u64, status: &str, exit: u8, cancelled: bool) {
        self.channel(runbook).end(
            json!({"t": "end", "run": run, "status": status, "exit": exit, "cancelled": cancelled})
                .to_string(),
        );
    }
}

/// Resolves when nobody has watched `channel` for `grace` in a row.
pub async fn orphaned(channel: Arc<Channel>, grace: Duration) {
    let mut alone_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if channel.watchers() == 0 {
            let since = *alone_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= grace {
                return;
            }
        } else {
            alone_since = None;
        }
    }
}

/// Resolves when the run is cancelled.
pub async fn cancelled(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            // The sender is gone only when the run has been released: never cancel then.
            std::future::pending::<()>().await;
        }
    }
}

/// The runner's events, as messages on a runbook's channel.
pub struct StreamSink {
    pub channel: Arc<Channel>,
    /// The languages the runbook is shown in: each gets its lane rendered.
    pub langs: Vec<String>,
}

impl Sink for StreamSink {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepStarted { id, host, .. } => self
                .channel
                .send(json!({"t": "start", "step": id, "host": host}).to_string()),
            Event::Output { id, host, text, .. } => self.channel.send_output(
                json!({"t": "out", "step": id, "host": host, "text": text}).to_string(),
            ),
            Event::StepFinished { result, .. } => {
                if result.skip_reason == Some(SkipReason::NotSelected) {
                    return;
                }
                let mut html = serde_json::Map::new();
                for lang in &self.langs {
                    let ui = i18n::ui(lang);
                    let lane = LaneView::from_result(ui, result);
                    let text = LaneTemplate { lane: &lane, ui }
                        .render()
                        .unwrap_or_default();
                    html.insert(lang.clone(), text.into());
                }
                self.channel.send(
                    json!({"t": "done", "step": result.id, "host": result.host,
                           "status": result.status.as_str(), "html": html})
                    .to_string(),
                );
            }
            _ => {}
        }
    }
}

//! The site in a real browser (issue 8): Debian's headless Chromium driven through
//! chromedriver with fantoccini, against `runbook serve` started as a user would.
//!
//! Each test starts its own server (on a free port) and its own chromedriver + Chromium with
//! a fresh profile, and stops them by pid. Every wait polls a condition in the page with a
//! deadline; nothing sleeps for a fixed time. Screenshots go to /tmp/runbook-shots/.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (scripts/install-test-deps).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const SHOTS: &str = "/tmp/runbook-shots";
const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process stopped (SIGINT, then SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `runbook serve` on a free port in `dir`: the process and the URL it printed.
fn serve(dir: &Path, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("serve")
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start runbook serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (Proc(child), url)
}

/// A browser: chromedriver, a Chromium session with a fresh profile.
struct Browser {
    client: Client,
    _driver: Proc,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(width: u32, height: u32, extra_args: &[&str]) -> Browser {
        Browser::launch(width, height, extra_args, None).await
    }

    /// A phone: 390 × 844 CSS pixels at twice the density, touch, no hover.
    async fn phone() -> Browser {
        let emulation = json!({
            "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0, "touch": true, "mobile": true},
        });
        Browser::launch(390, 844, &[], Some(emulation)).await
    }

    async fn launch(
        width: u32,
        height: u32,
        extra_args: &[&str],
        mobile: Option<Value>,
    ) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "the browser tests need {CHROMIUM} and {CHROMEDRIVER}: run scripts/install-test-deps"
        );
        let port = free_port();
        let driver = Proc(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra_args.iter().map(|s| s.to_string()));
        let mut caps = serde_json::Map::new();
        let mut options = json!({"binary": CHROMIUM, "args": args});
        if let Some(m) = mobile {
            options["mobileEmulation"] = m;
        }
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Polls `script` (a function body returning a value) until it returns something truthy.
    async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let html = self.client.source().await.unwrap_or_default();
                panic!("waited {WAIT:?} for {what}; the page:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn shot(&self, name: &str, full: bool) -> PathBuf {
        std::fs::create_dir_all(SHOTS).unwrap();
        if full {
            let h = self
                .js("return Math.ceil(document.documentElement.scrollHeight)")
                .await
                .as_u64()
                .unwrap_or(900) as u32;
            let w = self
                .js("return window.outerWidth")
                .await
                .as_u64()
                .unwrap_or(1280) as u32;
            self.client
                .set_window_size(w, h.clamp(600, 8000))
                .await
                .unwrap();
            // Let layout settle at the new size.
            self.js("return document.body.offsetHeight").await;
        }
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = Path::new(SHOTS).join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A project folder with files.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const DEMO: &str = r#"---
title: Demo
lang: en
---

# Demo

Prose with <script>document.title = "pwned-prose"</script> in it.

```sh {#slow}
echo first; sleep 2; echo second
```

```output
first
second
```

```console {#drift}
$ printf 'status: active\nconnections: 3\n<img src=x onerror="document.title=1">\n'
status: active
connections: 5
```

```text {#check-console manual}
Log in to the console and check the dashboard is green.
```
"#;

const DEMO_ZH: &str = "---\ntitle: 演示\nlang: zh-CN\n---\n\n# 演示\n\n中文的说明文字。\n\n```console {#hello}\n$ echo hello\nhello\n```\n";
const DEMO_ZH_EN: &str = "---\ntitle: Demonstration\nlang: en\n---\n\n# Demonstration\n\nThe English prose.\n\n```console {#hello}\n$ echo hello\nhello\n```\n";

fn demo() -> tempfile::TempDir {
    project(&[
        (
            "runbook.toml",
            "[site]\ntitle = \"Demo lab\"\nlanguages = [\"zh-CN\", \"en\"]\n",
        ),
        ("runbooks/demo.md", DEMO),
        ("runbooks/lang/hello.md", DEMO_ZH),
        ("translations/en/lang/hello.md", DEMO_ZH_EN),
    ])
}

/// The token URL, then the page: the cookie is set and the URL has lost the token.
async fn open_with_token(b: &Browser, url: &str, page: &str) {
    b.client.goto(url).await.unwrap();
    let base = url.split("/?token=").next().unwrap();
    b.client.goto(&format!("{base}/{page}")).await.unwrap();
    let here = b.client.current_url().await.unwrap();
    assert!(!here.as_str().contains("token"), "{here}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_lines_before_the_step_ends_then_the_verdict() {
    let dir = demo();
    let (_server, url) = serve(dir.path(), &[]);
    let b = Browser::start(1280, 900, &[]).await;
    open_with_token(&b, &url, "en/demo.html").await;
    b.until("the event stream", "return document.querySelector('button[data-run]') && !document.querySelector('button[data-run]').disabled").await;
    b.click("section.step[data-step='slow'] button[data-run='step']")
        .await;
    // `first` arrives while the step still sleeps; `second` is not there yet.
    let live = b
        .until(
            "`first` streamed in",
            "const p = document.querySelector(\".lane[data-step='slow'] pre.live\"); \
             return p && p.textContent.includes('first') ? p.textContent : null",
        )
        .await;
    let live = live.as_str().unwrap();
    assert!(!live.contains("second"), "{live}");
    let badge = b
        .js("return document.querySelector(\".lane[data-step='slow'] .badge\").className")
        .await;
    assert!(badge.as_str().unwrap().contains("st-running"), "{badge}");
    b.shot("demo-streaming", false).await;
    // Then the verdict replaces the live lane.
    b.until(
        "the step to pass",
        "return document.querySelector(\".lane.st-passed[data-step='slow']\")",
    )
    .await;
    let actual = b
        .js("return document.querySelector(\".lane[data-step='slow'] details.actual pre\").textContent")
        .await;
    assert_eq!(actual.as_str().unwrap(), "first\nsecond");
    assert_ne!(b.client.title().await.unwrap(), "pwned-prose");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifting_step_shows_its_status_and_a_coloured_diff_and_no_markup_runs() {
    let dir = demo();
    let (_server, url) = serve(dir.path(), &[]);
    let b = Browser::start(1280, 900, &[]).await;
    open_with_token(&b, &url, "en/demo.html").await;
    b.until(
        "the Run buttons",
        "return document.querySelector('button[data-run]')",
    )
    .await;
    b.click("section.step[data-step='drift'] button[data-run='step']")
        .await;
    b.until(
        "the drift",
        "return document.querySelector(\".lane.st-failed[data-step='drift'] pre.diff .dl.add\")",
    )
    .await;
    let lines = b
        .js("return Array.from(document.querySelectorAll(\".lane[data-step='drift'] pre.diff .dl\")).map(l => l.className + '|' + l.textContent)")
        .await;
    let lines: Vec<String> = serde_json::from_value(lines).unwrap();
    assert!(
        lines.contains(&"dl del|-connections: 5".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"dl add|+connections: 3".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("dl add|+<img")),
        "the markup is text: {lines:?}"
    );
    // The changed word is marked inside the changed line.
    let em = b
        .js("return Array.from(document.querySelectorAll(\".lane[data-step='drift'] pre.diff .dl.del em\")).map(e => e.textContent)")
        .await;
    assert_eq!(em, json!(["5"]));
    let imgs = b
        .js("return document.querySelectorAll('.lane img').length")
        .await;
    assert_eq!(imgs, json!(0));
    assert_ne!(b.client.title().await.unwrap(), "1");
    b.shot("demo-drift", true).await;
    // After a reload the same result comes from the store.
    b.client.refresh().await.unwrap();
    b.until(
        "the stored drift",
        "return document.querySelector(\".lane.st-failed[data-step='drift'] pre.diff .dl.add\")",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticked_manual_step_stays_ticked_after_reload() {
    let dir = demo();
    let (_server, url) = serve(dir.path(), &[]);
    let b = Browser::start(1280, 900, &[]).await;
    open_with_token(&b, &url, "en/demo.html").await;
    let sel = "section.step[data-step='check-console'] input[type=checkbox]";
    let checked = format!("return document.querySelector(\"{sel}\").checked");
    assert_eq!(b.js(&checked).await, json!(false));
    b.click(sel).await;
    // Reload until the server has it (the POST may still be on its way).
    let deadline = Instant::now() + WAIT;
    loop {
        b.client.refresh().await.unwrap();
        if b.js(&checked).await == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "the tick was not kept");
    }
    // And unticked.
    b.click(sel).await;
    let deadline = Instant::now() + WAIT;
    loop {
        b.client.refresh().await.unwrap();
        if b.js(&checked).await == json!(false) {
            break;
        }
        assert!(Instant::now() < deadline, "the untick was not kept");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_and_accept_language() {
    let dir = demo();
    let (_server, url) = serve(dir.path(), &[]);
    // A reader whose browser prefers English lands on the English page.
    let b = Browser::start(1280, 900, &["--lang=en-US", "--accept-lang=en-US,en"]).await;
    let base = url.split("/?token=").next().unwrap().to_string();
    b.client
        .goto(&format!("{base}/lang/hello.html"))
        .await
        .unwrap();
    b.until(
        "the English page",
        "return document.documentElement.lang === 'en'",
    )
    .await;
    assert!(b
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/en/"));
    b.until(
        "English prose",
        "return document.body.textContent.includes('The English prose.')",
    )
    .await;
    b.click(".langs a[hreflang='zh-CN']").await;
    b.until(
        "the Chinese page",
        "return document.documentElement.lang === 'zh-CN'",
    )
    .await;
    b.until(
        "Chinese prose",
        "return document.body.textContent.includes('中文的说明文字。')",
    )
    .await;
    // The chrome speaks Chinese there too.
    let copy = b
        .js("return document.querySelector('button.copy').textContent")
        .await;
    assert_eq!(copy, json!("复制"));
    b.click(".langs a[hreflang='en']").await;
    b.until(
        "back in English",
        "return document.documentElement.lang === 'en'",
    )
    .await;
    b.close().await;
}

fn pgrep(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_see_one_run_and_closing_them_ends_it() {
    let marker = format!("sleep {}.{}", 400 + std::process::id() % 500, 3131);
    let rb = format!("# Long\n\n```sh {{#long}}\necho started; {marker}; echo done\n```\n");
    let dir = project(&[("runbook.toml", ""), ("runbooks/long.md", &rb)]);
    let (_server, url) = serve(dir.path(), &[]);
    let a = Browser::start(1024, 800, &[]).await;
    let b = Browser::start(1024, 800, &[]).await;
    open_with_token(&a, &url, "en/long.html").await;
    open_with_token(&b, &url, "en/long.html").await;
    for br in [&a, &b] {
        br.until(
            "the Run buttons",
            "return document.querySelector('button[data-run]')",
        )
        .await;
    }
    // Give both pages' streams a moment to be counted: wait until both are open.
    a.click("section.step[data-step='long'] button[data-run='step']")
        .await;
    for br in [&a, &b] {
        br.until(
            "the output in both browsers",
            "const p = document.querySelector(\".lane[data-step='long'] pre.live\"); return p && p.textContent.includes('started')",
        )
        .await;
    }
    // `started` is printed just before the command starts: give it a moment to exist.
    let started = Instant::now();
    while !pgrep(&marker) && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pgrep(&marker), "the command runs");
    // One tab closes: the other still watches, the run goes on.
    a.close().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(pgrep(&marker), "one watcher is left: the run goes on");
    b.close().await;
    let deadline = Instant::now() + WAIT;
    while pgrep(&marker) {
        assert!(
            Instant::now() < deadline,
            "`{marker}` outlived the last tab"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tutorial as a learner sees it, with a recorded run (fabricated here, since the lab's
/// hosts are not reachable from the test): screenshots of the index and of
/// `runbooks/openstack-ha/02-hosts-and-ntp.md` in Chinese and English, on a desktop and a
/// phone, light and dark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_tutorial() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo.join("runbooks"), &dir.path().join("runbooks"));
    copy_tree(&repo.join("translations"), &dir.path().join("translations"));
    std::fs::copy(repo.join("runbook.toml"), dir.path().join("runbook.toml")).unwrap();
    record_tutorial_run(dir.path());
    let (_server, url) = serve(dir.path(), &[]);
    let base = url.split("/?token=").next().unwrap().to_string();
    let page = "openstack-ha/02-hosts-and-ntp.html";

    let b = Browser::start(1280, 900, &[]).await;
    open_with_token(&b, &url, "zh-CN/index.html").await;
    b.until("the index", "return document.querySelector('.card')")
        .await;
    let shot = b.shot("index-zh-CN", true).await;
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);
    b.client.set_window_size(1280, 900).await.unwrap();
    b.client
        .goto(&format!("{base}/en/index.html"))
        .await
        .unwrap();
    b.shot("index-en", true).await;
    for lang in ["zh-CN", "en"] {
        b.client.set_window_size(1280, 900).await.unwrap();
        b.client
            .goto(&format!("{base}/{lang}/{page}"))
            .await
            .unwrap();
        b.until("the page", "return document.querySelector('section.step')")
            .await;
        b.until(
            "the diff",
            "return document.querySelector('.lane.st-failed pre.diff')",
        )
        .await;
        b.shot(&format!("tutorial-{lang}"), true).await;
    }
    b.close().await;

    let phone = Browser::phone().await;
    open_with_token(&phone, &url, &format!("zh-CN/{page}")).await;
    phone
        .until("the page", "return document.querySelector('section.step')")
        .await;
    let overflow = phone
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap_or(0) <= 0,
        "no sideways scrolling on a phone: {overflow}"
    );
    phone.shot("tutorial-zh-CN-phone", false).await;
    phone.click("#menu-toggle").await;
    phone
        .until(
            "the sidebar, slid in",
            "return document.body.classList.contains('nav-open') && \
             document.getElementById('sidebar').getBoundingClientRect().left === 0",
        )
        .await;
    phone.shot("tutorial-zh-CN-phone-menu", false).await;
    phone.close().await;

    let dark = Browser::start(1280, 900, &["--force-dark-mode"]).await;
    dark.client
        .goto(&format!("{base}/en/{page}"))
        .await
        .unwrap();
    dark.until("the page", "return document.querySelector('section.step')")
        .await;
    let scheme = dark
        .js("return matchMedia('(prefers-color-scheme: dark)').matches")
        .await;
    assert_eq!(
        scheme,
        json!(true),
        "--force-dark-mode asks for the dark scheme"
    );
    dark.shot("tutorial-en-dark", false).await;
    dark.close().await;
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Records, through the store's own sink, a run of the first two tutorial runbooks in which
/// every step passed except `ntp-peers` on controller3, where ntpd had not yet picked its
/// server (a real drift the matcher diffs), and the step after it was skipped.
fn record_tutorial_run(root: &Path) {
    use runbook::exec::runner::Event;
    use runbook::outcome::{RunbookResult, SkipReason, Status, StepResult};
    let ws = runbook::lint::load(&[root.join("runbooks/openstack-ha")], None);
    assert!(!ws.has_errors(), "{:?}", ws.diags);
    let store = runbook::store::Store::open_path(
        &root.join(".runbook/runs.sqlite"),
        runbook::store::Mode::Write,
    )
    .unwrap();
    let run = store
        .begin_run("cli", "runbook run runbooks/openstack-ha")
        .unwrap();
    let sink = run.sink();
    let plan = runbook::plan::plan(&ws, &Default::default()).unwrap();
    let started = (time::OffsetDateTime::now_utc() - time::Duration::minutes(42))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for p in plan.iter().filter(|p| {
        !ws.runbooks[p.runbook]
            .file
            .path
            .ends_with("03-ha-guide-notes.md")
    }) {
        let rb = &ws.runbooks[p.runbook];
        let path = ws.rel_path(rb);
        sink.event(&Event::RunbookStarted {
            path: &path,
            title: &rb.title(),
        });
        let mut all = Vec::new();
        for ps in &p.steps {
            let step = &rb.steps[ps.step];
            for host in &ps.hosts {
                let expected = step
                    .expectations()
                    .iter()
                    .map(|e| e.text())
                    .collect::<Vec<_>>()
                    .join("\n");
                let mut r = StepResult {
                    id: step.id.clone(),
                    host: host.clone(),
                    line: step.line,
                    status: Status::Passed,
                    exit_code: Some(0),
                    duration_ms: 40 + (step.line as u64 * 37) % 900,
                    attempts: 1,
                    expected: expected.clone(),
                    actual: expected.replace("...", "Created symlink /etc/systemd/system/multi-user.target.wants/ntpd.service → /usr/lib/systemd/system/ntpd.service."),
                    diff: String::new(),
                    message: None,
                    skip_reason: None,
                    notes: Vec::new(),
                    started_at: started.clone(),
                    checks: Vec::new(),
                };
                if matches!(
                    step.action,
                    runbook::doc::Action::File { .. } | runbook::doc::Action::Diff { .. }
                ) {
                    r.actual = match &step.action {
                        runbook::doc::Action::File { path, .. } => {
                            format!("{path}: missing lines appended")
                        }
                        runbook::doc::Action::Diff { path, .. } => format!("{path}: diff applied"),
                        _ => unreachable!(),
                    };
                }
                if step.is_manual() {
                    r.status = Status::Manual;
                }
                if step.id == "ntp-peers" && host == "controller3" {
                    let e = &step.expectations()[0];
                    let actual = "     remote           refid      st t when poll reach   delay   offset  jitter\n==============================================================================\n controller      LOCAL(0)         6 u   12   64    7    0.198  187.330  12.114\n";
                    let v = runbook::matcher::check(&e.text(), actual, &e.spec);
                    assert!(!v.passed);
                    r.status = Status::Failed;
                    r.actual = v.actual.clone();
                    let (line, col) = rb.file.line_col(e.lines[0].span.start);
                    r.diff = format!("{path}:{line}:{col}\n{}", v.diff);
                    r.notes = v.notes.clone();
                    r.attempts = 150;
                    r.duration_ms = 300_412;
                }
                if step.id == "ntp-assoc" && host == "controller3" {
                    r.status = Status::Skipped;
                    r.skip_reason = Some(SkipReason::EarlierFailure);
                    r.message = Some("an earlier step failed".into());
                    r.actual.clear();
                    r.exit_code = None;
                }
                sink.event(&Event::StepFinished {
                    path: &path,
                    result: &r,
                    runbook: rb,
                });
                all.push(r);
            }
        }
        let result = RunbookResult::new(path.clone(), all);
        sink.event(&Event::RunbookFinished { result: &result });
    }
    run.finish(runbook::diag::Exit::Drift);
}

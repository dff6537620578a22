//! The site (SPEC §4, issue 8) at the HTTP level: the router from `runbook::site::app` driven
//! with `oneshot` (no socket), and the `serve` and `build` commands through the binary.
//! One test per security rule, then pages, runs, ticks, translations and the static build.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use futures::StreamExt;
use runbook::site::{app, AppState, Config};
use tower::ServiceExt;

use crate::harness::{bin, Project};

const HOST: &str = "127.0.0.1:8080";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const COOKIE: &str = "runbook_token_8080=0123456789abcdef0123456789abcdef";

const QUICK: &str = "---\ntitle: Quick <b>start</b>\nlang: en\n---\n\n# Quick start\n\nSome <script>alert('prose')</script> text and <img src=x onerror=alert(1)>.\n\n```console {#hello}\n$ echo hello\nhello\n```\n\n```console {#drift}\n$ echo '<script>alert(\"out\")</script>'\nsomething else\n```\n\n```text {#by-hand manual}\nopen the console and click OK\n```\n";

const NTP_ZH: &str = "---\ntitle: 时间同步\nlang: zh-CN\n---\n\n# 时间同步\n\n中文说明。\n\n```console {#peers}\n$ echo peers\npeers\n```\n";
const NTP_EN: &str = "---\ntitle: Time sync\nlang: en\n---\n\n# Time sync\n\nEnglish prose.\n\n```console {#peers}\n$ echo peers\npeers\n```\n";

/// A project with a runbook in English, one in Chinese with its English translation.
fn project() -> Project {
    Project::new()
        .file(
            "runbook.toml",
            "[site]\ntitle = \"Lab\"\nlanguages = [\"zh-CN\", \"en\"]\n",
        )
        .file("runbooks/guide/quick.md", QUICK)
        .file("runbooks/ha/ntp.md", NTP_ZH)
        .file("translations/en/ha/ntp.md", NTP_EN)
        .file("secret.txt", "TOP-SECRET-FILE")
}

fn state(p: &Project, exec: bool) -> Arc<AppState> {
    let ws = runbook::lint::load(&[p.path().join("runbooks")], None);
    assert!(!ws.has_errors(), "{:?}", ws.diags);
    AppState::new(
        ws,
        Config {
            addr: HOST.parse().unwrap(),
            exec,
            token: TOKEN.into(),
            grace: Duration::from_millis(300),
        },
    )
}

fn get(path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method("GET")
        .uri(path)
        .header(header::HOST, HOST)
}

/// A POST as the page sends it: JSON, from the page's own origin.
fn post(path: &str) -> axum::http::request::Builder {
    post_bare(path).header(header::ORIGIN, format!("http://{HOST}"))
}

/// A POST with no Origin header (as curl sends it).
fn post_bare(path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
}

async fn send(s: &Arc<AppState>, req: Request<Body>) -> Response<Body> {
    app(s.clone()).oneshot(req).await.unwrap()
}

async fn text(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn page(s: &Arc<AppState>, path: &str) -> String {
    let res = send(
        s,
        get(path)
            .header(header::COOKIE, COOKIE)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    text(res).await
}

fn run_body(runbook: &str, mode: &str, step: Option<&str>) -> Body {
    Body::from(serde_json::json!({"runbook": runbook, "mode": mode, "step": step}).to_string())
}

/// Waits until the store has a result for every (step, host) of the run, by reading the
/// page until `needle` appears.
async fn wait_for_page(s: &Arc<AppState>, path: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let html = page(s, path).await;
        if html.contains(needle) {
            return html;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared on {path}:\n{html}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_security_headers(res: &Response<Body>, what: &str) {
    let h = res.headers();
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{what}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let p = project();
    let s = state(&p, true);
    let cases: Vec<(&str, Request<Body>)> = vec![
        ("index", get("/").body(Body::empty()).unwrap()),
        (
            "page",
            get("/en/guide/quick.html").body(Body::empty()).unwrap(),
        ),
        ("css", get("/assets/site.css").body(Body::empty()).unwrap()),
        ("js", get("/assets/site.js").body(Body::empty()).unwrap()),
        ("404", get("/nope.html").body(Body::empty()).unwrap()),
        (
            "redirect",
            get(&format!("/?token={TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        ),
        (
            "403 host",
            Request::builder()
                .uri("/")
                .header(header::HOST, "evil.example")
                .body(Body::empty())
                .unwrap(),
        ),
        (
            "403 post",
            post("/api/run")
                .body(run_body("runbooks/guide/quick.md", "all", None))
                .unwrap(),
        ),
    ];
    for (what, req) in cases {
        let res = send(&s, req).await;
        assert_security_headers(&res, what);
    }
    let res = send(&s, get("/assets/site.js").body(Body::empty()).unwrap()).await;
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}

#[tokio::test]
async fn pages_have_no_inline_script() {
    let p = project();
    let s = state(&p, true);
    for path in [
        "/",
        "/en/index.html",
        "/en/guide/quick.html",
        "/zh-CN/ha/ntp.html",
    ] {
        let html = page(&s, path).await;
        let mut rest = html.as_str();
        while let Some(i) = rest.find("<script") {
            let tag = &rest[i..i + rest[i..].find('>').unwrap() + 1];
            assert!(tag.contains(" src="), "{path}: inline script {tag}");
            assert!(
                rest[i..].starts_with(&format!("{tag}</script>")),
                "{path}: script with a body"
            );
            rest = &rest[i + 1..];
        }
        assert!(!html.contains(" onclick="), "{path}");
    }
}

#[tokio::test]
async fn token_url_sets_the_cookie_and_redirects_without_the_token() {
    let p = project();
    let s = state(&p, true);
    let res = send(
        &s,
        get(&format!("/?token={TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/");
    let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("runbook_token_8080={TOKEN};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    // Other query parameters stay; only the token goes.
    let res = send(
        &s,
        get(&format!("/en/guide/quick.html?x=1&token={TOKEN}&y=2"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/en/guide/quick.html?x=1&y=2"
    );
    // The page then shows the Run buttons only with the cookie.
    let with = page(&s, "/en/guide/quick.html").await;
    assert!(with.contains("data-run=\"step\""));
    let res = send(&s, get("/en/guide/quick.html").body(Body::empty()).unwrap()).await;
    let without = text(res).await;
    assert!(!without.contains("data-run=\"step\""));
    assert!(without.contains("open the address with the token"));
}

#[tokio::test]
async fn wrong_token_is_refused_and_sets_no_cookie() {
    let p = project();
    let s = state(&p, true);
    let res = send(
        &s,
        get("/?token=ffffffffffffffffffffffffffffffff")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    // A wrong cookie or header does not run anything.
    for (name, value) in [
        (
            header::COOKIE.as_str(),
            "runbook_token_8080=ffffffffffffffffffffffffffffffff",
        ),
        (
            header::COOKIE.as_str(),
            "runbook_token_9999=0123456789abcdef0123456789abcdef",
        ),
        ("x-runbook-token", "0123456789abcdef0123456789abcde"),
    ] {
        let res = send(
            &s,
            post("/api/run")
                .header(name, value)
                .body(run_body("runbooks/guide/quick.md", "all", None))
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    assert!(
        !p.path().join(".runbook/runs.sqlite").exists(),
        "nothing ran"
    );
}

#[tokio::test]
async fn execution_without_a_token_is_refused() {
    let p = project();
    let s = state(&p, true);
    for path in ["/api/run", "/api/manual", "/api/cancel"] {
        let res = send(
            &s,
            post(path)
                .body(run_body("runbooks/guide/quick.md", "all", None))
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let res = send(
        &s,
        get("/api/events?runbook=runbooks/guide/quick.md")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        !p.path().join(".runbook/runs.sqlite").exists(),
        "nothing ran"
    );
}

#[tokio::test]
async fn cross_origin_requests_are_refused() {
    let p = project();
    let s = state(&p, true);
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "http://127.0.0.1:8080.evil"),
        ("origin", "https://127.0.0.1:8080"),
        ("origin", "http://127.0.0.1:9999"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        for path in ["/api/run", "/api/manual", "/api/cancel"] {
            let res = send(
                &s,
                post_bare(path)
                    .header(header::COOKIE, COOKIE)
                    .header(name, value)
                    .body(run_body("runbooks/guide/quick.md", "all", None))
                    .unwrap(),
            )
            .await;
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{path} {name}: {value}"
            );
        }
        let res = send(
            &s,
            get("/api/events?runbook=runbooks/guide/quick.md")
                .header(header::COOKIE, COOKIE)
                .header(name, value)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "events {name}: {value}"
        );
    }
    // Two Origin headers, one of them ours, are not a same-origin request.
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .header(header::ORIGIN, "http://evil.example")
            .body(run_body("runbooks/guide/quick.md", "all", None))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "two origins");
    // A form post (a cross-site form cannot send JSON without asking) is refused too.
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("runbook=runbooks/guide/quick.md"))
            .unwrap(),
    )
    .await;
    assert_ne!(res.status(), StatusCode::ACCEPTED);
    assert!(
        !p.path().join(".runbook/runs.sqlite").exists(),
        "nothing ran"
    );
}

#[tokio::test]
async fn foreign_host_headers_are_refused() {
    let p = project();
    let s = state(&p, true);
    for host in [
        "evil.example",
        "evil.example:8080",
        "127.0.0.1.evil.example",
        "127.0.0.1.evil.example:8080",
        "127.0.0.1:8080.evil",
        "127.0.0.1:8081",
        "127.0.0.1",
        "localhost.evil.example:8080",
        "10.0.0.1:8080",
    ] {
        let req = Request::builder()
            .uri("/")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&s, req).await.status(),
            StatusCode::FORBIDDEN,
            "GET {host}"
        );
        let req = Request::builder()
            .method("POST")
            .uri("/api/run")
            .header(header::HOST, host)
            .header(header::COOKIE, COOKIE)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, format!("http://{host}"))
            .body(run_body("runbooks/guide/quick.md", "all", None))
            .unwrap();
        assert_eq!(
            send(&s, req).await.status(),
            StatusCode::FORBIDDEN,
            "POST {host}"
        );
        let req = Request::builder()
            .uri("/api/events?runbook=runbooks/guide/quick.md")
            .header(header::HOST, host)
            .header(header::COOKIE, COOKIE)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&s, req).await.status(),
            StatusCode::FORBIDDEN,
            "events {host}"
        );
    }
    let req = Request::builder().uri("/").body(Body::empty()).unwrap();
    assert_eq!(
        send(&s, req).await.status(),
        StatusCode::FORBIDDEN,
        "no Host"
    );
    let req = Request::builder()
        .uri("/")
        .header(header::HOST, "localhost:8080")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&s, req).await.status(),
        StatusCode::OK,
        "localhost is this machine"
    );
    assert!(
        !p.path().join(".runbook/runs.sqlite").exists(),
        "nothing ran"
    );
}

#[tokio::test]
async fn page_paths_cannot_leave_the_runbook_folder() {
    let p = project();
    let s = state(&p, true);
    for path in [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/en/../../secret.txt",
        "/en/%2e%2e/%2e%2e/secret.txt",
        "/en/..%5c..%5csecret.txt",
        "/en/guide/../../../secret.txt.html",
        "/%2fetc%2fpasswd",
        "//etc/passwd",
        "/en//etc/passwd.html",
        "/en/%2Fetc%2Fpasswd.html",
        "/runbooks/../secret.txt",
        "/runbook.toml",
        "/runbooks/guide/quick.md%00.html",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e",
    ] {
        let res = send(&s, get(path).body(Body::empty()).unwrap()).await;
        let status = res.status();
        let body = text(res).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{path}: {status}"
        );
        assert!(!body.contains("TOP-SECRET"), "{path}");
        assert!(!body.contains("[site]"), "{path}");
    }
}

#[tokio::test]
async fn script_in_prose_and_in_output_never_reaches_the_page_unescaped() {
    let p = project();
    let s = state(&p, true);
    let html = page(&s, "/en/guide/quick.html").await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<b>start</b>"), "title: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;prose&#39;)&lt;/script&gt;")
            || html.contains("&lt;script&gt;alert('prose')&lt;/script&gt;"),
        "{html}"
    );
    // Run the drifting step: its output holds a script tag.
    let mut events = open_events(&s, "runbooks/guide/quick.md").await;
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/guide/quick.md", "step", Some("drift")))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let streamed = read_until(&mut events, "\"t\":\"end\"").await;
    assert!(
        !streamed.contains('<'),
        "the stream's JSON writes `<` as \\u003c: {streamed}"
    );
    assert!(streamed.contains("\\u003cscript>alert"), "{streamed}");
    // The lane HTML inside the stream is escaped.
    for line in streamed.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["t"] == "done" {
            let lane = v["html"]["en"].as_str().unwrap();
            assert!(!lane.contains("<script"), "{lane}");
            assert!(
                lane.contains("&#60;script&#62;") || lane.contains("&lt;script&gt;"),
                "{lane}"
            );
        }
    }
    let html = wait_for_page(&s, "/en/guide/quick.html", "badge st-failed").await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("class=\"dl add\""), "a coloured diff: {html}");
}

type Events =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Send>>;

async fn open_events(s: &Arc<AppState>, runbook: &str) -> Events {
    let res = send(
        s,
        get(&format!("/api/events?runbook={runbook}"))
            .header(header::COOKIE, COOKIE)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    Box::pin(res.into_body().into_data_stream())
}

async fn read_until(events: &mut Events, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("{needle:?} never came ({other:?}):\n{seen}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_run_streams_and_is_recorded_like_a_headless_one() {
    let p = project();
    let s = state(&p, true);
    let mut a = open_events(&s, "runbooks/guide/quick.md").await;
    let mut b = open_events(&s, "runbooks/guide/quick.md").await;
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/guide/quick.md", "step", Some("hello")))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Both watchers see the same run: start, output, verdict, end.
    for events in [&mut a, &mut b] {
        let seen = read_until(events, "\"t\":\"end\"").await;
        for needle in [
            "\"t\":\"begin\"",
            "\"t\":\"start\"",
            "\"text\":\"hello",
            "\"status\":\"passed\"",
        ] {
            assert!(seen.contains(needle), "{needle}: {seen}");
        }
        assert!(
            !seen.contains("\"step\":\"drift\",\"t\":\"start\""),
            "only the step asked for"
        );
    }
    let html = wait_for_page(&s, "/en/guide/quick.html", "badge st-passed").await;
    assert!(html.contains("data-step=\"hello\" data-host=\"local\""));
    // Recorded with origin `web`, as `runbook history` shows.
    let out = p.run(&["history", "--runs", "1"]);
    out.expect_code(0).expect_stdout_contains("web");
    out.expect_stdout_contains("--only hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time() {
    let p = Project::new().file("runbook.toml", "").file(
        "runbooks/slow.md",
        "# Slow\n\n```sh {#slow}\nsleep 2.5\n```\n",
    );
    let s = state(&p, true);
    let mut events = open_events(&s, "runbooks/slow.md").await;
    let first = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/slow.md", "all", None))
            .unwrap(),
    )
    .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let second = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/slow.md", "all", None))
            .unwrap(),
    )
    .await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let res = send(
        &s,
        post("/api/cancel")
            .header(header::COOKIE, COOKIE)
            .body(Body::from("{\"runbook\":\"runbooks/slow.md\"}"))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let seen = read_until(&mut events, "\"t\":\"end\"").await;
    assert!(seen.contains("\"cancelled\":true"), "{seen}");
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
async fn closing_the_last_watcher_ends_the_run_and_its_processes() {
    // A marker no other process has: the sleep's argument.
    let secs = format!("{}.{}", 300 + std::process::id() % 500, 7177);
    let marker = format!("sleep {secs}");
    let p = Project::new().file("runbook.toml", "").file(
        "runbooks/slow.md",
        &format!("# Slow\n\n```sh {{#slow}}\necho first; {marker}; echo second\n```\n"),
    );
    let s = state(&p, true);
    let mut events = open_events(&s, "runbooks/slow.md").await;
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/slow.md", "all", None))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let seen = read_until(&mut events, "first").await;
    assert!(!seen.contains("second"));
    // `first` is printed just before the sleep starts: give it a moment to exist.
    let started = Instant::now();
    while !pgrep(&marker) && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pgrep(&marker), "the command runs");
    // The tab closes.
    drop(events);
    let deadline = Instant::now() + Duration::from_secs(15);
    while pgrep(&marker) {
        assert!(
            Instant::now() < deadline,
            "`{marker}` still runs after the last watcher left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The server is free again, and the cancelled run is recorded as unfinished.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.live.running() {
        assert!(Instant::now() < deadline, "the run was not released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn no_exec_serves_read_only_and_refuses_execution() {
    let p = project();
    let s = state(&p, false);
    let html = page(&s, "/en/guide/quick.html").await;
    assert!(!html.contains("data-run=\""), "no Run buttons");
    assert!(html.contains("--no-exec"), "says why");
    assert!(
        html.contains("type=\"checkbox\" data-host=\"local\" disabled"),
        "ticks are read-only"
    );
    for (path, body) in [
        ("/api/run", run_body("runbooks/guide/quick.md", "all", None)),
        ("/api/manual", Body::from("{\"runbook\":\"runbooks/guide/quick.md\",\"step\":\"by-hand\",\"host\":\"local\",\"checked\":true}")),
    ] {
        let res = send(&s, post(path).header(header::COOKIE, COOKIE).body(body).unwrap()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let res = send(
        &s,
        get("/api/events?runbook=runbooks/guide/quick.md")
            .header(header::COOKIE, COOKIE)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        !p.path().join(".runbook/runs.sqlite").exists(),
        "nothing ran"
    );
}

#[tokio::test]
async fn manual_ticks_are_kept_in_the_store() {
    let p = project();
    let s = state(&p, true);
    let tick = |checked: bool| {
        post("/api/manual")
            .header(header::COOKIE, COOKIE)
            .body(Body::from(format!(
                "{{\"runbook\":\"runbooks/guide/quick.md\",\"step\":\"by-hand\",\"host\":\"local\",\"checked\":{checked}}}"
            )))
            .unwrap()
    };
    assert_eq!(send(&s, tick(true)).await.status(), StatusCode::NO_CONTENT);
    let html = page(&s, "/en/guide/quick.html").await;
    assert!(
        html.contains("type=\"checkbox\" data-host=\"local\" checked"),
        "{html}"
    );
    assert_eq!(send(&s, tick(false)).await.status(), StatusCode::NO_CONTENT);
    let html = page(&s, "/en/guide/quick.html").await;
    assert!(
        html.contains("type=\"checkbox\" data-host=\"local\">"),
        "{html}"
    );
    // Only manual steps, on their hosts.
    let bad = post("/api/manual")
        .header(header::COOKIE, COOKIE)
        .body(Body::from("{\"runbook\":\"runbooks/guide/quick.md\",\"step\":\"hello\",\"host\":\"local\",\"checked\":true}"))
        .unwrap();
    assert_eq!(send(&s, bad).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn accept_language_picks_the_first_page_and_the_switch_is_on_every_page() {
    let p = project();
    let s = state(&p, true);
    let index = |lang: &'static str| {
        get("/")
            .header(header::ACCEPT_LANGUAGE, lang)
            .body(Body::empty())
            .unwrap()
    };
    let html = text(send(&s, index("en-US,en;q=0.9")).await).await;
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(
        html.contains("Time sync"),
        "the English title of the translated runbook"
    );
    let html = text(send(&s, index("zh-CN,zh;q=0.9")).await).await;
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("时间同步"));
    // A runbook named without a language goes to the reader's.
    for (accept, want) in [
        ("en", "/en/ha/ntp.html"),
        ("zh-TW,zh", "/zh-CN/ha/ntp.html"),
        ("fr", "/zh-CN/ha/ntp.html"),
    ] {
        let res = send(
            &s,
            get("/ha/ntp.html")
                .header(header::ACCEPT_LANGUAGE, accept)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{accept}");
        assert_eq!(res.headers()[header::LOCATION], want, "{accept}");
    }
    // Both language versions link to each other, and run the source.
    let en = page(&s, "/en/ha/ntp.html").await;
    let zh = page(&s, "/zh-CN/ha/ntp.html").await;
    assert!(en.contains("href=\"../../zh-CN/ha/ntp.html\""), "{en}");
    assert!(zh.contains("href=\"../../en/ha/ntp.html\""), "{zh}");
    assert!(en.contains("English prose."));
    assert!(zh.contains("中文说明。"));
    for html in [&en, &zh] {
        assert!(html.contains("data-runbook=\"runbooks/ha/ntp.md\""));
    }
    // A runbook without a translation has no switch.
    let quick = page(&s, "/en/guide/quick.html").await;
    assert!(!quick.contains("class=\"langs\""));
    assert_eq!(
        send(
            &s,
            get("/zh-CN/guide/quick.html").body(Body::empty()).unwrap()
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_index_lists_every_runbook_with_its_latest_status_per_host() {
    let p = project();
    // A headless run records results; the index shows them.
    p.run(&["run", "runbooks/guide/quick.md"]).expect_code(1);
    let s = state(&p, true);
    let html = page(&s, "/en/index.html").await;
    assert!(
        html.contains("Quick &#60;b&#62;start&#60;/b&#62;")
            || html.contains("Quick &lt;b&gt;start&lt;/b&gt;"),
        "{html}"
    );
    assert!(html.contains("Time sync"));
    assert!(html.contains("runbooks/guide/quick.md"));
    assert!(
        html.contains("badge st-failed"),
        "quick drifted on local: {html}"
    );
    assert!(html.contains("<span class=\"host\">local</span>"));
    assert!(html.contains("<time datetime=\""));
}

#[test]
fn serve_lints_first() {
    let p = Project::new()
        .file("runbook.toml", "")
        .file("runbooks/bad.md", "```console {#a oops=1}\n$ true\n```\n");
    p.run(&["serve", "--addr", "127.0.0.1:0"])
        .expect_code(2)
        .expect_stderr_contains("unknown attribute `oops`");
}

/// `runbook serve` on a real socket: the printed URL, and the cookie trade through it.
#[test]
fn serve_prints_the_token_url_and_answers_on_it() {
    let p = project();
    let mut child = Command::new(bin())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(p.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (addr, token) = url
        .trim_start_matches("http://")
        .split_once("/?token=")
        .unwrap_or_else(|| panic!("{url}"));
    assert_eq!(token.len(), 32);
    let response = raw_get(addr, &format!("/?token={token}"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("location: /\r\n"),
        "{response}"
    );
    assert!(response.contains("HttpOnly"), "{response}");
}

fn raw_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Every `href` and `src` in a page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            let after = &rest[i + attr.len()..];
            let end = after.find('"').unwrap();
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn build_writes_plain_files_with_relative_links() {
    let p = project();
    p.run(&["run", "runbooks/guide/quick.md"]).expect_code(1);
    let out = p.path().join("public");
    p.run(&["build", "--out", "public"])
        .expect_code(0)
        .expect_stdout_contains("pages");
    for f in [
        "index.html",
        "assets/site.css",
        "assets/site.js",
        "en/index.html",
        "zh-CN/index.html",
        "en/guide/quick.html",
        "zh-CN/ha/ntp.html",
        "en/ha/ntp.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let mut pages = 0;
    let mut checked = HashSet::new();
    for entry in walk(&out) {
        if entry.extension().is_none_or(|x| x != "html") {
            continue;
        }
        pages += 1;
        let html = std::fs::read_to_string(&entry).unwrap();
        assert!(
            !html.contains("data-run=\""),
            "read-only: {}",
            entry.display()
        );
        assert!(
            !html.contains("api/"),
            "no server calls: {}",
            entry.display()
        );
        for link in links(&html) {
            if link.starts_with('#') || link.starts_with("https://") || link.starts_with("mailto:")
            {
                continue;
            }
            assert!(
                !link.starts_with('/'),
                "{}: absolute link {link}",
                entry.display()
            );
            assert!(!link.contains("://"), "{}: {link}", entry.display());
            let file = link.split('#').next().unwrap();
            let target = entry.parent().unwrap().join(file);
            assert!(
                target.is_file(),
                "{}: {link} does not exist",
                entry.display()
            );
            checked.insert(target);
        }
    }
    assert_eq!(pages, 6, "index, two language indexes, three runbook pages");
    assert!(checked.len() >= 6, "{checked:?}");
    // Annotated with the latest results.
    let quick = std::fs::read_to_string(out.join("en/guide/quick.html")).unwrap();
    assert!(quick.contains("badge st-failed"));
    assert!(quick.contains("class=\"dl add\""));
    assert!(!quick.contains("<script>alert"));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_from_here_runs_that_step_and_the_ones_after_it() {
    let p = project();
    let s = state(&p, true);
    let mut events = open_events(&s, "runbooks/guide/quick.md").await;
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/guide/quick.md", "from", Some("drift")))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let seen = read_until(&mut events, "\"t\":\"end\"").await;
    let begin = seen
        .lines()
        .find(|l| l.contains("\"t\":\"begin\""))
        .unwrap();
    assert!(!begin.contains("\"hello\""), "{begin}");
    assert!(
        begin.contains("\"drift\"") && begin.contains("\"by-hand\""),
        "{begin}"
    );
    assert!(!seen.contains("\"step\":\"hello\""), "{seen}");
    let out = p.run(&["history", "--runs", "1"]);
    out.expect_code(0).expect_stdout_contains("--from drift");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_come_from_the_form_and_secrets_never_show() {
    let p = Project::new()
        .file("runbook.toml", "[vars]\nsecrets = [\"DB_PASS\"]\n")
        .file(
            "runbooks/vars.md",
            "---\nvars:\n  GREETING: ~\n  DB_PASS: ~\n---\n\n# Vars\n\n```console {#greet}\n$ echo \"$GREETING $DB_PASS\"\nhello [secret:DB_PASS]\n```\n",
        );
    let s = state(&p, true);
    let html = page(&s, "/en/vars.html").await;
    assert!(html.contains("name=\"GREETING\""), "{html}");
    assert!(
        html.contains("name=\"DB_PASS\" type=\"password\""),
        "{html}"
    );
    // A declared variable without a value is refused before anything runs.
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(run_body("runbooks/vars.md", "all", None))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(text(res).await.contains("has no value"));
    let mut events = open_events(&s, "runbooks/vars.md").await;
    let body = serde_json::json!({
        "runbook": "runbooks/vars.md", "mode": "all",
        "vars": {"GREETING": "hello"}, "secrets": {"DB_PASS": "s3cret-value"},
    });
    let res = send(
        &s,
        post("/api/run")
            .header(header::COOKIE, COOKIE)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let seen = read_until(&mut events, "\"t\":\"end\"").await;
    assert!(!seen.contains("s3cret-value"), "{seen}");
    assert!(seen.contains("[secret:DB_PASS]"), "{seen}");
    let html = wait_for_page(&s, "/en/vars.html", "badge st-passed").await;
    assert!(!html.contains("s3cret-value"), "{html}");
}

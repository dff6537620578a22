//! `runbook serve`'s HTTP side: the axum [`Router`] built by [`app`], so tests drive it with
//! `tower::ServiceExt::oneshot` and no socket.
//!
//! Routes:
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/`, `/index.html` | the index, in the reader's language (`Accept-Language`) |
//! | GET | `/LANG/`, `/LANG/index.html` | the index in LANG |
//! | GET | `/LANG/KEY.html` | a runbook page (KEY: path under `runbooks/` without `.md`) |
//! | GET | `/KEY.html`, `/KEY.md` | redirect to the runbook in the reader's language |
//! | GET | `/assets/site.css`, `/assets/site.js` | the embedded style sheet and script |
//! | GET | `/api/events?runbook=PATH` | server-sent events of the runs of a runbook |
//! | POST | `/api/run` | `{runbook, mode: "all"\|"step"\|"from", step, vars, secrets}` → 202 `{run}` |
//! | POST | `/api/cancel` | `{runbook}` → 204 |
//! | POST | `/api/manual` | `{runbook, step, host, checked}` → 204 |
//!
//! Any GET with `?token=T` trades a valid token for the cookie and redirects (303) to the same
//! address without it. Every response carries `Content-Security-Policy` (`default-src
//! 'self'`: no inline script), `Referrer-Policy: no-referrer` and
//! `X-Content-Type-Options: nosniff`. The checks themselves are in [`crate::site::guard`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;

use crate::exec::runner::{self, Fanout, RunOptions, Runner, Sink};
use crate::lint::Workspace;
use crate::outcome::exit_of;
use crate::plan::{self, Filters, PlannedRunbook};
use crate::site::assets;
use crate::site::catalog::{Catalog, Found};
use crate::site::guard::Guard;
use crate::site::live::{self, Live, StreamSink};
use crate::site::pages::{self, Context, Mode};
use crate::store::{Filter, Store};

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How `serve` was started.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address listened on (the Host header must name it).
    pub addr: SocketAddr,
    /// Execution enabled (not `--no-exec`).
    pub exec: bool,
    pub token: String,
    /// How long a run may go unwatched before it is cancelled.
    pub grace: Duration,
}

/// Everything the handlers share.
pub struct AppState {
    pub ws: Arc<Workspace>,
    pub cat: Catalog,
    pub cfg: Config,
    pub guard: Guard,
    pub live: Live,
    stores: Stores,
}

impl AppState {
    pub fn new(ws: Workspace, cfg: Config) -> Arc<AppState> {
        let cat = Catalog::new(&ws);
        Arc::new(AppState {
            guard: Guard::new(cfg.addr, cfg.token.clone()),
            live: Live::new(cfg.grace),
            stores: Stores {
                read: Mutex::new(None),
                write: Mutex::new(None),
            },
            cat,
            ws: Arc::new(ws),
            cfg,
        })
    }

    /// The store to read from: the writer once a run opened it, else a read-only one (which
    /// is empty until a store file exists, so it is reopened until then).
    fn reader(&self) -> Option<Store> {
        if let Some(w) = self
            .stores
            .write
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Some(w);
        }
        let mut read = self.stores.read.lock().unwrap_or_else(|e| e.into_inner());
        if read.as_ref().is_some_and(Store::exists) {
            return read.clone();
        }
        *read = Store::open_read(&self.ws.project).ok();
        read.clone()
    }

    fn writer(&self) -> Result<Store, String> {
        let mut w = self.stores.write.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = w.as_ref() {
            return Ok(s.clone());
        }
        let s = Store::open(&self.ws.project).map_err(|d| d.render())?;
        *w = Some(s.clone());
        Ok(s)
    }

    fn context_data(
        &self,
        runbook: Option<&str>,
    ) -> (
        Vec<crate::store::LatestResult>,
        Vec<crate::store::ManualCheck>,
    ) {
        let Some(store) = self.reader() else {
            return (Vec::new(), Vec::new());
        };
        let paths: Vec<String> = self.cat.entries.iter().map(|e| e.path.clone()).collect();
        let latest = if paths.is_empty() {
            Vec::new()
        } else {
            store
                .latest_in(&Filter {
                    runbooks: paths,
                    host: None,
                })
                .unwrap_or_default()
        };
        let checks = match runbook {
            Some(p) => store.manual_checks(Some(p)).unwrap_or_default(),
            None => Vec::new(),
        };
        (latest, checks)
    }
}

struct Stores {
    read: Mutex<Option<Store>>,
    write: Mutex<Option<Store>>,
}

/// The site's router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/events", get(events))
        .route("/api/run", post(run))
        .route("/api/cancel", post(cancel))
        .route("/api/manual", post(manual))
        .route("/assets/{file}", get(asset))
        .fallback(page)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Host check for every request; the token-for-cookie trade on any GET.
async fn gate(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !s.guard.host_ok(req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This server answers only to the address it listens on (the Host header names another).",
        );
    }
    if req.method() == Method::GET {
        if let Some(token) = query_param(req.uri(), "token") {
            if !s.guard.token_matches(&token) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "This token is not the one `runbook serve` printed at start.",
                );
            }
            let location = without_param(req.uri(), "token");
            return Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, location)
                .header(header::SET_COOKIE, s.guard.set_cookie())
                .body(Body::empty())
                .unwrap_or_default();
        }
    }
    next.run(req).await
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("refused");
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        pages::notice_page("en", &format!("{} {title}", status.as_u16()), message),
    )
        .into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// The checks before changing anything (execution on, same Origin, the token, JSON): the
/// refusal, if any.
fn refusal(s: &AppState, headers: &HeaderMap) -> Option<Response> {
    if !s.cfg.exec {
        return Some(json_error(
            StatusCode::FORBIDDEN,
            "this site is read-only (runbook serve --no-exec)",
        ));
    }
    if !s.guard.origin_ok(headers) {
        return Some(json_error(
            StatusCode::FORBIDDEN,
            "refused: the request comes from another origin",
        ));
    }
    if !s.guard.authed(headers) {
        return Some(json_error(
            StatusCode::FORBIDDEN,
            "refused: open the URL with the token that runbook serve printed",
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Some(json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json",
        ));
    }
    None
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v).unwrap_or_default())
    })
}

fn without_param(uri: &Uri, name: &str) -> String {
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(name))
        .collect();
    // The path is our own: only its own form, never a `//host` that a browser would follow
    // to another site.
    let path = format!("/{}", uri.path().trim_start_matches('/'));
    if rest.is_empty() {
        path
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

/// Percent-decoding of a path or query value (`+` stays `+`); `None` for invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match assets::get(&file) {
        Some((body, mime)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => refuse(StatusCode::NOT_FOUND, "No such file."),
    }
}

fn html(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::VARY, "Accept-Language, Cookie"),
        ],
        body,
    )
        .into_response()
}

async fn page(
    State(s): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "Pages are read with GET.");
    }
    let not_found = || refuse(StatusCode::NOT_FOUND, "There is no such page.");
    let Some(path) = percent_decode(uri.path()) else {
        return not_found();
    };
    let path = path.strip_prefix('/').unwrap_or(&path);
    // Only pages the catalog knows exist; these never even reach it.
    if path.contains("..") || path.contains('\\') || path.contains('\0') || path.starts_with('/') {
        return not_found();
    }
    let Some(found) = s.cat.resolve(path) else {
        return not_found();
    };
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let mode = Mode::Serve {
        exec: s.cfg.exec,
        auth: s.guard.authed(&headers),
    };
    match found {
        Found::Index { lang } => {
            let (lang, address) = if lang.is_empty() {
                let l = Catalog::negotiate(accept, &s.cat.languages, &s.cat.languages[0]);
                (l, "index.html".to_string())
            } else {
                let a = format!("{lang}/index.html");
                (lang, a)
            };
            let (latest, checks) = s.context_data(None);
            let ctx = Context {
                ws: &s.ws,
                cat: &s.cat,
                latest: &latest,
                checks: &checks,
                mode,
            };
            html(pages::index(&ctx, &lang, &address))
        }
        Found::Page { entry, lang } => {
            let e = &s.cat.entries[entry];
            let (latest, checks) = s.context_data(Some(&e.path));
            let ctx = Context {
                ws: &s.ws,
                cat: &s.cat,
                latest: &latest,
                checks: &checks,
                mode,
            };
            html(pages::runbook(&ctx, entry, &lang))
        }
        Found::Negotiate { entry } => {
            let e = &s.cat.entries[entry];
            let langs: Vec<String> = e.versions.iter().map(|(l, _)| l.clone()).collect();
            let lang = Catalog::negotiate(accept, &langs, e.source_lang());
            let mut location = format!("/{}", e.href(&lang));
            if let Some(q) = uri.query() {
                location.push('?');
                location.push_str(q);
            }
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, location)
                .header(header::VARY, "Accept-Language")
                .body(Body::empty())
                .unwrap_or_default()
        }
    }
}

async fn events(State(s): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    if !s.cfg.exec {
        return json_error(StatusCode::FORBIDDEN, "this site is read-only");
    }
    if !s.guard.origin_ok(&headers) {
        return json_error(StatusCode::FORBIDDEN, "refused: another origin");
    }
    if !s.guard.authed(&headers) {
        return json_error(StatusCode::FORBIDDEN, "refused: no token");
    }
    let Some(runbook) = query_param(&uri, "runbook") else {
        return json_error(StatusCode::BAD_REQUEST, "name the runbook: ?runbook=PATH");
    };
    if s.cat.entry_by_path(&runbook).is_none() {
        return json_error(StatusCode::NOT_FOUND, "no such runbook");
    }
    let (replay, rx, guard) = s.live.watch(&runbook);
    let replay = futures::stream::iter(replay.into_iter().map(Ok::<_, Infallible>));
    let live = BroadcastStream::new(rx).map(|m| match m {
        Ok(m) => Ok(m),
        Err(_) => Ok(Arc::from("{\"t\":\"lagged\"}")),
    });
    let stream = replay
        .chain(live)
        .map(move |m: Result<Arc<str>, Infallible>| {
            // The guard lives as long as the stream: it counts this page as a watcher.
            let _ = &guard;
            m.map(|m| SseEvent::default().data(m.as_ref()))
        });
    let mut res = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(1)))
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
struct RunRequest {
    runbook: String,
    #[serde(default)]
    mode: RunMode,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    vars: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    secrets: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RunMode {
    #[default]
    All,
    Step,
    From,
}

/// A change request that passed the security checks and parsed as JSON; otherwise the
/// response that refuses it (403 from `refusal`, 400 for a body that does not parse).
// The refusal is returned to the client at once; boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
fn accepted_request<T: serde::de::DeserializeOwned>(
    s: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Response> {
    if let Some(r) = refusal(s, headers) {
        return Err(r);
    }
    serde_json::from_slice(body)
        .map_err(|e| json_error(StatusCode::BAD_REQUEST, &format!("bad request: {e}")))
}

async fn run(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let req: RunRequest = match accepted_request(&s, &headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let Some(ei) = s.cat.entry_by_path(&req.runbook) else {
        return json_error(StatusCode::NOT_FOUND, "no such runbook");
    };
    let entry = &s.cat.entries[ei];
    let rb = &s.ws.runbooks[entry.source];
    let first = match (req.mode, req.step.as_deref()) {
        (RunMode::All, _) => 0,
        (_, Some(id)) => match rb.steps.iter().position(|st| st.id == id) {
            Some(i) => i,
            None => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("no step has the id `{id}`"),
                )
            }
        },
        (_, None) => return json_error(StatusCode::BAD_REQUEST, "name the step"),
    };
    let selected = |i: usize| match req.mode {
        RunMode::All => true,
        RunMode::Step => i == first,
        RunMode::From => i >= first,
    };
    // Secrets typed into the form go as secret values, never as plain variables.
    let mut opts = RunOptions::default();
    for (k, v) in req.vars.iter().chain(&req.secrets) {
        if v.is_empty() {
            continue;
        }
        if s.ws.project.secrets.contains(k) {
            opts.secret_values.push((k.clone(), v.clone()));
        } else {
            opts.vars.push((k.clone(), v.clone()));
        }
    }
    if let Err(d) = runner::environment(&s.ws, rb, &opts) {
        return json_error(StatusCode::BAD_REQUEST, d.render().trim_end());
    }
    let planned = match plan::plan(&s.ws, &Filters::default()) {
        Ok(p) => p,
        Err(d) => {
            let text: Vec<String> = d.iter().map(|d| d.render()).collect();
            return json_error(StatusCode::BAD_REQUEST, text.join("").trim_end());
        }
    };
    let Some(mut planned) = planned.into_iter().find(|p| p.runbook == entry.source) else {
        return json_error(StatusCode::NOT_FOUND, "no such runbook");
    };
    narrow(&s.ws, &mut planned, selected);
    let store = match s.writer() {
        Ok(st) => st,
        Err(e) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, e.trim_end()),
    };
    let (run_id, cancel_rx) = match s.live.try_begin(&entry.path) {
        Ok(x) => x,
        Err(busy) => {
            return json_error(
                StatusCode::CONFLICT,
                &format!("another run is in progress ({busy})"),
            )
        }
    };
    let command = match (req.mode, req.step.as_deref()) {
        (RunMode::All, _) => format!("runbook serve: run {}", entry.path),
        (RunMode::Step, Some(id)) => format!("runbook serve: run {} --only {id}", entry.path),
        (_, id) => format!(
            "runbook serve: run {} --from {}",
            entry.path,
            id.unwrap_or_default()
        ),
    };
    let run_store = match store.begin_run("web", &command) {
        Ok(r) => r,
        Err(e) => {
            s.live.finish(run_id);
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.diagnostic(store.path()).render().trim_end(),
            );
        }
    };
    let steps: Vec<(String, Vec<String>)> = planned
        .steps
        .iter()
        .filter(|p| p.selected)
        .map(|p| (rb.steps[p.step].id.clone(), p.hosts.clone()))
        .collect();
    s.live.announce(&entry.path, run_id, &steps);
    let path = entry.path.clone();
    let langs: Vec<String> = entry.versions.iter().map(|(l, _)| l.clone()).collect();
    tokio::spawn(run_task(
        s.clone(),
        path,
        langs,
        planned,
        opts,
        run_store,
        run_id,
        cancel_rx,
    ));
    (StatusCode::ACCEPTED, axum::Json(json!({"run": run_id}))).into_response()
}

/// Keeps one runbook's plan, selects its steps, and turns requirements met by other
/// runbooks of the workspace into store checks (they are not part of this run).
fn narrow(ws: &Workspace, planned: &mut PlannedRunbook, selected: impl Fn(usize) -> bool) {
    for (i, st) in planned.steps.iter_mut().enumerate() {
        st.selected = selected(i);
    }
    for r in std::mem::take(&mut planned.requires_in_run) {
        planned
            .requires_elsewhere
            .push(ws.rel_path(&ws.runbooks[r]));
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_task(
    s: Arc<AppState>,
    path: String,
    langs: Vec<String>,
    planned: PlannedRunbook,
    opts: RunOptions,
    run_store: crate::store::RunStore,
    run_id: u64,
    cancel_rx: tokio::sync::watch::Receiver<bool>,
) {
    let channel = s.live.channel(&path);
    let sinks: Vec<Arc<dyn Sink>> = vec![
        run_store.sink(),
        Arc::new(StreamSink {
            channel: channel.clone(),
            langs,
        }),
    ];
    let ws = s.ws.clone();
    let requires = run_store.requires_check();
    let work = Box::pin(async move {
        let runner = Runner {
            ws: &ws,
            opts,
            sink: Arc::new(Fanout(sinks)),
            requires,
        };
        runner.run(std::slice::from_ref(&planned)).await
    });
    let mut work = Some(work);
    let outcome = tokio::select! {
        r = work.as_mut().expect("the run") => Some(r),
        _ = live::cancelled(cancel_rx) => None,
        _ = live::orphaned(channel.clone(), s.live.grace) => None,
    };
    // Dropping the run closes its sessions: nothing of it stays on the hosts.
    drop(work.take());
    match outcome {
        Some(results) => {
            let exit = exit_of(&results);
            run_store.finish(exit);
            let status = results
                .iter()
                .map(|r| r.status)
                .max()
                .map_or("passed", |st| st.as_str());
            s.live.conclude(&path, run_id, status, exit.code(), false);
        }
        None => s.live.conclude(&path, run_id, "cancelled", 3, true),
    }
    s.live.finish(run_id);
}

#[derive(Deserialize)]
struct CancelRequest {
    runbook: String,
}

async fn cancel(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let req: CancelRequest = match accepted_request(&s, &headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    if s.live.cancel(Some(&req.runbook)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        json_error(StatusCode::NOT_FOUND, "no run in progress on this runbook")
    }
}

#[derive(Deserialize)]
struct ManualRequest {
    runbook: String,
    step: String,
    host: String,
    checked: bool,
}

async fn manual(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let req: ManualRequest = match accepted_request(&s, &headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let Some(ei) = s.cat.entry_by_path(&req.runbook) else {
        return json_error(StatusCode::NOT_FOUND, "no such runbook");
    };
    let entry = &s.cat.entries[ei];
    let rb = &s.ws.runbooks[entry.source];
    let is_manual = rb.step(&req.step).is_some_and(|st| st.is_manual());
    if !is_manual || !entry.step_hosts(&s.ws, &req.step).contains(&req.host) {
        return json_error(StatusCode::BAD_REQUEST, "no such manual step on that host");
    }
    let store = match s.writer() {
        Ok(st) => st,
        Err(e) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, e.trim_end()),
    };
    match store.set_manual(&req.runbook, &req.step, &req.host, req.checked) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.diagnostic(store.path()).render().trim_end(),
        ),
    }
}

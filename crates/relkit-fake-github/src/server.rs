//! The running server: a hand-rolled accept loop (so a fault can drop one
//! connection mid-request), the front middleware (faults, auth, access,
//! rate-limit headers, request log) and the handle tests hold.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::fault::{Fault, FaultEngine, FaultRule};
use crate::model::{Config, LoggedRequest, ReleaseState};
use crate::reply::{drain, error, not_found};
use crate::state::{ConnKill, Shared, Ticket, lock, now_epoch};
use crate::store::Store;

/// A running fake GitHub. Dropping it stops the server.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    addr: SocketAddr,
    cancel: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGitHub {
    /// Start on `127.0.0.1:0` on the current tokio runtime.
    pub async fn start(config: Config) -> std::io::Result<FakeGitHub> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on `addr` on the current tokio runtime.
    pub async fn start_on(mut config: Config, addr: SocketAddr) -> std::io::Result<FakeGitHub> {
        config.api_prefix = normalize_prefix(&config.api_prefix)?;
        config.upload_prefix = normalize_prefix(&config.upload_prefix)?;
        if config.upload_prefix == config.api_prefix {
            config.upload_prefix.clear();
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (blob_dir, blob_tmp) = if let Some(dir) = &config.blob_dir {
            fs_err::create_dir_all(dir)?;
            (dir.clone(), None)
        } else {
            let tmp = tempfile::Builder::new()
                .prefix("relkit-fake-github-")
                .tempdir()?;
            (tmp.path().to_owned(), Some(tmp))
        };
        let cdn = if config.redirect_downloads {
            let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            let cdn_addr = l.local_addr()?;
            Some((l, format!("http://{cdn_addr}")))
        } else {
            None
        };
        let shared = Arc::new(Shared {
            config,
            base_url: format!("http://{addr}"),
            cdn_url: cdn.as_ref().map(|(_, url)| url.clone()),
            store: Mutex::new(Store::default()),
            faults: Mutex::new(FaultEngine::default()),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            blob_dir,
            _blob_tmp: blob_tmp,
            rate_used: AtomicU64::new(0),
            request_seq: AtomicU64::new(0),
            state_file: Mutex::new(None),
        });
        let router = crate::api::router(shared.clone())
            .layer(axum::middleware::from_fn_with_state(shared.clone(), front));
        let cancel = CancellationToken::new();
        tokio::spawn(accept_loop(listener, router, cancel.clone()));
        if let Some((l, _)) = cdn {
            let cdn_router = crate::download::cdn_router(shared.clone());
            tokio::spawn(accept_loop(l, cdn_router, cancel.clone()));
        }
        Ok(FakeGitHub {
            shared,
            addr,
            cancel,
            thread: None,
        })
    }

    /// Start on a runtime of its own in a background thread, for tests that
    /// are not async.
    pub fn start_blocking(config: Config) -> std::io::Result<FakeGitHub> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("relkit-fake-github".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match FakeGitHub::start(config).await {
                        Ok(fake) => {
                            let cancel = fake.cancel.clone();
                            if tx.send(Ok(fake)).is_ok() {
                                cancel.cancelled().await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let mut fake = rx
            .recv()
            .map_err(|_| std::io::Error::other("the fake GitHub thread died while starting"))??;
        fake.thread = Some(thread);
        Ok(fake)
    }

    /// The API base URL, e.g. `http://127.0.0.1:PORT` (what `GITHUB_API_URL`
    /// would be), with the API prefix if one is configured.
    pub fn api_url(&self) -> String {
        self.shared.api_base()
    }

    /// The server's root URL without any prefix (where `/_fake/state` and
    /// browser downloads live).
    pub fn root_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upload base every `upload_url` starts with, e.g.
    /// `http://127.0.0.1:PORT/uploads`.
    pub fn upload_url_base(&self) -> String {
        self.shared.upload_base()
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A snapshot of every release (drafts included) with its assets, in id
    /// order.
    pub fn releases(&self) -> Vec<ReleaseState> {
        lock(&self.shared.store).snapshot()
    }

    /// Add a scripted fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).add(rule);
    }

    /// Seed the RNG used by rules with a probability.
    pub fn set_fault_seed(&self, seed: u64) {
        lock(&self.shared.faults).seed(seed);
    }

    /// Hit each request with probability `probability` by a fault drawn from
    /// [`Fault::default_mix`] (5xx, 403 secondary rate limit, 429, rate
    /// limit reset, a dropped upload, a slow response) with a 1 s
    /// retry-after, reproducibly for one seed and one request order.
    pub fn set_random_faults(&self, seed: u64, probability: f64) {
        self.set_random_fault_mix(seed, probability, Fault::default_mix(1));
    }

    /// Like [`FakeGitHub::set_random_faults`] with a mix of your own (e.g.
    /// `Fault::default_mix(0)` for quick retries in a soak test).
    pub fn set_random_fault_mix(&self, seed: u64, probability: f64, mix: Vec<Fault>) {
        lock(&self.shared.faults).set_random(seed, probability, mix);
    }

    /// Remove every scripted rule and stop random faults.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Add an asset in `starter` state (as a failed upload leaves it) to a
    /// release; returns its id, or `None` when the release does not exist.
    pub fn seed_starter_asset(&self, release_id: u64, name: &str) -> Option<u64> {
        let name = self.shared.config.asset_name(name);
        self.shared
            .seed_asset(release_id, &name, None)
            .ok()
            .flatten()
    }

    /// Add an uploaded asset holding `content` to a release, bypassing
    /// GitHub's rules (the name is kept as given, even when the release
    /// already holds an asset of that name): a server misbehaving, for
    /// clients that must notice. `None` when the release does not exist.
    pub fn seed_asset(&self, release_id: u64, name: &str, content: &[u8]) -> Option<u64> {
        self.shared
            .seed_asset(release_id, name, Some(content))
            .ok()
            .flatten()
    }

    /// The download host's root URL, when [`Config::redirect_downloads`] is on.
    pub fn cdn_url(&self) -> Option<String> {
        self.shared.cdn_url.clone()
    }

    /// Every request so far (except `/_fake/*`), in order of arrival.
    /// Entries are recorded when the response is sent or the connection
    /// dropped, so a request still in flight is not listed yet.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.log_sorted()
    }

    /// Forget every release, asset, fault rule and logged request, as if
    /// the server had just started (ids keep counting up).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Forget the request log.
    pub fn clear_request_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Write the state (as `GET /_fake/state` returns it) to `path` after
    /// every change, atomically.
    pub fn set_state_file(&self, path: Option<PathBuf>) {
        *lock(&self.shared.state_file) = path;
        self.shared.persist();
    }

    /// The state as `GET /_fake/state` returns it.
    pub fn state_json(&self) -> serde_json::Value {
        self.shared.state_json()
    }

    /// Resolves when [`FakeGitHub::shutdown`] was called or the handle
    /// dropped.
    pub async fn stopped(&self) {
        self.cancel.cancelled().await;
    }

    /// Stop serving: close the listener and every connection.
    pub fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl std::fmt::Debug for FakeGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGitHub")
            .field("url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

/// `""` or `/a/b`: one leading slash, no trailing one.
fn normalize_prefix(prefix: &str) -> std::io::Result<String> {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    if !p.starts_with('/') || p.contains(['?', '#', '{', '}']) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("path prefix `{prefix}` must start with `/` and hold only a path"),
        ));
    }
    Ok(p.to_owned())
}

async fn accept_loop(listener: TcpListener, router: Router, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait and go on.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn_cancel = cancel.child_token();
        let svc = router
            .clone()
            .layer(axum::Extension(ConnKill(conn_cancel.clone())));
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
            // Dropping `conn` closes the socket: that is how a fault drops a
            // connection in the middle of a request.
            tokio::select! {
                _ = conn => {}
                () = conn_cancel.cancelled() => {}
            }
        });
    }
}

enum Auth {
    Ok,
    Missing,
    Bad,
    /// A valid token whose owner cannot see the repository.
    NoAccess,
}

fn check_auth(shared: &Shared, req: &Request) -> Auth {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Auth::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Auth::Bad;
    };
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default().trim();
    let scheme_ok = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    if scheme_ok && !token.is_empty() && token == shared.config.token {
        Auth::Ok
    } else if scheme_ok && shared.config.lacks_access(token) {
        Auth::NoAccess
    } else {
        Auth::Bad
    }
}

/// The answer for a caller who may not go on, if any.
fn gate(shared: &Shared, auth: &Auth, method: &Method, public_download: bool) -> Option<Response> {
    let anonymous_ok =
        public_download || (shared.config.allow_anonymous_reads && method == Method::GET);
    match auth {
        Auth::Ok => None,
        Auth::Bad => Some(error(StatusCode::UNAUTHORIZED, "Bad credentials")),
        // GitHub answers 404, not 401 or 403, to whoever cannot see a
        // private repository: it does not admit that the repository exists.
        Auth::NoAccess => Some(not_found()),
        Auth::Missing if shared.config.private_repo => Some(not_found()),
        Auth::Missing if anonymous_ok => None,
        Auth::Missing => Some(error(StatusCode::UNAUTHORIZED, "Requires authentication")),
    }
}

fn is_upload(shared: &Shared, method: &Method, path: &str) -> bool {
    let prefix = if shared.config.upload_prefix.is_empty() {
        &shared.config.api_prefix
    } else {
        &shared.config.upload_prefix
    };
    method == Method::POST
        && path
            .strip_prefix(prefix.as_str())
            .is_some_and(|p| p.starts_with("/repos/") && p.ends_with("/assets"))
}

/// The outermost layer: fault injection, authentication, rate-limit headers
/// and the request log, for every API request (not `/_fake/*`).
async fn front(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let unprefixed = path
        .strip_prefix(shared.config.api_prefix.as_str())
        .unwrap_or(&path);
    if path.starts_with("/_fake/") || unprefixed.starts_with("/_fake/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path_q = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let public_download = shared.is_browser_download(&path);
    let auth = check_auth(&shared, &req);
    let mut ticket = Ticket {
        method: method.to_string(),
        path: path_q.clone(),
        at: Instant::now(),
        authenticated: matches!(auth, Auth::Ok),
        upload_fault: None,
        kill: req.extensions().get::<ConnKill>().cloned(),
    };
    let fault = lock(&shared.faults).pick(&method, &path_q);
    let upload = is_upload(&shared, &method, &path);
    let mut after_handling: Option<Fault> = None;
    if let Some(fault) = &fault {
        match fault {
            Fault::Delay(d) => tokio::time::sleep(*d).await,
            Fault::DropMidUpload | Fault::StatusLeavingStarter(_) if upload => {
                ticket.upload_fault = Some(fault.clone());
            }
            Fault::DropMidUpload => return ticket.drop_connection(&shared, fault).await,
            Fault::DropAfterHandling => after_handling = Some(fault.clone()),
            _ => {
                drain(req.into_body()).await;
                let resp = with_common_headers(&shared, &ticket, fault_response(fault));
                shared.record(ticket.entry(&shared, resp.status().as_u16(), Some(fault.label())));
                return resp;
            }
        }
    }
    let resp = gate(&shared, &auth, &method, public_download);
    let resp = if let Some(r) = resp {
        drain(req.into_body()).await;
        r
    } else {
        req.extensions_mut().insert(ticket.clone());
        next.run(req).await
    };
    if let Some(fault) = after_handling {
        shared.persist();
        return ticket.drop_connection(&shared, &fault).await;
    }
    let resp = with_common_headers(&shared, &ticket, resp);
    shared.record(ticket.entry(&shared, resp.status().as_u16(), fault.map(|f| f.label())));
    if method != Method::GET && resp.status().is_success() {
        shared.persist();
    }
    resp
}

fn with_common_headers(shared: &Shared, ticket: &Ticket, mut resp: Response) -> Response {
    let limit = shared.config.rate_limit;
    let used = if ticket.authenticated {
        shared.rate_used.fetch_add(1, Ordering::Relaxed) + 1
    } else {
        shared.rate_used.load(Ordering::Relaxed)
    };
    let reset = now_epoch() + 3600;
    let seq = shared.request_seq.fetch_add(1, Ordering::Relaxed);
    let h = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if !h.contains_key(name) {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    };
    set("x-ratelimit-limit", limit.to_string());
    set(
        "x-ratelimit-remaining",
        limit.saturating_sub(used).to_string(),
    );
    set("x-ratelimit-reset", reset.to_string());
    set("x-ratelimit-used", used.to_string());
    set("x-ratelimit-resource", "core".to_owned());
    set("x-github-api-version-selected", "2022-11-28".to_owned());
    set("x-github-request-id", format!("FAKE:{seq:08X}"));
    resp
}

fn fault_response(fault: &Fault) -> Response {
    match fault {
        Fault::Status(code) | Fault::StatusLeavingStarter(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = status.canonical_reason().unwrap_or("Server Error");
            error(status, message)
        }
        Fault::SecondaryRateLimit { retry_after_secs } => {
            let mut r = error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            r
        }
        Fault::RateLimited429 { retry_after_secs } => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            r
        }
        Fault::RateLimitReset { reset_in_secs } => {
            let mut r = error(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE.",
            );
            let h = r.headers_mut();
            h.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
            h.insert(
                "x-ratelimit-reset",
                HeaderValue::from(now_epoch() + reset_in_secs),
            );
            r
        }
        // Handled before a response is built.
        Fault::DropMidUpload | Fault::Delay(_) | Fault::DropAfterHandling => {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

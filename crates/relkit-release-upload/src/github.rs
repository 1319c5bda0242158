//! The GitHub Releases API as relkit uses it: JSON calls through octocrab's
//! raw `_get/_post/_patch/_delete` (so listing includes drafts, custom base
//! URLs keep their path, and error bodies and rate-limit headers reach us),
//! streaming uploads and downloads through reqwest, every call retried under
//! one [`Policy`].
//!
//! octocrab's typed release API is not used: its retry layer hides
//! `retry-after`, its errors drop the headers we must honour, and
//! `upload_asset` takes the whole file as `Bytes` (unbounded memory).

use std::fmt;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, header};
use octocrab::Octocrab;
use relkit_core::hash::Algo;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, warn};
use url::Url;

use crate::Error;
use crate::assets::LocalAsset;
use crate::page::{Bounds, HasId, Pager, next_page, page_url};
use crate::retry::{self, Failed, Policy};

/// The API version relkit speaks.
pub(crate) const API_VERSION: &str = "2022-11-28";
/// Read size when streaming a file into an upload.
const CHUNK: usize = 256 * 1024;

/// A GitHub token. Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wrap a token read from the environment.
    pub fn new(value: String) -> Self {
        Token(value)
    }
    /// Whether the token can be sent in an `Authorization` header: visible
    /// ASCII only (GitHub's tokens are), so no line break, control
    /// character or stray non-ASCII byte from a pasted secret.
    pub(crate) fn is_header_safe(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic())
    }
    pub(crate) fn bearer(&self) -> Result<HeaderValue, Error> {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0)).map_err(|_| {
            relkit_core::Error::invalid(
                "token",
                "contains characters not allowed in an HTTP header",
            )
        })?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A release as the API returns it (the fields relkit reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    /// Release id.
    pub id: u64,
    /// Tag name.
    pub tag_name: String,
    /// Whether it is still a draft.
    #[serde(default)]
    pub draft: bool,
    /// Whether it is a pre-release.
    #[serde(default)]
    pub prerelease: bool,
    /// Whether it is an immutable release (no asset changes once published).
    #[serde(default)]
    pub immutable: bool,
    /// The release page.
    #[serde(default)]
    pub html_url: String,
    /// The upload URL template (`…/assets{?name,label}`).
    #[serde(default)]
    pub upload_url: String,
    /// Assets, as embedded in the release (the first page of them).
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// A release asset.
#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    /// Asset id.
    pub id: u64,
    /// Asset name.
    pub name: String,
    /// `uploaded` once complete; `starter`/`open` after a failed upload.
    #[serde(default)]
    pub state: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// `sha256:<hex>`, absent on older GitHub Enterprise servers.
    #[serde(default)]
    pub digest: Option<String>,
    /// Download URL.
    #[serde(default)]
    pub browser_download_url: String,
    /// The content type given at upload.
    #[serde(default)]
    pub content_type: String,
}

impl Asset {
    /// Whether the asset finished uploading.
    pub fn is_uploaded(&self) -> bool {
        self.state == "uploaded"
    }
    /// The hex sha256 from `digest`, if GitHub reported one.
    pub fn sha256(&self) -> Option<&str> {
        self.digest.as_deref()?.strip_prefix("sha256:")
    }
}

/// A response read to the end.
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body text.
    pub body: String,
}

impl Resp {
    /// GitHub's error message, with validation codes such as `already_exists`.
    pub fn message(&self) -> String {
        let Ok(v) = serde_json::from_str::<Value>(&self.body) else {
            return self
                .body
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_owned();
        };
        let mut msg = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let codes: Vec<&str> = v
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get("code").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if !codes.is_empty() {
            let _ = write!(msg, " ({})", codes.join(", "));
        }
        msg
    }

    /// Whether this is GitHub's 422 "already_exists" validation failure.
    pub fn already_exists(&self) -> bool {
        self.status == 422 && self.body.contains("already_exists")
    }
}

/// Outcome of one upload attempt.
pub enum UploadAttempt {
    /// 201: the asset and the sha256 of the bytes we sent.
    Done(Asset, String),
    /// A response that is not 201 and not worth retrying as is.
    Refused(Resp),
    /// A transient failure: retry after cleaning up.
    Transient(Failed),
}

/// A client for one repository.
pub struct GitHub {
    octo: Octocrab,
    pub(crate) http: reqwest::Client,
    pub(crate) token: Token,
    /// The API base URL, ending with `/`.
    pub(crate) api: Url,
    pub(crate) repo_path: String,
    policy: Policy,
    timeout: Duration,
}

impl GitHub {
    /// A client for `owner/name` at `api` (GitHub.com or GHES's `/api/v3`).
    pub fn new(
        api: &Url,
        owner: &str,
        name: &str,
        token: Token,
        policy: Policy,
        timeout: Duration,
    ) -> Result<Self, Error> {
        // octocrab panics on a token that is no header value: refuse first.
        if !token.is_header_safe() {
            return Err(relkit_core::Error::invalid(
                "token",
                "holds a character that cannot be sent in an HTTP header",
            )
            .into());
        }
        let base = api.as_str().trim_end_matches('/');
        let octo = Octocrab::builder()
            .base_uri(base)
            .map_err(|e| relkit_core::Error::invalid("--api-url", format!("`{base}`: {e}")))?
            .personal_token(token.0.clone())
            // Our own retry loop honours retry-after and the run's budget.
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .add_header(
                header::HeaderName::from_static("x-github-api-version"),
                API_VERSION.to_owned(),
            )
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        // reqwest is built without its own crypto provider: use ring, the one
        // octocrab already brings. Installing twice is harmless (Err is ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("relkit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .read_timeout(timeout)
            // Redirects are followed by hand: the token must not travel to
            // another host (see `download_once`).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let mut api = api.clone();
        if !api.path().ends_with('/') {
            let p = format!("{}/", api.path());
            api.set_path(&p);
        }
        Ok(GitHub {
            octo,
            http,
            token,
            api,
            repo_path: format!("/repos/{owner}/{name}"),
            policy,
            timeout,
        })
    }

    /// The retry policy (for callers with their own retry loops).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Wait before retry `attempt`, or give up with exit 3.
    pub async fn backoff(&self, what: &str, attempt: u32, failed: &Failed) -> Result<(), Error> {
        if let Some(d) = self.policy.delay(attempt, failed) {
            warn!(
                "{what}: {}; retrying in {:.1}s",
                failed.reason,
                d.as_secs_f64()
            );
            tokio::time::sleep(d).await;
            Ok(())
        } else {
            let why = match failed.server_wait {
                Some(w) if w > Duration::ZERO => format!(
                    "{} and GitHub asked to wait {}s more",
                    failed.reason,
                    w.as_secs()
                ),
                _ => failed.reason.clone(),
            };
            Err(Error::GaveUp {
                what: what.to_owned(),
                last: why,
                secs: self.policy.give_up().as_secs(),
            })
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Resp, String> {
        debug!("{method} {path}");
        let fut = async {
            let res = match *method {
                Method::GET => self.octo._get(path).await,
                Method::POST => self.octo._post(path, body).await,
                Method::PATCH => self.octo._patch(path, body).await,
                Method::DELETE => self.octo._delete(path, None::<&()>).await,
                _ => unreachable!("relkit sends no {method}"),
            }
            .map_err(|e| format!("request failed: {}", relkit_core::error::one_line(&e)))?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = self.octo.body_to_string(res).await.map_err(|e| {
                format!(
                    "reading the response failed: {}",
                    relkit_core::error::one_line(&e)
                )
            })?;
            debug!("{method} {path} -> {status}");
            Ok(Resp {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .unwrap_or_else(|_| Err(format!("no response within {}s", self.timeout.as_secs())))
    }

    /// Send a JSON API call, retrying transient failures; returns the first
    /// response that is not worth retrying.
    pub async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Resp, Error> {
        let mut attempt = 0;
        loop {
            let failed = match self.send_once(&method, path, body).await {
                Ok(r) if retry::retryable_status(r.status, &r.headers, &r.body) => Failed {
                    reason: format!("HTTP {} {}", r.status, r.message())
                        .trim()
                        .to_owned(),
                    server_wait: retry::server_wait(r.status, &r.headers, &r.body),
                },
                Ok(r) => return Ok(r),
                Err(reason) => Failed {
                    reason,
                    server_wait: None,
                },
            };
            self.backoff(what, attempt, &failed).await?;
            attempt += 1;
        }
    }

    /// [`GitHub::call`] expecting one of `ok` statuses.
    async fn expect(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: &[u16],
    ) -> Result<Resp, Error> {
        let r = self.call(what, method, path, body).await?;
        if ok.contains(&r.status) {
            Ok(r)
        } else {
            Err(api_error(what, &r))
        }
    }

    fn parse<T: DeserializeOwned>(what: &str, r: &Resp) -> Result<T, Error> {
        serde_json::from_str(&r.body).map_err(|e| Error::Unexpected {
            what: what.to_owned(),
            problem: format!(
                "HTTP {} with a body that is not what GitHub sends: {e}",
                r.status
            ),
        })
    }

    /// Every item of a listing that `keep` accepts, following pages
    /// within `bounds` (see [`crate::page`]).
    async fn list<T: DeserializeOwned + HasId>(
        &self,
        what: &str,
        path: &str,
        bounds: Bounds,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, Error> {
        let paging = |problem: String| Error::Paging {
            what: what.to_owned(),
            problem,
        };
        let first = page_url(path, 1);
        let mut pager = Pager::new(bounds, &first);
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut page = 1;
        while let Some(url) = next.take() {
            let r = self.expect(what, Method::GET, &url, None, &[200]).await?;
            let items: Vec<T> = Self::parse(what, &r)?;
            let len = items.len();
            let new = pager.admit(items).map_err(paging)?;
            if new.is_empty() {
                break;
            }
            out.extend(new.into_iter().filter(&keep));
            next = next_page(&self.api, &r.headers, path, page, len)
                .map_err(paging)?
                .filter(|n| pager.fresh(n));
            page += 1;
        }
        Ok(out)
    }

    /// Every release of `tag`, drafts included (the token must be allowed
    /// to push, or GitHub hides drafts).
    pub async fn list_releases(&self, tag: &str) -> Result<Vec<Release>, Error> {
        let path = format!("{}/releases", self.repo_path);
        self.list(
            "listing releases",
            &path,
            Bounds::RELEASES,
            |r: &Release| r.tag_name == tag,
        )
        .await
    }

    /// Check once, up front, that the token can see the repository: GitHub
    /// answers 404 (not 401) for a private repository the token cannot see,
    /// which later calls would take for a race (issue 10.6).
    pub async fn check_access(&self, full_name: &str) -> Result<(), Error> {
        let what = "checking access to the repository";
        let r = self.call(what, Method::GET, &self.repo_path, None).await?;
        match r.status {
            200 => Ok(()),
            403 | 404 => Err(Error::NoAccess {
                repo: full_name.to_owned(),
                status: r.status,
            }),
            _ => Err(api_error(what, &r)),
        }
    }

    /// One release by id; `None` when it does not exist.
    pub async fn get_release(&self, id: u64) -> Result<Option<Release>, Error> {
        let what = format!("reading release {id}");
        let r = self
            .call(
                &what,
                Method::GET,
                &format!("{}/releases/{id}", self.repo_path),
                None,
            )
            .await?;
        match r.status {
            200 => Self::parse(&what, &r).map(Some),
            404 => Ok(None),
            _ => Err(api_error(&what, &r)),
        }
    }

    /// Create a draft release.
    pub async fn create_release(&self, body: &Value) -> Result<Release, Error> {
        let r = self
            .expect(
                "creating the draft release",
                Method::POST,
                &format!("{}/releases", self.repo_path),
                Some(body),
                &[201],
            )
            .await?;
        Self::parse("creating the draft release", &r)
    }

    /// Update a release (publish it).
    pub async fn update_release(&self, id: u64, body: &Value) -> Result<Release, Error> {
        let what = format!("publishing release {id}");
        let r = self
            .expect(
                &what,
                Method::PATCH,
                &format!("{}/releases/{id}", self.repo_path),
                Some(body),
                &[200],
            )
            .await?;
        Self::parse(&what, &r)
    }

    /// Delete a release; one that is already gone counts as deleted.
    pub async fn delete_release(&self, id: u64) -> Result<(), Error> {
        let what = format!("deleting duplicate draft {id}");
        self.expect(
            &what,
            Method::DELETE,
            &format!("{}/releases/{id}", self.repo_path),
            None,
            &[204, 404],
        )
        .await?;
        Ok(())
    }

    /// Every asset of a release.
    pub async fn list_assets(&self, release: u64) -> Result<Vec<Asset>, Error> {
        let path = format!("{}/releases/{release}/assets", self.repo_path);
        self.list("listing assets", &path, Bounds::ASSETS, |_: &Asset| true)
            .await
    }

    /// Delete an asset; one that is already gone counts as deleted.
    pub async fn delete_asset(&self, asset: &Asset) -> Result<(), Error> {
        let what = format!("deleting asset `{}`", asset.name);
        self.expect(
            &what,
            Method::DELETE,
            &format!("{}/releases/assets/{}", self.repo_path, asset.id),
            None,
            &[204, 404],
        )
        .await?;
        Ok(())
    }

    /// One upload attempt: stream the file to `upload_url`, hashing the
    /// bytes as they go.
    pub async fn upload_once(
        &self,
        upload_url: &Url,
        asset: &LocalAsset,
    ) -> Result<UploadAttempt, Error> {
        let mut url = upload_url.clone();
        url.query_pairs_mut()
            .clear()
            .append_pair("name", &asset.name);
        let file = tokio::fs::File::open(&asset.path).await.map_err(|e| {
            relkit_core::Error::Io(std::io::Error::new(
                e.kind(),
                format!("`{}`: {e}", asset.path.display()),
            ))
        })?;
        let hasher = Arc::new(Mutex::new((Algo::Sha256.hasher(), 0u64)));
        let tap = Arc::clone(&hasher);
        let stream =
            tokio_util::io::ReaderStream::with_capacity(file, CHUNK).inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    let mut h = tap.lock().expect("hasher lock");
                    h.0.update(bytes);
                    h.1 += bytes.len() as u64;
                }
            });
        debug!("POST {} ({} bytes)", url.path(), asset.size);
        let sent = self
            .http
            .post(url.clone())
            .header(header::AUTHORIZATION, self.token.bearer()?)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, asset.size)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
        let res = match sent {
            Ok(r) => r,
            Err(e) => {
                return Ok(UploadAttempt::Transient(Failed {
                    reason: transport_reason(e),
                    server_wait: None,
                }));
            }
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = match res.text().await {
            Ok(b) => b,
            Err(e) => {
                return Ok(UploadAttempt::Transient(Failed {
                    reason: transport_reason(e),
                    server_wait: None,
                }));
            }
        };
        debug!("POST {} -> {status}", url.path());
        let resp = Resp {
            status,
            headers,
            body,
        };
        if status == 201 {
            let remote: Asset = Self::parse("uploading", &resp)?;
            let (hasher, n) = std::mem::replace(
                &mut *hasher.lock().expect("hasher lock"),
                (Algo::Sha256.hasher(), 0),
            );
            if n != asset.size {
                return Err(Error::Changed {
                    path: asset.path.clone(),
                });
            }
            return Ok(UploadAttempt::Done(remote, hasher.finish_hex()));
        }
        if retry::retryable_status(status, &resp.headers, &resp.body) {
            return Ok(UploadAttempt::Transient(Failed {
                reason: format!("HTTP {status} {}", resp.message())
                    .trim()
                    .to_owned(),
                server_wait: retry::server_wait(status, &resp.headers, &resp.body),
            }));
        }
        Ok(UploadAttempt::Refused(resp))
    }
}

/// A transport failure in words, without the URL (it may carry a query we
/// do not want in logs) and without any header.
pub(crate) fn transport_reason(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_request() {
        "connection dropped"
    } else {
        "request failed"
    };
    let e = e.without_url();
    format!("{kind}: {}", relkit_core::error::one_line(&e))
}

/// The error for a final unexpected response.
pub fn api_error(what: &str, r: &Resp) -> Error {
    Error::Api {
        what: what.to_owned(),
        status: r.status,
        message: r.message(),
    }
}

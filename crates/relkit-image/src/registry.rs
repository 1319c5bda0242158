//! A client for the OCI distribution API, the part a push needs: the
//! `WWW-Authenticate` challenge (Basic, or Bearer through the token
//! service), blob existence checks, cross-repository mounts, monolithic and
//! chunked uploads streamed from disk, manifest PUT and GET. Every request
//! is retried under release-upload's [`Policy`] (backoff with jitter,
//! `retry-after` honoured, one budget for the run, then exit 3).
//! Credentials live in [`Secret`]s and sensitive header values, so no log
//! line at any level carries them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use http::header::{self, HeaderValue};
use relkit_core::error::one_line;
use relkit_release_upload::retry::{self, Failed, Policy};
use reqwest::{RequestBuilder, Response};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tracing::{debug, warn};
use url::Url;

use crate::Error;
use crate::spec;

/// Most of an error body read (registries send a short JSON).
const ERROR_BODY_MAX: usize = 64 * 1024;
/// Largest manifest or index accepted from a registry (the distribution
/// server's own limit is 4 MiB).
pub const MANIFEST_MAX: usize = 4 * 1024 * 1024;

/// A password or token: never shown by `Debug` or `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value read from the environment.
    pub fn new(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A user name and its password (or token).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: Secret,
}

/// Where an image goes: registry host and repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`, as given (Docker Hub's `docker.io` kept).
    pub registry: String,
    /// `path/name`.
    pub repository: String,
}

impl ImageRef {
    /// Parse `HOST[:PORT]/PATH` (or a Docker Hub `NAME` / `USER/NAME`);
    /// a tag or digest suffix is refused: tags are given separately.
    pub fn parse(raw: &str) -> Result<ImageRef, Error> {
        let bad = |why: &str| -> Error {
            relkit_core::Error::invalid("--image", format!("`{raw}`: {why}")).into()
        };
        let (first, rest) = raw.split_once('/').unwrap_or(("", raw));
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (registry, repository) = if is_host {
            (first.to_owned(), rest.to_owned())
        } else if raw.contains('/') {
            ("docker.io".to_owned(), raw.to_owned())
        } else {
            ("docker.io".to_owned(), format!("library/{raw}"))
        };
        if repository.contains('@')
            || repository
                .rsplit('/')
                .next()
                .is_some_and(|l| l.contains(':'))
        {
            return Err(bad(
                "give the repository without a tag or digest (tags go in --tag)",
            ));
        }
        if !valid_repository(&repository) {
            return Err(bad(
                "the repository must be lower-case path components of letters, digits and `._-`",
            ));
        }
        if registry.is_empty()
            || registry.len() > 255
            || !registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(bad("not a registry host"));
        }
        Ok(ImageRef {
            registry,
            repository,
        })
    }

    /// The host the API is reached at (Docker Hub's API lives elsewhere).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.len() <= 255
        && repo.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        })
}

/// Whether `tag` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

/// Connection and retry settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// First retry delay.
    pub retry_base: Duration,
    /// The run's whole retry budget.
    pub give_up: Duration,
    /// Connect and read timeout.
    pub timeout: Duration,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Talk plain HTTP (a registry on a trusted loopback only).
    pub plain_http: bool,
    /// Blobs larger than this go up in chunks of this size.
    pub chunk_size: u64,
}

/// What a push did, for its report.
#[derive(Debug, Default)]
pub struct Stats {
    /// Blobs uploaded.
    pub uploaded: AtomicU64,
    /// Bytes of blobs uploaded.
    pub uploaded_bytes: AtomicU64,
    /// Blobs mounted from another repository.
    pub mounted: AtomicU64,
    /// Blobs the registry already had.
    pub present: AtomicU64,
}

/// Why one attempt failed.
pub(crate) enum Attempt {
    /// Worth trying again after a wait.
    Retry(Failed),
    /// Not worth trying again.
    Fatal(Error),
}

impl Attempt {
    fn retry(reason: String) -> Attempt {
        Attempt::Retry(Failed {
            reason,
            server_wait: None,
        })
    }
}

impl From<Error> for Attempt {
    fn from(e: Error) -> Self {
        Attempt::Fatal(e)
    }
}

/// A repository on a registry, with the session's authorization.
pub struct Registry {
    http: reqwest::Client,
    base: Url,
    image: ImageRef,
    creds: Option<Credentials>,
    /// Extra repositories to ask pull access to (mount sources).
    pull_from: Vec<String>,
    auth: Mutex<Option<HeaderValue>>,
    /// `pull,push`, or `pull` for a client that only reads (a base image).
    actions: &'static str,
    policy: Policy,
    chunk_size: u64,
    /// What this session did.
    pub stats: Stats,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Registry {
    /// A client for `image`, authenticating with `creds` when the registry
    /// asks; `pull_from` are repositories blobs may be mounted from.
    pub fn new(
        image: ImageRef,
        creds: Option<Credentials>,
        pull_from: Vec<String>,
        settings: &Settings,
    ) -> Result<Registry, Error> {
        // reqwest is built without a crypto provider: use ring, as the
        // rest of relkit does. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("relkit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout)
            .read_timeout(settings.timeout)
            // Redirects (blob storage) are followed by reqwest only for
            // GETs; it drops Authorization on another host.
            .redirect(reqwest::redirect::Policy::limited(5))
            // HTTP/1.1, one connection per upload in flight (as skopeo
            // pushes), not HTTP/2: over h2 every upload shares one
            // TCP connection, one server goroutine decrypting it, and the
            // distribution server's 1 MiB connection window. Measured
            // against docker-registry with TLS (README, Performance): the
            // same push took 1.25 s over h2 and 0.99 s over HTTP/1.1
            // (medians of 9, interleaved).
            .http1_only();
        if let Some(ca) = &settings.ca_file {
            let pem = relkit_core::input::read_bytes(ca, relkit_core::input::Limit::KEY)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                relkit_core::Error::invalid("--ca-file", format!("`{}`: {e}", ca.display()))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| {
            Error::Internal(format!("cannot build the HTTP client: {}", one_line(&e)))
        })?;
        let scheme = if settings.plain_http { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", image.api_host())).map_err(|e| {
            relkit_core::Error::invalid("--image", format!("`{}`: {e}", image.registry))
        })?;
        Ok(Registry {
            http,
            base,
            image,
            creds,
            pull_from,
            auth: Mutex::new(None),
            actions: "pull,push",
            policy: Policy::new(settings.retry_base, settings.give_up),
            chunk_size: settings.chunk_size.max(1),
            stats: Stats::default(),
        })
    }

    /// The same client asking only for pull access (reading a base image).
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.actions = "pull";
        self
    }

    /// GET a manifest or index by tag or digest: its media type and bytes
    /// (at most [`MANIFEST_MAX`]), checked against the digest when the
    /// reference is one.
    pub async fn get_manifest(&self, reference: &str) -> Result<(String, Vec<u8>), Error> {
        let url = self.url(&format!("manifests/{reference}"));
        let what = format!("GET manifest {reference}");
        let accept = [
            spec::INDEX,
            spec::MANIFEST,
            spec::DOCKER_LIST,
            spec::DOCKER_MANIFEST,
        ]
        .join(", ");
        let (media_type, bytes) = self
            .retrying(&what, || async {
                let res = self
                    .send(&what, &|| {
                        Ok(self.http.get(url.clone()).header(header::ACCEPT, &accept))
                    })
                    .await?;
                if res.status().as_u16() != 200 {
                    let s = res.status().as_u16();
                    return Err(unexpected(&what, s, res).await);
                }
                let media_type = res
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let bytes = read_limited(res, MANIFEST_MAX)
                    .await
                    .map_err(|e| Attempt::retry(format!("reading the manifest: {e}")))?;
                Ok((media_type, bytes))
            })
            .await?;
        if let Some(hex) = spec::sha256_hex(reference) {
            let got =
                relkit_core::hash::hash_reader(&bytes[..], relkit_core::hash::Algo::Sha256, |_| {})
                    .map_err(relkit_core::Error::Io)?;
            if got.hex != hex {
                return Err(Error::Rejected {
                    what,
                    status: 200,
                    detail: format!(
                        ": the registry sent content whose digest is sha256:{}",
                        got.hex
                    ),
                });
            }
        }
        Ok((media_type, bytes))
    }

    /// Download blob `digest` into `dest` (streamed), checking its digest
    /// and size; a failure midway starts over.
    pub async fn get_blob(&self, digest: &str, size: u64, dest: &Path) -> Result<(), Error> {
        let url = self.url(&format!("blobs/{digest}"));
        let what = format!("GET blob {digest}");
        let hex = spec::sha256_hex(digest).ok_or_else(|| Error::Rejected {
            what: what.clone(),
            status: 0,
            detail: ": not a sha256 digest".to_owned(),
        })?;
        self.retrying(&what, || async {
            let res = self.send(&what, &|| Ok(self.http.get(url.clone()))).await?;
            if res.status().as_u16() != 200 {
                let s = res.status().as_u16();
                return Err(unexpected(&what, s, res).await);
            }
            let got = save_body(res, dest, size).await?;
            if got.hex != hex || got.size != size {
                return Err(Attempt::retry(format!(
                    "received {} bytes with digest sha256:{}",
                    got.size, got.hex
                )));
            }
            Ok(())
        })
        .await
    }

    /// The image this client pushes to.
    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(&format!("v2/{}/{path}", self.image.repository))
            .expect("repository names are URL-safe")
    }

    /// Run `op` until it succeeds, fails for good, or the budget is spent.
    pub(crate) async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Attempt>>,
    {
        let mut attempt = 0;
        loop {
            let failed = match op().await {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(f)) => f,
            };
            let Some(wait) = self.policy.delay(attempt, &failed) else {
                return Err(Error::GaveUp {
                    what: what.to_owned(),
                    last: failed.reason,
                    secs: self.policy.give_up().as_secs(),
                });
            };
            warn!(
                "{what}: {}; retrying in {:.1}s",
                failed.reason,
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Send one request (made afresh by `make` for each try), answering an
    /// authentication challenge once; a retryable status becomes
    /// [`Attempt::Retry`].
    async fn send(
        &self,
        what: &str,
        make: &(dyn Fn() -> Result<RequestBuilder, Error> + Sync),
    ) -> Result<Response, Attempt> {
        let mut answered = false;
        loop {
            let mut req = make()?.build().map_err(|e| {
                Error::Internal(format!(
                    "{what}: cannot build the request: {}",
                    one_line(&e)
                ))
            })?;
            // Credentials go to the registry's own origin only, never to
            // an upload Location on another host.
            let auth = self.auth.lock().expect("auth lock").clone();
            if let Some(h) = auth.filter(|_| req.url().origin() == self.base.origin()) {
                req.headers_mut().insert(header::AUTHORIZATION, h);
            }
            debug!("{what}: {} {}", req.method(), redact(req.url()));
            let res = self
                .http
                .execute(req)
                .await
                .map_err(|e| self.send_error(&e))?;
            let status = res.status().as_u16();
            debug!("{what}: HTTP {status}");
            if status == 401 {
                let challenge = res
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = error_text(res).await;
                match challenge {
                    Some(c) if !answered => {
                        self.authenticate(&c).await?;
                        answered = true;
                        continue;
                    }
                    _ => return Err(self.auth_refused(&body).into()),
                }
            }
            if retry::retryable_status(status, res.headers(), "") {
                let headers = res.headers().clone();
                let body = error_text(res).await;
                return Err(Attempt::Retry(Failed {
                    reason: format!("HTTP {status}{}", detail(&body)),
                    server_wait: retry::server_wait(status, &headers, &body),
                }));
            }
            return Ok(res);
        }
    }

    /// A request that got no answer: retried, unless TLS refused the
    /// server's certificate (no retry fixes that).
    fn send_error(&self, e: &reqwest::Error) -> Attempt {
        let reason = format!("request failed: {}", one_line(e));
        if is_tls_refusal(e) {
            Error::Tls {
                registry: self.image.registry.clone(),
                problem: reason,
            }
            .into()
        } else {
            Attempt::retry(reason)
        }
    }

    fn auth_refused(&self, body: &str) -> Error {
        Error::Auth {
            registry: self.image.registry.clone(),
            problem: if self.creds.is_some() {
                format!("the credentials were refused (HTTP 401{})", detail(body))
            } else {
                "it asks for credentials and none were given (set --username and the variable --password-env names)".to_owned()
            },
        }
    }

    /// Answer a `WWW-Authenticate` challenge: Basic with the credentials,
    /// or a Bearer token from the realm the registry names.
    async fn authenticate(&self, challenge: &str) -> Result<(), Attempt> {
        let (scheme, params) = parse_challenge(challenge);
        let value = if scheme.eq_ignore_ascii_case("basic") {
            let creds = self.creds.as_ref().ok_or_else(|| self.auth_refused(""))?;
            basic(creds)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let token = self.fetch_token(&params).await?;
            let mut v =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Error::Auth {
                    registry: self.image.registry.clone(),
                    problem: "the token service sent a token that is not a header value".to_owned(),
                })?;
            v.set_sensitive(true);
            v
        } else {
            return Err(Error::Auth {
                registry: self.image.registry.clone(),
                problem: format!("unsupported authentication scheme `{scheme}`"),
            }
            .into());
        };
        *self.auth.lock().expect("auth lock") = Some(value);
        Ok(())
    }

    async fn fetch_token(&self, params: &[(String, String)]) -> Result<String, Attempt> {
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let refused = |problem: String| -> Attempt {
            Error::Auth {
                registry: self.image.registry.clone(),
                problem,
            }
            .into()
        };
        let realm =
            get("realm").ok_or_else(|| refused("a Bearer challenge without a realm".to_owned()))?;
        let mut url =
            Url::parse(&realm).map_err(|e| refused(format!("token realm `{realm}`: {e}")))?;
        // Credentials go to the realm only over TLS (unless the registry
        // itself is plain HTTP on a trusted loopback).
        if url.scheme() != "https" && !(url.scheme() == "http" && self.base.scheme() == "http") {
            return Err(refused(format!("token realm `{realm}` is not https")));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = get("service") {
                q.append_pair("service", &service);
            }
            q.append_pair(
                "scope",
                &format!("repository:{}:{}", self.image.repository, self.actions),
            );
            for from in &self.pull_from {
                q.append_pair("scope", &format!("repository:{from}:pull"));
            }
        }
        debug!("token: GET {}", url.as_str());
        let mut rb = self.http.get(url);
        if let Some(c) = &self.creds {
            rb = rb.header(header::AUTHORIZATION, basic(c));
        }
        let res = rb
            .send()
            .await
            .map_err(|e| Attempt::retry(format!("token request failed: {}", one_line(&e))))?;
        let status = res.status().as_u16();
        if retry::retryable_status(status, res.headers(), "") {
            let headers = res.headers().clone();
            return Err(Attempt::Retry(Failed {
                reason: format!("token service: HTTP {status}"),
                server_wait: retry::server_wait(status, &headers, ""),
            }));
        }
        if status != 200 {
            return Err(refused(format!(
                "the token service refused the credentials (HTTP {status})"
            )));
        }
        let body = read_limited(res, ERROR_BODY_MAX)
            .await
            .map_err(|e| Attempt::retry(format!("reading the token failed: {e}")))?;
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            refused("the token service's answer is not JSON with a token".to_owned())
        })?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| refused("the token service's answer holds no token".to_owned()))
    }

    /// Check the API is there and get authorized before any upload, so a
    /// streamed body is never spent on a 401.
    pub async fn login(&self) -> Result<(), Error> {
        let base = self.base.join("v2/").expect("static path");
        self.retrying("registry API check", || async {
            let res = self
                .send("GET /v2/", &|| Ok(self.http.get(base.clone())))
                .await?;
            match res.status().as_u16() {
                200 => Ok(()),
                s => Err(unexpected("GET /v2/", s, res).await),
            }
        })
        .await?;
        // /v2/ may be open while the repository is not: ask for push scope
        // now by touching the repository.
        let probe = self.url("tags/list");
        self.retrying("repository access check", || async {
            let res = self
                .send("GET tags/list", &|| Ok(self.http.get(probe.clone())))
                .await?;
            match res.status().as_u16() {
                200 | 404 => Ok(()),
                s => Err(unexpected("GET tags/list", s, res).await),
            }
        })
        .await
    }

    /// Whether the repository has the blob.
    pub async fn has_blob(&self, digest: &str) -> Result<bool, Error> {
        let url = self.url(&format!("blobs/{digest}"));
        let what = format!("HEAD blob {digest}");
        self.retrying(&what, || async {
            let res = self
                .send(&what, &|| Ok(self.http.head(url.clone())))
                .await?;
            match res.status().as_u16() {
                200 => Ok(true),
                404 => Ok(false),
                s => Err(unexpected(&what, s, res).await),
            }
        })
        .await
    }

    /// Try to mount the blob from `from` (same registry); true when it was.
    pub async fn mount(&self, digest: &str, from: &str) -> Result<bool, Error> {
        let mut url = self.url("blobs/uploads/");
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let what = format!("mount {digest} from {from}");
        let mounted = self
            .retrying(&what, || async {
                let res = self
                    .send(&what, &|| Ok(self.http.post(url.clone())))
                    .await?;
                match res.status().as_u16() {
                    201 => Ok(true),
                    // The registry opened an upload instead; it expires unused.
                    202 => Ok(false),
                    s => Err(unexpected(&what, s, res).await),
                }
            })
            .await?;
        if mounted {
            self.stats.mounted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(mounted)
    }

    /// Upload the blob at `path` (`size` bytes, `digest`): one PUT when it
    /// fits in a chunk, else PATCHes of `chunk_size` and a closing PUT. A
    /// failure anywhere restarts the upload from a fresh session.
    pub async fn upload(&self, path: &Path, digest: &str, size: u64) -> Result<(), Error> {
        let what = format!("upload {digest}");
        self.retrying(&what, || self.upload_once(path, digest, size, &what))
            .await?;
        self.stats.uploaded.fetch_add(1, Ordering::Relaxed);
        self.stats.uploaded_bytes.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    async fn upload_once(
        &self,
        path: &Path,
        digest: &str,
        size: u64,
        what: &str,
    ) -> Result<(), Attempt> {
        let start = self.url("blobs/uploads/");
        let res = self
            .send(what, &|| {
                Ok(self
                    .http
                    .post(start.clone())
                    .header(header::CONTENT_LENGTH, 0))
            })
            .await?;
        let mut location = match res.status().as_u16() {
            202 => self.location(&res)?,
            s => return Err(unexpected(what, s, res).await),
        };
        let mut offset = 0;
        if size > self.chunk_size {
            while offset < size {
                let len = self.chunk_size.min(size - offset);
                let loc = location.clone();
                let res = self
                    .send(what, &|| {
                        Ok(self
                            .http
                            .patch(loc.clone())
                            .header(header::CONTENT_TYPE, "application/octet-stream")
                            .header(header::CONTENT_LENGTH, len)
                            .header("content-range", format!("{offset}-{}", offset + len - 1))
                            .body(file_body(path, offset, len)?))
                    })
                    .await?;
                match res.status().as_u16() {
                    202 => location = self.location(&res)?,
                    s => return Err(unexpected(what, s, res).await),
                }
                offset += len;
            }
        }
        location.query_pairs_mut().append_pair("digest", digest);
        let rest = size - offset;
        let res = self
            .send(what, &|| {
                let rb = self
                    .http
                    .put(location.clone())
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .header(header::CONTENT_LENGTH, rest);
                Ok(if rest == 0 {
                    rb
                } else {
                    rb.body(file_body(path, offset, rest)?)
                })
            })
            .await?;
        match res.status().as_u16() {
            201 => Ok(()),
            s => Err(unexpected(what, s, res).await),
        }
    }

    fn location(&self, res: &Response) -> Result<Url, Attempt> {
        let raw = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Attempt::retry("upload answer without a Location".to_owned()))?;
        self.base
            .join(raw)
            .map_err(|e| Attempt::retry(format!("upload Location `{raw}`: {e}")))
    }

    /// PUT a manifest or index under `reference` (a digest or a tag).
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), Error> {
        let url = self.url(&format!("manifests/{reference}"));
        let what = format!("PUT manifest {reference}");
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.retrying(&what, || async {
            let res = self
                .send(&what, &|| {
                    Ok(self
                        .http
                        .put(url.clone())
                        .header(header::CONTENT_TYPE, media_type)
                        .body(body.clone()))
                })
                .await?;
            match res.status().as_u16() {
                200 | 201 => Ok(()),
                s => Err(unexpected(&what, s, res).await),
            }
        })
        .await
    }
}

/// A URL for a log line: the path only (upload Locations carry session
/// state in their query).
fn redact(url: &Url) -> &str {
    url.path()
}

/// Whether a rustls error (a certificate refused, a handshake failed) is
/// somewhere in `e`'s causes; io::Error hides its inner error from
/// `source()`, so look inside it too.
fn is_tls_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && is_tls_refusal(inner)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

fn basic(c: &Credentials) -> HeaderValue {
    let raw = format!("{}:{}", c.username, c.password.0);
    let mut v = HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
    .expect("base64 is a header value");
    v.set_sensitive(true);
    v
}

/// Split `Bearer realm="…",service="…"` into the scheme and its parameters.
pub fn parse_challenge(raw: &str) -> (String, Vec<(String, String)>) {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once(' ').unwrap_or((raw, ""));
    let mut params = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((name, after)) = s.split_once('=') else {
            break;
        };
        let name = name.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_owned(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((name, value));
        s = next.trim_start_matches([',', ' ']);
    }
    (scheme.to_owned(), params)
}

/// A body of `len` bytes of `path` from `offset`, streamed.
fn file_body(path: &Path, offset: u64, len: u64) -> Result<reqwest::Body, Error> {
    use std::io::Seek;
    let mut file = relkit_core::hash::open_regular(path)?;
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(relkit_core::Error::Io)?;
    let file = tokio::fs::File::from_std(file.into_parts().0);
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024);
    Ok(reqwest::Body::wrap_stream(stream))
}

/// Stream a response body into `dest`, hashing it; more than `max` bytes
/// is refused.
async fn save_body(
    mut res: Response,
    dest: &Path,
    max: u64,
) -> Result<relkit_core::hash::Digest, Attempt> {
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| Attempt::Fatal(relkit_core::atomic::io_at(dest, e).into());
    let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
    let mut hasher = relkit_core::hash::Algo::Sha256.hasher();
    let mut size = 0u64;
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| Attempt::retry(format!("download failed: {}", one_line(&e))))?
    {
        size += chunk.len() as u64;
        if size > max {
            return Err(Attempt::retry(format!(
                "the blob is larger than its {max} bytes"
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(relkit_core::hash::Digest {
        hex: hasher.finish_hex(),
        size,
    })
}

async fn read_limited(mut res: Response, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| one_line(&e))? {
        if out.len() + chunk.len() > max {
            return Err(format!("the answer is over {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A body read for a message (bounded; errors read as empty).
async fn error_text(res: Response) -> String {
    read_limited(res, ERROR_BODY_MAX)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// `: CODE message` from a registry's `{"errors":[…]}` body, else nothing.
fn detail(body: &str) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    serde_json::from_str::<Errors>(body)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
        .map(|e| {
            let text: String = format!(": {} {}", e.code, e.message)
                .chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect();
            text.trim_end().to_owned()
        })
        .unwrap_or_default()
}

async fn unexpected(what: &str, status: u16, res: Response) -> Attempt {
    let body = error_text(res).await;
    Error::Rejected {
        what: what.to_owned(),
        status,
        detail: detail(&body),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_references() {
        let r = ImageRef::parse("127.0.0.1:5000/relkit/demo").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "relkit/demo")
        );
        let r = ImageRef::parse("ghcr.io/owner/app").unwrap();
        assert_eq!(r.api_host(), "ghcr.io");
        let r = ImageRef::parse("alpine").unwrap();
        assert_eq!(
            (r.api_host(), r.repository.as_str()),
            ("registry-1.docker.io", "library/alpine")
        );
        assert_eq!(ImageRef::parse("user/app").unwrap().repository, "user/app");
        for bad in [
            "ghcr.io/Owner/app",
            "ghcr.io/o/app:v1",
            "ghcr.io/o/app@sha256:00",
            "ghcr.io/",
            "ghcr.io/o//a",
            "ghcr.io/-o/a",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_tags() {
        assert!(valid_tag("v1.2.3") && valid_tag("latest") && valid_tag("1.2") && valid_tag("_x"));
        assert!(
            !valid_tag("") && !valid_tag(".x") && !valid_tag("a/b") && !valid_tag(&"a".repeat(129))
        );
    }

    #[test]
    fn parses_challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://ghcr.io/token".into()),
                ("service".into(), "ghcr.io".into()),
                ("scope".into(), "repository:o/a:pull".into())
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p.len()), ("Basic", 1));
    }

    #[test]
    fn secrets_do_not_show() {
        let c = Credentials {
            username: "u".into(),
            password: Secret::new("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", basic(&c)).contains("aHVudGVy"));
    }
}

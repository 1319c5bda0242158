//! Downloads for consumers of a release, trusting no server: redirects are
//! followed by hand and the token goes only to the API's own origin (never
//! to the download host GitHub redirects to, nor to any other); every body is
//! bounded, streamed to disk, hashed on the way and checked against the size
//! and sha256 it must have; transient faults (transport, 5xx, 429, a
//! truncated body) are retried with backoff, honouring `retry-after`.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use http::header;
use relkit_core::hash::{Algo, Digest};
use relkit_release_upload::retry;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;
use tracing::debug;
use url::Url;

use crate::Error;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// A read-only HTTP client for release files.
pub struct Http {
    client: reqwest::Client,
    /// Sent as `Authorization: Bearer` to `api`'s origin only.
    token: Option<String>,
    api: Option<Url>,
    attempts: u32,
    base: Duration,
}

/// What a downloaded file must be.
#[derive(Debug, Clone)]
pub struct Expect {
    /// How the file is named in messages.
    pub what: String,
    /// Never read more than this many bytes.
    pub max: u64,
    /// The exact size, when known.
    pub size: Option<u64>,
    /// The sha256 it must have, when known.
    pub sha256: Option<String>,
}

enum Attempt<T> {
    Done(T),
    Retry(retry::Failed),
}

impl Http {
    /// A client; `token` (if any) is sent to `api`'s origin only.
    pub fn new(api: Option<Url>, token: Option<String>, timeout: Duration) -> Result<Self, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("relkit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let token = token.filter(|t| !t.is_empty());
        if let Some(t) = &token
            && !t.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(relkit_core::Error::invalid(
                "GITHUB_TOKEN",
                "holds a character that cannot be sent in an HTTP header",
            )
            .into());
        }
        // The same variable as relkit-release-upload's `--retry-base-ms`.
        let base = std::env::var("RELKIT_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_millis(500), Duration::from_millis);
        Ok(Http {
            client,
            token,
            api,
            attempts: 4,
            base,
        })
    }

    /// Retry settings: `attempts` tries in all, backoff from `base`.
    #[must_use]
    pub fn with_retries(mut self, attempts: u32, base: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.base = base;
        self
    }

    /// Whether a token is in use.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// GET a JSON document of at most `max` bytes.
    pub async fn json<T: DeserializeOwned>(
        &self,
        url: &Url,
        what: &str,
        max: u64,
    ) -> Result<T, Error> {
        let bytes = self
            .retrying(what, url, || async {
                let res = match self.get(url, "application/vnd.github+json", what).await? {
                    Attempt::Done(r) => r,
                    Attempt::Retry(f) => return Ok(Attempt::Retry(f)),
                };
                read_small(res, what, max).await
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Refused(format!("{what}: the answer is not the JSON expected: {e}"))
        })
    }

    /// GET `url` into `dest` (created or truncated), checked against `expect`.
    pub async fn to_file(
        &self,
        url: &Url,
        accept: &str,
        dest: &Path,
        expect: &Expect,
        bar: &indicatif::ProgressBar,
    ) -> Result<Digest, Error> {
        self.retrying(&expect.what, url, || async {
            let res = match self.get(url, accept, &expect.what).await? {
                Attempt::Done(r) => r,
                Attempt::Retry(f) => return Ok(Attempt::Retry(f)),
            };
            bar.set_position(0);
            stream_to(res, dest, expect, bar).await
        })
        .await
    }

    async fn retrying<T, F, Fut>(&self, what: &str, url: &Url, mut once: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Attempt<T>, Error>>,
    {
        let mut attempt = 0;
        loop {
            let failed = match once().await? {
                Attempt::Done(v) => return Ok(v),
                Attempt::Retry(f) => f,
            };
            attempt += 1;
            if attempt >= self.attempts {
                return Err(Error::Remote {
                    what: format!("{what} from {}", shown_url(url)),
                    reason: format!("{} (after {attempt} attempts)", failed.reason),
                });
            }
            let step = self.base.saturating_mul(1 << (attempt - 1).min(10));
            let wait = failed
                .server_wait
                .unwrap_or(step)
                .min(Duration::from_secs(60));
            debug!("{what}: {}; retrying in {wait:?}", failed.reason);
            tokio::time::sleep(wait).await;
        }
    }

    /// One GET, following redirects by hand; the token goes only to the
    /// API's origin. 404 and other refusals are errors; 5xx, 429 and
    /// transport faults are to be retried.
    async fn get(
        &self,
        start: &Url,
        accept: &str,
        what: &str,
    ) -> Result<Attempt<reqwest::Response>, Error> {
        let mut url = start.clone();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.client.get(url.clone()).header(header::ACCEPT, accept);
            if let (Some(token), Some(api)) = (&self.token, &self.api)
                && url.origin() == api.origin()
            {
                let mut v = http::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| Error::Internal("token is no header value".into()))?;
                v.set_sensitive(true);
                req = req
                    .header(header::AUTHORIZATION, v)
                    .header("x-github-api-version", "2022-11-28");
            }
            let res = match req.send().await {
                Ok(r) => r,
                Err(e) => return Ok(Attempt::Retry(transport(&e))),
            };
            let status = res.status().as_u16();
            if res.status().is_redirection() {
                url = relkit_release_upload::redirect_target(&url, &res)
                    .map_err(|p| Error::Refused(format!("{what}: {p}")))?;
                debug!(
                    "{what}: redirected to {}",
                    url.origin().ascii_serialization()
                );
                continue;
            }
            if status == 200 {
                return Ok(Attempt::Done(res));
            }
            let headers = res.headers().clone();
            let body = read_small(res, what, 64 * 1024)
                .await
                .ok()
                .and_then(|a| match a {
                    Attempt::Done(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    Attempt::Retry(_) => None,
                })
                .unwrap_or_default();
            if retry::retryable_status(status, &headers, &body) {
                return Ok(Attempt::Retry(retry::Failed {
                    reason: format!("HTTP {status}"),
                    server_wait: retry::server_wait(status, &headers, &body),
                }));
            }
            if status == 404 {
                return Err(Error::NotFound {
                    what: what.to_owned(),
                    url: shown_url(&url),
                });
            }
            return Err(Error::Refused(format!(
                "{what}: {} answered HTTP {status}",
                shown_url(&url)
            )));
        }
        Err(Error::Refused(format!(
            "{what}: more than {MAX_REDIRECTS} redirects"
        )))
    }
}

/// GET a public `url` into `dest`, bounded by `expect` and retried like
/// every other download, outside any async context (no token is sent).
/// For data relkit fetches on the way, such as the SBOM gate's OSV export.
pub fn download(url: &str, dest: &Path, expect: &Expect) -> Result<Digest, Error> {
    let parsed = Url::parse(url)
        .map_err(|e| relkit_core::Error::invalid(&expect.what, format!("`{url}`: {e}")))?;
    let http = Http::new(None, None, Duration::from_secs(60))?;
    let bar = indicatif::ProgressBar::hidden();
    crate::runtime()?.block_on(http.to_file(&parsed, "*/*", dest, expect, &bar))
}

/// A URL as shown in messages: no query (a signed download URL's query is a
/// credential) and no user info.
pub fn shown_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn transport(e: &reqwest::Error) -> retry::Failed {
    let reason = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    retry::Failed {
        reason,
        server_wait: None,
    }
}

async fn read_small(
    res: reqwest::Response,
    what: &str,
    max: u64,
) -> Result<Attempt<Vec<u8>>, Error> {
    let mut out = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return Ok(Attempt::Retry(transport(&e))),
        };
        if (out.len() + chunk.len()) as u64 > max {
            return Err(Error::Refused(format!(
                "{what}: the answer is over {max} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Attempt::Done(out))
}

async fn stream_to(
    res: reqwest::Response,
    dest: &Path,
    expect: &Expect,
    bar: &indicatif::ProgressBar,
) -> Result<Attempt<Digest>, Error> {
    let what = &expect.what;
    let limit = expect.size.unwrap_or(expect.max).min(expect.max);
    if let Some(len) = res.content_length()
        && len > limit
    {
        return Err(Error::Refused(format!(
            "{what}: the server announced {len} bytes, more than the {limit} expected"
        )));
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| relkit_core::atomic::io_at(dest, e))?;
    let mut hasher = Algo::Sha256.hasher();
    let mut count = 0u64;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return Ok(Attempt::Retry(transport(&e))),
        };
        count += chunk.len() as u64;
        if count > limit {
            return Err(Error::Refused(format!(
                "{what}: the server sent more than the {limit} bytes expected"
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| relkit_core::atomic::io_at(dest, e))?;
        bar.inc(chunk.len() as u64);
    }
    file.flush()
        .await
        .map_err(|e| relkit_core::atomic::io_at(dest, e))?;
    if let Some(size) = expect.size
        && count != size
    {
        return Ok(Attempt::Retry(retry::Failed {
            reason: format!("truncated: the server sent {count} of {size} bytes"),
            server_wait: None,
        }));
    }
    let hex = hasher.finish_hex();
    if let Some(want) = &expect.sha256
        && *want != hex
    {
        return Err(Error::Refused(format!(
            "{what}: sha256 {hex}, but the signed SHA256SUMS says {want}"
        )));
    }
    Ok(Attempt::Done(Digest { hex, size: count }))
}

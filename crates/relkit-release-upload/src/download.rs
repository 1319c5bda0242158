//! Downloading an asset without trusting the server (issue 10.5): redirects
//! are followed by hand, sending the token only to the API's own origin
//! (GitHub answers 302 to its download host, which must never see it); the
//! content type must be the file's, and the byte count must be the asset's
//! `size`, checked while streaming so a server cannot make us read more.

use futures_util::StreamExt;
use http::header;
use relkit_core::hash::Algo;
use tracing::debug;
use url::Url;

use crate::Error;
use crate::github::{API_VERSION, Asset, GitHub, Resp, api_error, transport_reason};
use crate::retry::{self, Failed};

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// An asset's bytes as downloaded.
pub(crate) struct Downloaded {
    /// Lower-case hex sha256.
    pub(crate) sha256: String,
    /// The bytes, when asked to keep them.
    pub(crate) bytes: Vec<u8>,
}

enum Attempt {
    Done(Downloaded),
    Refused(Resp),
    Transient(Failed),
}

impl GitHub {
    /// The sha256 of an asset's content, downloaded (for servers that report
    /// no `digest`).
    pub async fn download_sha256(&self, asset: &Asset) -> Result<String, Error> {
        Ok(self.download(asset, false).await?.sha256)
    }

    /// An asset's bytes, refusing one over `max` bytes before downloading.
    pub(crate) async fn download_bytes(&self, asset: &Asset, max: u64) -> Result<Vec<u8>, Error> {
        if asset.size > max {
            return Err(download_error(
                asset,
                format!("it is {} bytes, over the limit of {max}", asset.size),
            ));
        }
        Ok(self.download(asset, true).await?.bytes)
    }

    async fn download(&self, asset: &Asset, keep: bool) -> Result<Downloaded, Error> {
        let what = format!("downloading asset `{}`", asset.name);
        let url = self
            .api
            .join(&format!(
                "{}/releases/assets/{}",
                self.repo_path.trim_start_matches('/'),
                asset.id
            ))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut attempt = 0;
        loop {
            let failed = match self.download_once(&url, asset, keep).await? {
                Attempt::Done(d) => return Ok(d),
                Attempt::Refused(resp) => return Err(api_error(&what, &resp)),
                Attempt::Transient(f) => f,
            };
            self.backoff(&what, attempt, &failed).await?;
            attempt += 1;
        }
    }

    /// One GET, following redirects; the token goes only to the API
    /// origin. A transport failure is `Ok(Err(_))`, to retry.
    async fn get_following(
        &self,
        start: &Url,
        asset: &Asset,
    ) -> Result<Result<reqwest::Response, Failed>, Error> {
        let mut url = start.clone();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self
                .http
                .get(url.clone())
                .header(header::ACCEPT, "application/octet-stream");
            if url.origin() == self.api.origin() {
                req = req
                    .header(header::AUTHORIZATION, self.token.bearer()?)
                    .header("x-github-api-version", API_VERSION);
            }
            let res = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    return Ok(Err(Failed {
                        reason: transport_reason(e),
                        server_wait: None,
                    }));
                }
            };
            if !res.status().is_redirection() {
                return Ok(Ok(res));
            }
            url = redirect_target(&url, &res).map_err(|p| download_error(asset, p))?;
            debug!(
                "asset `{}` redirected to {}",
                asset.name,
                url.origin().ascii_serialization()
            );
        }
        Err(download_error(
            asset,
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }

    async fn download_once(&self, url: &Url, asset: &Asset, keep: bool) -> Result<Attempt, Error> {
        let res = match self.get_following(url, asset).await? {
            Ok(r) => r,
            Err(failed) => return Ok(Attempt::Transient(failed)),
        };
        let status = res.status().as_u16();
        if status != 200 {
            let headers = res.headers().clone();
            let body = res.text().await.unwrap_or_default();
            let resp = Resp {
                status,
                headers,
                body,
            };
            if retry::retryable_status(status, &resp.headers, &resp.body) {
                return Ok(Attempt::Transient(Failed {
                    reason: format!("HTTP {status}"),
                    server_wait: retry::server_wait(status, &resp.headers, &resp.body),
                }));
            }
            return Ok(Attempt::Refused(resp));
        }
        check_headers(asset, res.headers())?;
        read_body(res, asset, keep).await
    }
}

/// Stream the body, hashing it and stopping at the asset's size.
async fn read_body(res: reqwest::Response, asset: &Asset, keep: bool) -> Result<Attempt, Error> {
    let mut hasher = Algo::Sha256.hasher();
    let mut bytes = Vec::new();
    let mut count = 0u64;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Ok(Attempt::Transient(Failed {
                    reason: transport_reason(e),
                    server_wait: None,
                }));
            }
        };
        count += chunk.len() as u64;
        if count > asset.size {
            return Err(download_error(
                asset,
                format!("the server sent more than the asset's {} bytes", asset.size),
            ));
        }
        hasher.update(&chunk);
        if keep {
            bytes.extend_from_slice(&chunk);
        }
    }
    if count != asset.size {
        return Err(download_error(
            asset,
            format!(
                "the server sent {count} bytes, but the asset is {} bytes",
                asset.size
            ),
        ));
    }
    Ok(Attempt::Done(Downloaded {
        sha256: hasher.finish_hex(),
        bytes,
    }))
}

/// Where a redirect points, resolved against the URL that answered it;
/// only http(s) targets. Shared with relkit-verify's downloads.
pub fn redirect_target(from: &Url, res: &reqwest::Response) -> Result<Url, String> {
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("HTTP {} without a Location", res.status().as_u16()))?;
    let to = from
        .join(location)
        .map_err(|e| format!("redirected to something that is not a URL: {e}"))?;
    if matches!(to.scheme(), "http" | "https") {
        Ok(to)
    } else {
        Err(format!("redirected to a `{}:` URL", to.scheme()))
    }
}

/// The answer must be the file: its type, and a length that is the asset's.
fn check_headers(asset: &Asset, headers: &http::HeaderMap) -> Result<(), Error> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ct) = text(header::CONTENT_TYPE) {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let own = asset.content_type.to_ascii_lowercase();
        if ct != "application/octet-stream" && (own.is_empty() || ct != own) {
            return Err(download_error(
                asset,
                format!("the server sent `{ct}` instead of the file's bytes"),
            ));
        }
    }
    if let Some(len) = text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok())
        && len != asset.size
    {
        return Err(download_error(
            asset,
            format!(
                "the server announced {len} bytes, but the asset is {} bytes",
                asset.size
            ),
        ));
    }
    Ok(())
}

fn download_error(asset: &Asset, problem: String) -> Error {
    Error::Download {
        name: asset.name.clone(),
        problem,
    }
}

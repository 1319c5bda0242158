//! Serving asset bytes: directly, or (with [`Config::redirect_downloads`])
//! through a 302 to a second loopback listener standing for GitHub's
//! download host, which refuses requests that carry a token; and the
//! broken download paths of [`Config::download_quirk`].
//!
//! [`Config::redirect_downloads`]: crate::Config::redirect_downloads
//! [`Config::download_quirk`]: crate::Config::download_quirk

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use tokio::io::AsyncReadExt;

use crate::model::{DownloadQuirk, LoggedRequest};
use crate::reply::{error, not_found};
use crate::state::{Shared, lock};
use crate::store::Asset;

/// Answer a download of `asset`: a redirect to the download host when
/// configured, else the bytes.
pub(crate) async fn serve(sh: &Shared, asset: &Asset) -> Response {
    if asset.state != "uploaded" {
        return not_found();
    }
    match &sh.cdn_url {
        Some(cdn) => {
            // A short-lived signed URL on GitHub; any opaque token will do.
            let location = format!(
                "{cdn}/cdn/{}/{}?sig=fake{:x}",
                asset.id,
                asset.name,
                crate::state::now_epoch()
            );
            let mut resp = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        None => stream(sh, asset).await,
    }
}

/// The bytes of an uploaded asset, as GitHub's download host sends them.
async fn stream(sh: &Shared, asset: &Asset) -> Response {
    let Ok(file) = tokio::fs::File::open(&asset.path).await else {
        return not_found();
    };
    let short = sh.config.download_quirk == Some(DownloadQuirk::ShortBody);
    let size = if short { asset.size / 2 } else { asset.size };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file.take(size),
        256 * 1024,
    ));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={}", asset.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// The download host's routes (served on their own listener).
pub(crate) fn cdn_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/cdn/{id}/{name}", get(cdn_download))
        .fallback(|| async { not_found() })
        .with_state(shared)
}

async fn cdn_download(
    State(sh): State<Arc<Shared>>,
    Path((id, _name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let at = Instant::now();
    let authorized = headers.contains_key(header::AUTHORIZATION);
    let resp = if authorized {
        // What GitHub's storage answers to a client that forwards its token.
        error(
            StatusCode::BAD_REQUEST,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        )
    } else {
        let asset = id.parse::<u64>().ok().and_then(|id| {
            let mut store = lock(&sh.store);
            let a = store.assets.get_mut(&id)?;
            a.download_count += 1;
            Some(a.clone())
        });
        match asset {
            Some(a) if a.state == "uploaded" => stream(&sh, &a).await,
            _ => not_found(),
        }
    };
    sh.record(LoggedRequest {
        method: "GET".to_owned(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        status: resp.status().as_u16(),
        at,
        fault: None,
        since_start: at.saturating_duration_since(sh.started),
        authenticated: authorized,
    });
    resp
}

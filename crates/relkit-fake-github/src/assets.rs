//! The asset endpoints: listing, reading and downloading, editing,
//! deleting, and uploads (streamed to disk, hashed as they arrive, with the
//! upload faults acted on here).

// Handlers return GitHub's error `Response` as their `Err`: boxing it would
// only add noise to every early return.
#![allow(clippy::result_large_err)]

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::api::{Sh, asset_json, visible};
use crate::extract::{Id, JsonBody, Repo};
use crate::fault::Fault;
use crate::model::{DownloadQuirk, MAX_ASSET_SIZE, MAX_ASSETS};
use crate::page::{PageQuery, paginate};
use crate::reply::{drain, empty, error, json_with_link, not_found, unprocessable, validation};
use crate::state::{Shared, Ticket, lock, now_rfc3339};
use crate::store::{Asset, Release, Store};

pub(crate) async fn list_assets(
    _: Repo,
    Id(id): Id,
    State(sh): Sh,
    Query(q): Query<PageQuery>,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    let store = lock(&sh.store);
    let Some(r) = store.releases.get(&id).filter(|r| visible(r, &ticket)) else {
        return not_found();
    };
    let items: Vec<Value> = r
        .assets
        .iter()
        .filter_map(|a| store.assets.get(a))
        .map(|a| asset_json(&sh, r, a))
        .collect();
    let path = format!(
        "/repos/{}/{}/releases/{}/assets",
        sh.config.owner, sh.config.repo, r.id
    );
    drop(store);
    let (page, link) = paginate(&sh, &path, &q, items);
    json_with_link(StatusCode::OK, Value::Array(page), link)
}

/// Find an asset and its release, if the caller may see it.
fn find_asset<'s>(store: &'s Store, id: u64, ticket: &Ticket) -> Option<(&'s Release, &'s Asset)> {
    let asset = store.assets.get(&id)?;
    let release = store.releases.get(&asset.release_id)?;
    visible(release, ticket).then_some((release, asset))
}

fn wants_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/octet-stream"))
}

pub(crate) async fn get_asset(
    _: Repo,
    Id(id): Id,
    State(sh): Sh,
    Extension(ticket): Extension<Ticket>,
    headers: HeaderMap,
) -> Response {
    let quirk = sh.config.download_quirk == Some(DownloadQuirk::JsonMetadata);
    let (json, download) = {
        let mut store = lock(&sh.store);
        let Some((release, asset)) = find_asset(&store, id, &ticket) else {
            return not_found();
        };
        let json = asset_json(&sh, release, asset);
        let download = (wants_octet_stream(&headers) && !quirk).then(|| asset.clone());
        if let Some(a) = download.as_ref().filter(|a| a.state == "uploaded")
            && let Some(a) = store.assets.get_mut(&a.id)
        {
            a.download_count += 1;
        }
        (json, download)
    };
    match download {
        Some(asset) => crate::download::serve(&sh, &asset).await,
        None => Json(json).into_response(),
    }
}

pub(crate) async fn browser_download(
    _: Repo,
    State(sh): Sh,
    Path((_, _, tag_and_name)): Path<(String, String, String)>,
) -> Response {
    let Some((tag, name)) = tag_and_name.rsplit_once('/') else {
        return not_found();
    };
    let asset = {
        let mut store = lock(&sh.store);
        let found = store
            .releases
            .values()
            .find(|r| !r.draft && r.tag_name == tag)
            .and_then(|r| {
                r.assets
                    .iter()
                    .filter_map(|a| store.assets.get(a))
                    .find(|a| a.name == name && a.state == "uploaded")
                    .map(|a| a.id)
            });
        found.and_then(|id| store.assets.get_mut(&id)).map(|a| {
            a.download_count += 1;
            a.clone()
        })
    };
    match asset {
        Some(a) => crate::download::serve(&sh, &a).await,
        None => not_found(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AssetBody {
    name: Option<String>,
    label: Option<String>,
    state: Option<String>,
}

pub(crate) async fn update_asset(
    _: Repo,
    Id(id): Id,
    State(sh): Sh,
    Extension(ticket): Extension<Ticket>,
    JsonBody(req): JsonBody<AssetBody>,
) -> Response {
    let mut store = lock(&sh.store);
    let Some((release, asset)) = find_asset(&store, id, &ticket) else {
        return not_found();
    };
    if release.locked() {
        return unprocessable("Cannot modify an asset of an immutable release.");
    }
    let asset_id = asset.id;
    let new_name = req.name.as_deref().map(|n| sh.config.asset_name(n));
    if let Some(n) = &new_name
        && *n != asset.name
        && store.asset_names(release).any(|x| x == n)
    {
        return validation("ReleaseAsset", "already_exists", "name");
    }
    let a = store.assets.get_mut(&asset_id).expect("found above");
    if let Some(n) = new_name {
        a.name = n;
    }
    if let Some(l) = req.label {
        a.label = Some(l);
    }
    if let Some(s) = req.state {
        a.state = s;
    }
    a.updated_at = now_rfc3339();
    let a = a.clone();
    let release = store.releases[&a.release_id].clone();
    Json(asset_json(&sh, &release, &a)).into_response()
}

pub(crate) async fn delete_asset(
    _: Repo,
    Id(id): Id,
    State(sh): Sh,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    let mut store = lock(&sh.store);
    let Some((release, asset)) = find_asset(&store, id, &ticket) else {
        return not_found();
    };
    if release.locked() {
        return unprocessable("Cannot delete an asset of an immutable release.");
    }
    let (asset_id, release_id) = (asset.id, release.id);
    if let Some(a) = store.assets.remove(&asset_id) {
        let _ = fs_err::remove_file(&a.path);
    }
    if let Some(r) = store.releases.get_mut(&release_id) {
        r.assets.retain(|a| *a != asset_id);
    }
    drop(store);
    empty(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- uploads

#[derive(Debug, Deserialize)]
pub(crate) struct UploadQuery {
    name: Option<String>,
    label: Option<String>,
}

/// Mark an upload that will not complete: the asset stays `starter`, empty.
fn abandon_upload(sh: &Shared, asset_id: u64) {
    let mut store = lock(&sh.store);
    if let Some(a) = store.assets.get_mut(&asset_id) {
        a.size = 0;
        a.digest = None;
        a.updated_at = now_rfc3339();
    }
    drop(store);
    let _ = fs_err::remove_file(sh.blob_path(asset_id));
}

/// What an upload request declared.
struct Declared {
    length: Option<u64>,
    content_type: Option<String>,
}

impl Declared {
    fn of(headers: &HeaderMap) -> Declared {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        Declared {
            length: text(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok()),
            content_type: text(header::CONTENT_TYPE).map(str::to_owned),
        }
    }
}

pub(crate) async fn upload_asset(
    repo: Result<Repo, Response>,
    id: Result<Id, Response>,
    State(sh): Sh,
    Query(q): Query<UploadQuery>,
    Extension(ticket): Extension<Ticket>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let declared = Declared::of(&headers);
    let started = repo
        .and(id)
        .and_then(|Id(id)| start_upload(&sh, id, q, &declared));
    let asset_id = match started {
        Ok(id) => id,
        Err(resp) => {
            // Read a refused body to the end so the client sees the answer.
            if declared.length.is_none_or(|l| l <= MAX_ASSET_SIZE) {
                drain(body).await;
            }
            return resp;
        }
    };
    let length = declared.length.unwrap_or_default();
    sh.persist();
    match receive_body(&sh, &ticket, asset_id, length, body).await {
        Ok((size, hex)) => finish_upload(&sh, &ticket, asset_id, size, &hex),
        Err(resp) => {
            abandon_upload(&sh, asset_id);
            resp
        }
    }
}

/// Mark a received upload `uploaded` (or act on a fault that leaves it
/// `starter`) and answer 201 with the asset.
fn finish_upload(sh: &Shared, ticket: &Ticket, asset_id: u64, size: u64, hex: &str) -> Response {
    if let Some(Fault::StatusLeavingStarter(code)) = &ticket.upload_fault {
        abandon_upload(sh, asset_id);
        let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
        return error(status, status.canonical_reason().unwrap_or("Bad Gateway"));
    }
    let mut store = lock(&sh.store);
    let Some(a) = store.assets.get_mut(&asset_id) else {
        // Deleted while it was uploading.
        let _ = fs_err::remove_file(sh.blob_path(asset_id));
        return not_found();
    };
    "uploaded".clone_into(&mut a.state);
    a.size = size;
    a.digest = Some(format!("sha256:{hex}"));
    a.updated_at = now_rfc3339();
    let a = a.clone();
    let release = store.releases[&a.release_id].clone();
    (StatusCode::CREATED, Json(asset_json(sh, &release, &a))).into_response()
}

/// Check an upload and register its asset in `starter` state.
fn start_upload(
    sh: &Shared,
    id: u64,
    q: UploadQuery,
    declared: &Declared,
) -> Result<u64, Response> {
    let Some(raw_name) = q.name.filter(|n| !n.is_empty()) else {
        return Err(validation("ReleaseAsset", "missing_field", "name"));
    };
    let Some(length) = declared.length else {
        return Err(error(
            StatusCode::LENGTH_REQUIRED,
            "Content-Length header is required",
        ));
    };
    let Some(content_type) = declared.content_type.clone() else {
        return Err(validation("ReleaseAsset", "missing_field", "content_type"));
    };
    if length > MAX_ASSET_SIZE {
        return Err(validation("ReleaseAsset", "invalid", "size"));
    }
    let name = sh.config.asset_name(&raw_name);
    let mut store = lock(&sh.store);
    let release = store.releases.get(&id).ok_or_else(not_found)?;
    if release.locked() {
        return Err(unprocessable(
            "Cannot upload assets to an immutable release.",
        ));
    }
    if store.asset_names(release).any(|n| n == name) {
        return Err(validation("ReleaseAsset", "already_exists", "name"));
    }
    if release.assets.len() >= MAX_ASSETS {
        return Err(validation("ReleaseAsset", "too_many", "release"));
    }
    let asset_id = store.next_asset_id();
    let now = now_rfc3339();
    store.assets.insert(
        asset_id,
        Asset {
            id: asset_id,
            release_id: id,
            name,
            label: q.label,
            state: "starter".to_owned(),
            size: 0,
            digest: None,
            content_type,
            created_at: now.clone(),
            updated_at: now,
            download_count: 0,
            path: sh.blob_path(asset_id),
        },
    );
    store
        .releases
        .get_mut(&id)
        .expect("checked above")
        .assets
        .push(asset_id);
    Ok(asset_id)
}
/// Stream the upload body to the asset's blob, hashing as it goes. Acts on a
/// `DropMidUpload` fault by dropping the connection halfway.
async fn receive_body(
    sh: &Shared,
    ticket: &Ticket,
    asset_id: u64,
    length: u64,
    body: Body,
) -> Result<(u64, String), Response> {
    let internal = |e: std::io::Error| {
        tracing::warn!("cannot store an upload: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
    };
    let drop_at = matches!(ticket.upload_fault, Some(Fault::DropMidUpload)).then_some(length / 2);
    let file = tokio::fs::File::create(sh.blob_path(asset_id))
        .await
        .map_err(internal)?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = relkit_core::hash::Algo::Sha256.hasher();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    loop {
        if let Some(at) = drop_at {
            // Past half (and at least one chunk in): drop the connection.
            if size > at || (size == at && size > 0) || (length == 0) {
                abandon_upload(sh, asset_id);
                return Err(ticket.drop_connection(sh, &Fault::DropMidUpload).await);
            }
        }
        match stream.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                size += chunk.len() as u64;
                out.write_all(&chunk).await.map_err(internal)?;
            }
            Some(Err(e)) => {
                // The client went away or sent less than Content-Length.
                tracing::debug!("upload body failed: {e}");
                return Err(error(StatusCode::BAD_REQUEST, "Upload body incomplete"));
            }
            None => break,
        }
    }
    out.flush().await.map_err(internal)?;
    if size != length {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Body length does not match Content-Length",
        ));
    }
    Ok((size, hasher.finish_hex()))
}

//! The REST endpoints: releases, release assets, uploads, downloads, and the
//! `/_fake/*` endpoints scripts use to read state and the request log.

// Handlers return GitHub's error `Response` as their `Err`: boxing it would
// only add noise to every early return.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::fault::{Fault, FaultRule};
use crate::model::github_asset_name;
use crate::server::{Shared, Ticket, empty, lock, now_rfc3339};
use crate::store::{Asset, Release, Store};

/// GitHub refuses assets of 2 GiB or more.
pub const MAX_ASSET_SIZE: u64 = 2 * 1024 * 1024 * 1024 - 1;
/// GitHub allows at most this many assets per release.
pub const MAX_ASSETS: usize = 1000;

const DOCS: &str = "https://docs.github.com/rest/releases";

type Sh = State<Arc<Shared>>;
type RepoPath = Path<(String, String)>;
type IdPath = Path<(String, String, String)>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api_prefix = shared.config.api_prefix.clone();
    let up = shared.config.upload_prefix.clone();
    let mut api = Router::new()
        .route(
            "/repos/{owner}/{repo}/releases",
            get(list_releases).post(create_release),
        )
        .route("/repos/{owner}/{repo}/releases/latest", get(latest_release))
        .route(
            "/repos/{owner}/{repo}/releases/generate-notes",
            post(generate_notes),
        )
        .route(
            // Tags may hold slashes (`release/v1`).
            "/repos/{owner}/{repo}/releases/tags/{*tag}",
            get(release_by_tag),
        )
        .route(
            "/repos/{owner}/{repo}/releases/{id}",
            get(get_release)
                .patch(update_release)
                .delete(delete_release),
        )
        .route(
            "/repos/{owner}/{repo}/releases/assets/{id}",
            get(get_asset).patch(update_asset).delete(delete_asset),
        );
    if up.is_empty() {
        api = api.route(
            "/repos/{owner}/{repo}/releases/{id}/assets",
            get(list_assets).post(upload_asset),
        );
    } else {
        api = api.route(
            "/repos/{owner}/{repo}/releases/{id}/assets",
            get(list_assets),
        );
    }
    let mut root = Router::new()
        .route(
            "/{owner}/{repo}/releases/download/{*tag_and_name}",
            get(browser_download),
        )
        .merge(fake_routes());
    if !api_prefix.is_empty() {
        // Also under the API prefix, so `$GITHUB_API_URL/_fake/state` works.
        api = api.merge(fake_routes());
    }
    if !up.is_empty() {
        root = root.route(
            &format!("{up}/repos/{{owner}}/{{repo}}/releases/{{id}}/assets"),
            post(upload_asset),
        );
    }
    let root = if api_prefix.is_empty() {
        root.merge(api)
    } else {
        root.nest(&api_prefix, api)
    };
    root.fallback(not_found).with_state(shared)
}

/// The endpoints scripts use to read and steer the fake.
fn fake_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fake/state", get(fake_state))
        .route("/_fake/log", get(fake_log))
        .route(
            "/_fake/faults",
            post(fake_add_fault).delete(fake_clear_faults),
        )
        .route("/_fake/starter", post(fake_seed_starter))
        .route("/_fake/reset", post(fake_reset))
}

async fn fake_reset(State(sh): Sh) -> Response {
    crate::server::reset(&sh);
    empty(StatusCode::NO_CONTENT)
}

pub(crate) fn is_browser_download(shared: &Shared, path: &str) -> bool {
    let prefix = format!(
        "/{}/{}/releases/download/",
        shared.config.owner, shared.config.repo
    );
    path.len() > prefix.len() && path[..prefix.len()].eq_ignore_ascii_case(&prefix)
}

// ---------------------------------------------------------------- responses

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": DOCS,
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

fn not_found_response() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

async fn not_found() -> Response {
    not_found_response()
}

/// 422 "Validation Failed" with one entry in `errors`.
fn validation(resource: &str, code: &str, field: &str) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": code, "field": field}],
        "documentation_url": DOCS,
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// 422 for publishing a tag a deleted immutable release used, as GitHub
/// words it.
fn tag_burned() -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": [{
            "resource": "Release",
            "code": "custom",
            "field": "tag_name",
            "message": "tag_name was used by an immutable release",
        }],
        "documentation_url": DOCS,
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// 422 with a message only, as GitHub answers for immutable releases.
fn unprocessable(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn author(base: &str) -> Value {
    let user = format!("{base}/users/relkit-bot");
    json!({
        "login": "relkit-bot",
        "id": 1,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": format!("{base}/avatars/relkit-bot"),
        "gravatar_id": "",
        "url": user,
        "html_url": format!("{base}/relkit-bot"),
        "followers_url": format!("{user}/followers"),
        "following_url": format!("{user}/following{{/other_user}}"),
        "gists_url": format!("{user}/gists{{/gist_id}}"),
        "starred_url": format!("{user}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{user}/subscriptions"),
        "organizations_url": format!("{user}/orgs"),
        "repos_url": format!("{user}/repos"),
        "events_url": format!("{user}/events{{/privacy}}"),
        "received_events_url": format!("{user}/received_events"),
        "type": "Bot",
        "site_admin": false,
    })
}

/// The tag segment of web URLs: drafts have no tag yet, so GitHub uses an
/// `untagged-…` placeholder.
fn web_tag(r: &Release) -> String {
    if r.draft {
        format!("untagged-{:020x}", r.id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    } else {
        r.tag_name.clone()
    }
}

fn asset_json(sh: &Shared, release: &Release, a: &Asset) -> Value {
    let base = &sh.base_url;
    let api = sh.api_base();
    let (o, n) = (&sh.config.owner, &sh.config.repo);
    json!({
        "url": format!("{api}/repos/{o}/{n}/releases/assets/{}", a.id),
        "browser_download_url": format!("{base}/{o}/{n}/releases/download/{}/{}", web_tag(release), a.name),
        "id": a.id,
        "node_id": format!("RA_kwDOFAKE{}", a.id),
        "name": a.name,
        "label": a.label,
        "state": a.state,
        "content_type": a.content_type,
        "size": a.size,
        "digest": a.digest,
        "download_count": a.download_count,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "uploader": author(base),
    })
}

fn release_json(sh: &Shared, store: &Store, r: &Release) -> Value {
    let base = &sh.base_url;
    let api = sh.api_base();
    let (o, n) = (&sh.config.owner, &sh.config.repo);
    let id = r.id;
    let assets: Vec<Value> = r
        .assets
        .iter()
        .filter_map(|a| store.assets.get(a))
        .map(|a| asset_json(sh, r, a))
        .collect();
    json!({
        "url": format!("{api}/repos/{o}/{n}/releases/{id}"),
        "assets_url": format!("{api}/repos/{o}/{n}/releases/{id}/assets"),
        "upload_url": format!("{}/repos/{o}/{n}/releases/{id}/assets{{?name,label}}", sh.upload_base()),
        "html_url": format!("{base}/{o}/{n}/releases/tag/{}", web_tag(r)),
        "tarball_url": format!("{api}/repos/{o}/{n}/tarball/{}", r.tag_name),
        "zipball_url": format!("{api}/repos/{o}/{n}/zipball/{}", r.tag_name),
        "id": id,
        "node_id": format!("RE_kwDOFAKE{id}"),
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "immutable": r.immutable,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "published_at": r.published_at,
        "author": author(base),
        "assets": assets,
    })
}

// ---------------------------------------------------------------- helpers

fn repo_ok(sh: &Shared, owner: &str, repo: &str) -> bool {
    owner.eq_ignore_ascii_case(&sh.config.owner) && repo.eq_ignore_ascii_case(&sh.config.repo)
}

/// Drafts are visible only to a caller holding the token.
fn visible(r: &Release, ticket: &Ticket) -> bool {
    ticket.authenticated || !r.draft
}

fn parse_id(s: &str) -> Option<u64> {
    s.parse().ok()
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    per_page: Option<String>,
    page: Option<String>,
}

/// Slice `items` for `per_page`/`page` and build GitHub's `Link` header.
fn paginate<T>(sh: &Shared, path: &str, q: &PageQuery, items: Vec<T>) -> (Vec<T>, Option<String>) {
    let per_page = q
        .per_page
        .as_deref()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, sh.config.per_page_max.max(1));
    let page = q
        .page
        .as_deref()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let slice: Vec<T> = items.into_iter().skip(start).take(per_page).collect();
    let link_to = |p: usize, rel: &str| {
        format!(
            "<{}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"",
            sh.api_base()
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to((page - 1).min(last), "prev"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if page > 1 {
        links.push(link_to(1, "first"));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    (slice, link)
}

fn json_with_link(status: StatusCode, body: Value, link: Option<String>) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
}

// ---------------------------------------------------------------- releases

async fn list_releases(
    State(sh): Sh,
    Path((owner, repo)): RepoPath,
    Query(q): Query<PageQuery>,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let store = lock(&sh.store);
    // Newest first, like GitHub.
    let items: Vec<Value> = store
        .releases
        .values()
        .rev()
        .filter(|r| visible(r, &ticket))
        .map(|r| release_json(&sh, &store, r))
        .collect();
    drop(store);
    let path = format!("/repos/{}/{}/releases", sh.config.owner, sh.config.repo);
    let (page, link) = paginate(&sh, &path, &q, items);
    json_with_link(StatusCode::OK, Value::Array(page), link)
}

async fn latest_release(State(sh): Sh, Path((owner, repo)): RepoPath) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let store = lock(&sh.store);
    match store.latest.and_then(|id| store.releases.get(&id)) {
        Some(r) => Json(release_json(&sh, &store, r)).into_response(),
        None => not_found_response(),
    }
}

async fn release_by_tag(State(sh): Sh, Path((owner, repo, tag)): IdPath) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let store = lock(&sh.store);
    // Drafts have no tag yet: GitHub never finds them by tag.
    match store
        .releases
        .values()
        .find(|r| !r.draft && r.tag_name == tag)
    {
        Some(r) => Json(release_json(&sh, &store, r)).into_response(),
        None => not_found_response(),
    }
}

async fn get_release(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let store = lock(&sh.store);
    match parse_id(&id).and_then(|id| store.releases.get(&id)) {
        Some(r) if visible(r, &ticket) => Json(release_json(&sh, &store, r)).into_response(),
        _ => not_found_response(),
    }
}

/// The body of create and update. Absent and `null` fields both leave a
/// value alone (GitHub treats `null` as absent for these).
#[derive(Debug, Default, Deserialize)]
struct ReleaseBody {
    tag_name: Option<String>,
    target_commitish: Option<String>,
    name: Option<String>,
    body: Option<String>,
    draft: Option<bool>,
    prerelease: Option<bool>,
    make_latest: Option<Value>,
    generate_release_notes: Option<bool>,
}

/// `make_latest` as GitHub takes it: the strings `true`, `false`, `legacy`
/// (a JSON boolean is accepted too, as lenient clients send one).
fn parse_make_latest(v: Option<&Value>) -> Result<Option<String>, Response> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::String(s)) if matches!(s.as_str(), "true" | "false" | "legacy") => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(validation("Release", "invalid", "make_latest")),
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(bytes)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// Make `r` published: timestamps, immutability, latest.
fn publish(sh: &Shared, r: &mut Release) {
    r.draft = false;
    r.published_at = Some(now_rfc3339());
    if sh.config.immutable_releases {
        r.immutable = true;
    }
}

async fn create_release(
    State(sh): Sh,
    Path((owner, repo)): RepoPath,
    body: bytes::Bytes,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let req: ReleaseBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(tag) = req.tag_name.filter(|t| !t.trim().is_empty()) else {
        return validation("Release", "missing_field", "tag_name");
    };
    let make_latest = match parse_make_latest(req.make_latest.as_ref()) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let draft = req.draft.unwrap_or(false);
    let mut store = lock(&sh.store);
    if !draft {
        if store.published_with_tag(&tag, None).is_some() {
            return validation("Release", "already_exists", "tag_name");
        }
        if store.burned_tags.contains(&tag) {
            return tag_burned();
        }
    }
    let id = store.next_release_id();
    let now = now_rfc3339();
    let body = match (req.body, req.generate_release_notes) {
        (Some(b), _) => Some(b),
        (None, Some(true)) => Some(format!(
            "**Full Changelog**: https://github.com/{}/{}/commits/{tag}",
            sh.config.owner, sh.config.repo
        )),
        (None, _) => None,
    };
    let mut release = Release {
        id,
        tag_name: tag,
        target_commitish: req.target_commitish.unwrap_or_else(|| "main".to_owned()),
        name: req.name,
        body,
        draft: true,
        prerelease: req.prerelease.unwrap_or(false),
        immutable: false,
        make_latest,
        created_at: now.clone(),
        updated_at: now,
        published_at: None,
        assets: Vec::new(),
    };
    if !draft {
        publish(&sh, &mut release);
    }
    store.releases.insert(id, release);
    store.update_latest(id);
    let json = release_json(&sh, &store, &store.releases[&id]);
    drop(store);
    let mut resp = (StatusCode::CREATED, Json(json)).into_response();
    let location = format!(
        "{}/repos/{}/{}/releases/{id}",
        sh.api_base(),
        sh.config.owner,
        sh.config.repo
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[derive(Debug, Deserialize)]
struct NotesBody {
    tag_name: Option<String>,
    previous_tag_name: Option<String>,
}

/// `POST /releases/generate-notes`: a name and a Markdown body for a tag.
async fn generate_notes(
    State(sh): Sh,
    Path((owner, repo)): RepoPath,
    body: bytes::Bytes,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let req: NotesBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(tag) = req.tag_name.filter(|t| !t.trim().is_empty()) else {
        return validation("Release", "missing_field", "tag_name");
    };
    let (o, n) = (&sh.config.owner, &sh.config.repo);
    let changelog = match req.previous_tag_name {
        Some(prev) => format!("https://github.com/{o}/{n}/compare/{prev}...{tag}"),
        None => format!("https://github.com/{o}/{n}/commits/{tag}"),
    };
    Json(json!({
        "name": tag,
        "body": format!("## What's Changed\n\n**Full Changelog**: {changelog}"),
    }))
    .into_response()
}

async fn update_release(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    body: bytes::Bytes,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let req: ReleaseBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let make_latest = match parse_make_latest(req.make_latest.as_ref()) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut store = lock(&sh.store);
    let Some(id) = parse_id(&id).filter(|id| store.releases.contains_key(id)) else {
        return not_found_response();
    };
    let current = store.releases[&id].clone();
    let tag = req
        .tag_name
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| current.tag_name.clone());
    let draft = req.draft.unwrap_or(current.draft);
    let prerelease = req.prerelease.unwrap_or(current.prerelease);
    if current.locked() {
        let changes_locked_field = tag != current.tag_name
            || draft
            || prerelease != current.prerelease
            || req
                .target_commitish
                .as_ref()
                .is_some_and(|t| *t != current.target_commitish);
        if changes_locked_field {
            return unprocessable(
                "Cannot modify an immutable release. Only the release title and notes can be changed.",
            );
        }
    }
    if !draft {
        if store.published_with_tag(&tag, Some(id)).is_some() {
            return validation("Release", "already_exists", "tag_name");
        }
        if (current.draft || tag != current.tag_name) && store.burned_tags.contains(&tag) {
            return tag_burned();
        }
    }
    let r = store.releases.get_mut(&id).expect("checked above");
    r.tag_name = tag;
    if let Some(t) = req.target_commitish {
        r.target_commitish = t;
    }
    if let Some(n) = req.name {
        r.name = Some(n);
    }
    if let Some(b) = req.body {
        r.body = Some(b);
    }
    r.prerelease = prerelease;
    if make_latest.is_some() {
        r.make_latest = make_latest;
    }
    if current.draft && !draft {
        publish(&sh, r);
    } else if !current.draft && draft {
        r.draft = true;
        r.published_at = None;
    }
    r.updated_at = now_rfc3339();
    store.update_latest(id);
    let json = release_json(&sh, &store, &store.releases[&id]);
    Json(json).into_response()
}

async fn delete_release(State(sh): Sh, Path((owner, repo, id)): IdPath) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let mut store = lock(&sh.store);
    let Some(release) = parse_id(&id).and_then(|id| store.releases.remove(&id)) else {
        return not_found_response();
    };
    if release.locked() {
        store.burned_tags.insert(release.tag_name.clone());
    }
    for a in &release.assets {
        if let Some(asset) = store.assets.remove(a) {
            let _ = fs_err::remove_file(&asset.path);
        }
    }
    if store.latest == Some(release.id) {
        store.recompute_latest_legacy();
    }
    drop(store);
    empty(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- assets

async fn list_assets(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    Query(q): Query<PageQuery>,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let store = lock(&sh.store);
    let Some(r) = parse_id(&id)
        .and_then(|id| store.releases.get(&id))
        .filter(|r| visible(r, &ticket))
    else {
        return not_found_response();
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
fn find_asset<'s>(store: &'s Store, id: &str, ticket: &Ticket) -> Option<(&'s Release, &'s Asset)> {
    let asset = parse_id(id).and_then(|id| store.assets.get(&id))?;
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

async fn get_asset(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    Extension(ticket): Extension<Ticket>,
    headers: HeaderMap,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let (json, download) = {
        let mut store = lock(&sh.store);
        let Some((release, asset)) = find_asset(&store, &id, &ticket) else {
            return not_found_response();
        };
        let json = asset_json(&sh, release, asset);
        let download = wants_octet_stream(&headers).then(|| asset.clone());
        if let Some(a) = &download {
            if a.state == "uploaded" {
                if let Some(a) = store.assets.get_mut(&a.id) {
                    a.download_count += 1;
                }
            }
        }
        (json, download)
    };
    match download {
        Some(asset) => stream_asset(&asset).await,
        None => Json(json).into_response(),
    }
}

async fn stream_asset(asset: &Asset) -> Response {
    if asset.state != "uploaded" {
        return not_found_response();
    }
    let Ok(file) = tokio::fs::File::open(&asset.path).await else {
        return not_found_response();
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={}", asset.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

async fn browser_download(State(sh): Sh, Path((owner, repo, tag_and_name)): IdPath) -> Response {
    let Some((tag, name)) = tag_and_name.rsplit_once('/') else {
        return not_found_response();
    };
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
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
        Some(a) => stream_asset(&a).await,
        None => not_found_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct AssetBody {
    name: Option<String>,
    label: Option<String>,
    state: Option<String>,
}

async fn update_asset(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    Extension(ticket): Extension<Ticket>,
    body: bytes::Bytes,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let req: AssetBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut store = lock(&sh.store);
    let Some((release, asset)) = find_asset(&store, &id, &ticket) else {
        return not_found_response();
    };
    if release.locked() {
        return unprocessable("Cannot modify an asset of an immutable release.");
    }
    let asset_id = asset.id;
    let new_name = req.name.as_deref().map(github_asset_name);
    if let Some(n) = &new_name {
        if *n != asset.name && store.asset_names(release).any(|x| x == n) {
            return validation("ReleaseAsset", "already_exists", "name");
        }
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

async fn delete_asset(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    if !repo_ok(&sh, &owner, &repo) {
        return not_found_response();
    }
    let mut store = lock(&sh.store);
    let Some((release, asset)) = find_asset(&store, &id, &ticket) else {
        return not_found_response();
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
struct UploadQuery {
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

async fn upload_asset(
    State(sh): Sh,
    Path((owner, repo, id)): IdPath,
    Query(q): Query<UploadQuery>,
    Extension(ticket): Extension<Ticket>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let asset_id = match start_upload(&sh, &owner, &repo, &id, q, length, &headers) {
        Ok(id) => id,
        Err(resp) => {
            if length.is_none_or(|l| l <= MAX_ASSET_SIZE) {
                drain(body).await;
            }
            return resp;
        }
    };
    let length = length.unwrap_or_default();
    sh.persist();
    match receive_body(&sh, &ticket, asset_id, length, body).await {
        Ok((size, hex)) => {
            if let Some(Fault::StatusLeavingStarter(code)) = &ticket.upload_fault {
                abandon_upload(&sh, asset_id);
                let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
                return error(status, status.canonical_reason().unwrap_or("Bad Gateway"));
            }
            let mut store = lock(&sh.store);
            let Some(a) = store.assets.get_mut(&asset_id) else {
                // Deleted while it was uploading.
                let _ = fs_err::remove_file(sh.blob_path(asset_id));
                return not_found_response();
            };
            "uploaded".clone_into(&mut a.state);
            a.size = size;
            a.digest = Some(format!("sha256:{hex}"));
            a.updated_at = now_rfc3339();
            let a = a.clone();
            let release = store.releases[&a.release_id].clone();
            (StatusCode::CREATED, Json(asset_json(&sh, &release, &a))).into_response()
        }
        Err(resp) => {
            abandon_upload(&sh, asset_id);
            resp
        }
    }
}

/// Read and discard a request body that is refused, so a client still
/// sending a large file gets the error response instead of a reset
/// connection. Stops at [`MAX_ASSET_SIZE`] bytes.
pub(crate) async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > MAX_ASSET_SIZE {
            break;
        }
    }
}

/// Check an upload and register its asset in `starter` state.
fn start_upload(
    sh: &Shared,
    owner: &str,
    repo: &str,
    id: &str,
    q: UploadQuery,
    length: Option<u64>,
    headers: &HeaderMap,
) -> Result<u64, Response> {
    if !repo_ok(sh, owner, repo) {
        return Err(not_found_response());
    }
    let Some(raw_name) = q.name.filter(|n| !n.is_empty()) else {
        return Err(validation("ReleaseAsset", "missing_field", "name"));
    };
    let Some(length) = length else {
        return Err(error(
            StatusCode::LENGTH_REQUIRED,
            "Content-Length header is required",
        ));
    };
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
    else {
        return Err(validation("ReleaseAsset", "missing_field", "content_type"));
    };
    if length > MAX_ASSET_SIZE {
        return Err(validation("ReleaseAsset", "invalid", "size"));
    }
    let name = github_asset_name(&raw_name);
    let mut store = lock(&sh.store);
    let Some(release) = parse_id(id).and_then(|id| store.releases.get(&id)) else {
        return Err(not_found_response());
    };
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
    let release_id = release.id;
    let asset_id = store.next_asset_id();
    let now = now_rfc3339();
    store.assets.insert(
        asset_id,
        Asset {
            id: asset_id,
            release_id,
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
        .get_mut(&release_id)
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

// ---------------------------------------------------------------- /_fake

pub(crate) fn state_json(sh: &Shared) -> Value {
    let store = lock(&sh.store);
    json!({
        "api_url": sh.api_base(),
        "upload_url": sh.upload_base(),
        "releases": store.snapshot(),
    })
}

async fn fake_state(State(sh): Sh) -> Response {
    Json(state_json(&sh)).into_response()
}

async fn fake_log(State(sh): Sh) -> Response {
    let entries: Vec<Value> = sh
        .log_sorted()
        .iter()
        .map(|e| {
            json!({
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "ms": u64::try_from(e.since_start.as_millis()).unwrap_or(u64::MAX),
                "fault": e.fault,
                "authenticated": e.authenticated,
            })
        })
        .collect();
    Json(Value::Array(entries)).into_response()
}

/// A fault rule as scripts POST it to `/_fake/faults`, e.g.
/// `{"method":"POST","path_contains":"/assets","nth":2,"fault":"drop_mid_upload"}`
/// or `{"fault":{"status":503},"times":3}`.
#[derive(Debug, Deserialize)]
struct FaultSpec {
    method: Option<String>,
    #[serde(default)]
    path_contains: String,
    nth: Option<u32>,
    times: Option<u32>,
    probability: Option<f64>,
    fault: FaultKind,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultKind {
    Status(u16),
    SecondaryRateLimit { retry_after_secs: u64 },
    RateLimited429 { retry_after_secs: u64 },
    RateLimitReset { reset_in_secs: u64 },
    DropMidUpload,
    DelayMs(u64),
    DropAfterHandling,
    StatusLeavingStarter(u16),
}

impl From<FaultKind> for Fault {
    fn from(k: FaultKind) -> Fault {
        match k {
            FaultKind::Status(s) => Fault::Status(s),
            FaultKind::SecondaryRateLimit { retry_after_secs } => {
                Fault::SecondaryRateLimit { retry_after_secs }
            }
            FaultKind::RateLimited429 { retry_after_secs } => {
                Fault::RateLimited429 { retry_after_secs }
            }
            FaultKind::RateLimitReset { reset_in_secs } => Fault::RateLimitReset { reset_in_secs },
            FaultKind::DropMidUpload => Fault::DropMidUpload,
            FaultKind::DelayMs(ms) => Fault::Delay(std::time::Duration::from_millis(ms)),
            FaultKind::DropAfterHandling => Fault::DropAfterHandling,
            FaultKind::StatusLeavingStarter(s) => Fault::StatusLeavingStarter(s),
        }
    }
}

async fn fake_add_fault(State(sh): Sh, body: bytes::Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad fault rule: {e}")),
    };
    let method = match spec
        .method
        .as_deref()
        .map(|m| m.to_ascii_uppercase().parse::<Method>())
    {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bad fault rule: method"),
    };
    let rule = FaultRule {
        method,
        path_contains: spec.path_contains,
        nth: spec.nth,
        times: spec.times.unwrap_or(1),
        fault: spec.fault.into(),
        probability: spec.probability,
    };
    lock(&sh.faults).add(rule);
    empty(StatusCode::NO_CONTENT)
}

async fn fake_clear_faults(State(sh): Sh) -> Response {
    lock(&sh.faults).clear();
    empty(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct StarterSpec {
    release_id: u64,
    name: String,
}

async fn fake_seed_starter(State(sh): Sh, body: bytes::Bytes) -> Response {
    let spec: StarterSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad starter asset: {e}")),
    };
    match crate::server::seed_starter(&sh, spec.release_id, &spec.name) {
        Some(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        None => not_found_response(),
    }
}

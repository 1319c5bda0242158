//! The REST router and the release endpoints, with GitHub's JSON shapes.
//! Asset endpoints and uploads live in `assets`, `/_fake/*` in `control`.

// Handlers return GitHub's error `Response` as their `Err`: boxing it would
// only add noise to every early return.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::extract::{Id, JsonBody, Repo};
use crate::page::{PageQuery, paginate};
use crate::reply::{empty, json_with_link, not_found, tag_burned, unprocessable, validation};
use crate::state::{Shared, Ticket, lock, now_rfc3339};
use crate::store::{Asset, Release, Store};

pub(crate) type Sh = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api_prefix = shared.config.api_prefix.clone();
    let up = shared.config.upload_prefix.clone();
    let assets_path = "/repos/{owner}/{repo}/releases/{id}/assets";
    let mut api = Router::new()
        .route("/repos/{owner}/{repo}", get(get_repo))
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
            get(crate::assets::get_asset)
                .patch(crate::assets::update_asset)
                .delete(crate::assets::delete_asset),
        );
    let list_assets = get(crate::assets::list_assets);
    api = if up.is_empty() {
        api.route(assets_path, list_assets.post(crate::assets::upload_asset))
    } else {
        api.route(assets_path, list_assets)
    };
    let mut root = Router::new()
        .route(
            "/{owner}/{repo}/releases/download/{*tag_and_name}",
            get(crate::assets::browser_download),
        )
        .route(
            &crate::graphql::path(&api_prefix),
            post(crate::graphql::graphql),
        )
        .merge(crate::control::routes());
    if !api_prefix.is_empty() {
        // Also under the API prefix, so `$GITHUB_API_URL/_fake/state` works.
        api = api.merge(crate::control::routes());
    }
    if !up.is_empty() {
        root = root.route(
            &format!("{up}{assets_path}"),
            post(crate::assets::upload_asset),
        );
    }
    let root = if api_prefix.is_empty() {
        root.merge(api)
    } else {
        root.nest(&api_prefix, api)
    };
    root.fallback(|| async { not_found() }).with_state(shared)
}

// ---------------------------------------------------------------- shapes

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

pub(crate) fn asset_json(sh: &Shared, release: &Release, a: &Asset) -> Value {
    let base = &sh.base_url;
    let api = sh.api_base();
    let (o, n) = (&sh.config.owner, &sh.config.repo);
    let mut json = json!({
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
    });
    if sh.config.omit_digest
        && let Some(m) = json.as_object_mut()
    {
        m.remove("digest");
    }
    json
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

/// Drafts are visible only to a caller holding the token.
pub(crate) fn visible(r: &Release, ticket: &Ticket) -> bool {
    ticket.authenticated || !r.draft
}

// ---------------------------------------------------------------- repository

/// `GET /repos/{owner}/{repo}`: the fields clients read to check access.
async fn get_repo(_: Repo, State(sh): Sh, Extension(ticket): Extension<Ticket>) -> Response {
    let (o, n) = (&sh.config.owner, &sh.config.repo);
    let push = ticket.authenticated;
    Json(json!({
        "id": 1,
        "node_id": "R_kgDOFAKE",
        "name": n,
        "full_name": format!("{o}/{n}"),
        "private": sh.config.private_repo,
        "owner": { "login": o },
        "html_url": format!("{}/{o}/{n}", sh.base_url),
        "url": format!("{}/repos/{o}/{n}", sh.api_base()),
        "default_branch": "main",
        "permissions": { "admin": false, "maintain": false, "push": push, "triage": push, "pull": true },
    }))
    .into_response()
}

// ---------------------------------------------------------------- releases

async fn list_releases(
    _: Repo,
    State(sh): Sh,
    Query(q): Query<PageQuery>,
    Extension(ticket): Extension<Ticket>,
) -> Response {
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

async fn latest_release(_: Repo, State(sh): Sh) -> Response {
    let store = lock(&sh.store);
    match store.latest.and_then(|id| store.releases.get(&id)) {
        Some(r) => Json(release_json(&sh, &store, r)).into_response(),
        None => not_found(),
    }
}

async fn release_by_tag(
    _: Repo,
    State(sh): Sh,
    Path((_, _, tag)): Path<(String, String, String)>,
) -> Response {
    let store = lock(&sh.store);
    // Drafts have no tag yet: GitHub never finds them by tag.
    match store
        .releases
        .values()
        .find(|r| !r.draft && r.tag_name == tag)
    {
        Some(r) => Json(release_json(&sh, &store, r)).into_response(),
        None => not_found(),
    }
}

async fn get_release(
    _: Repo,
    Id(id): Id,
    State(sh): Sh,
    Extension(ticket): Extension<Ticket>,
) -> Response {
    let store = lock(&sh.store);
    match store.releases.get(&id) {
        Some(r) if visible(r, &ticket) => Json(release_json(&sh, &store, r)).into_response(),
        _ => not_found(),
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

/// Make `r` published: timestamps, immutability, latest.
fn publish(sh: &Shared, r: &mut Release) {
    r.draft = false;
    r.published_at = Some(now_rfc3339());
    if sh.config.immutable_releases {
        r.immutable = true;
    }
}

/// Refuse to publish `tag` when another release holds it or an immutable
/// release burned it.
fn check_publishable(store: &Store, tag: &str, id: Option<u64>) -> Result<(), Response> {
    if store.published_with_tag(tag, id).is_some() {
        return Err(validation("Release", "already_exists", "tag_name"));
    }
    Ok(())
}

async fn create_release(
    _: Repo,
    State(sh): Sh,
    JsonBody(req): JsonBody<ReleaseBody>,
) -> Result<Response, Response> {
    let Some(tag) = req.tag_name.filter(|t| !t.trim().is_empty()) else {
        return Err(validation("Release", "missing_field", "tag_name"));
    };
    let make_latest = parse_make_latest(req.make_latest.as_ref())?;
    let draft = req.draft.unwrap_or(false);
    let mut store = lock(&sh.store);
    if !draft {
        check_publishable(&store, &tag, None)?;
        if store.burned_tags.contains(&tag) {
            return Err(tag_burned());
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
    Ok(resp)
}

#[derive(Debug, Deserialize)]
struct NotesBody {
    tag_name: Option<String>,
    previous_tag_name: Option<String>,
}

/// `POST /releases/generate-notes`: a name and a Markdown body for a tag.
async fn generate_notes(_: Repo, State(sh): Sh, JsonBody(req): JsonBody<NotesBody>) -> Response {
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

/// Refuse changes an immutable, published release no longer takes.
fn check_locked(
    current: &Release,
    req: &ReleaseBody,
    tag: &str,
    draft: bool,
) -> Result<(), Response> {
    let prerelease = req.prerelease.unwrap_or(current.prerelease);
    let changes_locked_field = tag != current.tag_name
        || draft
        || prerelease != current.prerelease
        || req
            .target_commitish
            .as_ref()
            .is_some_and(|t| *t != current.target_commitish);
    if current.locked() && changes_locked_field {
        return Err(unprocessable(
            "Cannot modify an immutable release. Only the release title and notes can be changed.",
        ));
    }
    Ok(())
}

async fn update_release(
    _: Repo,
    Id(id): Id,
    State(sh): Sh,
    JsonBody(req): JsonBody<ReleaseBody>,
) -> Result<Response, Response> {
    let make_latest = parse_make_latest(req.make_latest.as_ref())?;
    let mut store = lock(&sh.store);
    let current = store.releases.get(&id).cloned().ok_or_else(not_found)?;
    let tag = req
        .tag_name
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| current.tag_name.clone());
    let draft = req.draft.unwrap_or(current.draft);
    check_locked(&current, &req, &tag, draft)?;
    if !draft {
        check_publishable(&store, &tag, Some(id))?;
        if (current.draft || tag != current.tag_name) && store.burned_tags.contains(&tag) {
            return Err(tag_burned());
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
    r.prerelease = req.prerelease.unwrap_or(current.prerelease);
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
    Ok(Json(release_json(&sh, &store, &store.releases[&id])).into_response())
}

async fn delete_release(_: Repo, Id(id): Id, State(sh): Sh) -> Response {
    let mut store = lock(&sh.store);
    let Some(release) = store.releases.remove(&id) else {
        return not_found();
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

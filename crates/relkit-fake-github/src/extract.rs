//! Extractors that replace the preambles every handler used to repeat: the
//! repository guard (404 for any repository but the one served), numeric
//! ids (404 when not a number, as GitHub answers) and JSON bodies (400
//! "Problems parsing JSON").

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::reply::{error, not_found};
use crate::state::Shared;

/// The `{owner}/{repo}` of the path is the repository this fake serves.
pub(crate) struct Repo;

/// The `{id}` of the path, a number.
pub(crate) struct Id(pub(crate) u64);

/// A JSON request body.
pub(crate) struct JsonBody<T>(pub(crate) T);

async fn param(parts: &mut Parts, state: &Arc<Shared>, name: &str) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

impl FromRequestParts<Arc<Shared>> for Repo {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sh: &Arc<Shared>) -> Result<Self, Response> {
        let owner = param(parts, sh, "owner").await;
        let repo = param(parts, sh, "repo").await;
        match (owner, repo) {
            (Some(o), Some(r)) if sh.serves(&o, &r) => Ok(Repo),
            _ => Err(not_found()),
        }
    }
}

impl FromRequestParts<Arc<Shared>> for Id {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sh: &Arc<Shared>) -> Result<Self, Response> {
        param(parts, sh, "id")
            .await
            .and_then(|s| s.parse().ok())
            .map(Id)
            .ok_or_else(not_found)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
    }
}

//! GitHub's response shapes for errors and empty answers, shared by the
//! router, the CDN and the front middleware.

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::model::MAX_ASSET_SIZE;

const DOCS: &str = "https://docs.github.com/rest/releases";

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": DOCS,
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

pub(crate) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// 422 "Validation Failed" with one entry in `errors`.
pub(crate) fn validation(resource: &str, code: &str, field: &str) -> Response {
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
pub(crate) fn tag_burned() -> Response {
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
pub(crate) fn unprocessable(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// A body-less response.
pub(crate) fn empty(status: StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

/// JSON with an optional `Link` header.
pub(crate) fn json_with_link(status: StatusCode, body: Value, link: Option<String>) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
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

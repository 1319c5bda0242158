//! The one GraphQL query `gh release upload` (and `gh release view`) asks
//! before its REST calls: a release by tag, `repository(owner, name) {
//! release(tagName) { databaseId isDraft } }`. Without it gh stops at the
//! 404 (issue 15: the re-run benchmark against gh). Any other query gets
//! GraphQL's error shape, saying what this fake answers.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::{Sh, visible};
use crate::extract::JsonBody;
use crate::state::{Ticket, lock};

/// Where GitHub serves GraphQL for an API root: `/graphql` beside
/// api.github.com's REST, `/api/graphql` beside GHES's `/api/v3`.
pub(crate) fn path(api_prefix: &str) -> String {
    let root = api_prefix.strip_suffix("/v3").unwrap_or(api_prefix);
    format!("{root}/graphql")
}

#[derive(Deserialize)]
pub(crate) struct Request {
    query: String,
    #[serde(default)]
    variables: Map<String, Value>,
}

fn errors(message: String) -> Response {
    Json(json!({ "errors": [{ "message": message }] })).into_response()
}

/// `POST /graphql`: the release-by-tag query, answered from the store.
pub(crate) async fn graphql(
    State(sh): Sh,
    Extension(ticket): Extension<Ticket>,
    JsonBody(req): JsonBody<Request>,
) -> Response {
    let compact: String = req.query.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("repository(owner:$owner,name:$name){release(tagName:$tagName)") {
        return errors(
            "relkit-fake-github answers only repository(owner: $owner, name: $name) \
             { release(tagName: $tagName) { databaseId isDraft } }"
                .to_owned(),
        );
    }
    let var = |k: &str| req.variables.get(k).and_then(Value::as_str).unwrap_or("");
    let (owner, name, tag) = (var("owner"), var("name"), var("tagName"));
    if !sh.serves(owner, name) {
        return Json(json!({
            "data": { "repository": null },
            "errors": [{
                "type": "NOT_FOUND",
                "path": ["repository"],
                "message": format!("Could not resolve to a Repository with the name '{owner}/{name}'."),
            }],
        }))
        .into_response();
    }
    let store = lock(&sh.store);
    // The published release with that tag, else the oldest draft naming it
    // (drafts show to a caller holding the token only).
    let mut candidates: Vec<_> = store
        .releases
        .values()
        .filter(|r| r.tag_name == tag && visible(r, &ticket))
        .collect();
    candidates.sort_by_key(|r| (r.draft, r.id));
    let release = candidates
        .first()
        .map(|r| json!({ "databaseId": r.id, "isDraft": r.draft }));
    Json(json!({ "data": { "repository": { "release": release } } })).into_response()
}

#[cfg(test)]
mod tests {
    use super::path;

    #[test]
    fn graphql_sits_beside_the_rest_root() {
        assert_eq!(path(""), "/graphql");
        assert_eq!(path("/api/v3"), "/api/graphql");
        assert_eq!(path("/custom"), "/custom/graphql");
    }
}

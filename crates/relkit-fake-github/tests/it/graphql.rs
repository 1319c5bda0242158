//! The release-by-tag GraphQL query gh asks before `gh release upload`
//! (issue 15), at `/graphql` and, under GHES paths, `/api/graphql`.

use relkit_fake_github::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Api, TOKEN, client, id};

const QUERY: &str = "query RepositoryReleaseByTag($name:String!$owner:String!$tagName:String!){repository(owner: $owner, name: $name){release(tagName: $tagName){databaseId,isDraft}}}";

async fn ask(url: &str, query: &str, vars: Value, token: bool) -> (StatusCode, Value) {
    let mut req = client()
        .post(url)
        .json(&json!({ "query": query, "variables": vars }));
    if token {
        req = req.bearer_auth(TOKEN);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

fn vars(owner: &str, tag: &str) -> Value {
    json!({ "owner": owner, "name": "demo", "tagName": tag })
}

#[tokio::test]
async fn release_by_tag_finds_the_published_release_then_a_draft() {
    let api = Api::start().await;
    let url = format!("{}/graphql", api.fake.root_url());
    let (status, body) = ask(&url, QUERY, vars("octo", "v1.0.0"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "data": { "repository": { "release": null } } })
    );

    let draft = api.draft("v1.0.0").await;
    let (_, body) = ask(&url, QUERY, vars("octo", "v1.0.0"), true).await;
    assert_eq!(
        body["data"]["repository"]["release"],
        json!({ "databaseId": id(&draft), "isDraft": true })
    );

    let published = api.create(json!({ "tag_name": "v1.0.0" })).await;
    let (_, body) = ask(&url, QUERY, vars("octo", "v1.0.0"), true).await;
    assert_eq!(
        body["data"]["repository"]["release"],
        json!({ "databaseId": id(&published), "isDraft": false })
    );
}

#[tokio::test]
async fn other_repositories_queries_and_missing_tokens_are_refused() {
    let api = Api::start().await;
    let url = format!("{}/graphql", api.fake.root_url());
    let (_, body) = ask(&url, QUERY, vars("someone", "v1"), true).await;
    assert_eq!(body["data"]["repository"], Value::Null);
    assert_eq!(body["errors"][0]["type"], "NOT_FOUND");

    let (status, body) = ask(&url, "{ viewer { login } }", json!({}), true).await;
    assert_eq!(status, StatusCode::OK);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("relkit-fake-github answers only"),
        "{message}"
    );

    let (status, _) = ask(&url, QUERY, vars("octo", "v1"), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn under_ghes_paths_graphql_is_at_api_graphql() {
    let api = Api::with(Config {
        api_prefix: "/api/v3".to_owned(),
        ..Config::default()
    })
    .await;
    api.create(json!({ "tag_name": "v2.0.0" })).await;
    let url = format!("{}/api/graphql", api.fake.root_url());
    let (status, body) = ask(&url, QUERY, vars("octo", "v2.0.0"), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["repository"]["release"]["isDraft"], false);
}

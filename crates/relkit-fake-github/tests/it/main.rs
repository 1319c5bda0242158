//! Integration tests: drive the fake over HTTP with reqwest (and octocrab,
//! the client relkit-release-upload uses) and check GitHub's shapes, status
//! codes and the injected faults.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod assets;
mod bin;
mod faults;
mod graphql;
mod immutable;
mod quirks;
mod releases;

use relkit_fake_github::{Config, FakeGitHub};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "test-token";

/// A reqwest client builder. reqwest is built without its own crypto
/// provider (the workspace uses ring through rustls), so install ring first.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A default reqwest client.
pub(crate) fn client() -> reqwest::Client {
    client_builder().build().expect("build a reqwest client")
}

/// A running fake and a client holding its token.
pub(crate) struct Api {
    pub(crate) fake: FakeGitHub,
    pub(crate) client: reqwest::Client,
}

impl Api {
    pub(crate) async fn start() -> Api {
        Api::with(Config::default()).await
    }

    pub(crate) async fn with(config: Config) -> Api {
        let fake = FakeGitHub::start(config).await.expect("start the fake");
        Api {
            fake,
            client: crate::client(),
        }
    }

    /// `{api}/repos/octo/demo{rest}`.
    pub(crate) fn repo_url(&self, rest: &str) -> String {
        format!("{}/repos/octo/demo{rest}", self.fake.api_url())
    }

    pub(crate) fn req(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(TOKEN)
            .header("accept", "application/vnd.github+json")
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = self.req(method, &self.repo_url(path));
        if let Some(b) = body {
            builder = builder.json(&b);
        }
        let resp = builder.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    /// Create a release and return its JSON, asserting 201.
    pub(crate) async fn create(&self, body: Value) -> Value {
        let (status, json) = self.send(Method::POST, "/releases", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }

    pub(crate) async fn draft(&self, tag: &str) -> Value {
        self.create(json!({"tag_name": tag, "draft": true})).await
    }

    /// Upload through the release's `upload_url`, as clients must.
    pub(crate) async fn upload(
        &self,
        release: &Value,
        name: &str,
        data: &[u8],
    ) -> reqwest::Result<reqwest::Response> {
        let url = upload_url(release);
        self.req(Method::POST, &with_query(&url, &[("name", name)]))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
    }

    /// Upload and assert 201; returns the asset JSON.
    pub(crate) async fn upload_ok(&self, release: &Value, name: &str, data: &[u8]) -> Value {
        let resp = self.upload(release, name, data).await.expect("upload");
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.expect("asset JSON")
    }
}

/// `upload_url` without its `{?name,label}` template.
pub(crate) fn upload_url(release: &Value) -> String {
    let raw = release["upload_url"].as_str().expect("upload_url");
    raw.split('{').next().unwrap_or(raw).to_owned()
}

/// `url` with the pairs appended to its query, form-encoded.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(url).expect("a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.into()
}

pub(crate) fn id(v: &Value) -> u64 {
    v["id"].as_u64().expect("id")
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    let mut h = relkit_core::hash::Algo::Sha256.hasher();
    h.update(data);
    h.finish_hex()
}

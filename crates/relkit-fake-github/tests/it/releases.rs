//! Releases: CRUD, tag rules, drafts, pagination, auth, rate-limit headers,
//! latest, and octocrab reading our JSON.

use relkit_fake_github::{Config, FakeGitHub};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Api, TOKEN, id};

#[tokio::test]
async fn create_get_update_delete() {
    let api = Api::start().await;
    let resp = api
        .req(Method::POST, &api.repo_url("/releases"))
        .json(&json!({"tag_name": "v1.0.0", "name": "One", "body": "notes", "draft": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    let rid = id(&created);
    assert_eq!(location, api.repo_url(&format!("/releases/{rid}")));
    assert_eq!(created["url"], location);
    assert_eq!(created["tag_name"], "v1.0.0");
    assert_eq!(created["draft"], true);
    assert_eq!(created["immutable"], false);
    assert_eq!(created["published_at"], Value::Null);
    assert_eq!(created["assets"], json!([]));
    assert!(
        created["html_url"]
            .as_str()
            .unwrap()
            .contains("/releases/tag/untagged-")
    );

    let (status, got) = api
        .send(Method::GET, &format!("/releases/{rid}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    let (status, patched) = api
        .send(
            Method::PATCH,
            &format!("/releases/{rid}"),
            Some(json!({"name": "One!", "body": "more", "draft": false, "prerelease": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["name"], "One!");
    assert_eq!(patched["body"], "more");
    assert_eq!(patched["draft"], false);
    assert_eq!(patched["prerelease"], true);
    assert!(patched["published_at"].is_string());
    assert!(
        patched["html_url"]
            .as_str()
            .unwrap()
            .ends_with("/octo/demo/releases/tag/v1.0.0")
    );

    let snapshot = api.fake.releases();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].name.as_deref(), Some("One!"));
    assert!(!snapshot[0].draft && snapshot[0].prerelease);

    let (status, _) = api
        .send(Method::DELETE, &format!("/releases/{rid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .send(Method::GET, &format!("/releases/{rid}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Not Found");
    let (status, _) = api
        .send(Method::DELETE, &format!("/releases/{rid}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(api.fake.releases().is_empty());
}

#[tokio::test]
async fn unknown_ids_repos_and_bad_json() {
    let api = Api::start().await;
    for path in [
        "/releases/42",
        "/releases/abc",
        "/releases/assets/42",
        "/releases/tags/nope",
    ] {
        let (status, _) = api.send(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let other = format!("{}/repos/someone/else/releases", api.fake.api_url());
    let resp = api.req(Method::GET, &other).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = api
        .req(Method::POST, &api.repo_url("/releases"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (status, body) = api
        .send(Method::POST, "/releases", Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "missing_field");
    assert_eq!(body["errors"][0]["field"], "tag_name");
    let (status, body) = api
        .send(
            Method::POST,
            "/releases",
            Some(json!({"tag_name": "v1", "make_latest": "sometimes"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "make_latest");
}

#[tokio::test]
async fn second_published_release_of_a_tag_is_already_exists() {
    let api = Api::start().await;
    // Several drafts may share a tag.
    let d1 = api.draft("v1.0.0").await;
    let d2 = api.draft("v1.0.0").await;
    assert_ne!(id(&d1), id(&d2));
    api.create(json!({"tag_name": "v1.0.0"})).await;

    let (status, body) = api
        .send(
            Method::POST,
            "/releases",
            Some(json!({"tag_name": "v1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"],
        json!([{"resource": "Release", "code": "already_exists", "field": "tag_name"}])
    );

    // Publishing a draft of a tag that already has a published release.
    let (status, body) = api
        .send(
            Method::PATCH,
            &format!("/releases/{}", id(&d1)),
            Some(json!({"draft": false})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "already_exists");
    // Moving a draft to a free tag and publishing it works.
    let (status, body) = api
        .send(
            Method::PATCH,
            &format!("/releases/{}", id(&d2)),
            Some(json!({"draft": false, "tag_name": "v1.0.1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let drafts = api.fake.releases().into_iter().filter(|r| r.draft).count();
    assert_eq!(drafts, 1);
}

#[tokio::test]
async fn drafts_are_invisible_to_get_by_tag() {
    let api = Api::start().await;
    let draft = api.draft("v2.0.0").await;
    let (status, _) = api.send(Method::GET, "/releases/tags/v2.0.0", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // But listing (authenticated) shows it.
    let (_, list) = api.send(Method::GET, "/releases", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    api.send(
        Method::PATCH,
        &format!("/releases/{}", id(&draft)),
        Some(json!({"draft": false})),
    )
    .await;
    let (status, got) = api.send(Method::GET, "/releases/tags/v2.0.0", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id(&got), id(&draft));
}

pub(crate) fn links(resp: &reqwest::Response) -> Vec<(String, String)> {
    let Some(link) = resp.headers().get("link") else {
        return Vec::new();
    };
    link.to_str()
        .unwrap()
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").unwrap();
            let url = url.trim_start_matches('<').trim_end_matches('>');
            let rel = rel.trim_start_matches("rel=\"").trim_end_matches('"');
            (rel.to_owned(), url.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn list_paginates_newest_first_with_link_headers() {
    let api = Api::with(Config {
        per_page_max: 3,
        ..Config::default()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(id(&api
            .create(json!({"tag_name": format!("v0.{i}.0")}))
            .await));
    }
    ids.reverse();
    let base = api.repo_url("/releases");

    let resp = api
        .req(Method::GET, &format!("{base}?per_page=2"))
        .send()
        .await
        .unwrap();
    let l = links(&resp);
    assert_eq!(
        l,
        [
            ("next".to_owned(), format!("{base}?per_page=2&page=2")),
            ("last".to_owned(), format!("{base}?per_page=2&page=3")),
        ]
    );
    let page: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(page.iter().map(id).collect::<Vec<_>>(), ids[..2]);

    // Follow `next` to the end.
    let mut seen: Vec<u64> = page.iter().map(id).collect();
    let mut next = l.into_iter().find(|(r, _)| r == "next").map(|(_, u)| u);
    let mut last_links = Vec::new();
    while let Some(url) = next {
        let resp = api.req(Method::GET, &url).send().await.unwrap();
        last_links = links(&resp);
        next = last_links
            .iter()
            .find(|(r, _)| r == "next")
            .map(|(_, u)| u.clone());
        let page: Vec<Value> = resp.json().await.unwrap();
        seen.extend(page.iter().map(id));
    }
    assert_eq!(seen, ids);
    assert_eq!(
        last_links,
        [
            ("prev".to_owned(), format!("{base}?per_page=2&page=2")),
            ("first".to_owned(), format!("{base}?per_page=2&page=1")),
        ]
    );

    // per_page above the maximum is clamped; a page past the end is empty.
    let resp = api
        .req(Method::GET, &format!("{base}?per_page=100"))
        .send()
        .await
        .unwrap();
    assert_eq!(links(&resp).len(), 2);
    assert_eq!(resp.json::<Vec<Value>>().await.unwrap().len(), 3);
    let (_, beyond) = api
        .send(Method::GET, "/releases?per_page=2&page=9", None)
        .await;
    assert_eq!(beyond, json!([]));
    let (_, all) = api.send(Method::GET, "/releases", None).await;
    assert_eq!(all.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let api = Api::start().await;
    let url = api.repo_url("/releases");
    let resp = api.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("x-ratelimit-limit"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "Requires authentication");

    let resp = api
        .client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "Bad credentials"
    );

    let resp = api
        .client
        .get(&url)
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let upload = format!(
        "{}/uploads/repos/octo/demo/releases/1/assets?name=x",
        api.fake.api_url()
    );
    let resp = api.client.post(&upload).body("x").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn anonymous_reads_hide_drafts() {
    let api = Api::with(Config {
        allow_anonymous_reads: true,
        ..Config::default()
    })
    .await;
    let draft = api.draft("v1").await;
    api.create(json!({"tag_name": "v2"})).await;
    let url = api.repo_url("/releases");
    let list: Vec<Value> = api
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["tag_name"], "v2");
    let resp = api
        .client
        .get(format!("{url}/{}", id(&draft)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = api
        .client
        .post(&url)
        .json(&json!({"tag_name": "v3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let log = api.fake.request_log();
    assert!(log.iter().any(|e| !e.authenticated && e.status == 200));
}

#[tokio::test]
async fn rate_limit_headers_count_requests() {
    let api = Api::start().await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let resp = api
            .req(Method::GET, &api.repo_url("/releases"))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(h["x-ratelimit-limit"], "5000");
        assert_eq!(h["x-ratelimit-resource"], "core");
        assert!(
            h["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 1_700_000_000
        );
        assert!(h.contains_key("x-ratelimit-used"));
        remaining.push(
            h["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, [4999, 4998, 4997]);
}

#[tokio::test]
async fn make_latest_is_honoured() {
    let api = Api::start().await;
    let v1 = api.create(json!({"tag_name": "v1"})).await;
    let (_, latest) = api.send(Method::GET, "/releases/latest", None).await;
    assert_eq!(id(&latest), id(&v1));
    api.create(json!({"tag_name": "v2", "make_latest": "false"}))
        .await;
    api.create(json!({"tag_name": "v3-rc.1", "prerelease": true}))
        .await;
    let (_, latest) = api.send(Method::GET, "/releases/latest", None).await;
    assert_eq!(id(&latest), id(&v1));
    let d = api
        .create(json!({"tag_name": "v4", "draft": true, "make_latest": "true"}))
        .await;
    let (_, latest) = api.send(Method::GET, "/releases/latest", None).await;
    assert_eq!(id(&latest), id(&v1), "a draft is never latest");
    api.send(
        Method::PATCH,
        &format!("/releases/{}", id(&d)),
        Some(json!({"draft": false})),
    )
    .await;
    let (_, latest) = api.send(Method::GET, "/releases/latest", None).await;
    assert_eq!(id(&latest), id(&d));
    let states = api.fake.releases();
    let v4 = states.iter().find(|r| r.tag_name == "v4").unwrap();
    assert!(v4.latest);
    assert_eq!(v4.make_latest.as_deref(), Some("true"));
    assert_eq!(states.iter().filter(|r| r.latest).count(), 1);
}

#[tokio::test]
async fn generated_notes_when_asked() {
    let api = Api::start().await;
    let r = api
        .create(json!({"tag_name": "v1", "generate_release_notes": true}))
        .await;
    assert!(r["body"].as_str().unwrap().contains("Full Changelog"));
    let (status, notes) = api
        .send(
            Method::POST,
            "/releases/generate-notes",
            Some(json!({"tag_name": "v2", "previous_tag_name": "v1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(notes["name"], "v2");
    assert!(notes["body"].as_str().unwrap().contains("compare/v1...v2"));
    let (status, _) = api
        .send(Method::POST, "/releases/generate-notes", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// relkit-release-upload reads the API with octocrab: our JSON must parse
/// into its models, and its pagination must follow our Link headers.
#[tokio::test]
async fn octocrab_reads_releases_and_assets() {
    let api = Api::with(Config {
        upload_prefix: "/api/uploads".into(),
        ..Config::default()
    })
    .await;
    let draft = api.draft("v1.0.0").await;
    api.upload_ok(&draft, "a.tar.gz", b"hello").await;
    for i in 0..4 {
        api.create(json!({"tag_name": format!("v0.{i}"), "draft": true}))
            .await;
    }
    let release: octocrab::models::repos::Release = serde_json::from_value(draft.clone()).unwrap();
    assert!(release.draft);

    let gh = octocrab::Octocrab::builder()
        .base_uri(api.fake.api_url())
        .unwrap()
        .personal_token(TOKEN.to_owned())
        .build()
        .unwrap();
    let first = gh
        .repos("octo", "demo")
        .releases()
        .list()
        .per_page(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let all = gh.all_pages(first).await.unwrap();
    assert_eq!(all.len(), 5);
    let ours = all.iter().find(|r| r.tag_name == "v1.0.0").unwrap();
    assert_eq!(ours.assets.len(), 1);
    let asset = &ours.assets[0];
    assert_eq!(asset.state, "uploaded");
    assert_eq!(asset.size, 5);
    assert_eq!(
        asset.digest.as_deref(),
        Some(format!("sha256:{}", crate::sha256_hex(b"hello")).as_str())
    );
    assert!(
        ours.upload_url
            .contains("/api/uploads/repos/octo/demo/releases/")
    );
    let fetched = gh
        .repos("octo", "demo")
        .releases()
        .get(ours.id.0)
        .await
        .unwrap();
    assert_eq!(fetched.id, ours.id);
}

/// The blocking constructor serves from its own runtime thread.
#[test]
fn start_blocking_serves_sync_tests() {
    let fake = FakeGitHub::start_blocking(Config::default()).unwrap();
    let url = format!("{}/repos/octo/demo/releases", fake.api_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        crate::client()
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&json!({"tag_name": "v1"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(fake.releases().len(), 1);
    fake.shutdown();
    let after = rt.block_on(async { crate::client().get(&url).send().await });
    assert!(after.is_err(), "the server must be gone after shutdown");
}

//! The options that make the fake less kind (issue 10.10): downloads
//! redirected to another host, assets without `digest`, private
//! repositories answering 404, GitHub's renaming of dots, pagination that
//! ignores `page` or `per_page`, and broken downloads.

use relkit_fake_github::{Config, DownloadQuirk, Pagination};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::releases::links;
use crate::{Api, client_builder, id};

/// A client that does not follow redirects, to see the 302 itself.
fn no_redirects() -> reqwest::Client {
    client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

// issue 10.10: GitHub answers a download with a 302 to another host, which
// must not receive the token.
#[tokio::test]
async fn downloads_redirect_to_a_host_that_refuses_the_token() {
    let api = Api::with(Config {
        redirect_downloads: true,
        ..Config::default()
    })
    .await;
    let release = api.draft("v1.0.0").await;
    let asset = api.upload_ok(&release, "a.bin", b"bytes").await;
    let resp = no_redirects()
        .get(asset["url"].as_str().unwrap())
        .bearer_auth(crate::TOKEN)
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let cdn = api.fake.cdn_url().expect("a download host");
    assert!(location.starts_with(&cdn), "{location}");
    assert_ne!(cdn, api.fake.root_url(), "another host (port)");
    // With the token: refused, as GitHub's storage refuses it.
    let with_token = no_redirects()
        .get(&location)
        .bearer_auth(crate::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::BAD_REQUEST);
    let plain = no_redirects().get(&location).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.bytes().await.unwrap().as_ref(), b"bytes");
    let cdn_log: Vec<_> = api
        .fake
        .request_log()
        .into_iter()
        .filter(|l| l.path.starts_with("/cdn/"))
        .map(|l| (l.status, l.authenticated))
        .collect();
    assert_eq!(cdn_log, [(400, true), (200, false)]);
}

// issue 10.10: GHES and old assets carry no `digest`.
#[tokio::test]
async fn digest_can_be_omitted() {
    let api = Api::with(Config {
        omit_digest: true,
        ..Config::default()
    })
    .await;
    let release = api.draft("v1.0.0").await;
    let asset = api.upload_ok(&release, "a.bin", b"x").await;
    assert!(asset.get("digest").is_none(), "{asset}");
    assert_eq!(asset["size"], 1);
}

// issue 10.10: a private repository answers 404 to a token without access
// and to anonymous callers; the repository endpoint answers the token.
#[tokio::test]
async fn private_repository_is_404_without_access() {
    let api = Api::with(Config {
        private_repo: true,
        allow_anonymous_reads: true,
        tokens_without_access: vec!["outsider".into()],
        ..Config::default()
    })
    .await;
    let (status, repo) = api.send(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repo["full_name"], "octo/demo");
    assert_eq!(repo["private"], true);
    for path in ["", "/releases"] {
        let url = api.repo_url(path);
        let outsider = api.client.get(&url).bearer_auth("outsider").send().await;
        assert_eq!(outsider.unwrap().status(), StatusCode::NOT_FOUND, "{path}");
        let anonymous = api.client.get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let wrong = api.client.get(api.repo_url("")).bearer_auth("nope");
    assert_eq!(
        wrong.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

// issue 10.10: GitHub renames leading and trailing periods.
#[tokio::test]
async fn dots_are_renamed_when_asked() {
    let api = Api::with(Config {
        rename_dots: true,
        ..Config::default()
    })
    .await;
    let release = api.draft("v1.0.0").await;
    let asset = api.upload_ok(&release, ".config", b"c").await;
    assert_eq!(asset["name"], "default.config");
    let asset = api.upload_ok(&release, "tool.", b"t").await;
    assert_eq!(asset["name"], "tool");
}

async fn five_releases(pagination: Pagination) -> Api {
    let api = Api::with(Config {
        pagination,
        ..Config::default()
    })
    .await;
    for i in 0..5 {
        api.create(json!({"tag_name": format!("v0.{i}.0")})).await;
    }
    api
}

async fn page_ids(api: &Api, page: u32) -> (Vec<u64>, Vec<(String, String)>) {
    let url = format!("{}?per_page=2&page={page}", api.repo_url("/releases"));
    let resp = api.req(Method::GET, &url).send().await.unwrap();
    let l = links(&resp);
    let items: Vec<Value> = resp.json().await.unwrap();
    (items.iter().map(id).collect(), l)
}

// issue 10.10 and 10.9: servers that ignore `page` or `per_page`, and
// always say there is a next page.
#[tokio::test]
async fn pagination_can_ignore_page_or_per_page() {
    let api = five_releases(Pagination::IgnorePage).await;
    let (first, _) = page_ids(&api, 1).await;
    let (again, l) = page_ids(&api, 7).await;
    assert_eq!(first.len(), 2);
    assert_eq!(first, again, "page is ignored");
    assert!(
        l.iter()
            .any(|(rel, url)| rel == "next" && url.ends_with("page=8"))
    );

    let api = five_releases(Pagination::IgnorePerPage).await;
    let (all, l) = page_ids(&api, 3).await;
    assert_eq!(all.len(), 5, "per_page is ignored");
    assert!(l.iter().any(|(rel, _)| rel == "next"));
}

// issue 10.5 and 10.10: a download path that answers metadata or short bodies.
#[tokio::test]
async fn broken_downloads_when_asked() {
    for (quirk, want_type, want_len) in [
        (DownloadQuirk::JsonMetadata, "application/json", None),
        (
            DownloadQuirk::ShortBody,
            "application/octet-stream",
            Some(5),
        ),
    ] {
        let api = Api::with(Config {
            download_quirk: Some(quirk),
            ..Config::default()
        })
        .await;
        let release = api.draft("v1.0.0").await;
        let asset = api.upload_ok(&release, "a.bin", b"0123456789").await;
        let resp = api
            .req(Method::GET, asset["url"].as_str().unwrap())
            .header("accept", "application/octet-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(want_type), "{quirk:?}: {ct}");
        let body = resp.bytes().await.unwrap();
        if let Some(n) = want_len {
            assert_eq!(body.len(), n, "{quirk:?}");
        }
    }
}

#[tokio::test]
async fn seeded_duplicate_names_are_listed_twice() {
    let api = Api::start().await;
    let release = api.draft("v1.0.0").await;
    api.upload_ok(&release, "a.bin", b"a").await;
    assert!(
        api.fake
            .seed_asset(id(&release), "a.bin", b"other")
            .is_some()
    );
    let (_, assets) = api
        .send(
            Method::GET,
            &format!("/releases/{}/assets", id(&release)),
            None,
        )
        .await;
    let names: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.bin", "a.bin"]);
    assert!(api.fake.seed_asset(999, "x", b"x").is_none());
}

//! Assets: uploads through upload_url (GHES prefix too), digests, renaming,
//! duplicates, listing, download, edit and delete.

use futures_util::stream;
use relkit_fake_github::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::releases::links;
use crate::{Api, id, sha256_hex, upload_url, with_query};

#[tokio::test]
async fn upload_records_digest_size_and_state() {
    let api = Api::start().await;
    let release = api.draft("v1.0.0").await;
    // A body large enough to arrive in many chunks.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let resp = api
        .req(
            Method::POST,
            &with_query(
                &upload_url(&release),
                &[
                    ("name", "app-1.0.0-x86_64-unknown-linux-gnu.tar.gz"),
                    ("label", "Linux x86_64"),
                ],
            ),
        )
        .header("content-type", "application/gzip")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let asset: Value = resp.json().await.unwrap();
    assert_eq!(asset["name"], "app-1.0.0-x86_64-unknown-linux-gnu.tar.gz");
    assert_eq!(asset["label"], "Linux x86_64");
    assert_eq!(asset["state"], "uploaded");
    assert_eq!(asset["size"], data.len());
    assert_eq!(asset["content_type"], "application/gzip");
    assert_eq!(asset["digest"], format!("sha256:{}", sha256_hex(&data)));
    assert_eq!(
        asset["url"],
        api.repo_url(&format!("/releases/assets/{}", id(&asset)))
    );

    let state = api.fake.releases();
    let stored = &state[0].assets[0];
    assert_eq!(stored.state, "uploaded");
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(stored.digest, format!("sha256:{}", sha256_hex(&data)));
    assert_eq!(stored.content().unwrap(), data);

    // The release lists it; GET asset returns JSON; octet-stream the bytes.
    let (_, rel) = api
        .send(Method::GET, &format!("/releases/{}", id(&release)), None)
        .await;
    assert_eq!(rel["assets"][0], asset);
    let (status, got) = api
        .send(
            Method::GET,
            &format!("/releases/assets/{}", id(&asset)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["id"], asset["id"]);
    let resp = api
        .client
        .get(asset["url"].as_str().unwrap())
        .bearer_auth(crate::TOKEN)
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.bytes().await.unwrap(), data);
}

#[tokio::test]
async fn ghes_style_upload_prefix_must_be_followed() {
    let api = Api::with(Config {
        upload_prefix: "/api/uploads".into(),
        ..Config::default()
    })
    .await;
    let release = api.draft("v1").await;
    let url = upload_url(&release);
    assert_eq!(
        url,
        format!(
            "{}/api/uploads/repos/octo/demo/releases/{}/assets",
            api.fake.api_url(),
            id(&release)
        )
    );
    assert!(
        release["upload_url"]
            .as_str()
            .unwrap()
            .ends_with("/assets{?name,label}")
    );
    // Guessing the upload path from the API path fails.
    let guessed = api
        .req(
            Method::POST,
            &with_query(
                &api.repo_url(&format!("/releases/{}/assets", id(&release))),
                &[("name", "a")],
            ),
        )
        .header("content-type", "text/plain")
        .body("a")
        .send()
        .await
        .unwrap();
    assert!(!guessed.status().is_success());
    api.upload_ok(&release, "a", b"a").await;

    // With an empty prefix uploads share the API's paths.
    let api = Api::with(Config {
        upload_prefix: String::new(),
        ..Config::default()
    })
    .await;
    let release = api.draft("v1").await;
    assert_eq!(
        upload_url(&release),
        api.repo_url(&format!("/releases/{}/assets", id(&release)))
    );
    api.upload_ok(&release, "a", b"a").await;
    let (status, list) = api
        .send(
            Method::GET,
            &format!("/releases/{}/assets", id(&release)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn duplicate_names_are_already_exists_even_after_renaming() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    let asset = api.upload_ok(&release, "my file (1).zip", b"x").await;
    assert_eq!(asset["name"], "my.file..1..zip");
    assert_eq!(
        asset["name"],
        relkit_fake_github::github_asset_name("my file (1).zip")
    );
    let resp = api.upload(&release, "my.file..1..zip", b"y").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"],
        json!([{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
    );
    // The same name on another release is fine.
    let other = api.draft("v2").await;
    api.upload_ok(&other, "my file (1).zip", b"y").await;
}

#[tokio::test]
async fn upload_refusals() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    let url = upload_url(&release);
    // No name.
    let resp = api
        .req(Method::POST, &url)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // No Content-Type.
    let named = with_query(&url, &[("name", "a")]);
    let resp = api
        .req(Method::POST, &named)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // No Content-Length (a chunked body).
    let chunks = stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from_static(
        b"abc",
    ))]);
    let resp = api
        .req(Method::POST, &named)
        .header("content-type", "text/plain")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::LENGTH_REQUIRED);
    // Too large (refused from Content-Length, before any byte is read).
    let resp = api
        .req(Method::POST, &with_query(&url, &[("name", "big")]))
        .header("content-type", "text/plain")
        .header("content-length", (3u64 << 30).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Unknown release.
    let resp = api
        .req(
            Method::POST,
            &named.replace(&id(&release).to_string(), "999"),
        )
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(api.fake.releases()[0].assets.is_empty());
}

#[tokio::test]
async fn list_assets_paginates() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    for i in 0..5 {
        api.upload_ok(&release, &format!("f{i}"), b"x").await;
    }
    let base = api.repo_url(&format!("/releases/{}/assets", id(&release)));
    let resp = api
        .req(Method::GET, &format!("{base}?per_page=2&page=2"))
        .send()
        .await
        .unwrap();
    let l = links(&resp);
    let rels: Vec<&str> = l.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rels, ["prev", "next", "last", "first"]);
    assert!(
        l.iter()
            .any(|(r, u)| r == "last" && u.ends_with("per_page=2&page=3"))
    );
    let names: Vec<String> = resp
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["f2", "f3"]);
    let resp = api.req(Method::GET, &base).send().await.unwrap();
    assert!(links(&resp).is_empty(), "one page has no Link header");
    assert_eq!(resp.json::<Vec<Value>>().await.unwrap().len(), 5);
}

#[tokio::test]
async fn edit_and_delete_assets() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    let a = api.upload_ok(&release, "a.txt", b"a").await;
    api.upload_ok(&release, "b.txt", b"b").await;
    let path = format!("/releases/assets/{}", id(&a));
    let (status, body) = api
        .send(Method::PATCH, &path, Some(json!({"name": "b.txt"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "already_exists");
    let (status, body) = api
        .send(
            Method::PATCH,
            &path,
            Some(json!({"name": "c.txt", "label": "C"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "c.txt");
    assert_eq!(body["label"], "C");
    let (status, _) = api.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.send(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The name is free again.
    api.upload_ok(&release, "c.txt", b"c2").await;
    let names: Vec<String> = api.fake.releases()[0]
        .assets
        .iter()
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(names, ["b.txt", "c.txt"]);
}

#[tokio::test]
async fn browser_download_url_serves_published_assets() {
    let api = Api::start().await;
    let release = api.draft("v1.2.3").await;
    api.upload_ok(&release, "tool.zip", b"zip bytes").await;
    let (_, published) = api
        .send(
            Method::PATCH,
            &format!("/releases/{}", id(&release)),
            Some(json!({"draft": false})),
        )
        .await;
    let url = published["assets"][0]["browser_download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        url,
        format!(
            "{}/octo/demo/releases/download/v1.2.3/tool.zip",
            api.fake.api_url()
        )
    );
    // No token needed, like github.com for a public repository.
    let resp = api.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), &b"zip bytes"[..]);
    let missing = api
        .client
        .get(url.replace("tool.zip", "nope.zip"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let (_, asset) = api
        .send(
            Method::GET,
            &format!("/releases/assets/{}", id(&published["assets"][0])),
            None,
        )
        .await;
    assert_eq!(asset["download_count"], 1);
}

#[tokio::test]
async fn deleting_a_release_deletes_its_assets() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    let a = api.upload_ok(&release, "a", b"a").await;
    let path = api.fake.releases()[0].assets[0].path.clone();
    assert!(path.exists());
    api.send(Method::DELETE, &format!("/releases/{}", id(&release)), None)
        .await;
    let (status, _) = api
        .send(Method::GET, &format!("/releases/assets/{}", id(&a)), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!path.exists());
}

#[tokio::test]
async fn ghes_layout_with_api_and_upload_prefixes() {
    let api = Api::with(Config {
        api_prefix: "/api/v3".into(),
        upload_prefix: "/api/uploads".into(),
        ..Config::default()
    })
    .await;
    let root = api.fake.root_url();
    assert_eq!(api.fake.api_url(), format!("{root}/api/v3"));
    let release = api.draft("v1").await;
    assert_eq!(
        release["url"],
        format!("{root}/api/v3/repos/octo/demo/releases/{}", id(&release))
    );
    assert!(upload_url(&release).starts_with(&format!("{root}/api/uploads/repos/octo/demo/")));
    let asset = api.upload_ok(&release, "a.txt", b"a").await;
    assert_eq!(
        asset["url"],
        format!(
            "{root}/api/v3/repos/octo/demo/releases/assets/{}",
            id(&asset)
        )
    );
    // Without the prefix there is no API.
    let resp = api
        .req(Method::GET, &format!("{root}/repos/octo/demo/releases"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    for i in 0..3 {
        api.draft(&format!("v0.{i}")).await;
    }
    let resp = api
        .req(Method::GET, &api.repo_url("/releases?per_page=2"))
        .send()
        .await
        .unwrap();
    let l = links(&resp);
    assert!(
        l[0].1
            .starts_with(&format!("{root}/api/v3/repos/octo/demo/releases?")),
        "{l:?}"
    );

    // The script endpoints answer under the API URL too.
    let state: Value = reqwest::get(format!("{}/_fake/state", api.fake.api_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["releases"].as_array().unwrap().len(), 4);

    // octocrab keeps the GHES path of its base URI.
    let gh = octocrab::Octocrab::builder()
        .base_uri(api.fake.api_url())
        .unwrap()
        .personal_token(crate::TOKEN.to_owned())
        .build()
        .unwrap();
    let page = gh
        .repos("octo", "demo")
        .releases()
        .list()
        .per_page(2)
        .send()
        .await
        .unwrap();
    assert_eq!(gh.all_pages(page).await.unwrap().len(), 4);
}

/// A refused upload still reads the body, so a client sending a large file
/// sees the 422 rather than a connection reset.
#[tokio::test]
async fn refused_large_upload_gets_its_error() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    let data = vec![1u8; 8 << 20];
    api.upload_ok(&release, "big.bin", &data).await;
    for _ in 0..3 {
        let resp = api
            .upload(&release, "big.bin", &data)
            .await
            .expect("a response, not a reset");
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn tags_with_slashes_work() {
    let api = Api::start().await;
    let r = api.create(json!({"tag_name": "release/v1.0"})).await;
    api.upload_ok(&r, "a.txt", b"slash").await;
    let (status, got) = api
        .send(Method::GET, "/releases/tags/release/v1.0", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id(&got), id(&r));
    let url = got["assets"][0]["browser_download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.ends_with("/releases/download/release/v1.0/a.txt"),
        "{url}"
    );
    let resp = api.client.get(&url).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), &b"slash"[..]);
}

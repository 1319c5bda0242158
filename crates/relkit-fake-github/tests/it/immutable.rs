//! Immutable releases: assets go in while the release is a draft; once
//! published only the title and notes may change.

use relkit_fake_github::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Api, id};

async fn immutable_api() -> Api {
    Api::with(Config {
        immutable_releases: true,
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn published_immutable_release_refuses_asset_changes() {
    let api = immutable_api().await;
    let release = api.draft("v1").await;
    assert_eq!(release["immutable"], false, "drafts are not immutable yet");
    let asset = api.upload_ok(&release, "a.tar.gz", b"a").await;
    let rid = id(&release);
    let (status, published) = api
        .send(
            Method::PATCH,
            &format!("/releases/{rid}"),
            Some(json!({"draft": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(published["immutable"], true);
    assert!(api.fake.releases()[0].immutable);

    let resp = api.upload(&published, "b.tar.gz", b"b").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("immutable"),
        "{body}"
    );

    let apath = format!("/releases/assets/{}", id(&asset));
    let (status, _) = api.send(Method::DELETE, &apath, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .send(Method::PATCH, &apath, Some(json!({"name": "c"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Title and notes may change; tag, draft and prerelease may not.
    let rpath = format!("/releases/{rid}");
    let (status, body) = api
        .send(
            Method::PATCH,
            &rpath,
            Some(json!({"name": "New title", "body": "notes"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "New title");
    for change in [
        json!({"tag_name": "v2"}),
        json!({"draft": true}),
        json!({"prerelease": true}),
    ] {
        let (status, _) = api.send(Method::PATCH, &rpath, Some(change.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{change}");
    }
    let state = &api.fake.releases()[0];
    assert_eq!(state.assets.len(), 1);
    assert_eq!(state.tag_name, "v1");
}

#[tokio::test]
async fn a_deleted_immutable_releases_tag_cannot_be_reused() {
    let api = immutable_api().await;
    let r = api.create(json!({"tag_name": "v1"})).await;
    assert_eq!(r["immutable"], true);
    let (status, _) = api
        .send(Method::DELETE, &format!("/releases/{}", id(&r)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .send(Method::POST, "/releases", Some(json!({"tag_name": "v1"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "custom");
    assert_eq!(
        body["errors"][0]["message"],
        "tag_name was used by an immutable release"
    );
    // A draft may still use it, but cannot be published with it.
    let d = api.draft("v1").await;
    let (status, _) = api
        .send(
            Method::PATCH,
            &format!("/releases/{}", id(&d)),
            Some(json!({"draft": false})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn mutable_releases_take_assets_after_publishing() {
    let api = Api::start().await;
    let r = api.create(json!({"tag_name": "v1"})).await;
    assert_eq!(r["immutable"], false);
    let a = api.upload_ok(&r, "late.txt", b"late").await;
    let (status, _) = api
        .send(
            Method::DELETE,
            &format!("/releases/assets/{}", id(&a)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

//! Fault injection: every fault kind, nth and probability rules, seeded
//! random faults, dropped uploads leaving `starter` assets, the request log.

use std::time::Duration;

use relkit_fake_github::{Config, Fault, FaultRule};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Api, id};

#[tokio::test]
async fn status_faults_hit_the_nth_matching_request_only() {
    for code in [500u16, 502, 503] {
        let api = Api::start().await;
        api.fake.add_fault(
            FaultRule::new(Fault::Status(code))
                .method(Method::GET)
                .path("/releases")
                .nth(2),
        );
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(api.send(Method::GET, "/releases", None).await.0.as_u16());
        }
        assert_eq!(statuses, [200, code, 200]);
        let log = api.fake.request_log();
        assert_eq!(log.len(), 3);
        assert_eq!(log[1].status, code);
        assert_eq!(
            log[1].fault.as_deref(),
            Some(format!("status {code}").as_str())
        );
        assert_eq!(log[0].fault, None);
    }
}

#[tokio::test]
async fn a_status_fault_changes_nothing() {
    let api = Api::start().await;
    api.fake.add_fault(
        FaultRule::new(Fault::Status(500))
            .method(Method::POST)
            .times(2),
    );
    for _ in 0..2 {
        let (status, body) = api
            .send(Method::POST, "/releases", Some(json!({"tag_name": "v1"})))
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body["message"].is_string());
    }
    assert!(api.fake.releases().is_empty());
    api.create(json!({"tag_name": "v1"})).await;
}

#[tokio::test]
async fn secondary_rate_limit_sends_retry_after() {
    let api = Api::start().await;
    api.fake
        .add_fault(FaultRule::new(Fault::SecondaryRateLimit {
            retry_after_secs: 7,
        }));
    let resp = api
        .req(Method::GET, &api.repo_url("/releases"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    assert_eq!(
        api.send(Method::GET, "/releases", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn too_many_requests_sends_retry_after() {
    let api = Api::start().await;
    api.fake.add_fault(FaultRule::new(Fault::RateLimited429 {
        retry_after_secs: 3,
    }));
    let resp = api
        .req(Method::GET, &api.repo_url("/releases"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "3");
}

#[tokio::test]
async fn primary_rate_limit_sends_remaining_zero_and_reset() {
    let api = Api::start().await;
    api.fake
        .add_fault(FaultRule::new(Fault::RateLimitReset { reset_in_secs: 120 }));
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let resp = api
        .req(Method::GET, &api.repo_url("/releases"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let h = resp.headers();
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!(
        (before + 119..=before + 122).contains(&reset),
        "{reset} vs {before}"
    );
    assert!(!h.contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("rate limit exceeded")
    );
}

#[tokio::test]
async fn dropped_upload_leaves_a_starter_asset() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    api.fake.add_fault(
        FaultRule::new(Fault::DropMidUpload)
            .method(Method::POST)
            .path("/assets"),
    );
    let data = vec![7u8; 2_000_000];
    let err = api.upload(&release, "big.bin", &data).await;
    assert!(err.is_err(), "the connection must drop: {err:?}");

    let state = api.fake.releases();
    let asset = &state[0].assets[0];
    assert_eq!(asset.name, "big.bin");
    assert_eq!(asset.state, "starter");
    assert_eq!(asset.size, 0);
    assert_eq!(asset.digest, "");
    let (_, list) = api
        .send(
            Method::GET,
            &format!("/releases/{}/assets", id(&release)),
            None,
        )
        .await;
    assert_eq!(list[0]["state"], "starter");
    assert_eq!(list[0]["digest"], Value::Null);

    // As on GitHub, the leftover blocks the name until it is deleted.
    let resp = api.upload(&release, "big.bin", &data).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .send(
            Method::DELETE,
            &format!("/releases/assets/{}", asset.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let uploaded = api.upload_ok(&release, "big.bin", &data).await;
    assert_eq!(uploaded["state"], "uploaded");

    let log = api.fake.request_log();
    let dropped: Vec<_> = log.iter().filter(|e| e.status == 0).collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].method, "POST");
    assert!(dropped[0].path.contains("/assets?name=big.bin"));
    assert_eq!(dropped[0].fault.as_deref(), Some("drop-mid-upload"));
}

#[tokio::test]
async fn drop_on_a_json_request_closes_without_a_response() {
    let api = Api::start().await;
    api.fake
        .add_fault(FaultRule::new(Fault::DropMidUpload).method(Method::GET));
    let err = api
        .req(Method::GET, &api.repo_url("/releases"))
        .send()
        .await;
    assert!(err.is_err());
    assert_eq!(
        api.send(Method::GET, "/releases", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn drop_after_handling_keeps_the_change() {
    let api = Api::start().await;
    api.fake
        .add_fault(FaultRule::new(Fault::DropAfterHandling).method(Method::POST));
    let err = api
        .req(Method::POST, &api.repo_url("/releases"))
        .json(&json!({"tag_name": "v1", "draft": true}))
        .send()
        .await;
    assert!(err.is_err());
    assert_eq!(api.fake.releases().len(), 1, "the release was created");
    assert_eq!(
        api.fake.request_log()[0].fault.as_deref(),
        Some("drop-after-handling")
    );
}

#[tokio::test]
async fn a_502_upload_leaves_a_starter_asset() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    api.fake.add_fault(
        FaultRule::new(Fault::StatusLeavingStarter(502))
            .method(Method::POST)
            .path("/assets"),
    );
    let resp = api.upload(&release, "a.zip", b"abc").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let state = api.fake.releases();
    assert_eq!(state[0].assets[0].state, "starter");
}

#[tokio::test]
async fn slow_responses_still_succeed() {
    let api = Api::start().await;
    api.fake
        .add_fault(FaultRule::new(Fault::Delay(Duration::from_millis(100))));
    assert_eq!(
        api.send(Method::GET, "/releases", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.fake.request_log()[0].fault.as_deref(),
        Some("delay 100ms")
    );
    // A client with a shorter timeout gives up.
    api.fake
        .add_fault(FaultRule::new(Fault::Delay(Duration::from_secs(30))));
    let err = api
        .req(Method::GET, &api.repo_url("/releases"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(err.unwrap_err().is_timeout());
}

#[tokio::test]
async fn seeded_starter_asset_is_listed_and_blocks_its_name() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    let aid = api
        .fake
        .seed_starter_asset(id(&release), "app.tar.gz")
        .expect("release exists");
    assert_eq!(api.fake.seed_starter_asset(1, "x"), None);
    let (_, rel) = api
        .send(Method::GET, &format!("/releases/{}", id(&release)), None)
        .await;
    assert_eq!(rel["assets"][0]["id"], aid);
    assert_eq!(rel["assets"][0]["state"], "starter");
    let resp = api.upload(&release, "app.tar.gz", b"x").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .send(Method::GET, &format!("/releases/assets/{aid}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Downloading a starter asset finds nothing.
    let resp = api
        .req(
            Method::GET,
            &api.repo_url(&format!("/releases/assets/{aid}")),
        )
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

/// Run 60 sequential requests against a fresh fake with random faults and
/// return what the log recorded.
async fn random_run(seed: u64) -> Vec<(u16, Option<String>)> {
    let api = Api::start().await;
    api.fake
        .set_random_fault_mix(seed, 0.4, Fault::default_mix(0));
    let client = crate::client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..60 {
        let _ = client
            .get(api.repo_url("/releases"))
            .bearer_auth(crate::TOKEN)
            .send()
            .await;
    }
    api.fake
        .request_log()
        .into_iter()
        .map(|e| (e.status, e.fault))
        .collect()
}

#[tokio::test]
async fn random_faults_are_reproducible_for_a_seed() {
    let a = random_run(42).await;
    assert_eq!(a, random_run(42).await);
    assert_ne!(a, random_run(43).await);
    let faulted = a.iter().filter(|(_, f)| f.is_some()).count();
    assert!(
        faulted > 5 && faulted < 50,
        "{faulted} of 60 faulted at p=0.4"
    );
    let kinds: std::collections::BTreeSet<_> = a
        .iter()
        .filter_map(|(s, _)| (*s != 200).then_some(*s))
        .collect();
    assert!(kinds.len() >= 3, "several kinds of fault: {kinds:?}");
}

#[tokio::test]
async fn probability_rules_use_the_seeded_rng_and_clear_faults_stops_them() {
    let statuses = |seed: u64| async move {
        let api = Api::start().await;
        api.fake.set_fault_seed(seed);
        api.fake
            .add_fault(FaultRule::new(Fault::Status(503)).times(0).probability(0.5));
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(api.send(Method::GET, "/releases", None).await.0.as_u16());
        }
        api.fake.clear_faults();
        assert_eq!(
            api.send(Method::GET, "/releases", None).await.0,
            StatusCode::OK
        );
        out
    };
    let a = statuses(1).await;
    assert_eq!(a, statuses(1).await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn faults_can_be_scripted_over_http() {
    let api = Api::with(Config::default()).await;
    let client = crate::client();
    let resp = client
        .post(format!("{}/_fake/faults", api.fake.api_url()))
        .json(&json!({"method": "get", "path_contains": "/releases", "nth": 1, "fault": {"status": 503}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        api.send(Method::GET, "/releases", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        api.send(Method::GET, "/releases", None).await.0,
        StatusCode::OK
    );
    let resp = client
        .post(format!("{}/_fake/faults", api.fake.api_url()))
        .json(&json!({"fault": "bogus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let release = api.draft("v1").await;
    let resp = client
        .post(format!("{}/_fake/starter", api.fake.api_url()))
        .json(&json!({"release_id": id(&release), "name": "left.over"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(api.fake.releases()[0].assets[0].state, "starter");
}

#[tokio::test]
async fn request_log_records_method_path_status_and_auth() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    api.upload_ok(&release, "a b", b"x").await;
    api.send(Method::GET, "/releases?per_page=5", None).await;
    let _ = api.client.get(api.repo_url("/releases")).send().await;
    let log = api.fake.request_log();
    let rows: Vec<(String, String, u16, bool)> = log
        .iter()
        .map(|e| (e.method.clone(), e.path.clone(), e.status, e.authenticated))
        .collect();
    let rid = id(&release);
    assert_eq!(
        rows,
        [
            ("POST".into(), "/repos/octo/demo/releases".into(), 201, true),
            (
                "POST".into(),
                format!("/uploads/repos/octo/demo/releases/{rid}/assets?name=a+b"),
                201,
                true
            ),
            (
                "GET".into(),
                "/repos/octo/demo/releases?per_page=5".into(),
                200,
                true
            ),
            ("GET".into(), "/repos/octo/demo/releases".into(), 401, false),
        ]
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(log.iter().all(|e| e.fault.is_none()));
    // The /_fake endpoints are not logged, and serve the same data as JSON.
    let json: Value = reqwest::get(format!("{}/_fake/log", api.fake.api_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    assert_eq!(json[3]["status"], 401);
    assert_eq!(api.fake.request_log().len(), 4);
    api.fake.clear_request_log();
    assert!(api.fake.request_log().is_empty());
}

/// Racing writers: one published release per tag, and every concurrent
/// upload stored whole under its own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_the_rules() {
    let api = std::sync::Arc::new(Api::start().await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.send(Method::POST, "/releases", Some(json!({"tag_name": "v1"})))
                .await
                .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 422, 422, 422, 422, 422, 422, 422]);

    let release = api.draft("v2").await;
    let mut tasks = Vec::new();
    for worker in 0..8u8 {
        let api = api.clone();
        let release = release.clone();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            // Every worker tries every name: each name is stored once.
            for n in 0..10u8 {
                let data = vec![n; 50_000 + usize::from(worker)];
                let resp = api.upload(&release, &format!("f{n}"), &data).await.unwrap();
                codes.push(resp.status().as_u16());
            }
            codes
        }));
    }
    let mut created = 0;
    for t in tasks {
        for code in t.await.unwrap() {
            assert!(code == 201 || code == 422, "{code}");
            created += usize::from(code == 201);
        }
    }
    assert_eq!(created, 10);
    let state = api.fake.releases();
    let v2 = state.iter().find(|r| r.tag_name == "v2").unwrap();
    assert_eq!(v2.assets.len(), 10);
    for a in &v2.assets {
        let content = a.content().unwrap();
        assert_eq!(a.state, "uploaded");
        assert_eq!(a.size, content.len() as u64);
        assert_eq!(a.digest, format!("sha256:{}", crate::sha256_hex(&content)));
    }
}

/// Faults and auth failures on an upload read the body first, so even a
/// large upload gets the status and its headers rather than a reset.
#[tokio::test]
async fn refused_uploads_get_the_fault_response() {
    let api = Api::start().await;
    let release = api.draft("v1").await;
    api.fake.add_fault(
        FaultRule::new(Fault::RateLimited429 {
            retry_after_secs: 2,
        })
        .method(Method::POST)
        .path("/assets"),
    );
    let data = vec![9u8; 8 << 20];
    let resp = api
        .upload(&release, "a.bin", &data)
        .await
        .expect("a response, not a reset");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "2");
    let resp = api
        .client
        .post(crate::with_query(
            &crate::upload_url(&release),
            &[("name", "a.bin")],
        ))
        .bearer_auth("wrong")
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .expect("a response, not a reset");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    api.upload_ok(&release, "a.bin", &data).await;
}

#[tokio::test]
async fn reset_forgets_everything() {
    let api = Api::start().await;
    let r = api.draft("v1").await;
    api.upload_ok(&r, "a", b"a").await;
    let path = api.fake.releases()[0].assets[0].path.clone();
    api.fake.add_fault(
        FaultRule::new(Fault::Status(500))
            .times(0)
            .path("/nothing-yet"),
    );
    let resp = crate::client()
        .post(format!("{}/_fake/reset", api.fake.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(api.fake.releases().is_empty());
    assert!(api.fake.request_log().is_empty());
    assert!(!path.exists());
    // The old rule is gone too.
    let (status, _) = api
        .send(Method::GET, "/releases?x=/nothing-yet", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    api.draft("v1").await;
}

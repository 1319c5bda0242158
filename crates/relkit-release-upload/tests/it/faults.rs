//! Faults: rate limits honoured, dropped uploads recovered, a dead service
//! ends in exit 3, and a seeded soak of random faults.

use std::collections::BTreeMap;
use std::time::Duration;

use relkit_fake_github::{Fault, FaultRule, LoggedRequest};

use crate::{
    assert_assets, exit_code, fake, releases_for, sha256, the_release, upload, write_files,
};

/// The gap between a faulted request and the next request to the same path.
fn gap_after_fault(log: &[LoggedRequest], fault_prefix: &str) -> Duration {
    let i = log
        .iter()
        .position(|l| {
            l.fault
                .as_deref()
                .is_some_and(|f| f.starts_with(fault_prefix))
        })
        .unwrap_or_else(|| panic!("no `{fault_prefix}` fault in {log:#?}"));
    let faulted = &log[i];
    let next = log[i + 1..]
        .iter()
        .find(|l| l.method == faulted.method && l.path == faulted.path)
        .expect("the request was retried");
    next.at.duration_since(faulted.at)
}

#[test]
fn retry_after_is_honoured_on_secondary_rate_limit() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    fake.add_fault(
        FaultRule::new(Fault::SecondaryRateLimit {
            retry_after_secs: 1,
        })
        .method(http::Method::GET)
        .path("/releases?"),
    );
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    // The backoff base is 1 ms, so only retry-after explains a wait of 1 s.
    let gap = gap_after_fault(&fake.request_log(), "secondary-rate-limit");
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[test]
fn retry_after_is_honoured_on_429_upload() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    fake.add_fault(
        FaultRule::new(Fault::RateLimited429 {
            retry_after_secs: 1,
        })
        .method(http::Method::POST)
        .path("/assets"),
    );
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let gap = gap_after_fault(&fake.request_log(), "429");
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert_eq!(the_release(&fake, "v1.0.0").assets.len(), 1);
}

#[test]
fn ratelimit_reset_is_honoured() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    fake.add_fault(
        FaultRule::new(Fault::RateLimitReset { reset_in_secs: 2 })
            .method(http::Method::POST)
            .path("/releases"),
    );
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    // x-ratelimit-reset is whole epoch seconds: at least one full second.
    let gap = gap_after_fault(&fake.request_log(), "rate-limit-reset");
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[test]
fn dropped_uploads_and_5xx_are_retried() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let big = vec![7u8; 300_000];
    let paths = write_files(dir.path(), &[("big.bin", &big), ("small.bin", b"s")]);
    fake.add_fault(
        FaultRule::new(Fault::DropMidUpload)
            .method(http::Method::POST)
            .path("big.bin"),
    );
    fake.add_fault(
        FaultRule::new(Fault::StatusLeavingStarter(502))
            .method(http::Method::POST)
            .path("small.bin"),
    );
    fake.add_fault(FaultRule::new(Fault::Status(500)).method(http::Method::PATCH));
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let r = the_release(&fake, "v1.0.0");
    assert!(!r.draft);
    let want: BTreeMap<String, Vec<u8>> = [
        ("big.bin".to_owned(), big),
        ("small.bin".to_owned(), b"s".to_vec()),
    ]
    .into();
    assert_assets(&r, &want);
}

#[test]
fn a_dead_service_ends_in_exit_3_with_a_clear_message() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    fake.add_fault(FaultRule::new(Fault::Status(503)).times(0));
    let mut extra = vec!["--give-up-secs", "1"];
    extra.push("--draft");
    let err = upload(&fake, "v1.0.0", &extra, &paths).unwrap_err();
    assert_eq!(exit_code(&err), 3);
    insta::assert_snapshot!("gave_up", err.to_string());
    // A rate limit asking for more than the budget gives up at once.
    fake.clear_faults();
    fake.add_fault(
        FaultRule::new(Fault::SecondaryRateLimit {
            retry_after_secs: 60,
        })
        .times(0),
    );
    let err = upload(&fake, "v1.0.0", &["--give-up-secs", "5"], &paths).unwrap_err();
    assert_eq!(exit_code(&err), 3);
    assert!(
        err.to_string().contains("GitHub asked to wait 60s"),
        "{err}"
    );
}

/// Seeded soak: random faults on every kind of request. Every run either
/// succeeds with all digests verified or exits 3; a re-run without faults
/// then succeeds; no published release ever misses an asset.
/// `RELKIT_SOAK_RUNS` (default 80: 8 of them hammered) soaks longer.
#[test]
fn soak_random_faults() {
    let runs: u64 = std::env::var("RELKIT_SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(80);
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let mut expected: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    let (mut ok, mut gave_up) = (0, 0);
    for i in 0..runs {
        let tag = format!("v0.{}.{}", i / 10, i % 10);
        let files: Vec<(String, Vec<u8>)> = (0..3)
            .map(|k| {
                (
                    format!("f{k}.bin"),
                    format!("run {i} file {k}").into_bytes(),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        let paths = write_files(&dir.path().join(&tag), &refs);
        expected.insert(tag.clone(), files.iter().cloned().collect());

        // Every tenth run is hammered so that giving up (exit 3) and the
        // re-run after it are exercised too.
        let rate = if i % 10 == 9 { 0.9 } else { 0.25 };
        let mut mix = Fault::default_mix(0);
        mix.extend([Fault::DropAfterHandling, Fault::StatusLeavingStarter(502)]);
        fake.set_random_fault_mix(i, rate, mix);
        let outcome = upload(
            &fake,
            &tag,
            &["--give-up-secs", "1", "--timeout-secs", "5"],
            &paths,
        );
        match outcome {
            Ok(()) => {
                ok += 1;
                let r = the_release(&fake, &tag);
                assert!(!r.draft, "run {i}");
                assert_assets(&r, &expected[&tag]);
            }
            Err(e) => {
                assert_eq!(
                    exit_code(&e),
                    3,
                    "run {i}: only exit 3 is allowed under faults: {e}"
                );
                gave_up += 1;
            }
        }
        check_published(&fake, &expected);
        fake.clear_faults();
        upload(&fake, &tag, &[], &paths).unwrap_or_else(|e| panic!("re-run {i} failed: {e}"));
        assert_assets(&the_release(&fake, &tag), &expected[&tag]);
        check_published(&fake, &expected);
    }
    eprintln!("soak: {ok} runs succeeded under faults, {gave_up} gave up with exit 3");
    assert!(
        ok > 0 && gave_up > 0,
        "both outcomes happen: {ok} ok, {gave_up} gave up"
    );
    assert!(
        fake.request_log().iter().any(|l| l.fault.is_some()),
        "faults were injected"
    );
}

fn check_published(
    fake: &relkit_fake_github::FakeGitHub,
    expected: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) {
    for r in fake.releases() {
        if r.draft {
            continue;
        }
        let want = &expected[&r.tag_name];
        for (name, content) in want {
            let a = r.assets.iter().find(|a| &a.name == name);
            assert!(
                a.is_some_and(
                    |a| a.state == "uploaded" && a.digest == format!("sha256:{}", sha256(content))
                ),
                "published release {} misses `{name}`",
                r.tag_name
            );
        }
        assert_eq!(
            releases_for(fake, &r.tag_name)
                .iter()
                .filter(|x| !x.draft)
                .count(),
            1
        );
    }
}

#[test]
fn slow_responses_time_out_and_are_retried() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    fake.add_fault(
        FaultRule::new(Fault::Delay(Duration::from_secs(5)))
            .method(http::Method::GET)
            .path("/releases?"),
    );
    upload(&fake, "v1.0.0", &["--timeout-secs", "1"], &paths).unwrap();
    // The fake logs a request when it answers. Had the client waited for
    // the slow listing, its answer (5 s) would be in the log by now; it is
    // not, because the client gave up on it after 1 s and asked again.
    let log = fake.request_log();
    assert!(log.iter().all(|l| l.fault.is_none()), "{log:#?}");
    assert!(
        log.iter()
            .filter(|l| l.method == "GET" && l.path.contains("/releases?"))
            .count()
            >= 2
    );
    assert!(!the_release(&fake, "v1.0.0").draft);
}

#[test]
fn small_pages_are_followed() {
    let fake = crate::fake_with(relkit_fake_github::Config {
        per_page_max: 2,
        ..relkit_fake_github::Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("p{i}.bin"), vec![b'0' + i; 10]))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    // Three other releases first, so the releases list spans pages too.
    for tag in ["v0.1.0", "v0.2.0", "v0.3.0"] {
        let p = write_files(&dir.path().join(tag), &refs[..1]);
        upload(&fake, tag, &[], &p).unwrap();
    }
    let paths = write_files(dir.path(), &refs);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    fake.clear_request_log();
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    assert!(
        fake.request_log().iter().all(|l| l.method == "GET"),
        "a re-run across pages uploads nothing"
    );
    assert_assets(&the_release(&fake, "v1.0.0"), &files.into_iter().collect());
    assert_eq!(fake.releases().len(), 4);
}

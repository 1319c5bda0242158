//! The blocking library calls `relkit finalize` makes: `Remote::from_env`,
//! `check_access` and `keep_published_signatures`, against the fake.

use std::path::Path;
use std::time::Duration;

use relkit_fake_github::{Config, FakeGitHub};
use relkit_release_upload::{
    Error, KeepCandidate, Remote, check_access, keep_published_signatures,
};

use crate::{TOKEN, exit_code, fake, fake_with, sha256, the_release, upload, write_files};

fn remote(fake: &FakeGitHub, token: &str) -> Remote {
    let token = token.to_owned();
    Remote::from_env(Some("octo/demo"), None, Some(&fake.api_url()), &move |k| {
        (k == "GITHUB_TOKEN").then(|| token.clone())
    })
    .unwrap()
    .with_retries(
        Duration::from_millis(1),
        Duration::from_secs(5),
        Duration::from_secs(5),
    )
}

fn candidate(dir: &Path, signed: &str, content: &[u8]) -> KeepCandidate {
    KeepCandidate {
        signature_name: format!("{signed}.minisig"),
        signed_name: signed.to_owned(),
        signed_sha256: sha256(content),
        dest: dir.join("out").join(format!("{signed}.minisig")),
    }
}

#[test]
fn check_access_names_the_repository_never_the_token() {
    let fake = fake_with(Config {
        private_repo: true,
        tokens_without_access: vec!["outsider-canary".into()],
        ..Config::default()
    });
    check_access(&remote(&fake, TOKEN)).unwrap();
    for token in ["outsider-canary", "wrong-canary"] {
        let err: Error = check_access(&remote(&fake, token)).unwrap_err();
        assert_eq!(exit_code(&err), 1, "{err}");
        let line = err.to_string();
        assert!(line.contains("octo/demo") || line.contains("401"), "{line}");
        assert!(!line.contains("canary"), "{line}");
    }
    let outsider = check_access(&remote(&fake, "outsider-canary")).unwrap_err();
    assert!(
        outsider.to_string().contains("cannot see `octo/demo`"),
        "{outsider}"
    );
}

/// Publish `SHA256SUMS` + its signature and `other` + its signature.
fn published(fake: &FakeGitHub, dir: &Path, tag: &str, extra: &[&str]) {
    let paths = write_files(
        &dir.join("dist"),
        &[
            ("SHA256SUMS", b"sums\n"),
            ("SHA256SUMS.minisig", b"published signature"),
            ("other", b"other v1"),
            ("other.minisig", b"other signature"),
        ],
    );
    upload(fake, tag, extra, &paths).unwrap();
}

#[test]
fn keeps_signatures_of_unchanged_files_only() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    published(&fake, dir.path(), "v1.0.0", &[]);
    let candidates = [
        candidate(dir.path(), "SHA256SUMS", b"sums\n"),
        // Changed since it was published: its signature is not kept.
        candidate(dir.path(), "other", b"other v2"),
        // Not in the release at all.
        candidate(dir.path(), "absent", b"x"),
    ];
    let kept = keep_published_signatures(&remote(&fake, TOKEN), "v1.0.0", &candidates).unwrap();
    assert_eq!(kept, ["SHA256SUMS.minisig"]);
    assert_eq!(
        fs_err::read(&candidates[0].dest).unwrap(),
        b"published signature"
    );
    assert!(!candidates[1].dest.exists());
    assert!(!candidates[2].dest.exists());
    // No release for the tag: nothing kept, nothing written.
    let none = keep_published_signatures(&remote(&fake, TOKEN), "v9.9.9", &candidates).unwrap();
    assert!(none.is_empty());
}

#[test]
fn ignores_signatures_that_are_not_uploaded_and_finds_drafts() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(&dir.path().join("dist"), &[("SHA256SUMS", b"sums\n")]);
    upload(&fake, "v1.0.0", &["--draft"], &paths).unwrap();
    let id = the_release(&fake, "v1.0.0").id;
    fake.seed_starter_asset(id, "SHA256SUMS.minisig").unwrap();
    let c = [candidate(dir.path(), "SHA256SUMS", b"sums\n")];
    let kept = keep_published_signatures(&remote(&fake, TOKEN), "v1.0.0", &c).unwrap();
    assert!(kept.is_empty(), "a `starter` signature is no signature");
    // Once uploaded (the release still a draft), it is kept.
    let sig = write_files(&dir.path().join("dist"), &[("SHA256SUMS.minisig", b"sig")]);
    upload(&fake, "v1.0.0", &["--draft", "--replace"], &sig).unwrap();
    let kept = keep_published_signatures(&remote(&fake, TOKEN), "v1.0.0", &c).unwrap();
    assert_eq!(kept, ["SHA256SUMS.minisig"]);
    assert_eq!(fs_err::read(&c[0].dest).unwrap(), b"sig");
}

// issue 10.5 rules for the signature download: no digest means the signed
// file is downloaded to compare; redirects are followed without the token;
// a signature over 64 KiB is refused.
#[test]
fn keeps_through_redirects_without_digests_and_bounds_the_size() {
    let fake = fake_with(Config {
        omit_digest: true,
        redirect_downloads: true,
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    published(&fake, dir.path(), "v1.0.0", &[]);
    let c = [candidate(dir.path(), "SHA256SUMS", b"sums\n")];
    let kept = keep_published_signatures(&remote(&fake, TOKEN), "v1.0.0", &c).unwrap();
    assert_eq!(kept, ["SHA256SUMS.minisig"]);
    let cdn: Vec<_> = fake
        .request_log()
        .into_iter()
        .filter(|l| l.path.starts_with("/cdn/"))
        .collect();
    assert!(
        !cdn.is_empty() && cdn.iter().all(|l| !l.authenticated),
        "{cdn:#?}"
    );

    let big = vec![b's'; 64 * 1024 + 1];
    let paths = write_files(
        &dir.path().join("big"),
        &[("SHA256SUMS", b"sums\n"), ("SHA256SUMS.minisig", &big)],
    );
    upload(&fake, "v2.0.0", &[], &paths).unwrap();
    let c = [KeepCandidate {
        dest: dir.path().join("big.minisig"),
        ..c[0].clone()
    }];
    let err = keep_published_signatures(&remote(&fake, TOKEN), "v2.0.0", &c).unwrap_err();
    assert!(err.to_string().contains("over the limit"), "{err}");
    assert!(!c[0].dest.exists());
}

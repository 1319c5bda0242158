//! Hostile input and unkind servers (issue 10): each case ends in one clear
//! line with the documented exit code, fast, or succeeds where GitHub would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use relkit_fake_github::{Config, DownloadQuirk, FakeGitHub, Pagination};
use relkit_release_upload::Error;

use crate::{
    TOKEN, base_args, exit_code, fake, fake_with, run_args, stable, the_release, upload,
    write_files,
};

/// Run with `--notes-file notes` on a thread, so a read that blocks fails
/// the test instead of hanging it.
fn with_notes(fake: &FakeGitHub, file: &Path, notes: &Path) -> Result<(), Error> {
    let mut args = base_args(fake, "v1.0.0");
    args.extend([
        "--notes-file".to_owned(),
        notes.display().to_string(),
        file.display().to_string(),
    ]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_args(&args));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("--notes-file never blocks")
}

// issue 10.2: --notes-file must be a regular file of at most 1 MiB of UTF-8,
// checked before it is opened (a fifo never blocks) and before any request.
#[test]
fn notes_file_is_a_bounded_regular_file() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let file = write_files(dir.path(), &[("a.bin", b"a")]).remove(0);
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let huge = dir.path().join("huge.md");
    fs_err::write(&huge, vec![b'x'; 1024 * 1024 + 1]).unwrap();
    let latin1 = dir.path().join("latin1.md");
    fs_err::write(&latin1, b"caf\xe9\n").unwrap();
    let cases: [PathBuf; 5] = [
        "/dev/zero".into(),
        fifo,
        dir.path().to_path_buf(),
        huge,
        latin1,
    ];
    for notes in &cases {
        let started = Instant::now();
        let err = with_notes(&fake, &file, notes).unwrap_err();
        let line = stable(&relkit_core::error::one_line(&err), dir.path(), None);
        assert_eq!(exit_code(&err), 1, "{line}");
        assert!(!line.contains('\n'), "{line}");
        let named = stable(&notes.display().to_string(), dir.path(), None);
        assert!(line.contains(&named), "names the file: {line}");
        assert!(started.elapsed() < Duration::from_secs(5), "{line}");
    }
    assert!(fake.request_log().is_empty(), "refused before any request");
}

// issue 10.6: a private repository the token cannot see answers 404: one
// line at once, exit 1, not minutes of retries.
#[test]
fn a_repository_the_token_cannot_see_fails_fast() {
    let fake = fake_with(Config {
        private_repo: true,
        tokens_without_access: vec![TOKEN.into()],
        token: "the-owners-token".into(),
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    let started = Instant::now();
    let err = upload(&fake, "v1.0.0", &[], &paths).unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err}");
    assert!(err.to_string().contains("cannot see `octo/demo`"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.request_log().len(), 1, "{:#?}", fake.request_log());
    assert!(fake.releases().is_empty());
}

// issue 10.5: without `digest`, the check downloads the asset; GitHub's 302
// to its download host is followed without the token.
#[test]
fn downloads_follow_redirects_without_the_token() {
    let fake = fake_with(Config {
        omit_digest: true,
        redirect_downloads: true,
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"aaaa"), ("b.bin", b"")]);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    fake.clear_request_log();
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let log = fake.request_log();
    let cdn: Vec<_> = log.iter().filter(|l| l.path.starts_with("/cdn/")).collect();
    assert!(!cdn.is_empty(), "downloads went to the download host");
    assert!(
        cdn.iter().all(|l| !l.authenticated && l.status == 200),
        "{cdn:#?}"
    );
    assert!(log.iter().all(|l| l.method == "GET"), "a re-run only reads");
    assert!(!the_release(&fake, "v1.0.0").draft);
}

// issue 10.5: a download that answers JSON metadata, or fewer bytes than the
// asset's size, is one clear error, exit 3, with no delete and re-upload.
#[test]
fn downloads_that_are_not_the_file_are_clear_errors() {
    for (quirk, want) in [
        (
            DownloadQuirk::JsonMetadata,
            "`application/json` instead of the file's bytes",
        ),
        (
            DownloadQuirk::ShortBody,
            "the server announced 4 bytes, but the asset is 9 bytes",
        ),
    ] {
        let fake = fake_with(Config {
            omit_digest: true,
            download_quirk: Some(quirk),
            ..Config::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let paths = write_files(dir.path(), &[("a.bin", b"123456789")]);
        let started = Instant::now();
        let err = upload(&fake, "v1.0.0", &[], &paths).unwrap_err();
        assert_eq!(exit_code(&err), 3, "{err}");
        let line = err.to_string();
        assert!(line.starts_with("downloading asset `a.bin`: "), "{line}");
        assert!(line.contains(want), "{quirk:?}: {line}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let log = fake.request_log();
        assert!(!log.iter().any(|l| l.method == "DELETE"), "{log:#?}");
        assert!(the_release(&fake, "v1.0.0").draft, "nothing published");
    }
}

// issue 10.5: two assets of one name in a release fail verification.
#[test]
fn duplicate_asset_names_fail_verification() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    upload(&fake, "v1.0.0", &["--draft"], &paths).unwrap();
    let id = the_release(&fake, "v1.0.0").id;
    fake.seed_asset(id, "a.bin", b"a").unwrap();
    let err = upload(&fake, "v1.0.0", &[], &paths).unwrap_err();
    assert_eq!(exit_code(&err), 3, "{err}");
    assert!(err.to_string().contains("`a.bin` more than once"), "{err}");
    assert!(the_release(&fake, "v1.0.0").draft, "nothing published");
}

// issue 10.9: a server that ignores `page` or `per_page` (and always links a
// next page) cannot make a run loop: listings stop on a page with nothing new.
#[test]
fn pagination_that_ignores_page_terminates() {
    for pagination in [Pagination::IgnorePage, Pagination::IgnorePerPage] {
        let fake = fake_with(Config {
            pagination,
            ..Config::default()
        });
        for i in 0..105 {
            let mut args = base_args(&fake, &format!("v0.0.{i}"));
            args.insert(1, "create-draft".into());
            run_args(&args).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..3).map(|i| format!("f{i}.bin")).collect();
        let files: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), b"x".as_slice()))
            .collect();
        let paths = write_files(dir.path(), &files);
        fake.clear_request_log();
        upload(&fake, "v1.0.0", &[], &paths).unwrap();
        let lists = fake
            .request_log()
            .iter()
            .filter(|l| l.method == "GET" && l.path.contains("page="))
            .count();
        assert!(lists < 20, "{pagination:?}: {lists} listing requests");
        assert!(!the_release(&fake, "v1.0.0").draft);
    }
}

// issue 9.3: the `assets` and `release-url` outputs carry the published
// release's URLs, each answering 200, none a draft's `untagged-…` one.
#[test]
fn outputs_carry_the_published_urls() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(
        &dir.path().join("dist"),
        &[("a.bin", b"a"), ("b.bin", b"bb")],
    );
    let output = dir.path().join("out");
    let out = crate::subprocess::bin()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", "octo/demo")
        .env("GITHUB_REF", "refs/tags/v1.2.3")
        .env("GITHUB_API_URL", fake.api_url())
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs = fs_err::read_to_string(&output).unwrap();
    let value = |key: &str| {
        outputs
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} output in {outputs}"))
            .to_owned()
    };
    let assets: serde_json::Value = serde_json::from_str(&value("assets")).unwrap();
    let mut urls: Vec<String> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["url"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(urls.len(), 2);
    urls.push(value("release-url"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for url in &urls {
        assert!(!url.contains("untagged-"), "{url}");
        if url.contains("/download/") {
            let status = rt.block_on(async { reqwest::get(url).await.unwrap().status() });
            assert_eq!(status, 200, "{url}");
        } else {
            assert!(url.ends_with("/releases/tag/v1.2.3"), "{url}");
        }
    }
}

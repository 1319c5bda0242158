//! The normal flows: happy path, re-runs, changed files, races, leftovers,
//! GHES upload URLs, immutable releases, create-draft and publish modes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use relkit_fake_github::{Config, Fault, FaultRule};

use crate::{
    assert_assets, base_args, exit_code, fake, fake_with, releases_for, run_args, stable,
    the_release, upload, write_files,
};

fn contents(files: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(n, c)| ((*n).to_owned(), c.to_vec()))
        .collect()
}

const FILES: &[(&str, &[u8])] = &[
    (
        "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
        b"linux archive",
    ),
    ("tool-1.0.0-aarch64-apple-darwin.tar.gz", b"mac archive"),
    ("SHA256SUMS", b"sums\n"),
];

#[test]
fn happy_path_publishes_every_asset() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), FILES);
    upload(&fake, "v1.0.0", &["--make-latest", "true"], &paths).unwrap();
    let r = the_release(&fake, "v1.0.0");
    assert!(!r.draft, "published");
    assert!(!r.prerelease);
    assert_eq!(r.make_latest.as_deref(), Some("true"));
    assert_assets(&r, &contents(FILES));
}

#[test]
fn prerelease_follows_the_tag_and_notes_are_used() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.txt", b"a")]);
    let notes = dir.path().join("NOTES.md");
    fs_err::write(&notes, "Hello notes").unwrap();
    upload(
        &fake,
        "v2.0.0-rc.1",
        &["--notes-file", notes.to_str().unwrap()],
        &paths,
    )
    .unwrap();
    let r = the_release(&fake, "v2.0.0-rc.1");
    assert!(r.prerelease);
    assert_eq!(r.body.as_deref(), Some("Hello notes"));
}

#[test]
fn rerun_uploads_nothing() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), FILES);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    fake.clear_request_log();
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let log = fake.request_log();
    let writes: Vec<_> = log
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "a re-run must only read: {writes:?}");
    assert_assets(&the_release(&fake, "v1.0.0"), &contents(FILES));
}

#[test]
fn changed_file_fails_without_replace_and_is_replaced_with_it() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), FILES);
    upload(&fake, "v1.0.0", &["--draft"], &paths).unwrap();
    fs_err::write(&paths[1], b"rebuilt mac archive").unwrap();
    let err = upload(&fake, "v1.0.0", &[], &paths).unwrap_err();
    assert_eq!(exit_code(&err), 1);
    insta::assert_snapshot!("changed_without_replace", err.to_string());
    // Nothing changed remotely, and the draft was not published.
    let r = the_release(&fake, "v1.0.0");
    assert!(r.draft);
    assert_assets(&r, &contents(FILES));

    upload(&fake, "v1.0.0", &["--replace"], &paths).unwrap();
    let r = the_release(&fake, "v1.0.0");
    assert!(!r.draft);
    let mut want = contents(FILES);
    want.insert(FILES[1].0.to_owned(), b"rebuilt mac archive".to_vec());
    assert_assets(&r, &want);
}

#[test]
fn eight_racing_uploaders_end_with_one_release() {
    let fake = Arc::new(fake());
    // Slow listings so that every racer lists before any creates: the
    // worst case, eight drafts for one tag.
    fake.add_fault(
        FaultRule::new(Fault::Delay(Duration::from_millis(30)))
            .method(http::Method::GET)
            .path("/releases?")
            .times(8),
    );
    let pool: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            (
                format!("asset-{i:02}.bin"),
                format!("content {i}").into_bytes(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..8)
        .map(|racer| {
            let fake = Arc::clone(&fake);
            let mine: Vec<(String, Vec<u8>)> = (0..5)
                .map(|k| pool[(racer + k) % pool.len()].clone())
                .collect();
            let root = dir.path().join(format!("racer{racer}"));
            std::thread::spawn(move || {
                let files: Vec<(&str, &[u8])> = mine
                    .iter()
                    .map(|(n, c)| (n.as_str(), c.as_slice()))
                    .collect();
                let paths = write_files(&root, &files);
                upload(&fake, "v3.0.0", &["--concurrency", "3"], &paths)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let r = the_release(&fake, "v3.0.0");
    assert!(!r.draft);
    // Racers 0..8 with 5 consecutive files each cover assets 0..=11.
    let expected: BTreeMap<String, Vec<u8>> = pool.into_iter().collect();
    assert_assets(&r, &expected);
}

/// Immutable releases: racers that all carry the full set succeed even when
/// one publishes (and locks) the release while others are still uploading.
#[test]
fn racing_uploaders_of_the_full_set_into_an_immutable_release() {
    let fake = Arc::new(fake_with(Config {
        immutable_releases: true,
        ..Config::default()
    }));
    let pool: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("full-{i}.bin"), vec![b'a' + i; 1000]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..8)
        .map(|racer| {
            let fake = Arc::clone(&fake);
            let pool = pool.clone();
            let root = dir.path().join(format!("racer{racer}"));
            std::thread::spawn(move || {
                let files: Vec<(&str, &[u8])> = pool
                    .iter()
                    .map(|(n, c)| (n.as_str(), c.as_slice()))
                    .collect();
                let paths = write_files(&root, &files);
                upload(&fake, "v6.0.0", &["--concurrency", "2"], &paths)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let r = the_release(&fake, "v6.0.0");
    assert!(r.immutable && !r.draft);
    assert_assets(&r, &pool.into_iter().collect());
}

#[test]
fn duplicate_drafts_converge_on_the_lowest_and_empty_ones_are_deleted() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    // Two create-draft runs whose listings both miss the other: the fake
    // answers the first listing of each with an empty page by delaying,
    // so instead create the duplicates directly with create-draft and a
    // dropped answer (the client retries and makes a second draft).
    fake.add_fault(
        FaultRule::new(Fault::DropAfterHandling)
            .method(http::Method::POST)
            .path("/releases"),
    );
    let mut args = base_args(&fake, "v4.0.0");
    args.insert(1, "create-draft".into());
    run_args(&args).unwrap();
    let rs = releases_for(&fake, "v4.0.0");
    assert_eq!(rs.len(), 1, "the empty duplicate draft is deleted: {rs:#?}");
    let kept = &rs[0];
    let log = fake.request_log();
    let creates = log
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/releases"))
        .count();
    assert_eq!(creates, 2, "the dropped create was retried");
    assert!(kept.draft);
    let paths = write_files(dir.path(), &[("x.bin", b"x")]);
    upload(&fake, "v4.0.0", &[], &paths).unwrap();
    let r = the_release(&fake, "v4.0.0");
    assert_eq!(r.id, kept.id, "the lowest draft is the one used");
}

#[test]
fn leftover_starter_asset_is_cleaned() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let mut args = base_args(&fake, "v1.0.0");
    args.insert(1, "create-draft".into());
    run_args(&args).unwrap();
    let id = the_release(&fake, "v1.0.0").id;
    let starter = fake.seed_starter_asset(id, FILES[0].0).unwrap();
    let paths = write_files(dir.path(), FILES);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let r = the_release(&fake, "v1.0.0");
    assert!(!r.draft);
    assert_assets(&r, &contents(FILES));
    assert!(r.assets.iter().all(|a| a.id != starter));
    assert!(
        fake.request_log()
            .iter()
            .any(|l| l.method == "DELETE" && l.path.ends_with(&format!("/assets/{starter}")))
    );
}

#[test]
fn ghes_style_upload_url_is_followed() {
    let fake = fake_with(Config {
        upload_prefix: "/api/uploads".into(),
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), FILES);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    assert_assets(&the_release(&fake, "v1.0.0"), &contents(FILES));
    let uploads: Vec<_> = fake
        .request_log()
        .into_iter()
        .filter(|l| l.method == "POST" && l.path.contains("/assets"))
        .collect();
    assert_eq!(uploads.len(), FILES.len());
    assert!(
        uploads.iter().all(|l| l.path.starts_with("/api/uploads/")),
        "{uploads:#?}"
    );
}

#[test]
fn immutable_release_with_identical_assets_is_success_and_missing_one_is_an_error() {
    let fake = fake_with(Config {
        immutable_releases: true,
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), FILES);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let r = the_release(&fake, "v1.0.0");
    assert!(r.immutable && !r.draft);
    upload(&fake, "v1.0.0", &[], &paths).unwrap();
    let mut more = paths.clone();
    more.extend(write_files(dir.path(), &[("late.txt", b"late")]));
    let err = upload(&fake, "v1.0.0", &[], &more).unwrap_err();
    assert_eq!(exit_code(&err), 1);
    insta::assert_snapshot!(
        "immutable_missing",
        err.to_string().replace(&r.id.to_string(), "[ID]")
    );
    assert_assets(&the_release(&fake, "v1.0.0"), &contents(FILES));
}

#[test]
fn create_draft_then_upload_by_id_then_publish() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), FILES);
    let mut args = base_args(&fake, "v5.0.0");
    args.insert(1, "create-draft".into());
    args.extend(["--prerelease".to_owned(), "true".to_owned()]);
    run_args(&args).unwrap();
    let id = the_release(&fake, "v5.0.0").id.to_string();
    // Each matrix job uploads its part into the draft by id.
    upload(
        &fake,
        "v5.0.0",
        &["--release-id", &id, "--draft"],
        &paths[..1],
    )
    .unwrap();
    upload(
        &fake,
        "v5.0.0",
        &["--release-id", &id, "--draft"],
        &paths[1..],
    )
    .unwrap();
    assert!(the_release(&fake, "v5.0.0").draft);

    // Publishing with a file the release lacks is refused, nothing published.
    let mut publish = base_args(&fake, "v5.0.0");
    publish.insert(1, "publish".into());
    let mut with_extra = publish.clone();
    let extra = write_files(&dir.path().join("extra"), &[("missing.txt", b"m")]);
    with_extra.extend(paths.iter().chain(&extra).map(|p| p.display().to_string()));
    let err = run_args(&with_extra).unwrap_err();
    assert_eq!(exit_code(&err), 1);
    insta::assert_snapshot!(
        "publish_missing",
        stable(&err.to_string(), dir.path(), Some(&fake)).replace(&id, "[ID]")
    );
    assert!(the_release(&fake, "v5.0.0").draft);

    publish.extend(paths.iter().map(|p| p.display().to_string()));
    let notes = dir.path().join("notes.md");
    fs_err::write(&notes, "Final notes").unwrap();
    publish.extend(["--notes-file".to_owned(), notes.display().to_string()]);
    fake.clear_request_log();
    run_args(&publish).unwrap();
    let r = the_release(&fake, "v5.0.0");
    assert!(!r.draft);
    assert!(
        r.prerelease,
        "the draft's explicit pre-release flag is kept"
    );
    assert_eq!(r.body.as_deref(), Some("Final notes"));
    assert_assets(&r, &contents(FILES));
    assert!(
        !fake.request_log().iter().any(|l| l.method == "POST"),
        "publish uploads nothing"
    );
}

#[test]
fn manifest_lists_the_assets() {
    use relkit_core::manifest::{Artifact, ArtifactKind, Manifest};
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(&dir.path().join("dist"), FILES);
    let mut m = Manifest::new("tool", "1.0.0", "2026-01-01T00:00:00Z".into());
    m.tag = Some("v1.0.0".into());
    for (p, (name, content)) in paths.iter().zip(FILES) {
        let _ = p;
        m.artifacts.push(Artifact {
            name: (*name).to_owned(),
            kind: ArtifactKind::Other,
            file: (*name).to_owned(),
            target: None,
            size: content.len() as u64,
            sha256: crate::sha256(content),
            contents: vec![],
            signatures: vec![],
        });
    }
    m.normalize();
    let mpath = dir.path().join("dist/manifest.json");
    fs_err::write(&mpath, m.to_json()).unwrap();
    // No --tag: it comes from the manifest.
    let mut args = base_args(&fake, "unused");
    let i = args.iter().position(|a| a == "--tag").unwrap();
    args.drain(i..i + 2);
    args.extend(["--manifest".to_owned(), mpath.display().to_string()]);
    run_args(&args).unwrap();
    // The manifest itself is published too, so a downloader can verify.
    let mut want = contents(FILES);
    want.insert("manifest.json".to_owned(), fs_err::read(&mpath).unwrap());
    assert_assets(&the_release(&fake, "v1.0.0"), &want);

    // A manifest whose sha256 does not match the file: the upload is
    // refused after the bytes are hashed, and nothing is published.
    m.artifacts[0].sha256 = "0".repeat(64);
    m.tag = Some("v1.0.1".into());
    fs_err::write(&mpath, m.to_json()).unwrap();
    let err = run_args(&args).unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err}");
    assert!(err.to_string().contains("the manifest says"), "{err}");
    assert!(releases_for(&fake, "v1.0.1").iter().all(|r| r.draft));
}

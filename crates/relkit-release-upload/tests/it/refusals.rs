//! Refusals: each is one clear line, exit 1, and no request at all.

use std::path::PathBuf;

use crate::{exit_code, fake, stable, upload, write_files};

/// Run with `files`, expect a refusal, check no request reached the fake,
/// and return the stable message.
fn refused(files: &[PathBuf], dir: &std::path::Path) -> String {
    let fake = fake();
    let err = upload(&fake, "v1.0.0", &[], files).unwrap_err();
    assert_eq!(exit_code(&err), 1, "{err}");
    assert!(
        fake.request_log().is_empty(),
        "refused before any request: {:#?}",
        fake.request_log()
    );
    assert!(fake.releases().is_empty());
    stable(&err.to_string(), dir, None)
}

#[test]
fn refuses_a_file_over_2_gib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.bin");
    // Sparse: no disk is used.
    fs_err::File::create(&path)
        .unwrap()
        .set_len(2 * 1024 * 1024 * 1024)
        .unwrap();
    insta::assert_snapshot!("refuse_too_large", refused(&[path], dir.path()));
}

#[test]
fn refuses_more_than_1000_assets() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..1001).map(|i| format!("f{i:04}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), b"x".as_slice()))
        .collect();
    let paths = write_files(dir.path(), &files);
    insta::assert_snapshot!("refuse_too_many", refused(&paths, dir.path()));
}

#[test]
fn refuses_a_name_github_would_rename() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("ok.txt", b"x"), ("My App (x64).msi", b"y")]);
    insta::assert_snapshot!("refuse_rename", refused(&paths, dir.path()));
}

#[test]
fn refuses_two_files_with_one_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = write_files(&dir.path().join("linux"), &[("tool.tar.gz", b"x")]);
    paths.extend(write_files(
        &dir.path().join("mac"),
        &[("tool.tar.gz", b"y")],
    ));
    insta::assert_snapshot!("refuse_duplicate", refused(&paths, dir.path()));
}

#[test]
fn refuses_missing_files_and_missing_inputs() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(
        "refuse_missing_file",
        refused(&[dir.path().join("nope.tar.gz")], dir.path())
    );
    insta::assert_snapshot!("refuse_nothing", refused(&[], dir.path()));
}

/// Inputs from the environment: no token, a branch ref, a bad repo.
#[test]
fn refuses_bad_environment() {
    use clap::Parser;
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut argv = vec![
            "relkit-release-upload".to_owned(),
            "--api-url".to_owned(),
            fake.api_url(),
        ];
        argv.extend(args.iter().map(|s| (*s).to_owned()));
        argv.extend(paths.iter().map(|p| p.display().to_string()));
        let cli = relkit_release_upload::Cli::try_parse_from(argv).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let err = relkit_release_upload::run_with_env(cli, &|k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .unwrap_err();
        assert_eq!(exit_code(&err), 1, "{err}");
        err.to_string()
    };
    let repo = [("GITHUB_REPOSITORY", "octo/demo")];
    let lines = [
        run(&["--tag", "v1"], &repo),
        run(&["--tag", "v1", "--token-env", "MY_TOKEN"], &repo),
        run(
            &[],
            &[
                ("GITHUB_REPOSITORY", "octo/demo"),
                ("GITHUB_REF", "refs/heads/main"),
                ("GITHUB_TOKEN", "t"),
            ],
        ),
        run(
            &["--tag", "v1"],
            &[("GITHUB_REPOSITORY", "octo"), ("GITHUB_TOKEN", "t")],
        ),
        run(
            &["--tag", "v1", "--repo", "octo/demo", "--api-url", "ftp://x"],
            &[("GITHUB_TOKEN", "t")],
        ),
    ];
    let lines: Vec<String> = lines
        .iter()
        .map(|l| stable(l, dir.path(), Some(&fake)))
        .collect();
    insta::assert_snapshot!("refuse_environment", lines.join("\n"));
    assert!(fake.request_log().is_empty());
}

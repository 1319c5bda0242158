//! Integration tests of relkit-release-upload against relkit-fake-github.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod faults;
mod flows;
mod hostile;
mod library;
mod refusals;
mod subprocess;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use relkit_core::HasFailure;
use relkit_fake_github::{Config, FakeGitHub, ReleaseState};
use relkit_release_upload::{Cli, Error, run_with_env};

pub(crate) const TOKEN: &str = "test-token";

pub(crate) fn fake() -> FakeGitHub {
    fake_with(Config::default())
}

pub(crate) fn fake_with(config: Config) -> FakeGitHub {
    FakeGitHub::start_blocking(config).expect("fake GitHub starts")
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    relkit_core::hash::hash_reader(bytes, relkit_core::hash::Algo::Sha256, |_| {})
        .unwrap()
        .hex
}

/// Write `files` (name, content) into `dir`; return their paths.
pub(crate) fn write_files(dir: &Path, files: &[(&str, &[u8])]) -> Vec<PathBuf> {
    fs_err::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(name, content)| {
            let p = dir.join(name);
            fs_err::write(&p, content).unwrap();
            p
        })
        .collect()
}

/// Arguments every run against the fake needs: repo, API URL, fast retries.
pub(crate) fn base_args(fake: &FakeGitHub, tag: &str) -> Vec<String> {
    [
        "relkit-release-upload",
        "--repo",
        "octo/demo",
        "--api-url",
        &fake.api_url(),
        "--tag",
        tag,
        "--retry-base-ms",
        "1",
        "--give-up-secs",
        "30",
        "--timeout-secs",
        "10",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Run the library's whole path (parse, resolve, upload) with a token.
pub(crate) fn upload(
    fake: &FakeGitHub,
    tag: &str,
    extra: &[&str],
    files: &[PathBuf],
) -> Result<(), Error> {
    let mut args = base_args(fake, tag);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.extend(files.iter().map(|p| p.display().to_string()));
    run_args(&args)
}

pub(crate) fn run_args(args: &[String]) -> Result<(), Error> {
    let cli = Cli::try_parse_from(args).expect("arguments parse");
    run_with_env(cli, &|k| (k == "GITHUB_TOKEN").then(|| TOKEN.to_owned()))
}

pub(crate) fn releases_for(fake: &FakeGitHub, tag: &str) -> Vec<ReleaseState> {
    fake.releases()
        .into_iter()
        .filter(|r| r.tag_name == tag)
        .collect()
}

/// The one release of `tag`, asserting there is exactly one.
pub(crate) fn the_release(fake: &FakeGitHub, tag: &str) -> ReleaseState {
    let mut rs = releases_for(fake, tag);
    assert_eq!(rs.len(), 1, "expected one release for {tag}: {rs:#?}");
    rs.remove(0)
}

/// Assert the release holds exactly `expected` (name → content), each once,
/// uploaded, with the right digest and bytes.
pub(crate) fn assert_assets(release: &ReleaseState, expected: &BTreeMap<String, Vec<u8>>) {
    let names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        names.len(),
        "duplicate asset names: {names:?}"
    );
    assert_eq!(
        sorted,
        expected.keys().map(String::as_str).collect::<Vec<_>>(),
        "asset names"
    );
    for a in &release.assets {
        let want = &expected[&a.name];
        assert_eq!(a.state, "uploaded", "{}", a.name);
        assert_eq!(a.digest, format!("sha256:{}", sha256(want)), "{}", a.name);
        assert_eq!(&a.content().unwrap(), want, "{}", a.name);
    }
}

pub(crate) fn exit_code(e: &Error) -> u8 {
    e.failure().code()
}

/// A one-line error with the temp dir and the fake's URL made stable.
pub(crate) fn stable(msg: &str, dir: &Path, fake: Option<&FakeGitHub>) -> String {
    let mut s = msg.replace(&dir.display().to_string(), "[TMP]");
    if let Some(f) = fake {
        s = s.replace(&f.api_url(), "[API]");
    }
    s
}

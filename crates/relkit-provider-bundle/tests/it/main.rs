//! Integration tests of relkit-provider-bundle: the command line, the files
//! it writes checked by real tools (unzip, python zipfile, sha256sum, gpg),
//! and real Terraform installing what it wrote.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod cli;
mod library;
mod signing;
mod terraform;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_relkit-provider-bundle");

/// The bundle command with a clean environment and a fixed build time.
pub(crate) fn cmd() -> Command {
    let mut c = relkit_testkit::command(BIN);
    for var in [
        "GITHUB_REPOSITORY_OWNER",
        "RELKIT_PROVIDER_NAME",
        "RELKIT_VERSION",
        "RELKIT_PROVIDER_NAMESPACE",
        "RELKIT_PROVIDER_HOSTNAME",
        "RELKIT_PROVIDER_PROTOCOL",
        "RELKIT_OUTPUT_DIR",
        "RELKIT_GPG_KEY_ID",
        "RELKIT_GPG_PASSPHRASE_ENV",
        "RELKIT_GPG_IMPORT_KEY_ENV",
    ] {
        c.env_remove(var);
    }
    c
}

/// Three platforms of a provider `demo`: fake binaries of fixed content.
pub(crate) fn fake_binaries(dir: &Path) -> Vec<(String, PathBuf)> {
    [
        ("x86_64-unknown-linux-gnu", "linux", 1),
        ("aarch64-apple-darwin", "darwin", 2),
        ("windows/amd64", "windows.exe", 3),
    ]
    .into_iter()
    .map(|(target, file, seed)| {
        let path = dir.join("bin").join(file);
        let mut content = format!("#!/bin/sh\n# fake provider {target}\n").into_bytes();
        content.extend(relkit_testkit::bytes(50_000, seed));
        relkit_testkit::write(&path, &content, 0o644);
        (target.to_owned(), path)
    })
    .collect()
}

/// `--binary` arguments for `bins`.
pub(crate) fn binary_args(bins: &[(String, PathBuf)]) -> Vec<String> {
    bins.iter()
        .flat_map(|(t, p)| ["--binary".to_owned(), format!("{t}={}", p.display())])
        .collect()
}

/// Run `cmd`, render its output for a snapshot with `dir` filtered out.
pub(crate) fn render(cmd: &mut Command, dir: &Path) -> (Output, String) {
    let out = relkit_testkit::run(cmd);
    let text = relkit_testkit::render(&out, dir);
    (out, text)
}

/// Lower-case hex sha256 of a file.
pub(crate) fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(fs_err::read(path).unwrap()))
}

//! `relkit publish-repos`: release.yml's Pages option. The release's APT
//! and DNF repository archives become `PATH/apt` and `PATH/dnf` of a
//! checkout, committed once and pushed; the next release, built with that
//! folder as `--previous-repo`, replaces them with trees listing both
//! versions; a re-run commits nothing; bad input fails in one line and
//! leaves the checkout as it was.

use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;
use serde_json::Value;

use super::recipes::{git, remote_and_clone};
use super::repos::PACKAGE;
use super::rpm_pkg::gpg_key;
use super::{project, relkit};

const TOKEN: &str = "s3cret-pages-token";

/// `site/top` (a folder of the pages checkout) holds exactly what `top/`
/// of `archive` does.
fn assert_same_tree(archive: &Path, top: &str, site: &Path, scratch: &Path) {
    let _ = fs_err::remove_dir_all(scratch);
    fs_err::create_dir_all(scratch).unwrap();
    kit::run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(scratch),
    );
    kit::run_ok(
        Command::new("diff")
            .arg("-r")
            .arg(scratch.join(top))
            .arg(site.join(top)),
    );
}

/// The bare remote's `main` cloned afresh (what Pages would serve).
fn served(d: &Path, bare: &Path, name: &str) -> std::path::PathBuf {
    let to = d.join(name);
    let _ = fs_err::remove_dir_all(&to);
    git(
        d,
        &[
            "clone",
            "--quiet",
            bare.to_str().unwrap(),
            to.to_str().unwrap(),
        ],
    );
    to
}

#[test]
fn publish_repos_commits_the_trees_and_the_next_release_keeps_both_versions() {
    kit::require("git");
    kit::require("diff");
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, _) = gpg_key(&d.join("keys"));
    let key = [("RELKIT_TEST_GPG_KEY", secret.as_str())];
    // Regression: release.yml sets RELKIT_PREVIOUS_REPO empty when its
    // Pages option is off, which clap's PathBuf parser refused ("a value
    // is required for '--previous-repo <DIR>'").
    let out = relkit(d, &["dist"], &[key[0], ("RELKIT_PREVIOUS_REPO", "")]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let (pages_git, pages) = remote_and_clone(d, "pages");
    let args = [
        "publish-repos",
        "--dist",
        "dist",
        "--checkout",
        "pages",
        "--path",
        "site",
        "--push",
    ];
    let env = [("RELKIT_REPOS_TOKEN", TOKEN)];
    let out = relkit(d, &args, &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert!(
        !kit::render(&out, d).contains(TOKEN),
        "the token was printed"
    );
    assert_eq!(git(&pages_git, &["rev-list", "--count", "main"]), "2\n");
    assert_eq!(
        git(&pages_git, &["log", "-1", "--format=%s", "main"]),
        "tool 1.4.0: package repositories\n"
    );
    let site = served(d, &pages_git, "served").join("site");
    for repo in ["apt", "dnf"] {
        assert_same_tree(
            &d.join(format!("dist/tool-1.4.0-{repo}-repo.tar.gz")),
            repo,
            &site,
            &d.join("unpacked"),
        );
    }
    // No scratch folder left in the checkout.
    assert_eq!(git(&pages, &["status", "--porcelain", "--ignored"]), "");
    // Again: nothing to commit.
    let out = relkit(d, &args, &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert_eq!(git(&pages_git, &["rev-list", "--count", "main"]), "2\n");

    // The next release starts from the published trees and keeps 1.4.0.
    let out = relkit(
        d,
        &[
            "dist",
            "--version",
            "1.5.0",
            "--previous-repo",
            "pages/site",
        ],
        &key,
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let out = relkit(d, &args, &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert_eq!(git(&pages_git, &["rev-list", "--count", "main"]), "3\n");
    let site = served(d, &pages_git, "served").join("site");
    for repo in ["apt", "dnf"] {
        assert_same_tree(
            &d.join(format!("dist/tool-1.5.0-{repo}-repo.tar.gz")),
            repo,
            &site,
            &d.join("unpacked"),
        );
    }
    let packages =
        fs_err::read_to_string(site.join("apt/dists/stable/main/binary-amd64/Packages")).unwrap();
    for v in ["1.4.0", "1.5.0"] {
        assert!(packages.contains(&format!("Version: {v}")), "{packages}");
    }
}

/// Each bad input: one line naming what is wrong, exit 1, the checkout
/// (and its remote) exactly as before.
#[test]
fn bad_input_fails_in_one_line_and_leaves_the_checkout_alone() {
    kit::require("git");
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, _) = gpg_key(&d.join("keys"));
    let out = relkit(d, &["dist"], &[("RELKIT_TEST_GPG_KEY", secret.as_str())]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let (pages_git, pages) = remote_and_clone(d, "pages");
    let manifest: Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    let is_repo = |a: &Value| {
        a["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("-repository"))
    };
    // A release without repository archives.
    let mut bare = manifest.clone();
    bare["artifacts"]
        .as_array_mut()
        .unwrap()
        .retain(|a| !is_repo(a));
    kit::write(
        &d.join("norepos/manifest.json"),
        serde_json::to_string(&bare).unwrap().as_bytes(),
        0o644,
    );
    // A release whose apt archive holds a link pointing out of the tree,
    // listed with its true sha256.
    let evil = d.join("evil");
    fs_err::create_dir_all(evil.join("apt")).unwrap();
    std::os::unix::fs::symlink("/etc", evil.join("apt/pool")).unwrap();
    kit::run_ok(Command::new("tar").current_dir(&evil).args([
        "-czf",
        "tool-1.4.0-apt-repo.tar.gz",
        "apt",
    ]));
    let archive = evil.join("tool-1.4.0-apt-repo.tar.gz");
    let sha = relkit_core::hash::hash_file(&archive, relkit_core::hash::Algo::Sha256, |_| {})
        .unwrap()
        .hex;
    let mut linked = manifest.clone();
    linked["artifacts"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["kind"] == "apt-repository");
    linked["artifacts"][0]["sha256"] = Value::from(sha);
    kit::write(
        &evil.join("manifest.json"),
        serde_json::to_string(&linked).unwrap().as_bytes(),
        0o644,
    );
    // A release whose dnf archive changed after the manifest was written.
    let changed = d.join("changed");
    kit::run_ok(
        Command::new("cp")
            .arg("-r")
            .arg(d.join("dist"))
            .arg(&changed),
    );
    let dnf = changed.join("tool-1.4.0-dnf-repo.tar.gz");
    let mut bytes = fs_err::read(&dnf).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs_err::write(&dnf, bytes).unwrap();
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "norepos",
            "pages",
            ".",
            "lists no apt-repository or dnf-repository file",
        ),
        (
            "changed",
            "pages",
            ".",
            "does not match the sha256 manifest.json records",
        ),
        (
            "dist",
            "norepos",
            ".",
            "--checkout: `norepos` is not a git checkout",
        ),
        (
            "evil",
            "pages",
            ".",
            "`apt/pool` is a link or special file, not a regular file",
        ),
        (
            "dist",
            "pages",
            "../out",
            "--path: `../out` must be a relative folder inside the checkout",
        ),
    ];
    for (dist, checkout, path, want) in cases {
        let out = relkit(
            d,
            &[
                "publish-repos",
                "--dist",
                dist,
                "--checkout",
                checkout,
                "--path",
                path,
                "--push",
            ],
            &[("RELKIT_REPOS_TOKEN", TOKEN)],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{dist}: {}",
            kit::render(&out, d)
        );
        assert!(stderr.contains(want), "{dist}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{dist}: {stderr}");
        assert!(!stderr.contains(TOKEN));
        assert_eq!(
            git(&pages, &["status", "--porcelain", "--ignored"]),
            "",
            "{dist}"
        );
        assert_eq!(git(&pages_git, &["rev-list", "--count", "main"]), "1\n");
    }
}

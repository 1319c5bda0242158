//! issue 12: release.yml's `package-repositories-branch` /
//! `package-repositories-path` inputs, end to end. The calling repository
//! (served by `git http-backend` on loopback, which answers 401 without the
//! workflow's token) has a `gh-pages` branch already holding an APT tree of
//! an earlier release (0.0.9, made by `relkit dist`); the release of 0.1.0
//! through release.yml builds on it and `relkit publish-repos` commits the
//! new tree there, once.

use std::process::Command;

use super::{Caller, TOKEN, act, git, gpg_key, setup_caller, the_release};
use crate::git_http::{GitHttp, basic, rev_parse};
use crate::{bin_dir, text};

const RELKIT_TOML: &[u8] = b"name = \"sample\"\nbinaries = [\"sample\"]\n\n[package]\nformats = [\"deb\"]\nrepositories = [\"apt\"]\nmaintainer = \"Jane Doe <jane@example.org>\"\ndescription = \"A sample CLI\"\nlicense = \"MIT\"\n\n[sign]\ngpg-import-key-env = \"RELKIT_GPG_PRIVATE_KEY\"\n";

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_release_commits_its_apt_tree_to_the_pages_branch_once() {
    relkit_testkit::require("tar");
    relkit_testkit::require("diff");
    let mut e = setup_caller(
        "sample",
        "sample",
        &Caller {
            with: "      package-repositories-branch: gh-pages\n      package-repositories-path: site\n",
            defaults: true,
            ..Caller::default()
        },
    );
    let sample = e.dir.join("sample");
    relkit_testkit::write(&sample.join("relkit.toml"), RELKIT_TOML, 0o644);
    git(&sample, &["add", "relkit.toml"]);
    git(&sample, &["commit", "-q", "-m", "package repositories"]);
    e.gpg = Some(gpg_key(&e.dir));
    let armored = e.gpg.as_ref().expect("key").0.clone();

    // The earlier release's tree, as the maintainer would have published it.
    let earlier = e.dir.join("earlier");
    ok(Command::new("cp").arg("-R").arg(&sample).arg(&earlier));
    ok(Command::new(bin_dir().join("relkit"))
        .current_dir(&earlier)
        .env("RELKIT_GPG_PRIVATE_KEY", &armored)
        .env_remove("CARGO_TARGET_DIR")
        .args(["dist", "--version", "0.0.9"]));
    let server = GitHttp::start(&e.dir.join("git"), TOKEN);
    let bare = server.create_repo("acme/sample");
    let seed = e.dir.join("git/acme/sample.seed");
    git(&seed, &["switch", "-q", "--orphan", "gh-pages"]);
    fs_err::create_dir_all(seed.join("site")).expect("mkdir");
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(earlier.join("dist/sample-0.0.9-apt-repo.tar.gz"))
        .arg("-C")
        .arg(seed.join("site")));
    git(&seed, &["add", "site"]);
    git(&seed, &["commit", "-q", "-m", "sample 0.0.9"]);
    git(
        &seed,
        &["push", "-q", bare.to_str().expect("utf-8"), "gh-pages"],
    );
    e.vars
        .push(("RELKIT_E2E_GIT_URL".to_owned(), server.url.clone()));

    let out = act(&e);
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let log = text(&out);

    // The published apt-repo archive, fetched as a user would.
    the_release(&e.fake);
    let published = e.fake.api("/repos/acme/sample/releases/tags/v0.1.0");
    let a = published["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["name"] == "sample-0.1.0-apt-repo.tar.gz")
        .unwrap_or_else(|| panic!("apt-repo archive not published: {published:#}"));
    let archive = e.dir.join("apt-repo.tar.gz");
    ok(Command::new("curl")
        .args(["-sSfL", "-o"])
        .arg(&archive)
        .arg(a["browser_download_url"].as_str().expect("url")));
    let unpacked = e.dir.join("unpacked");
    fs_err::create_dir_all(&unpacked).expect("mkdir");
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked));

    // The pages branch, cloned from the outside: one commit on top of the
    // earlier one, its site/apt exactly the published tree, both versions.
    let clone = e.dir.join("pages");
    ok(Command::new("git")
        .args(["clone", "-q", "-b", "gh-pages"])
        .arg(&bare)
        .arg(&clone));
    let subjects = ok(Command::new("git")
        .current_dir(&clone)
        .args(["log", "--format=%s"]));
    assert_eq!(
        subjects,
        "sample 0.1.0: package repositories\nsample 0.0.9\n"
    );
    ok(Command::new("diff")
        .arg("-r")
        .arg(unpacked.join("apt"))
        .arg(clone.join("site/apt")));
    let packages =
        fs_err::read_to_string(clone.join("site/apt/dists/stable/main/binary-amd64/Packages"))
            .expect("Packages");
    for v in ["0.0.9", "0.1.0"] {
        assert!(packages.contains(&format!("Version: {v}")), "{packages}");
    }
    // Every request to the git server carried the token; it never reached
    // the log, neither as is nor as the basic-auth header.
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.authorized && r.status == 200),
        "{requests:#?}"
    );
    for secret in [TOKEN.to_owned(), basic(TOKEN)] {
        assert!(!log.contains(&secret), "the token reached the act log");
    }

    // A re-run of the same release commits nothing.
    let before = rev_parse(&bare, "gh-pages");
    let out = act(&e);
    assert!(
        out.status.success(),
        "second act run failed:\n{}",
        text(&out)
    );
    let log2 = text(&out);
    assert_eq!(rev_parse(&bare, "gh-pages"), before, "the re-run committed");
    assert!(
        log2.contains("site/apt already hold this release's repositories"),
        "{log2}"
    );
    for secret in [TOKEN.to_owned(), basic(TOKEN)] {
        assert!(!log2.contains(&secret), "the token reached the act log");
    }
}

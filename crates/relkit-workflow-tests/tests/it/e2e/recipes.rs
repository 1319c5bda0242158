//! issue 12: release.yml's `homebrew-tap` / `scoop-bucket` inputs and its
//! `recipes-token` secret, end to end. A Go project with `[homebrew]` and
//! `[scoop]` (a macOS and a Windows build, which Go cross-compiles here) is
//! released; the finalize job then checks out a tap and a bucket served by
//! `git http-backend` on loopback (which answers 401 without the token) and
//! `relkit publish-recipes` commits the formula and the manifest there.

use std::path::Path;
use std::process::Command;

use super::{Caller, act, git, setup_caller, the_release};
use crate::git_http::{GitHttp, basic, rev_parse};
use crate::{sha256, text};

const RECIPES_TOKEN: &str = "e2e-recipes-token-3b9d0c";

/// A fresh clone of a bare repository, and the subjects of its commits.
fn clone(bare: &Path, dest: &Path) -> Vec<String> {
    let out = Command::new("git")
        .arg("clone")
        .arg("-q")
        .arg(bare)
        .arg(dest)
        .output()
        .expect("git clone");
    assert!(out.status.success(), "{}", text(&out));
    let log = Command::new("git")
        .current_dir(dest)
        .args(["log", "--format=%s"])
        .output()
        .expect("git log");
    String::from_utf8_lossy(&log.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Pushes (receive-pack POSTs) the server answered for `repo`.
fn pushes(server: &GitHttp, repo: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target == format!("/{repo}.git/git-receive-pack"))
        .count()
}

#[test]
fn recipes_are_committed_to_the_tap_and_bucket_with_the_token_once() {
    relkit_testkit::require("go");
    let mut e = setup_caller(
        "gosample",
        "gosample",
        &Caller {
            with: "      build-tool: go\n      targets: darwin/arm64 windows/amd64\n      include: README.md\n      homebrew-tap: acme/homebrew-tap\n      scoop-bucket: acme/scoop-bucket\n",
            secrets: "      recipes-token: ${{ secrets.RECIPES_TOKEN }}\n",
            ..Caller::default()
        },
    );
    let sample = e.dir.join("sample");
    relkit_testkit::write(
        &sample.join("relkit.toml"),
        b"name = \"gosample\"\nbinaries = [\"gosample\"]\n\n[homebrew]\ndescription = \"A sample Go CLI\"\nlicense = \"MIT\"\n\n[scoop]\ndescription = \"A sample Go CLI\"\nlicense = \"MIT\"\n",
        0o644,
    );
    git(&sample, &["add", "relkit.toml"]);
    git(&sample, &["commit", "-q", "-m", "recipes"]);
    let server = GitHttp::start(&e.dir.join("git"), RECIPES_TOKEN);
    let tap = server.create_repo("acme/homebrew-tap");
    let bucket = server.create_repo("acme/scoop-bucket");
    e.vars
        .push(("RELKIT_E2E_GIT_URL".to_owned(), server.url.clone()));
    e.secrets
        .push(("RECIPES_TOKEN".to_owned(), RECIPES_TOKEN.to_owned()));

    let out = act(&e);
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let log = text(&out);

    // The release publishes both recipes; fetch them (and SHA256SUMS) from
    // the fake's browser_download_url, as a user would.
    the_release(&e.fake);
    let published = e.fake.api("/repos/acme/sample/releases/tags/v0.1.0");
    let fetched = e.dir.join("fetched");
    fs_err::create_dir_all(&fetched).expect("mkdir");
    for name in ["gosample.rb", "gosample.json", "SHA256SUMS"] {
        let a = published["assets"]
            .as_array()
            .expect("assets")
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} not published: {published:#}"));
        let url = a["browser_download_url"].as_str().expect("url");
        let got = Command::new("curl")
            .args(["-sSfL", "-o"])
            .arg(fetched.join(name))
            .arg(url)
            .output()
            .expect("curl");
        assert!(got.status.success(), "GET {url}: {}", text(&got));
    }
    let sums = fs_err::read_to_string(fetched.join("SHA256SUMS")).expect("SHA256SUMS");

    // The tap and the bucket, cloned from the outside: one commit each on
    // top of theirs, holding exactly the published files.
    for (bare, rel, asset) in [
        (&tap, "Formula/gosample.rb", "gosample.rb"),
        (&bucket, "bucket/gosample.json", "gosample.json"),
    ] {
        let dest = e.dir.join(format!("clone-{asset}"));
        let subjects = clone(bare, &dest);
        assert_eq!(subjects, ["gosample 0.1.0", "start"], "{}", bare.display());
        assert!(
            fs_err::read(dest.join(rel)).expect("committed file")
                == fs_err::read(fetched.join(asset)).expect("published file"),
            "{rel} differs from the published {asset}"
        );
        let line = format!("{}  {asset}\n", sha256(&dest.join(rel)));
        assert!(sums.contains(&line), "{asset}: no `{line}` in SHA256SUMS");
    }
    // Both checkouts and both pushes carried the recipes token (the server
    // refuses anything else: no request went without it), and it never
    // reached the log, neither as is nor as the basic-auth header.
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.authorized && r.status == 200),
        "{requests:#?}"
    );
    assert_eq!(
        (
            pushes(&server, "acme/homebrew-tap"),
            pushes(&server, "acme/scoop-bucket")
        ),
        (1, 1),
        "{requests:#?}"
    );
    for secret in [RECIPES_TOKEN.to_owned(), basic(RECIPES_TOKEN)] {
        assert!(!log.contains(&secret), "the token reached the act log");
    }

    // A re-run of the same release commits and pushes nothing.
    let heads = (rev_parse(&tap, "main"), rev_parse(&bucket, "main"));
    let out = act(&e);
    assert!(
        out.status.success(),
        "second act run failed:\n{}",
        text(&out)
    );
    let log2 = text(&out);
    assert_eq!(
        (rev_parse(&tap, "main"), rev_parse(&bucket, "main")),
        heads,
        "the re-run committed"
    );
    assert_eq!(
        (
            pushes(&server, "acme/homebrew-tap"),
            pushes(&server, "acme/scoop-bucket")
        ),
        (1, 1),
        "the re-run pushed"
    );
    assert!(
        log2.contains("Formula/gosample.rb is already this release's")
            && log2.contains("bucket/gosample.json is already this release's"),
        "{log2}"
    );
    for secret in [RECIPES_TOKEN.to_owned(), basic(RECIPES_TOKEN)] {
        assert!(!log2.contains(&secret), "the token reached the act log");
    }
}

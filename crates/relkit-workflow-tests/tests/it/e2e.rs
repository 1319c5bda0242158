//! The reusable release workflow end to end, run by act in host mode on a
//! tiny Rust project against relkit-fake-github on loopback. Remote actions
//! that cannot run offline are replaced by the local doubles in
//! `tests/fixtures/doubles` (`--local-repository`); the relkit action itself
//! is a copy of this checkout, and it installs relkit's prebuilt archive
//! (made here by `relkit dist` and signed with a throwaway key) from a
//! loopback server, verifying it as on GitHub.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use relkit_testkit::require;
use serde_json::Value;

mod image;
mod recipes;
mod repos;

use crate::{
    StaticServer, bin_dir, fixtures, host_target, minisign_key, prebuilt_release, root, sha256,
    text,
};

/// Commits of the third-party actions release.yml pins, and their doubles.
const DOUBLES: [(&str, &str); 7] = [
    (
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
        "checkout",
    ),
    (
        "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        "upload-artifact",
    ),
    (
        "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
        "download-artifact",
    ),
    (
        "actions/attest-build-provenance@a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32",
        "attest-build-provenance",
    ),
    (
        "actions/attest-sbom@c604332985a26aa8cf1bdc465b92731239ec6b9e",
        "attest-sbom",
    ),
    (
        "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e",
        "setup-go",
    ),
    (
        "docker/login-action@5e57cd118135c172c3672efd75eb46360885c0ef",
        "docker-login",
    ),
];

struct FakeGitHub {
    child: Child,
    url: String,
}

impl FakeGitHub {
    fn start(repo: &str, token: &str) -> FakeGitHub {
        let mut child = Command::new(bin_dir().join("relkit-fake-github"))
            .args(["--addr", "127.0.0.1:0", "--repo", repo, "--token", token])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start relkit-fake-github");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read its URL");
        FakeGitHub {
            child,
            url: line.trim().to_owned(),
        }
    }

    fn get(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args(["-sSf", &format!("{}{path}", self.url)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// A GET of the REST API with the token, as a client of GitHub's.
    fn api(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args([
                "-sSf",
                "-H",
                &format!("Authorization: Bearer {TOKEN}"),
                &format!("{}{path}", self.url),
            ])
            .output()
            .expect("curl");
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    fn download(&self, asset_id: u64, token: &str, dest: &Path) {
        let out = Command::new("curl")
            .args([
                "-sSfL",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "Accept: application/octet-stream",
                "-o",
            ])
            .arg(dest)
            .arg(format!(
                "{}/repos/acme/sample/releases/assets/{asset_id}",
                self.url
            ))
            .output()
            .expect("curl");
        assert!(out.status.success(), "{}", text(&out));
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The action as a user's runner sees it: the repository's sources, without target/.
pub(crate) fn action_copy(dest: &Path) {
    let r = root();
    for f in ["action.yml", "relkit.pub", "Cargo.toml", "Cargo.lock"] {
        fs_err::copy(r.join(f), dest.join(f)).expect("copy");
    }
    copy_tree(&r.join("scripts"), &dest.join("scripts"));
    copy_tree(&r.join(".github"), &dest.join(".github"));
    for e in fs_err::read_dir(r.join("crates")).expect("crates") {
        let c = e.expect("entry").path();
        let to = dest.join("crates").join(c.file_name().expect("name"));
        for f in ["Cargo.toml", "build.rs"] {
            if c.join(f).is_file() {
                fs_err::create_dir_all(&to).expect("mkdir");
                fs_err::copy(c.join(f), to.join(f)).expect("copy");
            }
        }
        if c.join("src").is_dir() {
            copy_tree(&c.join("src"), &to.join("src"));
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).expect("mkdir");
    for e in fs_err::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            fs_err::copy(&p, &dest).expect("copy");
        }
    }
}

pub(crate) fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_AUTHOR_NAME", "relkit test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "relkit test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// What the caller workflow adds to its `release` job, and its own extra jobs.
#[derive(Default)]
struct Caller<'a> {
    /// More `with:` lines for release.yml (indented six spaces).
    with: &'a str,
    /// More `secrets:` lines for release.yml (indented six spaces).
    secrets: &'a str,
    /// More jobs (indented two spaces).
    jobs: &'a str,
    /// Pass the default `targets` (the host) and `include` (README.md).
    defaults: bool,
}

/// A fixture project as a git repository whose workflow calls relkit's
/// reusable workflow, the way a user's repository does.
fn sample_repo(dest: &Path, fixture: &str, name: &str, caller: &Caller<'_>) {
    let Caller {
        with: extra_with,
        secrets: extra_secrets,
        jobs: extra_jobs,
        defaults,
    } = *caller;
    copy_tree(&fixtures().join(fixture), dest);
    let workflow = format!(
        r#"name: release
on: push
permissions: {{}}
jobs:
  release:
    uses: relkit/relkit/.github/workflows/release.yml@v1
    permissions:
      contents: write
      id-token: write
      attestations: write
    with:
      name: {name}
      tag: v0.1.0
{defaults}      relkit-version: 0.1.0
      relkit-install: prebuilt
{extra_with}    secrets:
      minisign-key: ${{{{ secrets.MINISIGN_KEY }}}}
      gpg-private-key: ${{{{ secrets.GPG_PRIVATE_KEY }}}}
{extra_secrets}  outputs:
    needs: release
    runs-on: ubuntu-latest
    permissions: {{}}
    steps:
      - shell: bash
        env:
          RELEASE_ID: ${{{{ needs.release.outputs.release-id }}}}
          RELEASE_URL: ${{{{ needs.release.outputs.release-url }}}}
          ASSETS: ${{{{ needs.release.outputs.assets }}}}
          VERSION: ${{{{ needs.release.outputs.version }}}}
          TAG: ${{{{ needs.release.outputs.tag }}}}
        run: |
          printf '%s\n' "$RELEASE_ID" "$RELEASE_URL" "$VERSION" "$TAG" "$ASSETS" > "$RELKIT_E2E_ARTIFACTS/../outputs.txt"
{extra_jobs}"#,
        defaults = if defaults {
            format!(
                "      targets: {}\n      include: README.md\n",
                host_target()
            )
        } else {
            String::new()
        },
    );
    relkit_testkit::write(
        &dest.join(".github/workflows/release.yml"),
        workflow.as_bytes(),
        0o644,
    );
    git(dest, &["init", "-q"]);
    git(
        dest,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/acme/sample.git",
        ],
    );
    git(dest, &["add", "-A"]);
    git(dest, &["commit", "-q", "-m", "sample"]);
}

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    fake: FakeGitHub,
    server: StaticServer,
    key: crate::Key,
    /// An armored gpg secret key for the provider's SHA256SUMS, and its GNUPGHOME.
    gpg: Option<(String, PathBuf)>,
    /// More `--env` variables and secrets for act.
    vars: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
}

const TOKEN: &str = "e2e-token";

/// Everything a run needs: a signed prebuilt relkit served from loopback, a
/// fake GitHub, the action's sources and the fixture project as a repository.
fn setup(fixture: &str, name: &str, extra_with: &str) -> Env {
    setup_with(fixture, name, extra_with, true)
}

/// [`setup`], with or without the default `targets`/`include` inputs (a
/// case may set its own).
fn setup_with(fixture: &str, name: &str, extra_with: &str, defaults: bool) -> Env {
    setup_caller(
        fixture,
        name,
        &Caller {
            with: extra_with,
            defaults,
            ..Caller::default()
        },
    )
}

/// [`setup`] with a [`Caller`] of one's own.
fn setup_caller(fixture: &str, name: &str, caller: &Caller<'_>) -> Env {
    require("act");
    require("minisign");
    require("git");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    fs_err::create_dir_all(dir.join("artifacts")).expect("mkdir");
    let key = minisign_key(&dir, "e2e");
    let bins: Vec<PathBuf> = ["relkit"].iter().map(|b| bin_dir().join(b)).collect();
    let release = prebuilt_release(&dir.join("prebuilt"), &key, &bins, true);
    fs_err::create_dir_all(dir.join("relkit")).expect("mkdir");
    action_copy(&dir.join("relkit"));
    sample_repo(&dir.join("sample"), fixture, name, caller);
    Env {
        server: StaticServer::start(&release),
        fake: FakeGitHub::start("acme/sample", TOKEN),
        _tmp: tmp,
        dir,
        key,
        gpg: None,
        vars: Vec::new(),
        secrets: Vec::new(),
    }
}

/// A passwordless RSA key (the Registry takes RSA/DSA only) in its own GNUPGHOME.
fn gpg_key(dir: &Path) -> (String, PathBuf) {
    require("gpg");
    let home = dir.join("gnupg");
    fs_err::create_dir_all(&home).expect("mkdir");
    relkit_testkit::set_mode(&home, 0o700);
    let gen_key = Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "relkit e2e <e2e@example.com>",
            "rsa2048",
            "sign",
            "never",
        ])
        .output()
        .expect("gpg");
    assert!(gen_key.status.success(), "{}", text(&gen_key));
    let export = Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--armor", "--export-secret-keys"])
        .output()
        .expect("gpg");
    assert!(export.status.success(), "{}", text(&export));
    (String::from_utf8(export.stdout).expect("armored"), home)
}

/// The one release on the fake, and its assets by name.
fn the_release(fake: &FakeGitHub) -> (Value, BTreeMap<String, Value>) {
    let state = fake.get("/_fake/state");
    let releases = state["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 1, "exactly one release: {state:#}");
    let rel = releases[0].clone();
    assert_eq!(
        (rel["tag_name"].as_str(), rel["draft"].as_bool()),
        (Some("v0.1.0"), Some(false)),
        "{rel:#}"
    );
    let assets = rel["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| (a["name"].as_str().expect("name").to_owned(), a.clone()))
        .collect();
    (rel, assets)
}

/// Check every asset's digest against the finalize job's local file and
/// download it into `fetched`.
fn check_and_fetch(e: &Env, assets: &BTreeMap<String, Value>, fetched: &Path) -> PathBuf {
    let dist = finalize_dist(e);
    fs_err::create_dir_all(fetched).expect("mkdir");
    for (name, a) in assets {
        assert_eq!(a["state"], "uploaded");
        let local = sha256(&dist.join(name));
        assert_eq!(
            a["digest"].as_str(),
            Some(format!("sha256:{local}").as_str()),
            "{name}"
        );
        e.fake
            .download(a["id"].as_u64().expect("id"), TOKEN, &fetched.join(name));
        assert_eq!(
            sha256(&fetched.join(name)),
            local,
            "{name} served back differs"
        );
    }
    dist
}

fn act(e: &Env) -> Output {
    let doubles = fixtures().join("doubles");
    let mut cmd = Command::new("act");
    cmd.current_dir(e.dir.join("sample"))
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args([
            "push",
            "-W",
            ".github/workflows/release.yml",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-cache-server",
        ])
        .arg("--action-cache-path")
        .arg(e.dir.join("act-cache"))
        .arg("--local-repository")
        .arg(format!(
            "relkit/relkit@v1={}",
            e.dir.join("relkit").display()
        ));
    for (uses, double) in DOUBLES {
        cmd.arg("--local-repository")
            .arg(format!("{uses}={}", doubles.join(double).display()));
    }
    for (k, v) in [
        ("GITHUB_API_URL", e.fake.url.clone()),
        ("RELKIT_INSTALL_BASE_URL", e.server.url.clone()),
        (
            "RELKIT_INSTALL_PUBLIC_KEY",
            e.key.public.display().to_string(),
        ),
        (
            "RELKIT_E2E_ACTION_SOURCE",
            e.dir.join("relkit").display().to_string(),
        ),
        (
            "RELKIT_E2E_ARTIFACTS",
            e.dir.join("artifacts").display().to_string(),
        ),
    ] {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for (k, v) in &e.vars {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for (k, v) in &e.secrets {
        cmd.arg("-s").arg(format!("{k}={v}"));
    }
    cmd.arg("-s").arg(format!("GITHUB_TOKEN={TOKEN}"));
    cmd.arg("-s").arg(format!(
        "MINISIGN_KEY={}",
        fs_err::read_to_string(&e.key.secret).expect("key")
    ));
    if let Some((armored, _)) = &e.gpg {
        cmd.arg("-s").arg(format!("GPG_PRIVATE_KEY={armored}"));
    }
    let started = std::time::Instant::now();
    let out = cmd.output().expect("run act");
    eprintln!("act took {:?}", started.elapsed());
    out
}

fn mutating_requests(fake: &FakeGitHub) -> Vec<String> {
    fake.get("/_fake/log")
        .as_array()
        .expect("log")
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| format!("{} {}", r["method"], r["path"]))
        .collect()
}

/// The finalize job's dist/ folder as the attest double saw it (act removes
/// a job's host workspace when the job ends). It already holds the manifest
/// and the signature, the last files written before the upload.
fn finalize_dist(e: &Env) -> PathBuf {
    let d = e.dir.join("finalize-dist");
    assert!(
        d.join("manifest.json").is_file(),
        "the attest double saw no dist/manifest.json"
    );
    d
}

/// What a user does with a published release: download every asset from
/// the URLs in the workflow's `assets` output (each must answer 200, with
/// no token), then `sha256sum -c SHA256SUMS`, `minisign -V` on the
/// signatures and `relkit manifest verify` on the downloaded manifest.
fn download_and_verify(e: &Env, assets_output: &Value, fetched: &Path, signed: bool) {
    fs_err::create_dir_all(fetched).expect("mkdir");
    let list = assets_output.as_array().expect("assets output is an array");
    for a in list {
        let name = a["name"].as_str().expect("name");
        let url = a["url"].as_str().expect("url");
        assert!(!url.contains("untagged-"), "{name}: a draft URL {url}");
        let out = Command::new("curl")
            .args(["-sSfL", "-o"])
            .arg(fetched.join(name))
            .arg(url)
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {url}: {}", text(&out));
        assert_eq!(
            a["sha256"].as_str(),
            Some(sha256(&fetched.join(name)).as_str()),
            "{name}"
        );
    }
    let c = Command::new("sha256sum")
        .current_dir(fetched)
        .args(["-c", "--strict", "SHA256SUMS"])
        .output()
        .expect("sha256sum");
    assert!(c.status.success(), "{}", text(&c));
    if signed {
        for f in ["SHA256SUMS", "manifest.json"] {
            let v = Command::new("minisign")
                .arg("-Vm")
                .arg(fetched.join(f))
                .arg("-p")
                .arg(&e.key.public)
                .output()
                .expect("minisign");
            assert!(v.status.success(), "minisign -V {f}: {}", text(&v));
        }
    }
    let mut verify = Command::new(bin_dir().join("relkit"));
    verify
        .args(["manifest", "verify"])
        .arg(fetched.join("manifest.json"));
    if signed {
        verify.arg("--public-key").arg(&e.key.public);
    }
    let v = verify.output().expect("relkit manifest verify");
    assert!(v.status.success(), "relkit manifest verify: {}", text(&v));
}

/// The workflow's outputs, as the `outputs` job wrote them.
fn workflow_outputs(e: &Env) -> (String, String, String, String, Value) {
    let outputs = fs_err::read_to_string(e.dir.join("outputs.txt")).expect("the outputs job ran");
    let lines: Vec<&str> = outputs.lines().collect();
    let assets: Value = serde_json::from_str(lines[4]).expect("assets output is JSON");
    (
        lines[0].to_owned(),
        lines[1].to_owned(),
        lines[2].to_owned(),
        lines[3].to_owned(),
        assets,
    )
}

#[test]
fn release_workflow_publishes_one_verified_release_and_reruns_upload_nothing() {
    let e = setup("sample", "sample", "");
    // First run: one published release holding everything, digests verified.
    let out = act(&e);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let archive = format!("sample-0.1.0-{}.tar.gz", host_target());
    let sidecar = format!("{archive}.sha256");
    let (rel, assets) = the_release(&e.fake);
    let names: Vec<&str> = assets.keys().map(String::as_str).collect();
    let mut want = vec![
        "SHA256SUMS",
        "SHA256SUMS.minisig",
        archive.as_str(),
        sidecar.as_str(),
        "manifest.json",
        "manifest.json.minisig",
        // The generated installer is published by default.
        "sample-installer.sh",
    ];
    want.sort_unstable();
    assert_eq!(names, want);
    let dist = check_and_fetch(&e, &assets, &e.dir.join("fetched-api"));

    // The workflow's outputs carry the published release's URLs.
    let (id, url, version, tag, out_assets) = workflow_outputs(&e);
    assert_eq!(id, rel["id"].to_string(), "release-id");
    assert_eq!(
        url,
        format!("{}/acme/sample/releases/tag/v0.1.0", e.fake.url),
        "release-url"
    );
    assert_eq!((version.as_str(), tag.as_str()), ("0.1.0", "v0.1.0"));
    assert_eq!(out_assets.as_array().expect("array").len(), want.len());
    let fetched = e.dir.join("fetched");
    download_and_verify(&e, &out_assets, &fetched, true);

    // Provenance covers every release file, not only the archives.
    let attested = fs_err::read_to_string(e.dir.join("attested-checksums.txt")).expect("attested");
    let subjects: Vec<&str> = attested
        .lines()
        .map(|l| l.split_once("  ").expect("sha256sum line").1)
        .collect();
    assert_eq!(subjects, want, "attestation subjects");
    let check = Command::new("sha256sum")
        .current_dir(&fetched)
        .arg("-c")
        .arg(e.dir.join("attested-checksums.txt"))
        .output()
        .expect("sha256sum");
    assert!(check.status.success(), "{}", text(&check));

    // The manifest describes exactly the release: every file it lists was
    // published, and every published file is listed (or is the manifest).
    let manifest: Value =
        serde_json::from_slice(&fs_err::read(fetched.join("manifest.json")).expect("manifest"))
            .expect("JSON");
    let mut listed: Vec<&str> = manifest["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a["file"].as_str().expect("file"))
        .chain(["manifest.json", "manifest.json.minisig"])
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, want);
    assert_eq!(manifest["tag"], "v0.1.0");
    // The archive holds the sample binary and the included README.
    let t = Command::new("tar")
        .arg("-tzf")
        .arg(fetched.join(&archive))
        .output()
        .expect("tar");
    let listing = String::from_utf8_lossy(&t.stdout);
    let stem = archive.trim_end_matches(".tar.gz");
    assert!(
        listing.contains(&format!("{stem}/sample"))
            && listing.contains(&format!("{stem}/README.md")),
        "{listing}"
    );
    // The prebuilt relkit was fetched from loopback and verified, not built.
    assert!(
        e.server
            .count(&format!("relkit-0.1.0-{}.tar.gz", host_target()))
            >= 1
    );
    assert!(
        !log.contains("building relkit from source"),
        "the e2e must use the verified prebuilt"
    );
    // Step summaries: the plan's matrix and the release's artifact table.
    assert!(
        log.contains("Summary - ### Build matrix"),
        "no matrix summary in the log"
    );
    assert!(
        log.contains("Summary - ### Release `v0.1.0` (published)"),
        "no release summary in the log"
    );
    assert!(
        log.contains(&format!("| `{archive}` |")) && log.contains(&sha256(&dist.join(&archive))),
        "the summary table lacks the archive"
    );
    assert!(
        log.contains("7 uploaded, 0 already present"),
        "first run uploads the seven files"
    );

    // Local = CI: `relkit dist` over the very binary the workflow built
    // gives the same archive, SHA256SUMS and manifest.
    contract_with_dist(&e, &fetched, &archive);

    // Second run: same single release, same assets, nothing uploaded or changed.
    let before = mutating_requests(&e.fake);
    let out = act(&e);
    let log2 = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "second act run failed:\n{}",
        text(&out)
    );
    let state2 = e.fake.get("/_fake/state");
    assert_eq!(
        state2["releases"].as_array().expect("releases").len(),
        1,
        "{state2:#}"
    );
    assert_eq!(
        state2["releases"][0]["assets"], rel["assets"],
        "the re-run changed the assets"
    );
    assert_eq!(
        mutating_requests(&e.fake),
        before,
        "the re-run sent writes to GitHub"
    );
    assert!(
        log2.contains("0 uploaded, 7 already present"),
        "the re-run uploaded something"
    );
}

/// `relkit dist` on the sample, packaging the binary from the published
/// archive, signed with the same key: archives, SHA256SUMS and manifest.json
/// equal the published ones byte for byte, except the manifest's entry for
/// SHA256SUMS.minisig (minisign signatures carry random noise, so two
/// signings of one file differ; a re-run keeps the published one instead).
fn contract_with_dist(e: &Env, fetched: &Path, archive: &str) {
    let x = e.dir.join("extracted");
    fs_err::create_dir_all(&x).expect("mkdir");
    let t = Command::new("tar")
        .current_dir(&x)
        .arg("-xzf")
        .arg(fetched.join(archive))
        .output()
        .expect("tar");
    assert!(t.status.success(), "{}", text(&t));
    let stem = archive.trim_end_matches(".tar.gz");
    let sample = e.dir.join("sample");
    let out = Command::new(bin_dir().join("relkit"))
        .current_dir(&sample)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_REF")
        .env_remove("SOURCE_DATE_EPOCH")
        .env(
            "RELKIT_MINISIGN_KEY",
            fs_err::read_to_string(&e.key.secret).expect("key"),
        )
        .args([
            "dist",
            "--name",
            "sample",
            "--tag",
            "v0.1.0",
            "--include",
            "README.md",
        ])
        .arg("--binary")
        .arg(x.join(stem).join("sample"))
        .arg("--output-dir")
        .arg(e.dir.join("local-dist"))
        .output()
        .expect("relkit dist");
    assert!(out.status.success(), "relkit dist: {}", text(&out));
    let local = e.dir.join("local-dist");
    for f in [archive, "SHA256SUMS"] {
        assert_eq!(
            sha256(&local.join(f)),
            sha256(&fetched.join(f)),
            "{f}: dist and release.yml differ"
        );
    }
    let strip = |p: &Path| -> Value {
        let mut m: Value = serde_json::from_slice(&fs_err::read(p).expect("read")).expect("JSON");
        for a in m["artifacts"].as_array_mut().expect("artifacts") {
            if a["file"] == "SHA256SUMS.minisig" {
                a["sha256"] = Value::Null;
                a["size"] = Value::Null;
            }
        }
        m
    };
    assert_eq!(
        strip(&local.join("manifest.json")),
        strip(&fetched.join("manifest.json")),
        "manifest.json: dist and release.yml differ"
    );
}

#[test]
fn provider_release_holds_what_the_terraform_registry_ingests() {
    let mut e = setup(
        "provider",
        "terraform-provider-sample",
        "      provider: true\n      provider-namespace: acme\n",
    );
    e.gpg = Some(gpg_key(&e.dir));
    let out = act(&e);
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let host = host_target();
    let platform = match host.as_str() {
        "x86_64-unknown-linux-gnu" => "linux_amd64",
        "aarch64-unknown-linux-gnu" => "linux_arm64",
        other => panic!("no Terraform platform known for {other}"),
    };
    let (_, assets) = the_release(&e.fake);
    let stem = "terraform-provider-sample_0.1.0";
    let zip = format!("{stem}_{platform}.zip");
    let mut want = vec![
        "SHA256SUMS".to_owned(),
        "SHA256SUMS.minisig".to_owned(),
        "manifest.json".to_owned(),
        "manifest.json.minisig".to_owned(),
        format!("terraform-provider-sample-0.1.0-{host}.tar.gz"),
        format!("terraform-provider-sample-0.1.0-{host}.tar.gz.sha256"),
        zip.clone(),
        format!("{stem}_SHA256SUMS"),
        format!("{stem}_SHA256SUMS.sig"),
        format!("{stem}_manifest.json"),
        format!("{stem}.terraform.lock.hcl"),
        "terraform-provider-sample-installer.sh".to_owned(),
    ];
    want.sort();
    assert_eq!(assets.keys().cloned().collect::<Vec<_>>(), want);
    let fetched = e.dir.join("fetched");
    check_and_fetch(&e, &assets, &fetched);
    let (_, _, _, _, out_assets) = workflow_outputs(&e);
    download_and_verify(&e, &out_assets, &e.dir.join("fetched-user"), true);
    // The Registry's own checks: the zip holds exactly the versioned binary,
    // and the provider SHA256SUMS covers the zip and the manifest.
    let listing = Command::new("unzip")
        .arg("-Z1")
        .arg(fetched.join(&zip))
        .output()
        .expect("unzip");
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        "terraform-provider-sample_v0.1.0",
        "{}",
        text(&listing)
    );
    let check = Command::new("sha256sum")
        .current_dir(&fetched)
        .args(["-c", &format!("{stem}_SHA256SUMS")])
        .output()
        .expect("sha256sum");
    let checked = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success()
            && checked.contains(&format!("{zip}: OK"))
            && checked.contains(&format!("{stem}_manifest.json: OK")),
        "{}",
        text(&check)
    );
    let registry_manifest: Value = serde_json::from_slice(
        &fs_err::read(fetched.join(format!("{stem}_manifest.json"))).expect("read"),
    )
    .expect("JSON");
    assert_eq!(registry_manifest["metadata"]["protocol_versions"][0], "6.0");
    // The binary (not armored) detached signature gpg verifies, as the Registry does.
    let (_, home) = e.gpg.as_ref().expect("gpg key");
    let verified = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--verify"])
        .arg(fetched.join(format!("{stem}_SHA256SUMS.sig")))
        .arg(fetched.join(format!("{stem}_SHA256SUMS")))
        .output()
        .expect("gpg --verify");
    assert!(verified.status.success(), "{}", text(&verified));
    assert_ne!(
        fs_err::read(fetched.join(format!("{stem}_SHA256SUMS.sig"))).expect("sig")[0],
        b'-',
        "the signature must be binary"
    );
    // The mirror trees went on as a workflow artifact.
    let mirrors = e.dir.join("artifacts/terraform-mirrors");
    let files = relkit_testkit::files_in(&mirrors);
    assert!(
        files.iter().any(|f| f.ends_with(&format!(
            "acme/sample/0.1.0/{platform}/terraform-provider-sample_v0.1.0"
        ))),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("acme/sample/index.json")),
        "{files:?}"
    );
}

/// Everything that can be wrong before a build fails in the plan job, and a
/// failing build stops before finalize: either way GitHub holds no release
/// and no draft afterwards.
#[test]
fn failures_before_publishing_leave_no_release_or_draft() {
    let host = host_target();
    let cases = [
        (
            "misspelt include",
            format!("      targets: {host}\n      include: READMEE.md\n"),
            "READMEE.md",
        ),
        (
            "unknown target",
            "      targets: plan9-unknown-none\n".to_owned(),
            "plan9-unknown-none",
        ),
        (
            "failing build",
            format!(
                "      targets: {host}\n      cargo-args: --locked --features no-such-feature\n"
            ),
            "no-such-feature",
        ),
    ];
    for (what, with, culprit) in cases {
        let e = setup_with("sample", "sample", &with, false);
        let out = act(&e);
        assert!(!out.status.success(), "{what}: act succeeded");
        let log = text(&out);
        assert!(
            log.contains(culprit),
            "{what}: the log does not name `{culprit}`:\n{log}"
        );
        let state = e.fake.get("/_fake/state");
        assert_eq!(
            state["releases"].as_array().map(Vec::len),
            Some(0),
            "{what}: a release or draft was left behind: {state:#}"
        );
        assert!(
            mutating_requests(&e.fake).is_empty(),
            "{what}: writes reached GitHub: {:?}",
            mutating_requests(&e.fake)
        );
    }
}

/// A stdlib-only Go CLI through the same workflow: built with
/// `CGO_ENABLED=0 -trimpath` and the version from the tag, published, and
/// verified by a user; the binary prints the released version.
#[test]
fn go_release_publishes_a_verified_release() {
    relkit_testkit::require("go");
    let host = host_target();
    let pair = match host.as_str() {
        "x86_64-unknown-linux-gnu" => "linux/amd64",
        "aarch64-unknown-linux-gnu" => "linux/arm64",
        other => panic!("no Go pair known for {other}"),
    };
    let e = setup_with(
        "gosample",
        "gosample",
        &format!("      build-tool: go\n      targets: {pair}\n      include: README.md\n"),
        false,
    );
    let out = act(&e);
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let (_, assets) = the_release(&e.fake);
    let archive = format!("gosample-0.1.0-{}.tar.gz", pair.replace('/', "-"));
    assert!(assets.contains_key(&archive), "{:?}", assets.keys());
    let (_, _, _, _, out_assets) = workflow_outputs(&e);
    let fetched = e.dir.join("fetched");
    download_and_verify(&e, &out_assets, &fetched, true);
    let x = e.dir.join("x");
    fs_err::create_dir_all(&x).expect("mkdir");
    let t = Command::new("tar")
        .current_dir(&x)
        .arg("-xzf")
        .arg(fetched.join(&archive))
        .output()
        .expect("tar");
    assert!(t.status.success(), "{}", text(&t));
    let stem = archive.trim_end_matches(".tar.gz");
    let run = Command::new(x.join(stem).join("gosample"))
        .output()
        .expect("run gosample");
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "gosample 0.1.0"
    );
}

/// issue 13: a project with `[sbom]` through the same workflow. The
/// published release holds the SBOMs (per binary and for the release,
/// CycloneDX and SPDX), each in SHA256SUMS and manifest.json (kind `sbom`)
/// and minisign-signed; the release-wide CycloneDX file is what
/// actions/attest-sbom was given; the downloaded CycloneDX validates with
/// cyclonedx-python-lib's strict 1.6 schema validator.
#[test]
fn sbom_release_publishes_checksummed_listed_attested_sboms() {
    require("python3");
    let e = setup("sample", "sample", "");
    let sample = e.dir.join("sample");
    relkit_testkit::write(
        &sample.join("relkit.toml"),
        b"name = \"sample\"\nbinaries = [\"sample\"]\n\n[sbom]\nformats = [\"cyclonedx\", \"spdx\"]\n[sbom.licenses]\ndeny = [\"GPL-3.0-only\"]\n",
        0o644,
    );
    git(&sample, &["add", "relkit.toml"]);
    git(&sample, &["commit", "-q", "-m", "sbom"]);
    let out = act(&e);
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let (_, assets) = the_release(&e.fake);
    let host = host_target();
    let sboms = [
        format!("sample-0.1.0-{host}.cdx.json"),
        format!("sample-0.1.0-{host}.spdx.json"),
        "sample-0.1.0.cdx.json".to_owned(),
        "sample-0.1.0.spdx.json".to_owned(),
    ];
    for s in &sboms {
        assert!(
            assets.contains_key(s),
            "{s} not published: {:?}",
            assets.keys()
        );
        assert!(
            assets.contains_key(&format!("{s}.minisig")),
            "{s} unsigned: {:?}",
            assets.keys()
        );
    }
    let (_, _, _, _, out_assets) = workflow_outputs(&e);
    let fetched = e.dir.join("fetched");
    // Every asset downloaded as a user would, SHA256SUMS and signatures checked.
    download_and_verify(&e, &out_assets, &fetched, true);
    let sums = fs_err::read_to_string(fetched.join("SHA256SUMS")).expect("SHA256SUMS");
    let manifest: Value =
        serde_json::from_str(&fs_err::read_to_string(fetched.join("manifest.json")).expect("m"))
            .expect("manifest JSON");
    for s in &sboms {
        assert!(sums.contains(&format!("  {s}\n")), "{s} not in SHA256SUMS");
        let a = manifest["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .find(|a| a["name"] == s.as_str())
            .unwrap_or_else(|| panic!("{s} not in manifest.json"));
        assert_eq!(a["kind"], "sbom", "{s}");
    }
    // The release-wide CycloneDX file is the one attested.
    let attested = fs_err::read(e.dir.join("attested-sbom.json")).expect("attest-sbom ran");
    assert!(
        attested == fs_err::read(fetched.join("sample-0.1.0.cdx.json")).expect("cdx"),
        "attest-sbom was given another file"
    );
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nfor f in sys.argv[1:]:\n    err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(f).read())\n    if err is not None:\n        print(f, err)\n        sys.exit(1)\n";
    let v = Command::new("python3")
        .args(["-c", script])
        .arg(fetched.join(&sboms[0]))
        .arg(fetched.join(&sboms[2]))
        .output()
        .expect("python3");
    assert!(v.status.success(), "CycloneDX validation: {}", text(&v));
}

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

use crate::{
    StaticServer, bin_dir, fixtures, host_target, minisign_key, prebuilt_release, root, sha256,
    text,
};

/// Commits of the third-party actions release.yml pins, and their doubles.
const DOUBLES: [(&str, &str); 5] = [
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
        "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e",
        "setup-go",
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

/// A fixture project as a git repository whose workflow calls relkit's
/// reusable workflow, the way a user's repository does.
fn sample_repo(dest: &Path, fixture: &str, name: &str, extra_with: &str) {
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
      targets: {host}
      include: README.md
      relkit-version: 0.1.0
      relkit-install: prebuilt
{extra_with}    secrets:
      minisign-key: ${{{{ secrets.MINISIGN_KEY }}}}
      gpg-private-key: ${{{{ secrets.GPG_PRIVATE_KEY }}}}
  outputs:
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
"#,
        host = host_target(),
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
}

const TOKEN: &str = "e2e-token";

/// Everything a run needs: a signed prebuilt relkit served from loopback, a
/// fake GitHub, the action's sources and the fixture project as a repository.
fn setup(fixture: &str, name: &str, extra_with: &str) -> Env {
    require("act");
    require("minisign");
    require("git");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    fs_err::create_dir_all(dir.join("artifacts")).expect("mkdir");
    let key = minisign_key(&dir, "e2e");
    let bins: Vec<PathBuf> = ["relkit", "relkit-release-upload"]
        .iter()
        .map(|b| bin_dir().join(b))
        .collect();
    let release = prebuilt_release(&dir.join("prebuilt"), &key, &bins, true);
    fs_err::create_dir_all(dir.join("relkit")).expect("mkdir");
    action_copy(&dir.join("relkit"));
    sample_repo(&dir.join("sample"), fixture, name, extra_with);
    Env {
        server: StaticServer::start(&release),
        fake: FakeGitHub::start("acme/sample", TOKEN),
        _tmp: tmp,
        dir,
        key,
        gpg: None,
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
    cmd.arg("-s").arg(format!("GITHUB_TOKEN={TOKEN}"));
    cmd.arg("-s").arg(format!(
        "MINISIGN_KEY={}",
        fs_err::read_to_string(&e.key.secret).expect("key")
    ));
    if let Some((armored, _)) = &e.gpg {
        cmd.arg("-s").arg(format!("GPG_PRIVATE_KEY={armored}"));
    }
    cmd.output().expect("run act")
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

#[test]
fn release_workflow_publishes_one_verified_release_and_reruns_upload_nothing() {
    let e = setup("sample", "sample", "");
    // First run: one published release holding everything, digests verified.
    let out = act(&e);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "act failed:\n{}", text(&out));
    let archive = format!("sample-0.1.0-{}.tar.gz", host_target());
    let (rel, assets) = the_release(&e.fake);
    let names: Vec<&str> = assets.keys().map(String::as_str).collect();
    let mut want = vec![
        "SHA256SUMS",
        "SHA256SUMS.minisig",
        archive.as_str(),
        "manifest.json",
    ];
    want.sort_unstable();
    assert_eq!(names, want);
    let fetched = e.dir.join("fetched");
    let dist = check_and_fetch(&e, &assets, &fetched);
    // Provenance was attested over exactly the released SHA256SUMS.
    assert_eq!(
        sha256(&e.dir.join("attested-checksums.txt")),
        sha256(&fetched.join("SHA256SUMS"))
    );
    // What a user does with the release: check the signature and the sums.
    let v = Command::new("minisign")
        .arg("-Vm")
        .arg(fetched.join("SHA256SUMS"))
        .arg("-p")
        .arg(&e.key.public)
        .output()
        .expect("minisign");
    assert!(v.status.success(), "{}", text(&v));
    let c = Command::new("sha256sum")
        .current_dir(&fetched)
        .args(["-c", "--ignore-missing", "SHA256SUMS"])
        .output()
        .expect("sha256sum");
    assert!(
        c.status.success()
            && String::from_utf8_lossy(&c.stdout).contains(&format!("{archive}: OK")),
        "{}",
        text(&c)
    );
    let manifest: Value =
        serde_json::from_slice(&fs_err::read(fetched.join("manifest.json")).expect("manifest"))
            .expect("JSON");
    let listed: Vec<&str> = manifest["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a["file"].as_str().expect("file"))
        .collect();
    for f in [archive.as_str(), "SHA256SUMS", "SHA256SUMS.minisig"] {
        assert!(listed.contains(&f), "manifest lacks {f}: {listed:?}");
    }
    let entry = manifest["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .find(|a| a["file"] == archive.as_str())
        .expect("archive entry");
    assert_eq!(
        entry["sha256"].as_str(),
        Some(sha256(&fetched.join(&archive)).as_str())
    );
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

    // The reusable workflow's outputs (from the action's outputs).
    let outputs = fs_err::read_to_string(e.dir.join("outputs.txt")).expect("the outputs job ran");
    let lines: Vec<&str> = outputs.lines().collect();
    assert_eq!(lines[0], rel["id"].to_string(), "release-id");
    assert_eq!(
        lines[1],
        format!("{}/acme/sample/releases/tag/v0.1.0", e.fake.url),
        "release-url"
    );
    assert_eq!((lines[2], lines[3]), ("0.1.0", "v0.1.0"));
    let out_assets: Value = serde_json::from_str(lines[4]).expect("assets output is JSON");
    let out_names: Vec<&str> = out_assets
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(out_names.len(), 4, "{out_names:?}");
    for a in out_assets.as_array().expect("array") {
        let name = a["name"].as_str().expect("name");
        assert_eq!(
            a["sha256"].as_str(),
            Some(sha256(&dist.join(name)).as_str()),
            "{name}"
        );
    }
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
        log.contains("4 uploaded, 0 already present"),
        "first run uploads the four files"
    );

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
        log2.contains("0 uploaded, 4 already present"),
        "the re-run uploaded something"
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
        format!("terraform-provider-sample-0.1.0-{host}.tar.gz"),
        zip.clone(),
        format!("{stem}_SHA256SUMS"),
        format!("{stem}_SHA256SUMS.sig"),
        format!("{stem}_manifest.json"),
        format!("{stem}.terraform.lock.hcl"),
    ];
    want.sort();
    assert_eq!(assets.keys().cloned().collect::<Vec<_>>(), want);
    let fetched = e.dir.join("fetched");
    check_and_fetch(&e, &assets, &fetched);
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

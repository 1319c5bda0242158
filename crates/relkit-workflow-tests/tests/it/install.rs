//! `scripts/install.sh` against a prebuilt release served from loopback: a
//! good signature installs (minisign CLI and openssl verifiers), anything
//! tampered with is refused without falling back, a missing prebuilt falls
//! back to `cargo install` (a stub cargo records what it was asked).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Key, StaticServer, host_target, minisign_key, prebuilt_release, root, text};

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    release: PathBuf,
    key: Key,
    cache: PathBuf,
}

/// A release of a fake relkit binary (a shell script), signed by a throwaway key.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let key = minisign_key(&dir, "test");
    let bins: Vec<PathBuf> = ["relkit"]
        .iter()
        .map(|b| {
            relkit_testkit::write(
                &dir.join("bins").join(b),
                format!("#!/bin/sh\necho fake {b} \"$@\"\n").as_bytes(),
                0o755,
            )
        })
        .collect();
    let release = prebuilt_release(&dir.join("release"), &key, &bins, false);
    Setup {
        cache: dir.join("toolcache"),
        _tmp: tmp,
        dir,
        release,
        key,
    }
}

fn archive_name() -> String {
    format!("relkit-0.1.0-{}.tar.gz", host_target())
}

fn install(s: &Setup, server: &StaticServer, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/install.sh"))
        .args(args)
        .env("RUNNER_TOOL_CACHE", &s.cache)
        .env("RELKIT_INSTALL_BASE_URL", &server.url)
        .env("RELKIT_INSTALL_PUBLIC_KEY", &s.key.public)
        .env_remove("RELKIT_INSTALL_VERIFIER")
        .env_remove("RELKIT_INSTALL_TARGET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run install.sh")
}

fn action_path() -> String {
    root().to_string_lossy().into_owned()
}

fn installed_dir(s: &Setup) -> PathBuf {
    s.cache.join("relkit/0.1.0").join(host_target())
}

fn assert_refused(out: &Output, s: &Setup, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(
        stderr.contains("::error title=relkit install::") && stderr.contains(want),
        "expected `{want}`:\n{}",
        text(out)
    );
    assert!(
        !stderr.contains("building from source"),
        "a refused prebuilt must never fall back:\n{}",
        text(out)
    );
    assert!(
        !installed_dir(s).exists(),
        "nothing may be installed after a refusal"
    );
    // Nothing half-downloaded is left in the cache either.
    let leftovers: Vec<_> = fs_err::read_dir(&s.cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.iter().all(|n| n != ".relkit-download"),
        "{leftovers:?}"
    );
    assert!(
        leftovers
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".relkit-download")),
        "{leftovers:?}"
    );
}

fn check_installed(out: &Output, s: &Setup) -> PathBuf {
    assert!(out.status.success(), "{}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bin = PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("install.sh prints the bin folder"),
    );
    assert_eq!(bin, installed_dir(s).join("bin"));
    let ran = Command::new(bin.join("relkit"))
        .arg("--version")
        .output()
        .expect("run installed relkit");
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "fake relkit --version"
    );
    assert!(bin.join("relkit-release-upload").is_file());
    bin
}

#[test]
fn a_good_signature_installs_and_the_cache_is_reused() {
    let s = setup();
    let server = StaticServer::start(&s.release);
    let out = install(&s, &server, &["prebuilt", &action_path(), "0.1.0"], &[]);
    check_installed(&out, &s);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("good signature (minisign)"),
        "{}",
        text(&out)
    );
    assert_eq!(server.count(&archive_name()), 1);
    // A second install in the same job finds the tool cache and downloads nothing.
    let again = install(&s, &server, &["auto", &action_path(), "v0.1.0"], &[]);
    check_installed(&again, &s);
    assert_eq!(
        server.count(&archive_name()),
        1,
        "the cached install was downloaded again"
    );
}

#[test]
fn openssl_verifies_without_the_minisign_cli() {
    let s = setup();
    let server = StaticServer::start(&s.release);
    let out = install(
        &s,
        &server,
        &["prebuilt", &action_path(), "0.1.0"],
        &[("RELKIT_INSTALL_VERIFIER", "openssl")],
    );
    check_installed(&out, &s);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("good signature (openssl)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_tampered_archive_is_refused() {
    let s = setup();
    let archive = s.release.join(archive_name());
    let mut bytes = fs_err::read(&archive).expect("read archive");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs_err::write(&archive, bytes).expect("write archive");
    let server = StaticServer::start(&s.release);
    for verifier in ["minisign", "openssl"] {
        let out = install(
            &s,
            &server,
            &["auto", &action_path(), "0.1.0"],
            &[("RELKIT_INSTALL_VERIFIER", verifier)],
        );
        assert_refused(&out, &s, "checksum mismatch");
    }
}

#[test]
fn a_replaced_archive_with_rewritten_sums_fails_the_signature() {
    // The attack a checksum alone cannot stop: swap the archive and its line in SHA256SUMS.
    let s = setup();
    let archive = s.release.join(archive_name());
    fs_err::write(&archive, b"evil").expect("write archive");
    let sums = s.release.join("SHA256SUMS");
    let text_sums = fs_err::read_to_string(&sums).expect("read sums");
    let evil = crate::sha256(&archive);
    let rewritten: String = text_sums
        .lines()
        .map(|l| {
            if l.ends_with(&archive_name()) {
                format!("{evil}  {}\n", archive_name())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    fs_err::write(&sums, rewritten).expect("write sums");
    let server = StaticServer::start(&s.release);
    for verifier in ["minisign", "openssl"] {
        let out = install(
            &s,
            &server,
            &["auto", &action_path(), "0.1.0"],
            &[("RELKIT_INSTALL_VERIFIER", verifier)],
        );
        assert_refused(&out, &s, "bad signature");
    }
}

#[test]
fn a_tampered_signature_or_another_key_is_refused() {
    let s = setup();
    let sig = s.release.join("SHA256SUMS.minisig");
    let original = fs_err::read_to_string(&sig).expect("read sig");
    let lines: Vec<&str> = original.lines().collect();
    // Change the trusted comment: the global signature no longer matches.
    let tampered = format!(
        "{}\n{}\ntrusted comment: timestamp:0\tfile:SHA256SUMS\n{}\n",
        lines[0], lines[1], lines[3]
    );
    fs_err::write(&sig, tampered).expect("write sig");
    let server = StaticServer::start(&s.release);
    for verifier in ["minisign", "openssl"] {
        let out = install(
            &s,
            &server,
            &["auto", &action_path(), "0.1.0"],
            &[("RELKIT_INSTALL_VERIFIER", verifier)],
        );
        assert_refused(&out, &s, "bad signature");
    }
    fs_err::write(&sig, &original).expect("restore sig");
    let other = minisign_key(&s.dir, "other");
    for verifier in ["minisign", "openssl"] {
        let out = install(
            &s,
            &server,
            &["auto", &action_path(), "0.1.0"],
            &[
                ("RELKIT_INSTALL_VERIFIER", verifier),
                (
                    "RELKIT_INSTALL_PUBLIC_KEY",
                    other.public.to_str().expect("utf-8"),
                ),
            ],
        );
        assert_refused(&out, &s, "bad signature");
    }
}

#[test]
fn a_missing_signature_is_refused_not_skipped() {
    let s = setup();
    fs_err::remove_file(s.release.join("SHA256SUMS.minisig")).expect("remove sig");
    let server = StaticServer::start(&s.release);
    let out = install(&s, &server, &["auto", &action_path(), "0.1.0"], &[]);
    assert_refused(&out, &s, "SHA256SUMS.minisig is missing");
}

/// A `cargo` that records its arguments and "installs" a fake relkit into --root.
fn stub_cargo(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("cargo-calls.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nroot=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho fake relkit \"$@\"\\n' > \"$root/bin/relkit\"\nchmod +x \"$root/bin/relkit\"\n",
        log.display()
    );
    relkit_testkit::write(&dir.join("stub-bin/cargo"), script.as_bytes(), 0o755);
    (dir.join("stub-bin"), log)
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn no_prebuilt_falls_back_to_cargo_install_from_the_action() {
    let s = setup();
    let (stub, log) = stub_cargo(&s.dir);
    // An empty release folder: every download is a 404.
    let empty = s.dir.join("empty");
    fs_err::create_dir_all(&empty).expect("mkdir");
    let server = StaticServer::start(&empty);
    let out = install(
        &s,
        &server,
        &["auto", &action_path(), "0.1.0"],
        &[("PATH", &path_with(&stub))],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::notice title=relkit install::no prebuilt relkit 0.1.0"),
        "{stderr}"
    );
    let calls = fs_err::read_to_string(&log).expect("cargo was called");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 1, "one binary, built once: {calls:?}");
    for (call, pkg) in calls.iter().zip(["relkit"]) {
        assert!(call.starts_with("install --locked"), "{call}");
        assert!(
            call.ends_with(&format!("--path {}/crates/{pkg}", action_path())),
            "{call}"
        );
    }
    let bin = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("bin folder"),
    );
    assert!(
        bin.join("relkit").is_file() && bin.starts_with(s.cache.join("relkit")),
        "{}",
        bin.display()
    );
    // The source build is cached too: a second run calls cargo no more.
    let again = install(
        &s,
        &server,
        &["source", &action_path()],
        &[("PATH", &path_with(&stub))],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        fs_err::read_to_string(&log).expect("log").lines().count(),
        1
    );
}

#[test]
fn a_sha_ref_or_fork_builds_from_source_without_downloading() {
    let s = setup();
    let (stub, log) = stub_cargo(&s.dir);
    let server = StaticServer::start(&s.release);
    let sha = "0123456789abcdef0123456789abcdef01234567";
    for (repo, r#ref) in [
        ("relkit/relkit", sha),
        ("someone/relkit-fork", "v1"),
        ("", ""),
    ] {
        let out = install(
            &s,
            &server,
            &["auto", &action_path(), "", repo, r#ref],
            &[("PATH", &path_with(&stub))],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    assert!(
        server.requests.lock().expect("log").is_empty(),
        "no download for a SHA ref, a fork or a local action"
    );
    assert!(
        fs_err::read_to_string(&log)
            .expect("cargo called")
            .contains("install --locked")
    );
    // A version tag of the upstream action downloads the version in its Cargo.toml.
    let out = install(
        &s,
        &server,
        &["auto", &action_path(), "", "relkit/relkit", "v0"],
        &[("PATH", &path_with(&stub))],
    );
    check_installed(&out, &s);
    assert_eq!(server.count(&archive_name()), 1);
}

#[test]
fn prebuilt_mode_never_builds_and_bad_arguments_are_one_line() {
    let s = setup();
    let (stub, log) = stub_cargo(&s.dir);
    let empty = s.dir.join("empty");
    fs_err::create_dir_all(&empty).expect("mkdir");
    let server = StaticServer::start(&empty);
    let out = install(
        &s,
        &server,
        &["prebuilt", &action_path(), "0.1.0"],
        &[("PATH", &path_with(&stub))],
    );
    assert_refused(&out, &s, "no prebuilt relkit 0.1.0");
    assert!(!log.exists(), "prebuilt mode must not build");
    for (args, want) in [
        (
            vec!["sometimes", "."],
            "install mode `sometimes` is not auto, prebuilt or source",
        ),
        (
            vec!["auto", "/nonexistent/action"],
            "the action's folder `/nonexistent/action` does not exist",
        ),
        (
            vec!["prebuilt", ".", "latest"],
            "relkit-version `latest` is not a version like 1.2.3",
        ),
    ] {
        let mut full = args.clone();
        if full[1] == "." {
            full[1] = Box::leak(action_path().into_boxed_str());
        }
        let out = install(&s, &server, &full, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(want) && err.lines().filter(|l| l.starts_with("::error")).count() == 1,
            "{err}"
        );
    }
}

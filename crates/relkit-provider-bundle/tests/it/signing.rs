//! Signed `_SHA256SUMS`: an RSA key (the Registry takes RSA/DSA only) in a
//! private GNUPGHOME, used from the keyring and imported from an env var,
//! verified by the real gpg.

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_core::manifest::{Manifest, SignatureKind};

use crate::{binary_args, cmd, fake_binaries};

/// A throwaway GNUPGHOME holding one RSA signing key; the agent it starts is
/// stopped when dropped.
pub(crate) struct TestKey {
    pub(crate) home: tempfile::TempDir,
    pub(crate) fingerprint: String,
    pub(crate) passphrase: Option<String>,
}

impl TestKey {
    pub(crate) fn new(passphrase: Option<&str>) -> Self {
        relkit_testkit::require("gpg");
        // Short path: gpg-agent's socket path must fit in 108 bytes.
        let home = tempfile::Builder::new()
            .prefix("gh")
            .tempdir_in("/tmp")
            .unwrap();
        relkit_testkit::set_mode(home.path(), 0o700);
        relkit_testkit::run_ok(
            gpg_in(home.path())
                .args([
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    passphrase.unwrap_or(""),
                ])
                .args([
                    "--quick-gen-key",
                    "relkit test <test@example.com>",
                    "rsa2048",
                    "sign",
                    "never",
                ]),
        );
        let out = relkit_testkit::run_ok(
            gpg_in(home.path()).args(["--with-colons", "--list-secret-keys"]),
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let fingerprint = text
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .unwrap()
            .split(':')
            .nth(9)
            .unwrap()
            .to_owned();
        let key = TestKey {
            home,
            fingerprint,
            passphrase: passphrase.map(str::to_owned),
        };
        key.forget_passphrase();
        key
    }

    /// Stop the agent so no cached passphrase makes signing succeed by itself.
    fn forget_passphrase(&self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "all"])
            .output();
    }

    pub(crate) fn gpg(&self) -> Command {
        gpg_in(self.home.path())
    }

    pub(crate) fn public_armored(&self) -> String {
        let out =
            relkit_testkit::run_ok(self.gpg().args(["--armor", "--export", &self.fingerprint]));
        String::from_utf8(out.stdout).unwrap()
    }

    pub(crate) fn secret_armored(&self) -> String {
        let out = relkit_testkit::run_ok(
            self.gpg()
                .args([
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    self.passphrase.as_deref().unwrap_or(""),
                ])
                .args(["--armor", "--export-secret-keys", &self.fingerprint]),
        );
        self.forget_passphrase();
        String::from_utf8(out.stdout).unwrap()
    }

    /// `gpg --verify SIG FILE` in a fresh keyring holding only the public key.
    pub(crate) fn verify(&self, sig: &Path, file: &Path) -> std::process::Output {
        let home = tempfile::Builder::new()
            .prefix("gv")
            .tempdir_in("/tmp")
            .unwrap();
        relkit_testkit::set_mode(home.path(), 0o700);
        let pub_file = home.path().join("pub.asc");
        fs_err::write(&pub_file, self.public_armored()).unwrap();
        let gpg = || {
            let mut c = Command::new("gpg");
            c.env("GNUPGHOME", home.path())
                .args(["--batch", "--no-tty"]);
            c
        };
        relkit_testkit::run_ok(gpg().arg("--import").arg(&pub_file));
        let out = relkit_testkit::run(gpg().arg("--verify").arg(sig).arg(file));
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", home.path())
            .args(["--kill", "all"])
            .output();
        out
    }
}

fn gpg_in(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.env("GNUPGHOME", home).args(["--batch", "--no-tty"]);
    c
}

impl Drop for TestKey {
    fn drop(&mut self) {
        self.forget_passphrase();
    }
}

/// Bundle `bins` signed with `key`, given through `how`.
pub(crate) fn signed_bundle(
    key: &TestKey,
    bins: &[(String, PathBuf)],
    out_dir: &Path,
    extra: &[&str],
    import: bool,
) -> std::process::Output {
    let mut c = cmd();
    c.args([
        "--name",
        "demo",
        "--version",
        "1.2.3",
        "--namespace",
        "acme",
    ])
    .args(extra);
    c.args(binary_args(bins)).arg("--output-dir").arg(out_dir);
    if import {
        c.env("TEST_GPG_KEY", key.secret_armored())
            .args(["--gpg-import-key-env", "TEST_GPG_KEY"]);
        // The keyring in GNUPGHOME must not be what signs.
        c.env("GNUPGHOME", "/nonexistent-gnupg-home");
    } else {
        c.env("GNUPGHOME", key.home.path())
            .args(["--gpg-key-id", &key.fingerprint]);
    }
    if let Some(p) = &key.passphrase {
        c.env("TEST_GPG_PASSPHRASE", p)
            .args(["--gpg-passphrase-env", "TEST_GPG_PASSPHRASE"]);
    }
    relkit_testkit::run(&mut c)
}

fn check_signed(key: &TestKey, out_dir: &Path, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sums = out_dir.join("terraform-provider-demo_1.2.3_SHA256SUMS");
    let sig = out_dir.join("terraform-provider-demo_1.2.3_SHA256SUMS.sig");
    let bytes = fs_err::read(&sig).unwrap();
    // Binary OpenPGP packet (tag 2, signature), not ASCII armor.
    assert!(
        bytes[0] & 0x80 != 0 && !bytes.starts_with(b"-----"),
        "binary signature"
    );
    let v = key.verify(&sig, &sums);
    assert!(
        v.status.success(),
        "gpg --verify: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let part = Manifest::read(&out_dir.join("terraform-provider-demo_1.2.3.part.json")).unwrap();
    let sums_artifact = part
        .artifacts
        .iter()
        .find(|a| a.file.ends_with("_SHA256SUMS"))
        .unwrap();
    assert_eq!(sums_artifact.signatures.len(), 1);
    assert_eq!(sums_artifact.signatures[0].kind, SignatureKind::Openpgp);
    assert_eq!(
        sums_artifact.signatures[0].file,
        "terraform-provider-demo_1.2.3_SHA256SUMS.sig"
    );
    assert_eq!(
        sums_artifact.signatures[0].key_id.as_deref(),
        Some(key.fingerprint.as_str())
    );
    assert!(
        part.artifacts
            .iter()
            .any(|a| a.file.ends_with("_SHA256SUMS.sig"))
    );
    // A tampered SHA256SUMS no longer verifies.
    let tampered = out_dir.join("tampered");
    let mut text = fs_err::read(&sums).unwrap();
    text[0] ^= 1;
    fs_err::write(&tampered, text).unwrap();
    assert!(!key.verify(&sig, &tampered).status.success());
}

#[test]
fn signs_with_keyring_key_and_passphrase() {
    let work = tempfile::tempdir().unwrap();
    let key = TestKey::new(Some("correct horse"));
    let bins = fake_binaries(work.path());
    let out_dir = work.path().join("dist");
    let out = signed_bundle(&key, &bins, &out_dir, &[], false);
    check_signed(&key, &out_dir, &out);
    // The passphrase never shows up in the output.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("correct horse"));
}

#[test]
fn signs_with_imported_key() {
    let work = tempfile::tempdir().unwrap();
    let key = TestKey::new(Some("s3cret"));
    let bins = fake_binaries(work.path());
    let out_dir = work.path().join("dist");
    let out = signed_bundle(&key, &bins, &out_dir, &[], true);
    check_signed(&key, &out_dir, &out);
}

#[test]
fn wrong_passphrase_fails_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let mut key = TestKey::new(Some("right"));
    key.passphrase = Some("NotThePassphrase".into());
    let bins = fake_binaries(work.path());
    let out_dir = work.path().join("dist");
    let out = signed_bundle(&key, &bins, &out_dir, &[], false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: signing `_SHA256SUMS`: "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("NotThePassphrase"),
        "the passphrase is not printed: {stderr}"
    );
    assert!(
        !out_dir.exists(),
        "{:?}",
        relkit_testkit::files_in(&out_dir)
    );
}

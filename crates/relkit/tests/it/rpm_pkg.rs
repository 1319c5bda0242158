//! `[package] formats = ["deb", "rpm"]`: `relkit dist` also writes an
//! `.rpm` per Linux target, its header signed with the release's OpenPGP
//! key, listed, checksummed and verified like every release file; bad RPM
//! settings fail in one line and leave the output folder untouched.

use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;

use super::{project, relkit};

const PACKAGE: &str = "[package]\n\
formats = [\"deb\", \"rpm\"]\n\
maintainer = \"Jane Doe <jane@example.org>\"\n\
description = \"Greets whoever runs it\"\n\
license = \"MIT\"\n\
docs = [\"README.md\"]\n\
[package.rpm]\n\
release = \"2\"\n\
requires = [\"glibc >= 2.17\"]\n\
[sign]\n\
gpg-import-key-env = \"RELKIT_TEST_GPG_KEY\"\n";

/// An RSA key made in `dir`: (armored secret key, public key file).
pub(super) fn gpg_key(dir: &Path) -> (String, std::path::PathBuf) {
    kit::require("gpg");
    let home = dir.join("gnupg");
    fs_err::create_dir_all(&home).unwrap();
    kit::set_mode(&home, 0o700);
    let gpg = |args: &[&str]| {
        kit::run_ok(
            Command::new("gpg")
                .arg("--homedir")
                .arg(&home)
                .arg("--batch")
                .args(args),
        )
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "relkit rpm <rpm@relkit.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let secret = gpg(&["--armor", "--export-secret-keys"]);
    let public = gpg(&["--armor", "--export"]);
    let public_path = dir.join("key.asc");
    fs_err::write(&public_path, &public.stdout).unwrap();
    (String::from_utf8(secret.stdout).unwrap(), public_path)
}

#[test]
fn dist_writes_a_signed_rpm_per_linux_target() {
    kit::require("rpm");
    let dir = project(PACKAGE);
    let d = dir.path();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = gpg_key(keys.path());
    let env = [
        ("SOURCE_DATE_EPOCH", "1700000000"),
        ("RELKIT_TEST_GPG_KEY", secret.as_str()),
    ];
    let out = relkit(d, &["dist"], &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let files = kit::files_in(&d.join("dist"));
    let rpms: Vec<&String> = files.iter().filter(|f| f.ends_with(".rpm")).collect();
    assert_eq!(rpms, ["tool-1.4.0-2.x86_64.rpm"], "{files:?}");
    assert!(
        files.iter().any(|f| f == "tool_1.4.0_amd64.deb"),
        "{files:?}"
    );
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    assert!(sums.contains("  tool-1.4.0-2.x86_64.rpm\n"), "{sums}");
    let m: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    let rpm = m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["file"] == "tool-1.4.0-2.x86_64.rpm")
        .unwrap();
    assert_eq!(rpm["kind"], "rpm-package");
    assert_eq!(rpm["target"], "x86_64-unknown-linux-gnu");
    let verify = relkit(d, &["manifest", "verify", "dist/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));
    // Signed with the release key: rpm -K passes once it is imported.
    let path = d.join("dist/tool-1.4.0-2.x86_64.rpm");
    let db = d.join("rpmdb");
    let rpm_cmd = || {
        let mut c = Command::new("rpm");
        c.arg("--dbpath").arg(&db).env("LC_ALL", "C");
        c
    };
    kit::run_ok(rpm_cmd().arg("--import").arg(&public));
    let k = kit::run_ok(rpm_cmd().arg("-Kv").arg(&path));
    let k = String::from_utf8_lossy(&k.stdout);
    assert!(
        k.contains("Header V4 RSA/SHA") && !k.contains("NOT OK"),
        "{k}"
    );
    // The binary in the package is the one in the archive.
    let q = kit::run_ok(
        rpm_cmd()
            .args(["-qp", "--qf", "[%{FILEDIGESTS} %{FILENAMES}\\n]"])
            .arg(&path),
    );
    let listing = String::from_utf8_lossy(&q.stdout);
    let digest = relkit_core::hash::hash_file(
        &d.join("prebuilt/tool"),
        relkit_core::hash::Algo::Sha256,
        |_| {},
    )
    .unwrap()
    .hex;
    assert!(
        listing.contains(&format!("{digest} /usr/bin/tool\n")),
        "{listing}"
    );
    assert!(
        listing.contains(" /usr/share/doc/tool/README.md\n"),
        "{listing}"
    );
    // Signed at the build time, not at the time of signing: a second build
    // a second later is byte-identical, the header's RSA signature included.
    let first = fs_err::read(&path).unwrap();
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = relkit(d, &["dist"], &env);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    assert!(
        first == fs_err::read(&path).unwrap(),
        "the signed .rpm differs on a second build"
    );
}

#[test]
fn bad_rpm_settings_fail_in_one_line_and_write_nothing() {
    let base =
        "[package]\nformats = [\"rpm\"]\nmaintainer = \"J <j@e.org>\"\ndescription = \"x\"\n";
    let cases: [(&str, String, &str); 3] = [
        (
            "missing license",
            base.to_owned(),
            "package.license: is required for RPM packages",
        ),
        (
            "bad release",
            format!("{base}license = \"MIT\"\n[package.rpm]\nrelease = \"1-2\"\n"),
            "package.rpm.release: `1-2` is not an RPM release",
        ),
        (
            "bad name",
            base.replace(
                "[package]\n",
                "[package]\nname = \"-tool\"\nlicense = \"MIT\"\n",
            ),
            "package.name: `-tool` is not an RPM package name",
        ),
    ];
    for (name, toml, want) in cases {
        let dir = project(&toml);
        let d = dir.path();
        kit::write(&d.join("dist/keep.txt"), b"mine", 0o644);
        let out = relkit(d, &["dist"], &[]);
        super::fails_in_one_line(&out, d, name, want);
        assert_eq!(
            kit::files_in(&d.join("dist")),
            ["keep.txt"],
            "{name} touched dist/"
        );
    }
}

//! The DNF repository, checked by dnf itself: served on 127.0.0.1, dnf
//! with `gpgcheck=1` and `repo_gpgcheck=1` installs the newest package into
//! a throwaway root, and refuses a flipped byte in repomd.xml or a key it
//! was not given; createrepo_c's metadata for the same packages lists the
//! same packages with the same checksums, and dnf accepts both.

// Scenario tests name their few recurring things in one letter (d: the
// work folder, w: what was written, o: a tool's output).
#![allow(clippy::many_single_char_names)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_core::version::Version;
use relkit_linux_pkg::dnf_repo;
use relkit_linux_pkg::rpm::{self, RpmOptions};
use relkit_testkit as kit;

use kit::pkgrepo::{Server, dnf, text};

use super::rpm::{Key, key};
use super::{EPOCH, package, sources};

/// Signed packages of `tool` at `version`, without dependencies dnf
/// could not find in an empty root.
fn rpm_at(dir: &Path, version: &str, key: &Key) -> PathBuf {
    fs_err::create_dir_all(dir).unwrap();
    let mut p = package(&sources(dir), EPOCH);
    p.version = Version::parse("version", version).unwrap();
    let sign = |f: &Path| key.sign(f);
    rpm::build(&p, &RpmOptions::default(), &dir.join("out"), Some(&sign))
        .unwrap()
        .path
}

/// (location, sha256) of every package in a tree's primary.xml.gz.
fn listed(tree: &Path) -> Vec<(String, String)> {
    let repomd = fs_err::read_to_string(tree.join("repodata/repomd.xml")).unwrap();
    let at = repomd.find("<data type=\"primary\">").unwrap();
    let href = repomd[at..].split("<location href=\"").nth(1).unwrap();
    let href = &href[..href.find('"').unwrap()];
    let mut xml = String::new();
    flate2::read::GzDecoder::new(fs_err::File::open(tree.join(href)).unwrap())
        .read_to_string(&mut xml)
        .unwrap();
    let mut out: Vec<(String, String)> = xml
        .split("<package type=\"rpm\">")
        .skip(1)
        .map(|p| {
            let sum = p.split("pkgid=\"YES\">").nth(1).unwrap();
            let loc = p.split("<location href=\"").nth(1).unwrap();
            (
                loc[..loc.find('"').unwrap()].to_owned(),
                sum[..64].to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn dnf_installs_from_the_signed_repository_and_refuses_tampering() {
    kit::require("createrepo_c");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key(d);
    // The previous tree holds 1.2.2; this release adds 1.2.3.
    let old = rpm_at(&d.join("old"), "1.2.2", &key);
    let previous = tree_of(d, "previous", std::slice::from_ref(&old));
    let new = rpm_at(&d.join("new"), "1.2.3", &key);
    let sign = |f: &Path| armored(&key, f);
    let tree = d.join("tree");
    let w = dnf_repo::build(
        Some(&previous),
        std::slice::from_ref(&new),
        &tree,
        true,
        EPOCH,
        Some(&sign),
    )
    .unwrap();
    assert_eq!(
        w.packages,
        ["tool-1.2.2-1.x86_64.rpm", "tool-1.2.3-1.x86_64.rpm"]
    );
    assert!(w.files.contains(&"repodata/repomd.xml.asc".to_owned()));
    // Reproducible: the same inputs give the same metadata.
    let again = d.join("again");
    dnf_repo::build(
        Some(&previous),
        std::slice::from_ref(&new),
        &again,
        true,
        EPOCH,
        None,
    )
    .unwrap();
    assert_eq!(
        fs_err::read(tree.join("repodata/repomd.xml")).unwrap(),
        fs_err::read(again.join("repodata/repomd.xml")).unwrap()
    );

    let server = Server::start(&tree);
    let url = server.url();
    let o = dnf(&d.join("ok"), &url, &key_path(&key), &["install", "tool"]);
    assert!(o.status.success(), "dnf install: {}", text(&o));
    let out = kit::run_ok(Command::new(d.join("ok/root/usr/bin/tool")).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tool 1.2.3\n");
    // Both versions are listed (older ones are kept).
    let o = dnf(
        &d.join("ok"),
        &url,
        &key_path(&key),
        &["list", "--showduplicates", "tool"],
    );
    let t = text(&o);
    assert!(t.contains("1.2.2-1") && t.contains("1.2.3-1"), "{t}");

    // An unknown key: dnf refuses the repository.
    let other = super::rpm::key(&d.join("other"));
    let o = dnf(
        &d.join("unknown"),
        &url,
        &other.public,
        &["install", "tool"],
    );
    assert!(
        !o.status.success(),
        "accepted with an unknown key: {}",
        text(&o)
    );
    assert!(text(&o).to_lowercase().contains("gpg"), "{}", text(&o));
    // A flipped byte in repomd.xml: its signature no longer matches.
    let repomd = tree.join("repodata/repomd.xml");
    let good = fs_err::read(&repomd).unwrap();
    let mut bad = good.clone();
    let at = bad.len() - 20;
    bad[at] ^= 0x01;
    fs_err::write(&repomd, &bad).unwrap();
    let o = dnf(
        &d.join("flipped"),
        &url,
        &key_path(&key),
        &["install", "tool"],
    );
    assert!(!o.status.success(), "accepted a flipped byte: {}", text(&o));
    assert!(text(&o).to_lowercase().contains("gpg"), "{}", text(&o));
    fs_err::write(&repomd, &good).unwrap();
    drop(server);

    // createrepo_c from the same packages: the same list and checksums,
    // and dnf accepts its tree too.
    let theirs = d.join("theirs");
    fs_err::create_dir_all(&theirs).unwrap();
    for f in &w.packages {
        fs_err::copy(tree.join(f), theirs.join(f)).unwrap();
    }
    kit::run_ok(Command::new("createrepo_c").arg("--quiet").arg(&theirs));
    assert_eq!(listed(&tree), listed(&theirs));
    let theirs_server = Server::start(&theirs);
    let url = theirs_server.url();
    let o = dnf(
        &d.join("createrepo"),
        &url,
        &key_path(&key),
        &["--setopt=relkit.repo_gpgcheck=0", "install", "tool"],
    );
    assert!(
        o.status.success(),
        "dnf on createrepo_c's tree: {}",
        text(&o)
    );
}

fn key_path(key: &Key) -> PathBuf {
    key.public.clone()
}

/// An armored detached signature made the way relkit-sign's
/// `GpgSigner::sign_text(_, TextSignature::Detached, _)` makes it (the
/// `relkit dnf-repo` tests use GpgSigner itself).
// The shape `dnf_repo::Sign` takes; a failing gpg fails the test instead.
#[allow(clippy::unnecessary_wraps)]
fn armored(key: &Key, file: &Path) -> Result<Vec<u8>, relkit_core::Error> {
    let out = kit::run_ok(
        Command::new("gpg")
            .arg("--homedir")
            .arg(&key.home)
            .args([
                "--batch",
                "--armor",
                "--digest-algo",
                "SHA512",
                "--detach-sign",
                "--output",
                "-",
            ])
            .arg(file),
    );
    Ok(out.stdout)
}

/// A bad-input scenario: name, previous tree, package, signer, the error wanted.
type Case<'a> = (
    &'a str,
    Option<&'a Path>,
    &'a Path,
    Option<dnf_repo::Sign<'a>>,
    String,
);

/// A tree holding `rpms`, built by `dnf_repo::build` from nothing.
fn tree_of(d: &Path, name: &str, rpms: &[PathBuf]) -> PathBuf {
    let tree = d.join(name);
    dnf_repo::build(None, rpms, &tree, true, EPOCH, None).unwrap();
    tree
}

/// Every file of a tree with its bytes, to show a failed build left it as it was.
fn snapshot(tree: &Path) -> Vec<(String, Vec<u8>)> {
    kit::files_in(tree)
        .into_iter()
        .map(|f| {
            let b = fs_err::read(tree.join(&f)).unwrap();
            (f, b)
        })
        .collect()
}

#[test]
fn only_latest_keeps_the_newest_version_in_metadata_and_tree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key(d);
    let old = rpm_at(&d.join("old"), "1.2.2", &key);
    let new = rpm_at(&d.join("new"), "1.2.3", &key);
    let rc = rpm_at(&d.join("rc"), "1.2.4-rc.1", &key);
    let previous = tree_of(d, "previous", std::slice::from_ref(&old));
    // Kept by default ...
    let both = d.join("both");
    let w = dnf_repo::build(
        Some(&previous),
        std::slice::from_ref(&new),
        &both,
        true,
        EPOCH,
        None,
    )
    .unwrap();
    assert_eq!(
        w.packages,
        ["tool-1.2.2-1.x86_64.rpm", "tool-1.2.3-1.x86_64.rpm"]
    );
    // ... dropped from the metadata and the tree with keep_older = false.
    let latest = d.join("latest");
    let w = dnf_repo::build(
        Some(&both),
        std::slice::from_ref(&new),
        &latest,
        false,
        EPOCH,
        None,
    )
    .unwrap();
    assert_eq!(w.packages, ["tool-1.2.3-1.x86_64.rpm"]);
    assert_eq!(listed(&latest).len(), 1, "{:?}", listed(&latest));
    assert!(listed(&latest)[0].0.ends_with("tool-1.2.3-1.x86_64.rpm"));
    assert!(!latest.join("tool-1.2.2-1.x86_64.rpm").exists());
    assert!(
        !kit::files_in(&latest).iter().any(|f| f.contains("1.2.2")),
        "{:?}",
        kit::files_in(&latest)
    );
    // "Newest" is rpm's order, not the order given: 1.2.4~rc.1 is newer
    // than 1.2.3 (and older than 1.2.4 would be); adding 1.2.2 afterwards
    // keeps it.
    let w = dnf_repo::build(
        Some(&both),
        std::slice::from_ref(&rc),
        &d.join("rc-tree"),
        false,
        EPOCH,
        None,
    )
    .unwrap();
    assert_eq!(w.packages, ["tool-1.2.4~rc.1-1.x86_64.rpm"]);
    let w = dnf_repo::build(
        Some(&d.join("rc-tree")),
        std::slice::from_ref(&old),
        &d.join("older"),
        false,
        EPOCH,
        None,
    )
    .unwrap();
    assert_eq!(w.packages, ["tool-1.2.4~rc.1-1.x86_64.rpm"]);
}

#[test]
fn rpmvercmp_orders_versions_as_rpm_does() {
    kit::require("rpm");
    let pairs = [
        ("1.0", "1.0"),
        ("1.0", "1.1"),
        ("1.10", "1.9"),
        ("1.0~rc1", "1.0"),
        ("1.0~rc1", "1.0~rc2"),
        ("1.0~~", "1.0~"),
        ("1.0^git1", "1.0"),
        ("1.0^git1", "1.0.1"),
        ("1.0^", "1.0~"),
        ("1.0a", "1.0"),
        ("1.0a", "1.0.1"),
        ("1a", "1b"),
        ("a", "1"),
        ("001", "1"),
        ("1.0.", "1.0"),
        ("1_0", "1.0"),
        ("2.0.0", "10"),
        ("1.2.3~rc.1", "1.2.3"),
        ("fc4", "fc.4"),
        ("5.5p1", "5.5p10"),
        ("xyz10.1", "xyz10.1.1"),
        ("1.0^", "1.0"),
    ];
    let expr = pairs.iter().fold(String::new(), |mut e, (a, b)| {
        let _ = write!(e, "print(rpm.vercmp('{a}','{b}')..' ') ");
        e
    });
    let o = kit::run_ok(
        Command::new("rpm")
            .arg("--eval")
            .arg(format!("%{{lua:{expr}}}")),
    );
    let theirs: Vec<i32> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(
        theirs.len(),
        pairs.len(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for ((a, b), want) in pairs.iter().zip(theirs) {
        let ours = dnf_repo::rpmvercmp(a, b) as i32;
        assert_eq!(ours, want.signum(), "rpmvercmp({a:?}, {b:?})");
        assert_eq!(
            dnf_repo::rpmvercmp(b, a) as i32,
            -want.signum(),
            "rpmvercmp({b:?}, {a:?})"
        );
    }
}

#[test]
fn bad_input_fails_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key(d);
    let old = rpm_at(&d.join("old"), "1.2.2", &key);
    let new = rpm_at(&d.join("new"), "1.2.3", &key);
    let previous = tree_of(d, "previous", std::slice::from_ref(&old));
    let before = snapshot(&previous);

    // Not an rpm; a truncated one; one with a broken header index.
    let text = d.join("notes.rpm");
    fs_err::write(&text, "hello\n").unwrap();
    let bytes = fs_err::read(&new).unwrap();
    let truncated = d.join("truncated.rpm");
    fs_err::write(&truncated, &bytes[..400]).unwrap();
    let broken = d.join("broken.rpm");
    let mut b = bytes.clone();
    // The main header's first index entry: offset pointing far past its data.
    let sig_len = 16
        + 16 * u32::from_be_bytes(b[104..108].try_into().unwrap()) as usize
        + u32::from_be_bytes(b[108..112].try_into().unwrap()) as usize;
    let main = 96 + sig_len + (8 - sig_len % 8) % 8;
    b[main + 16 + 8..main + 16 + 12].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    fs_err::write(&broken, &b).unwrap();
    // The same NEVRA as the previous tree's, other bytes.
    let changed = d.join("changed").join(old.file_name().unwrap());
    fs_err::create_dir_all(changed.parent().unwrap()).unwrap();
    let mut c = fs_err::read(&old).unwrap();
    let n = c.len();
    c[n - 10] ^= 1;
    fs_err::write(&changed, c).unwrap();
    // Previous trees that cannot be read as one.
    let no_repodata = d.join("no-repodata");
    fs_err::create_dir_all(&no_repodata).unwrap();
    fs_err::copy(&old, no_repodata.join("x.rpm")).unwrap();
    let partial = d.join("partial");
    kit::run_ok(Command::new("cp").arg("-a").arg(&previous).arg(&partial));
    fs_err::remove_file(partial.join(old.file_name().unwrap())).unwrap();
    let swapped = d.join("swapped");
    kit::run_ok(Command::new("cp").arg("-a").arg(&previous).arg(&swapped));
    fs_err::copy(&changed, swapped.join(old.file_name().unwrap())).unwrap();
    let bad_primary = d.join("bad-primary");
    kit::run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(&previous)
            .arg(&bad_primary),
    );
    for f in kit::files_in(&bad_primary) {
        if f.ends_with("-primary.xml.gz") {
            fs_err::write(bad_primary.join(f), "not gzip").unwrap();
        }
    }

    let nowhere = d.join("nowhere");
    let failing = |s: &Path| -> Result<Vec<u8>, relkit_core::Error> {
        Err(relkit_core::Error::invalid(
            "sign",
            format!("no key to sign `{}`", s.display()),
        ))
    };
    let binary = |f: &Path| key.sign(f);
    let cases: Vec<Case<'_>> = vec![
        (
            "not an rpm",
            None,
            &text,
            None,
            format!("`{}`: is not an RPM package", text.display()),
        ),
        (
            "truncated",
            None,
            &truncated,
            None,
            format!(
                "`{}`: is not an RPM package (truncated header)",
                truncated.display()
            ),
        ),
        (
            "broken header",
            None,
            &broken,
            None,
            format!("`{}`: has a malformed RPM header", broken.display()),
        ),
        (
            "same NEVRA, other bytes",
            Some(&previous),
            &changed,
            None,
            format!(
                "`{}`: tool 1.2.2-1.x86_64 is already in the repository with different bytes",
                changed.display()
            ),
        ),
        (
            "no repodata",
            Some(&no_repodata),
            &new,
            None,
            format!(
                "`{}`: is not a DNF repository (no repodata/repomd.xml)",
                no_repodata.display()
            ),
        ),
        (
            "missing previous",
            Some(&nowhere),
            &new,
            None,
            "nowhere`: is not a DNF repository (not a folder)".to_owned(),
        ),
        (
            "listed but missing",
            Some(&partial),
            &new,
            None,
            format!(
                "`{}`: is listed in the previous tree's repodata but missing",
                partial.join(old.file_name().unwrap()).display()
            ),
        ),
        (
            "listed with another sha256",
            Some(&swapped),
            &new,
            None,
            "does not match the sha256 the previous tree's repodata lists for it".to_owned(),
        ),
        (
            "primary not gzip",
            Some(&bad_primary),
            &new,
            None,
            "-primary.xml.gz`: cannot be decompressed".to_owned(),
        ),
        (
            "signing fails",
            Some(&previous),
            &new,
            Some(&failing),
            "no key to sign".to_owned(),
        ),
        (
            "a binary signature",
            Some(&previous),
            &new,
            Some(&binary),
            "repomd.xml.asc: the signer returned no ASCII-armored signature".to_owned(),
        ),
    ];
    for (name, prev, rpm, sign, want) in cases {
        let out = d.join(format!("out-{}", name.replace(' ', "-")));
        let e = dnf_repo::build(prev, &[rpm.to_path_buf()], &out, true, EPOCH, sign).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&want), "{name}: {msg}");
        assert!(!msg.contains('\n'), "{name}: more than one line: {msg}");
        assert!(!out.exists(), "{name}: left {:?}", kit::files_in(&out));
        assert!(
            snapshot(&previous) == before,
            "{name} changed the previous tree"
        );
    }
    // And nothing to publish at all.
    let e = dnf_repo::build(None, &[], &d.join("empty"), true, EPOCH, None).unwrap_err();
    assert_eq!(e.to_string(), "dnf-repo: no .rpm package to publish");
    assert!(!d.join("empty").exists());
}

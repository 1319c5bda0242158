//! The DNF repository, checked by dnf itself: served on 127.0.0.1, dnf
//! with `gpgcheck=1` and `repo_gpgcheck=1` installs the newest package into
//! a throwaway root, and refuses a flipped byte in repomd.xml or a key it
//! was not given; createrepo_c's metadata for the same packages lists the
//! same packages with the same checksums, and dnf accepts both.

// Scenario tests name their few recurring things in one letter (d: the
// work folder, w: what was written, o: a tool's output).
#![allow(clippy::many_single_char_names)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use relkit_core::version::Version;
use relkit_linux_pkg::dnf_repo;
use relkit_linux_pkg::rpm::{self, RpmOptions};
use relkit_testkit as kit;

use super::rpm::{Key, key, throwaway_root};
use super::{EPOCH, package, sources};

/// `python3 -m http.server` on a free loopback port, stopped on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        kit::require("python3");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

/// dnf against the repository at `url` only, with its own config, cache
/// and root.
fn dnf(work: &Path, url: &str, key: &Path, args: &[&str]) -> Output {
    kit::require("dnf");
    let repos = work.join("repos");
    fs_err::create_dir_all(&repos).unwrap();
    fs_err::write(
        repos.join("relkit.repo"),
        format!(
            "[relkit]\nname=relkit test\nbaseurl={url}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            key.display()
        ),
    )
    .unwrap();
    let root = work.join("root");
    if !root.join("bin/sh").exists() {
        throwaway_root(&root);
    }
    let mut c = if kit::is_root() {
        Command::new("dnf")
    } else {
        let mut c = Command::new("unshare");
        c.args(["--map-root-user", "dnf"]);
        c
    };
    c.arg("--installroot")
        .arg(&root)
        .arg(format!("--setopt=reposdir={}", repos.display()))
        .arg(format!(
            "--setopt=cachedir={}",
            work.join("cache").display()
        ))
        .args([
            "--setopt=install_weak_deps=False",
            "--setopt=metadata_expire=0",
            "--releasever=1",
            "--assumeyes",
            "--quiet",
        ])
        .args(args)
        .env("LC_ALL", "C.UTF-8");
    kit::run(&mut c)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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
    let previous = d.join("previous");
    fs_err::create_dir_all(&previous).unwrap();
    fs_err::copy(&old, previous.join(old.file_name().unwrap())).unwrap();
    let new = rpm_at(&d.join("new"), "1.2.3", &key);
    let sign = |f: &Path| key.sign(f);
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
    let url = format!("http://127.0.0.1:{}/", server.port);
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
    let url = format!("http://127.0.0.1:{}/", theirs_server.port);
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

//! `[package] repositories = ["apt", "dnf"]`: `relkit dist` publishes each
//! repository as one release file (`NAME-VERSION-apt-repo.tar.gz`,
//! `NAME-VERSION-dnf-repo.tar.gz`) and the OpenPGP key that signs them and
//! the `.rpm` as `NAME-VERSION-release-key.asc`, listed with their kinds,
//! checksummed and checked by `relkit verify`. Extracted and served on
//! 127.0.0.1, the trees are what dnf (gpgcheck=1, repo_gpgcheck=1) and
//! apt-get (signed-by=) install from with that key file; `--previous-repo`
//! keeps the previous release's packages; bad settings fail in one line
//! and write nothing.

use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;
use relkit_testkit::pkgrepo::{Server, dnf, text};
use serde_json::Value;

use super::apt_repo::{apt_get, apt_root, show};
use super::rpm_pkg::gpg_key;
use super::{project, relkit};

pub(super) const PACKAGE: &str = "[package]\n\
formats = [\"deb\", \"rpm\"]\n\
repositories = [\"apt\", \"dnf\"]\n\
maintainer = \"Jane Doe <jane@example.org>\"\n\
description = \"Greets whoever runs it\"\n\
license = \"MIT\"\n\
[sign]\n\
gpg-import-key-env = \"RELKIT_TEST_GPG_KEY\"\n";

const FILES: [(&str, &str); 3] = [
    ("tool-1.4.0-apt-repo.tar.gz", "apt-repository"),
    ("tool-1.4.0-dnf-repo.tar.gz", "dnf-repository"),
    ("tool-1.4.0-release-key.asc", "openpgp-public-key"),
];

/// A bad-settings scenario: name, relkit.toml, arguments, environment, the error wanted.
type Case<'a> = (
    &'a str,
    String,
    Vec<&'a str>,
    &'a [(&'a str, &'a str)],
    &'a str,
);

fn dist(d: &Path, secret: &str, args: &[&str]) {
    let mut all = vec!["dist"];
    all.extend(args);
    let out = relkit(d, &all, &[("RELKIT_TEST_GPG_KEY", secret)]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
}

/// Extract a repository archive into `site` (as a maintainer does).
fn extract(archive: &Path, site: &Path) {
    fs_err::create_dir_all(site).unwrap();
    kit::run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(site),
    );
}

/// Package locations a DNF tree's primary.xml lists, sorted.
pub(super) fn dnf_listed(tree: &Path) -> Vec<String> {
    let repomd = fs_err::read_to_string(tree.join("repodata/repomd.xml")).unwrap();
    let primary = repomd.split("<data type=\"primary\">").nth(1).unwrap();
    let href = primary.split("<location href=\"").nth(1).unwrap();
    let href = &href[..href.find('"').unwrap()];
    let mut xml = String::new();
    flate2::read::GzDecoder::new(fs_err::File::open(tree.join(href)).unwrap())
        .read_to_string(&mut xml)
        .unwrap();
    let mut out: Vec<String> = xml
        .split("<location href=\"")
        .skip(1)
        .map(|l| l[..l.find('"').unwrap()].to_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn dist_publishes_signed_repositories_that_dnf_and_apt_install_from() {
    for tool in ["rpm", "tar", "apt-get", "dpkg"] {
        kit::require(tool);
    }
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, public) = gpg_key(&d.join("keys"));
    dist(d, &secret, &[]);

    // Listed with their kinds, in SHA256SUMS.
    let m: Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    for (file, kind) in FILES {
        let a = m["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["file"] == file)
            .unwrap_or_else(|| panic!("{file} not in the manifest"));
        assert_eq!(a["kind"], kind, "{file}");
        assert!(
            sums.contains(&format!("  {file}\n")),
            "{file} not in\n{sums}"
        );
    }
    // The published key is the release key.
    let show_key = |p: &Path| {
        kit::run_ok(
            Command::new("gpg")
                .args(["--show-keys", "--with-colons"])
                .arg(p),
        )
        .stdout
    };
    let key = d.join("dist/tool-1.4.0-release-key.asc");
    assert_eq!(show_key(&key), show_key(&public));

    // Reproducible: a second dist gives the same archives.
    dist(d, &secret, &["-o", "dist2"]);
    for (file, _) in FILES {
        assert!(
            fs_err::read(d.join("dist").join(file)).unwrap()
                == fs_err::read(d.join("dist2").join(file)).unwrap(),
            "{file} differs between two builds"
        );
    }

    // The maintainer's step: extract both archives into the hosted folder.
    let site = d.join("site");
    extract(&d.join("dist/tool-1.4.0-apt-repo.tar.gz"), &site);
    extract(&d.join("dist/tool-1.4.0-dnf-repo.tar.gz"), &site);
    assert_eq!(dnf_listed(&site.join("dnf")), ["tool-1.4.0-1.x86_64.rpm"]);

    // dnf with the published key file, both checks on.
    let server = Server::start(&site);
    let url = format!("{}dnf/", server.url());
    let o = dnf(&d.join("dnf"), &url, &key, &["install", "tool"]);
    assert!(o.status.success(), "dnf install: {}", text(&o));
    assert_eq!(
        fs_err::read(d.join("dnf/root/usr/bin/tool")).unwrap(),
        fs_err::read(d.join("prebuilt/tool")).unwrap()
    );
    // apt-get with the same key file in signed-by=.
    let root = d.join("apt-root");
    let conf = apt_root(
        &root,
        &format!(
            "deb [signed-by={}] {}apt/ stable main",
            key.display(),
            server.url()
        ),
    );
    let up = apt_get(&conf, &["update"]);
    assert!(up.status.success(), "{}", show(&up));
    let install = apt_get(&conf, &["install", "tool"]);
    assert!(install.status.success(), "{}", show(&install));
    assert_eq!(
        fs_err::read(root.join("usr/bin/tool")).unwrap(),
        fs_err::read(d.join("prebuilt/tool")).unwrap()
    );
    drop(server);

    // The next release, on the published trees: both versions listed.
    let toml = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
    fs_err::write(d.join("relkit.toml"), toml.replace("1.4.0", "1.5.0")).unwrap();
    dist(d, &secret, &["--previous-repo", "site", "-o", "next"]);
    let next = d.join("next-site");
    extract(&d.join("next/tool-1.5.0-dnf-repo.tar.gz"), &next);
    extract(&d.join("next/tool-1.5.0-apt-repo.tar.gz"), &next);
    assert_eq!(
        dnf_listed(&next.join("dnf")),
        ["tool-1.4.0-1.x86_64.rpm", "tool-1.5.0-1.x86_64.rpm"]
    );
    let packages =
        fs_err::read_to_string(next.join("apt/dists/stable/main/binary-amd64/Packages")).unwrap();
    assert!(
        packages.contains("Version: 1.4.0\n") && packages.contains("Version: 1.5.0\n"),
        "{packages}"
    );

    // `repositories-keep-older = false`: the release after keeps only itself.
    let toml = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
    let toml = toml.replace("1.5.0", "1.6.0").replace(
        "repositories = [",
        "repositories-keep-older = false\nrepositories = [",
    );
    fs_err::write(d.join("relkit.toml"), toml).unwrap();
    dist(d, &secret, &["--previous-repo", "next-site", "-o", "last"]);
    let last = d.join("last-site");
    extract(&d.join("last/tool-1.6.0-dnf-repo.tar.gz"), &last);
    extract(&d.join("last/tool-1.6.0-apt-repo.tar.gz"), &last);
    assert_eq!(dnf_listed(&last.join("dnf")), ["tool-1.6.0-1.x86_64.rpm"]);
    let packages =
        fs_err::read_to_string(last.join("apt/dists/stable/main/binary-amd64/Packages")).unwrap();
    assert!(
        packages.contains("Version: 1.6.0\n") && !packages.contains("Version: 1.5.0\n"),
        "{packages}"
    );
}

/// `relkit verify` knows the repository archives and the key: the release
/// verifies, and each one tampered fails.
#[test]
fn verify_checks_repository_archives_and_the_release_key() {
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, _) = gpg_key(&d.join("keys"));
    dist(d, &secret, &[]);
    let verify = |folder: &str| relkit(d, &["verify", "--dir", folder, "--allow-unsigned"], &[]);
    let ok = verify("dist");
    assert!(ok.status.success(), "{}", kit::render(&ok, d));
    let report = String::from_utf8_lossy(&ok.stdout);
    for (f, _) in FILES {
        assert!(report.contains(f), "{f} not checked:\n{report}");
    }
    for (f, _) in FILES {
        let copy = d.join(format!("tampered-{f}"));
        kit::run_ok(Command::new("cp").arg("-a").arg(d.join("dist")).arg(&copy));
        let path = copy.join(f);
        let mut bytes = fs_err::read(&path).unwrap();
        let n = bytes.len() / 2;
        bytes[n] ^= 1;
        fs_err::write(&path, bytes).unwrap();
        let bad = verify(copy.file_name().unwrap().to_str().unwrap());
        assert_eq!(bad.status.code(), Some(1), "{f}: {}", kit::render(&bad, d));
        let text = String::from_utf8_lossy(&bad.stdout);
        assert!(
            text.lines().any(|l| l.contains(f) && l.contains("FAIL")),
            "{f}:\n{text}"
        );
    }
}

#[test]
fn bad_repository_settings_fail_in_one_line_and_write_nothing() {
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, _) = gpg_key(&d.join("keys"));
    let toml = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
    fs_err::create_dir_all(d.join("broken/dnf")).unwrap();
    let with_key = [("RELKIT_TEST_GPG_KEY", secret.as_str())];
    let cases: [Case<'_>; 5] = [
        (
            "dnf without rpm",
            toml.replace("formats = [\"deb\", \"rpm\"]", "formats = [\"deb\"]"),
            vec!["dist"],
            &with_key[..],
            "package.repositories: `dnf` needs .rpm packages: add \"rpm\" to [package] formats",
        ),
        (
            "no key",
            toml.replace("[sign]\ngpg-import-key-env = \"RELKIT_TEST_GPG_KEY\"\n", ""),
            vec!["dist"],
            &[][..],
            "package.repositories: a repository must be signed: set [sign] gpg-key-id or gpg-import-key-env",
        ),
        (
            "--previous-repo without repositories",
            toml.replace("repositories = [\"apt\", \"dnf\"]\n", ""),
            vec!["dist", "--previous-repo", "broken"],
            &with_key[..],
            "--previous-repo: relkit.toml publishes no repository",
        ),
        (
            "--previous-repo not a folder",
            toml.clone(),
            vec!["dist", "--previous-repo", "nowhere"],
            &with_key[..],
            "--previous-repo: `nowhere` is not a folder",
        ),
        (
            "a previous tree that is not one",
            toml.clone(),
            vec!["dist", "--previous-repo", "broken"],
            &with_key[..],
            "broken/dnf`: is not a DNF repository (no repodata/repomd.xml)",
        ),
    ];
    for (name, config, args, env, want) in cases {
        fs_err::write(d.join("relkit.toml"), &config).unwrap();
        let out = relkit(d, &args, env);
        super::fails_in_one_line(&out, d, name, want);
        let written = kit::files_in(&d.join("dist"));
        assert!(
            written.iter().all(|f| f.starts_with('.')),
            "{name} wrote {written:?}"
        );
    }
}

//! `relkit dnf-repo`: the repository built from `relkit dist`'s signed
//! `.rpm`, served on 127.0.0.1, is what dnf with `gpgcheck=1` and
//! `repo_gpgcheck=1` installs from, with the tree's own `key.asc` (the
//! armored signature relkit-sign's GpgSigner makes); the tree is
//! reproducible, keeps older versions (or not, with `--only-latest`), and
//! bad input fails in one line leaving the output as it was.

use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;
use relkit_testkit::pkgrepo::{Server, dnf, text};

use super::rpm_pkg::gpg_key;
use super::{project, relkit};

const PACKAGE: &str = "[package]\n\
formats = [\"rpm\"]\n\
maintainer = \"Jane Doe <jane@example.org>\"\n\
description = \"Greets whoever runs it\"\n\
license = \"MIT\"\n\
[sign]\n\
gpg-import-key-env = \"RELKIT_TEST_GPG_KEY\"\n";

const RPM: &str = "dist/tool-1.4.0-1.x86_64.rpm";

/// `relkit dist` for the project's version: its signed `.rpm`.
fn dist(d: &Path, secret: &str) {
    let out = relkit(d, &["dist"], &[("RELKIT_TEST_GPG_KEY", secret)]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
}

/// A bad-input scenario: name, arguments, environment, the error wanted.
type Case<'a> = (&'a str, Vec<&'a str>, &'a [(&'a str, &'a str)], &'a str);

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
fn dnf_installs_from_the_served_repository() {
    kit::require("rpm");
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, public) = gpg_key(&d.join("keys"));
    dist(d, &secret);
    let env = [("RELKIT_GPG_PRIVATE_KEY", secret.as_str())];
    let out = relkit(d, &["dnf-repo", "--output", "repo", RPM], &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let repo = d.join("repo");
    let files = kit::files_in(&repo);
    for want in [
        "tool-1.4.0-1.x86_64.rpm",
        "repodata/repomd.xml",
        "repodata/repomd.xml.asc",
        "key.asc",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} not in {files:?}");
    }
    // key.asc is the release key (the one the .rpm is signed with).
    assert_eq!(
        kit::run_ok(
            Command::new("gpg")
                .args(["--show-keys", "--with-colons"])
                .arg(repo.join("key.asc"))
        )
        .stdout,
        kit::run_ok(
            Command::new("gpg")
                .args(["--show-keys", "--with-colons"])
                .arg(&public)
        )
        .stdout
    );
    // Reproducible: the same package and key give the same tree.
    let again = relkit(d, &["dnf-repo", "--output", "repo2", RPM], &env);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    assert!(
        snapshot(&repo) == snapshot(&d.join("repo2")),
        "two builds differ"
    );

    // dnf, gpgcheck=1 and repo_gpgcheck=1, with the tree's key.asc.
    let key = d.join("published-key.asc");
    fs_err::copy(repo.join("key.asc"), &key).unwrap();
    let server = Server::start(&repo);
    let o = dnf(&d.join("dnf"), &server.url(), &key, &["install", "tool"]);
    assert!(o.status.success(), "dnf install: {}", text(&o));
    assert_eq!(
        fs_err::read(d.join("dnf/root/usr/bin/tool")).unwrap(),
        fs_err::read(d.join("prebuilt/tool")).unwrap()
    );
    // A flipped byte in the signed repomd.xml: dnf refuses the repository.
    let repomd = repo.join("repodata/repomd.xml");
    let mut bytes = fs_err::read(&repomd).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 1;
    fs_err::write(&repomd, bytes).unwrap();
    let o = dnf(
        &d.join("flipped"),
        &server.url(),
        &key,
        &["install", "tool"],
    );
    assert!(!o.status.success(), "accepted a flipped byte: {}", text(&o));
    assert!(text(&o).to_lowercase().contains("gpg"), "{}", text(&o));
    drop(server);
}

#[test]
fn the_previous_tree_keeps_older_versions_and_bad_input_writes_nothing() {
    kit::require("rpm");
    let dir = project(PACKAGE);
    let d = dir.path();
    let (secret, _) = gpg_key(&d.join("keys"));
    dist(d, &secret);
    fs_err::copy(d.join(RPM), d.join("old.rpm")).unwrap();
    let toml = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
    fs_err::write(d.join("relkit.toml"), toml.replace("1.4.0", "1.5.0")).unwrap();
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    dist(d, &secret);
    let new = "dist/tool-1.5.0-1.x86_64.rpm";
    let env = [("RELKIT_GPG_PRIVATE_KEY", secret.as_str())];
    let ok = |args: &[&str]| {
        let out = relkit(d, args, &env);
        assert!(out.status.success(), "{}", kit::render(&out, d));
    };
    ok(&["dnf-repo", "-o", "repo", "old.rpm"]);
    assert_eq!(super::repos::dnf_listed(&d.join("repo")), ["old.rpm"]);
    // In place: the previous tree is the output.
    ok(&["dnf-repo", "--previous", "repo", "-o", "repo", new]);
    assert_eq!(
        super::repos::dnf_listed(&d.join("repo")),
        ["old.rpm", "tool-1.5.0-1.x86_64.rpm"]
    );
    ok(&[
        "dnf-repo",
        "--only-latest",
        "--previous",
        "repo",
        "-o",
        "latest",
        new,
    ]);
    assert_eq!(
        super::repos::dnf_listed(&d.join("latest")),
        ["tool-1.5.0-1.x86_64.rpm"]
    );
    assert!(!d.join("latest/old.rpm").exists());

    // Bad input: one line naming the file, exit 1, the repository as it was.
    let before = snapshot(&d.join("repo"));
    kit::write(&d.join("notes.rpm"), b"hello\n", 0o644);
    let bytes = fs_err::read(d.join(new)).unwrap();
    kit::write(&d.join("truncated.rpm"), &bytes[..300], 0o644);
    let mut changed = fs_err::read(d.join("old.rpm")).unwrap();
    let n = changed.len();
    changed[n - 10] ^= 1;
    kit::write(&d.join("changed/old.rpm"), &changed, 0o644);
    fs_err::create_dir_all(d.join("not-a-repo")).unwrap();
    let cases: [Case<'_>; 6] = [
        (
            "not an rpm",
            vec!["dnf-repo", "--previous", "repo", "-o", "repo", "notes.rpm"],
            &env[..],
            "notes.rpm`: is not an RPM package",
        ),
        (
            "malformed rpm",
            vec![
                "dnf-repo",
                "--previous",
                "repo",
                "-o",
                "repo",
                "truncated.rpm",
            ],
            &env[..],
            "truncated.rpm`: is not an RPM package (truncated header)",
        ),
        (
            "same version, other bytes",
            vec![
                "dnf-repo",
                "--previous",
                "repo",
                "-o",
                "repo",
                "changed/old.rpm",
            ],
            &env[..],
            "changed/old.rpm`: tool 1.4.0-1.x86_64 is already in the repository with different bytes",
        ),
        (
            "not a repository",
            vec!["dnf-repo", "--previous", "not-a-repo", "-o", "repo", new],
            &env[..],
            "not-a-repo`: is not a DNF repository (no repodata/repomd.xml)",
        ),
        (
            "a package of the previous tree missing",
            vec!["dnf-repo", "--previous", "latest", "-o", "repo", new],
            &env[..],
            "is listed in the previous tree's repodata but missing",
        ),
        (
            "no key",
            vec!["dnf-repo", "--previous", "repo", "-o", "repo", new],
            &[][..],
            "dnf-repo: a DNF repository must be signed: give --gpg-key-id or set RELKIT_GPG_PRIVATE_KEY",
        ),
    ];
    // The tree --only-latest wrote lacks a package its repodata lists once
    // that package is removed by hand (a partial checkout).
    fs_err::remove_file(d.join("latest/tool-1.5.0-1.x86_64.rpm")).unwrap();
    for (name, args, envs, want) in cases {
        let out = relkit(d, &args, envs);
        super::fails_in_one_line(&out, d, name, want);
        assert!(
            snapshot(&d.join("repo")) == before,
            "{name} changed the repository"
        );
        let leftovers: Vec<String> = fs_err::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".relkit-dnf-"))
            .collect();
        assert!(leftovers.is_empty(), "{name} left {leftovers:?}");
    }
}

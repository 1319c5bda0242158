//! `relkit apt-repo`: the repository built from `relkit dist`'s `.deb`,
//! served on 127.0.0.1, is what `apt-get update` and `apt-get install`
//! accept in a throwaway root with the key in `signed-by=`; a flipped byte
//! in `Packages` or `InRelease`, or another key, makes `apt-get update`
//! refuse. The tree is reproducible and keeps older versions.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use relkit_testkit as kit;

use super::{project, relkit};

const PACKAGE: &str = "[package]\n\
maintainer = \"Jane Doe <jane@example.org>\"\n\
description = \"greets whoever runs it\"\n";

/// A static file server on 127.0.0.1 (python's http.server), stopped on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in `{line}`"));
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new gpg key in its own home: (home, armored secret key, binary public key file).
fn gpg_key(dir: &Path, name: &str) -> (PathBuf, String, PathBuf) {
    let home = dir.join(format!("gnupg-{name}"));
    fs_err::create_dir_all(&home).unwrap();
    kit::set_mode(&home, 0o700);
    let gpg = |args: &[&str]| {
        kit::run_ok(
            Command::new("gpg")
                .arg("--homedir")
                .arg(&home)
                .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
                .args(args),
        )
    };
    gpg(&[
        "--quick-gen-key",
        &format!("{name} <{name}@example.org>"),
        "ed25519",
        "sign",
        "never",
    ]);
    let secret = String::from_utf8(gpg(&["--armor", "--export-secret-keys"]).stdout).unwrap();
    let public = dir.join(format!("{name}.gpg"));
    fs_err::write(&public, gpg(&["--export"]).stdout).unwrap();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
    (home, secret, public)
}

/// An empty root for apt-get and dpkg, with an APT_CONFIG that keeps apt
/// inside it (no locks, no sandbox user, no host hooks).
pub(super) fn apt_root(root: &Path, source_line: &str) -> PathBuf {
    for d in [
        "etc/apt/sources.list.d",
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/trusted.gpg.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/log/apt",
    ] {
        fs_err::create_dir_all(root.join(d)).unwrap();
    }
    for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
        fs_err::write(root.join(f), "").unwrap();
    }
    fs_err::write(
        root.join("etc/apt/sources.list"),
        format!("{source_line}\n"),
    )
    .unwrap();
    let r = root.display();
    let conf = root.join("apt.conf");
    fs_err::write(
        &conf,
        format!(
            "Dir \"{r}/\";\n\
             Dir::State::status \"{r}/var/lib/dpkg/status\";\n\
             Dir::Etc::Parts \"{r}/etc/apt/apt.conf.d\";\n\
             Dir::Log \"{r}/var/log/apt\";\n\
             Debug::NoLocking \"true\";\n\
             APT::Sandbox::User \"root\";\n\
             Acquire::Languages \"none\";\n\
             Acquire::Retries \"0\";\n\
             APT::Install-Recommends \"false\";\n\
             #clear DPkg::Pre-Invoke;\n\
             #clear DPkg::Post-Invoke;\n\
             #clear DPkg::Pre-Install-Pkgs;\n\
             #clear APT::Update::Post-Invoke;\n\
             #clear APT::Update::Post-Invoke-Success;\n\
             DPkg::Use-Pty \"false\";\n\
             DPkg::Options {{ \"--root={r}\"; \"--force-not-root\"; \"--force-script-chrootless\"; \"--log=/dev/null\"; }};\n"
        ),
    )
    .unwrap();
    conf
}

pub(super) fn apt_get(conf: &Path, args: &[&str]) -> Output {
    kit::run(
        Command::new("apt-get")
            .env("APT_CONFIG", conf)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-q", "-y"])
            .args(args),
    )
}

pub(super) fn show(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `apt-get update` in a fresh root against `repo` served on loopback.
fn update(dir: &Path, repo: &Path, key: &Path, name: &str) -> Output {
    let server = Server::start(repo);
    let root = dir.join(format!("root-{name}"));
    let line = format!(
        "deb [signed-by={}] http://127.0.0.1:{}/ stable main",
        key.display(),
        server.port
    );
    let conf = apt_root(&root, &line);
    let out = apt_get(&conf, &["update"]);
    drop(server);
    out
}

fn copy_tree(from: &Path, to: &Path) {
    kit::run_ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

#[test]
fn apt_installs_from_the_served_repository_and_refuses_tampering() {
    for tool in ["apt-get", "gpg", "gpgconf", "dpkg", "python3"] {
        kit::require(tool);
    }
    let dir = project(PACKAGE);
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let deb = "dist/tool_1.4.0_amd64.deb";
    let (_home, secret, public) = gpg_key(d, "release");
    let env = [("RELKIT_GPG_PRIVATE_KEY", secret.as_str())];
    let build = relkit(d, &["apt-repo", "--output", "repo", deb], &env);
    assert!(build.status.success(), "{}", kit::render(&build, d));
    let repo = d.join("repo");
    let release = fs_err::read_to_string(repo.join("dists/stable/Release")).unwrap();
    for want in [
        "Suite: stable\n",
        "Codename: stable\n",
        "Date: Tue, 14 Nov 2023 22:13:20 UTC\n",
        "Architectures: amd64\n",
        "Components: main\n",
        " main/binary-amd64/Packages\n",
        " main/binary-amd64/Packages.gz\n",
    ] {
        assert!(release.contains(want), "{want:?} not in\n{release}");
    }
    assert!(
        repo.join("pool/main/t/tool/tool_1.4.0_amd64.deb").is_file(),
        "{:?}",
        kit::files_in(&repo)
    );
    // gpg itself checks both signatures.
    kit::run_ok(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&public)
            .arg(repo.join("dists/stable/InRelease")),
    );

    // What users put in signed-by: the key.asc the repository carries.
    let key = d.join("key.asc");
    fs_err::copy(repo.join("key.asc"), &key).unwrap();

    // Reproducible: the same package and key again give the same tree.
    let again = relkit(d, &["apt-repo", "--output", "repo2", deb], &env);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    for f in kit::files_in(&repo) {
        assert!(
            fs_err::read(repo.join(&f)).unwrap() == fs_err::read(d.join("repo2").join(&f)).unwrap(),
            "{f} differs between two builds"
        );
    }
    assert_eq!(kit::files_in(&repo), kit::files_in(&d.join("repo2")));

    // apt-get update and install in a throwaway root.
    let server = Server::start(&repo);
    let root = d.join("root-good");
    let conf = apt_root(
        &root,
        &format!(
            "deb [signed-by={}] http://127.0.0.1:{}/ stable main",
            key.display(),
            server.port
        ),
    );
    let up = apt_get(&conf, &["update"]);
    assert!(up.status.success(), "{}", show(&up));
    let install = apt_get(&conf, &["install", "tool"]);
    drop(server);
    assert!(install.status.success(), "{}", show(&install));
    assert_eq!(
        fs_err::read(root.join("usr/bin/tool")).unwrap(),
        fs_err::read(d.join("prebuilt/tool")).unwrap()
    );

    // A flipped byte in Packages (no Packages.gz to fall back on).
    let bad = d.join("bad-packages");
    copy_tree(&repo, &bad);
    let packages = bad.join("dists/stable/main/binary-amd64/Packages");
    let mut bytes = fs_err::read(&packages).unwrap();
    let at = bytes.iter().position(|&b| b == b'g').unwrap();
    bytes[at] ^= 0x01;
    fs_err::write(&packages, bytes).unwrap();
    fs_err::remove_file(bad.join("dists/stable/main/binary-amd64/Packages.gz")).unwrap();
    let up = update(d, &bad, &key, "bad-packages");
    let text = show(&up);
    assert!(!up.status.success(), "{text}");
    assert!(text.contains("Hash Sum mismatch"), "{text}");

    // A flipped byte in InRelease.
    let bad = d.join("bad-inrelease");
    copy_tree(&repo, &bad);
    let inrelease = bad.join("dists/stable/InRelease");
    let text = fs_err::read_to_string(&inrelease).unwrap();
    fs_err::write(
        &inrelease,
        text.replacen("Components: main", "Components: mainx", 1),
    )
    .unwrap();
    let up = update(d, &bad, &key, "bad-inrelease");
    let text = show(&up);
    assert!(!up.status.success(), "{text}");
    assert!(
        text.contains("BADSIG") || text.contains("signatures were invalid"),
        "{text}"
    );

    // Another key in signed-by.
    let (_other_home, _, other) = gpg_key(d, "stranger");
    let up = update(d, &repo, &other, "unknown-key");
    let text = show(&up);
    assert!(!up.status.success(), "{text}");
    assert!(text.contains("NO_PUBKEY"), "{text}");
}

#[test]
fn the_previous_tree_keeps_older_versions_and_bad_input_writes_nothing() {
    kit::require("gpg");
    let dir = project(PACKAGE);
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    fs_err::copy(d.join("dist/tool_1.4.0_amd64.deb"), d.join("old.deb")).unwrap();
    let toml = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
    fs_err::write(d.join("relkit.toml"), toml.replace("1.4.0", "1.5.0")).unwrap();
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let (_home, secret, _) = gpg_key(d, "release");
    let env = [("RELKIT_GPG_PRIVATE_KEY", secret.as_str())];
    let ok = |args: &[&str]| {
        let out = relkit(d, args, &env);
        assert!(out.status.success(), "{}", kit::render(&out, d));
    };
    ok(&["apt-repo", "-o", "repo", "old.deb"]);
    // In place: the previous tree is the output.
    ok(&[
        "apt-repo",
        "--previous",
        "repo",
        "-o",
        "repo",
        "dist/tool_1.5.0_amd64.deb",
    ]);
    let packages = |repo: &str| {
        fs_err::read_to_string(d.join(repo).join("dists/stable/main/binary-amd64/Packages"))
            .unwrap()
    };
    let text = packages("repo");
    assert!(
        text.contains("Version: 1.4.0\n") && text.contains("Version: 1.5.0\n"),
        "{text}"
    );
    assert!(
        d.join("repo/pool/main/t/tool/tool_1.4.0_amd64.deb")
            .is_file()
    );
    ok(&[
        "apt-repo",
        "--only-latest",
        "--previous",
        "repo",
        "-o",
        "latest",
        "dist/tool_1.5.0_amd64.deb",
    ]);
    let text = packages("latest");
    assert!(
        !text.contains("Version: 1.4.0\n") && text.contains("Version: 1.5.0\n"),
        "{text}"
    );
    assert!(
        !d.join("latest/pool/main/t/tool/tool_1.4.0_amd64.deb")
            .exists()
    );

    // Bad input: one line, exit 1, the repository as it was.
    let before: Vec<(String, Vec<u8>)> = kit::files_in(&d.join("repo"))
        .into_iter()
        .map(|f| {
            let b = fs_err::read(d.join("repo").join(&f)).unwrap();
            (f, b)
        })
        .collect();
    kit::write(&d.join("notadeb.deb"), b"hello", 0o644);
    let mut changed = fs_err::read(d.join("old.deb")).unwrap();
    let n = changed.len();
    changed[n - 10] ^= 1;
    fs_err::write(d.join("changed.deb"), changed).unwrap();
    for (name, args, envs, want) in [
        (
            "not a deb",
            vec![
                "apt-repo",
                "--previous",
                "repo",
                "-o",
                "repo",
                "notadeb.deb",
            ],
            &env[..],
            "notadeb.deb`: is not a Debian package",
        ),
        (
            "same version, other bytes",
            vec![
                "apt-repo",
                "--previous",
                "repo",
                "-o",
                "repo",
                "changed.deb",
            ],
            &env[..],
            "tool 1.4.0 (amd64) is already in the repository with different bytes",
        ),
        (
            "no key",
            vec!["apt-repo", "--previous", "repo", "-o", "repo", "old.deb"],
            &[][..],
            "an APT repository must be signed",
        ),
        (
            "bad suite",
            vec!["apt-repo", "--suite", "../x", "-o", "repo", "old.deb"],
            &env[..],
            "suite: `../x` is not a plain word",
        ),
    ] {
        let out = relkit(d, &args, envs);
        super::fails_in_one_line(&out, d, name, want);
        let after: Vec<(String, Vec<u8>)> = kit::files_in(&d.join("repo"))
            .into_iter()
            .map(|f| {
                let b = fs_err::read(d.join("repo").join(&f)).unwrap();
                (f, b)
            })
            .collect();
        assert!(after == before, "{name} changed the repository");
        let leftovers: Vec<String> = fs_err::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".relkit-apt-"))
            .collect();
        assert!(leftovers.is_empty(), "{name} left {leftovers:?}");
    }
}

//! The other side of a release (issue 11): a release published to the fake
//! GitHub by `relkit dist` + `relkit release-upload`, then installed with
//! `relkit install` and with the generated installer under dash, bash and
//! busybox sh (curl, then wget only), verified with `relkit verify`, and
//! every tampering refused with one line, nothing installed and the cache
//! unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use relkit_fake_github::{Config, DownloadQuirk, FakeGitHub};
use relkit_testkit as kit;

use super::relkit;

const GNU: &str = "tool-1.4.0-x86_64-unknown-linux-gnu.tar.gz";

/// A signed release of `tool` (a shell script printing its version) for
/// Linux gnu and musl and Windows, built with the fake as its GitHub.
struct Published {
    dir: tempfile::TempDir,
    fake: FakeGitHub,
}

impl Published {
    fn d(&self) -> &Path {
        self.dir.path()
    }
    fn dist(&self) -> PathBuf {
        self.d().join("dist")
    }
    fn download_base(&self, tag: &str) -> String {
        format!("{}/octo/demo/releases/download/{tag}", self.fake.root_url())
    }
    /// Environment of a user with their own HOME (so their own cache, keys
    /// and receipts) talking to the fake.
    fn user(&self, home: &Path) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), home.display().to_string()),
            (
                "XDG_CACHE_HOME".into(),
                home.join("cache").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".into(),
                home.join("config").display().to_string(),
            ),
            (
                "XDG_DATA_HOME".into(),
                home.join("data").display().to_string(),
            ),
            ("GITHUB_API_URL".into(), self.fake.api_url()),
            ("RELKIT_RETRY_BASE_MS".into(), "1".into()),
        ]
    }
    /// Publish `files` (names in `from`) as release v1.4.0, replacing
    /// whatever the fake held.
    fn publish(&self, from: &Path, files: &[&str]) {
        self.fake.reset();
        let api = self.fake.api_url();
        let mut args = vec!["release-upload", "--tag", "v1.4.0"];
        args.extend_from_slice(files);
        let out = relkit(
            from,
            &args,
            &[
                ("GITHUB_TOKEN", "test-token"),
                ("GITHUB_REPOSITORY", "octo/demo"),
                ("GITHUB_API_URL", &api),
                ("RELKIT_RETRY_BASE_MS", "1"),
            ],
        );
        assert!(out.status.success(), "{}", kit::render(&out, from));
    }
}

fn published(quirk: Option<DownloadQuirk>) -> Published {
    kit::require("minisign");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(
        &d.join("prebuilt/tool"),
        b"#!/bin/sh\necho 'tool 1.4.0'\n",
        0o755,
    );
    kit::write(&d.join("README.md"), b"# tool\n", 0o644);
    kit::write(
        &d.join("relkit.toml"),
        br#"name = "tool"
version = "1.4.0"
binaries = ["tool"]
include = ["README.md"]
targets = ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl", "x86_64-pc-windows-msvc"]

[build]
command = "mkdir -p out/{target} && cp prebuilt/tool out/{target}/tool{exe}"
binary-dir = "out/{target}"
"#,
        0o644,
    );
    for (p, s) in [("key.pub", "key.sec"), ("other.pub", "other.sec")] {
        kit::run_ok(
            Command::new("minisign")
                .current_dir(d)
                .args(["-G", "-W", "-p", p, "-s", s]),
        );
    }
    let fake = FakeGitHub::start_blocking(Config {
        allow_anonymous_reads: true,
        redirect_downloads: true,
        download_quirk: quirk,
        ..Config::default()
    })
    .unwrap();
    let key = fs_err::read_to_string(d.join("key.sec")).unwrap();
    let root = fake.root_url();
    let out = relkit(
        d,
        &["dist"],
        &[
            ("RELKIT_MINISIGN_KEY", &key),
            ("SOURCE_DATE_EPOCH", "1700000000"),
            // The installer downloads from this repository's release.
            ("GITHUB_REPOSITORY", "octo/demo"),
            ("GITHUB_SERVER_URL", &root),
        ],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let p = Published { dir, fake };
    let files = kit::files_in(&p.dist());
    let names: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|n| !n.starts_with(".relkit"))
        .collect();
    p.publish(&p.dist(), &names);
    p
}

fn run_with(cmd: &mut Command, env: &[(String, String)]) -> Output {
    for (k, v) in env {
        cmd.env(k, v);
    }
    kit::run(cmd)
}

fn install(p: &Published, home: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut env = p.user(home);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut cmd = kit::command(super::BIN);
    cmd.current_dir(p.d()).arg("install").args(args);
    run_with(&mut cmd, &env)
}

/// Every file below `dir`, with its content, for "nothing changed" checks.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs_err::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.display().to_string(),
                    fs_err::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One error line (after any warnings), exit 1 (or 3 for a server that kept
/// failing), containing `needle`.
fn refused(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "succeeded: {err}");
    let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(
        last.contains(needle),
        "`{needle}` not in the last line of: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn relkit_install_and_verify_a_published_release() {
    let p = published(None);
    let home = p.d().join("home");
    let bin = home.join("bin");
    let key_file = p.d().join("key.pub").display().to_string();
    let bin_s = bin.display().to_string();

    // Verified from the outside, archives rebuilt byte for byte.
    let mut cmd = kit::command(super::BIN);
    cmd.current_dir(p.d()).args([
        "verify",
        "--repo",
        "octo/demo",
        "--tag",
        "v1.4.0",
        "--public-key-file",
        &key_file,
        "--reproduce",
    ]);
    let verified = run_with(&mut cmd, &p.user(&home));
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{text}{}", stderr(&verified));
    assert!(text.contains("identical bytes"), "{text}");
    assert!(
        text.contains("all") && text.contains("checks passed"),
        "{text}"
    );

    // Installed with a token: it goes to the API, never to the download
    // host the fake redirects to (which answers 400 to one).
    let o = install(
        &p,
        &home,
        &["octo/demo", "--public-key-file", &key_file, "--to", &bin_s],
        &[("GITHUB_TOKEN", "test-token")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = kit::run_ok(&mut Command::new(bin.join("tool")));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "tool 1.4.0\n");
    assert!(stderr(&o).contains("trust on first use"), "{}", stderr(&o));
    let cdn_with_token = p
        .fake
        .request_log()
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .count();
    assert!(cdn_with_token > 0, "downloads should have been redirected");
    let sums = fs_err::read_to_string(p.dist().join("SHA256SUMS")).unwrap();
    let gnu_sha = sums
        .lines()
        .find(|l| l.ends_with(GNU))
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(
        home.join("cache/relkit/downloads")
            .join(format!("{gnu_sha}.tar.gz"))
            .is_file()
    );
    assert!(
        home.join("config/relkit/trusted-keys/127.0.0.1/octo/demo.pub")
            .is_file()
    );

    // Again, anonymously, from the cache, with the remembered key: an
    // upgrade of its own file is allowed.
    let again = install(&p, &home, &["octo/demo@v1.4.0", "--to", &bin_s], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("in the cache"),
        "{}",
        stderr(&again)
    );

    // Never over a file relkit did not install, unless --force.
    let other = home.join("other");
    kit::write(&other.join("tool"), b"mine\n", 0o755);
    let other_s = other.display().to_string();
    let o = install(&p, &home, &["octo/demo", "--to", &other_s], &[]);
    refused(&o, "relkit did not install it");
    assert_eq!(fs_err::read(other.join("tool")).unwrap(), b"mine\n");
    let o = install(&p, &home, &["octo/demo", "--to", &other_s, "--force"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A different key for a known repository is refused.
    let before = tree(&home);
    let other_key = p.d().join("other.pub").display().to_string();
    let o = install(
        &p,
        &home,
        &["octo/demo", "--public-key-file", &other_key, "--to", &bin_s],
        &[],
    );
    refused(&o, "is not the key trusted on first use");
    assert_eq!(tree(&home), before);

    // README's recipe for a user with only OpenSSL 3.
    let key_line = fs_err::read_to_string(p.d().join("key.pub"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    let recipe = format!(
        "printf %s {key_line} | openssl base64 -d -A | tail -c 32 > pk.raw && \
         {{ printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cat pk.raw; }} > pk.der && \
         sed -n 2p SHA256SUMS.minisig | openssl base64 -d -A | tail -c 64 > sig && \
         openssl dgst -blake2b512 -binary SHA256SUMS > hash && \
         openssl pkeyutl -verify -pubin -keyform DER -inkey pk.der -rawin -in hash -sigfile sig"
    );
    let fetched = p.d().join("by-hand");
    kit::run_ok(Command::new("cp").arg("-r").arg(p.dist()).arg(&fetched));
    let ok = kit::run_ok(
        Command::new("sh")
            .current_dir(&fetched)
            .args(["-c", &recipe]),
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Signature Verified Successfully"));
    fs_err::write(fetched.join("SHA256SUMS"), "tampered\n").unwrap();
    let bad = kit::run(
        Command::new("sh")
            .current_dir(&fetched)
            .args(["-c", &recipe]),
    );
    assert!(!bad.status.success(), "a tampered SHA256SUMS verified");
    kit::run_ok(Command::new("sha256sum").current_dir(p.dist()).args([
        "--check",
        "--ignore-missing",
        "SHA256SUMS",
    ]));

    // JSON report.
    let mut cmd = kit::command(super::BIN);
    cmd.current_dir(p.d()).args([
        "verify",
        "--dir",
        "dist",
        "--public-key-file",
        &key_file,
        "--json",
    ]);
    let json = run_with(&mut cmd, &[]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");

    // From any static host: the fake's download folder.
    let mut cmd = kit::command(super::BIN);
    cmd.current_dir(p.d()).args([
        "verify",
        "--url",
        &p.download_base("v1.4.0"),
        "--public-key-file",
        &key_file,
    ]);
    let from_url = run_with(&mut cmd, &[]);
    assert!(
        from_url.status.success(),
        "{}",
        String::from_utf8_lossy(&from_url.stdout)
    );
}

/// A folder of symlinks to the tools the installer may use, without
/// `without` (curl or wget), for a PATH that lacks it.
fn tool_path(dir: &Path, without: &str) -> PathBuf {
    let bin = dir.join(format!("path-without-{without}"));
    fs_err::create_dir_all(&bin).unwrap();
    for t in [
        "sh",
        "dash",
        "bash",
        "busybox",
        "uname",
        "getconf",
        "mktemp",
        "rm",
        "mkdir",
        "cp",
        "mv",
        "chmod",
        "awk",
        "sed",
        "tr",
        "dd",
        "od",
        "head",
        "cat",
        "wc",
        "grep",
        "tar",
        "gzip",
        "sha256sum",
        "cut",
        "ls",
        "minisign",
        "openssl",
        "curl",
        "wget",
        "xz",
        "zstd",
        "unzip",
        "sysctl",
    ] {
        if t == without {
            continue;
        }
        if let Some(found) = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(t))
            .find(|p| p.is_file())
        {
            let _ = std::os::unix::fs::symlink(found, bin.join(t));
        }
    }
    bin
}

fn run_installer(
    p: &Published,
    script: &Path,
    shell: &[&str],
    home: &Path,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..])
        .arg(script)
        .env("HOME", home)
        .env_remove("RELKIT_INSTALL_BASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(p.d());
    kit::run(&mut cmd)
}

#[test]
fn the_generated_installer_installs_under_every_shell_with_curl_or_wget() {
    for t in [
        "dash", "bash", "busybox", "curl", "wget", "minisign", "openssl",
    ] {
        kit::require(t);
    }
    let p = published(None);
    // The user fetches the installer from the release itself.
    let script = p.d().join("downloaded-installer.sh");
    let got = kit::run_ok(
        Command::new("curl")
            .args(["-fsSL", "-o"])
            .arg(&script)
            .arg(format!("{}/tool-installer.sh", p.download_base("v1.4.0"))),
    );
    assert!(got.status.success());
    for (shell, without, verifier) in [
        (&["dash"][..], "wget", "minisign"),
        (&["bash"][..], "wget", "openssl"),
        (&["busybox", "sh"][..], "wget", "openssl"),
        (&["dash"][..], "curl", "openssl"),
        (&["busybox", "sh"][..], "curl", "minisign"),
    ] {
        let home = p
            .d()
            .join(format!("home-{}-{without}-{verifier}", shell.join("-")));
        let path = tool_path(p.d(), without);
        let o = run_installer(
            &p,
            &script,
            shell,
            &home,
            &[
                ("PATH", path.to_str().unwrap()),
                ("RELKIT_INSTALL_VERIFIER", verifier),
            ],
        );
        assert!(
            o.status.success(),
            "{shell:?} without {without}: {}",
            stderr(&o)
        );
        let run = kit::run_ok(&mut Command::new(home.join(".local/bin/tool")));
        assert_eq!(String::from_utf8_lossy(&run.stdout), "tool 1.4.0\n");
        assert!(stderr(&o).contains("good signature"), "{}", stderr(&o));
    }
}

/// Flip one byte in the middle of `name`.
fn flip(name: &'static str) -> impl Fn(&Path) {
    move |d: &Path| {
        let f = d.join(name);
        let mut b = fs_err::read(&f).unwrap();
        let at = b.len() / 2;
        b[at] ^= 0x01;
        fs_err::write(&f, b).unwrap();
    }
}
/// A change to a copy of the release folder.
type Tamper = Box<dyn Fn(&Path)>;

/// Publish a tampered copy of the release, then check that `relkit install`
/// and the installer both refuse it, leaving HOME as it was.
#[test]
fn tampered_releases_are_refused_and_nothing_is_installed() {
    for t in ["dash", "curl"] {
        kit::require(t);
    }
    let p = published(None);
    let key_file = p.d().join("key.pub").display().to_string();
    let script = p.dist().join("tool-installer.sh");
    let all: Vec<String> = kit::files_in(&p.dist())
        .into_iter()
        .filter(|n| !n.starts_with(".relkit"))
        .collect();
    // A user who installed once (so the cache and key store are not empty).
    let home = p.d().join("home");
    let bin = home.join("bin");
    let bin_s = bin.display().to_string();
    let first = install(
        &p,
        &home,
        &["octo/demo", "--public-key-file", &key_file, "--to", &bin_s],
        &[],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    fs_err::remove_file(bin.join("tool")).unwrap();
    let fresh_home = p.d().join("fresh");
    let cache = home.join("cache");
    fs_err::remove_dir_all(&cache).unwrap();

    let cases: Vec<(&str, Tamper, &str, &str)> = vec![
        (
            "archive",
            Box::new(flip(GNU)),
            "sha256",
            "checksum mismatch",
        ),
        (
            "SHA256SUMS",
            Box::new(flip("SHA256SUMS")),
            "signature",
            "bad signature",
        ),
        (
            "signature",
            Box::new(flip("SHA256SUMS.minisig")),
            "signature",
            "bad signature",
        ),
        (
            "missing signature",
            Box::new(|d: &Path| fs_err::remove_file(d.join("SHA256SUMS.minisig")).unwrap()),
            "no SHA256SUMS.minisig",
            "SHA256SUMS.minisig is missing (HTTP 404)",
        ),
    ];
    for (what, tamper, relkit_says, installer_says) in cases {
        let copy = p.d().join(format!("tampered-{}", what.replace(' ', "-")));
        kit::run_ok(Command::new("cp").arg("-r").arg(p.dist()).arg(&copy));
        tamper(&copy);
        let names: Vec<&str> = all
            .iter()
            .map(String::as_str)
            .filter(|n| copy.join(n).is_file())
            .collect();
        p.publish(&copy, &names);

        let before = tree(&home);
        let o = install(&p, &home, &["octo/demo", "--to", &bin_s], &[]);
        refused(&o, relkit_says);
        assert_eq!(tree(&home), before, "{what}: relkit install changed HOME");

        let o = run_installer(&p, &script, &["dash"], &fresh_home, &[]);
        refused(&o, installer_says);
        assert!(
            !fresh_home.join(".local/bin/tool").exists(),
            "{what}: the installer installed"
        );
    }

    // The original release again; a wrong key (fresh user), a 404, and a
    // release with nothing for this machine.
    p.publish(
        &p.dist(),
        &all.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let other_key = p.d().join("other.pub").display().to_string();
    let before = tree(&fresh_home);
    let o = install(
        &p,
        &fresh_home,
        &["octo/demo", "--public-key-file", &other_key, "--to", &bin_s],
        &[],
    );
    refused(&o, "signed by key");
    assert_eq!(tree(&fresh_home), before);
    let o = install(&p, &home, &["octo/demo@v9.9.9", "--to", &bin_s], &[]);
    refused(&o, "HTTP 404");
    // A release with no build for this machine: Windows only.
    let key = fs_err::read_to_string(p.d().join("key.sec")).unwrap();
    let out = relkit(
        p.d(),
        &[
            "dist",
            "--target",
            "x86_64-pc-windows-msvc",
            "--output-dir",
            "dist-windows",
        ],
        &[
            ("RELKIT_MINISIGN_KEY", &key),
            ("SOURCE_DATE_EPOCH", "1700000000"),
        ],
    );
    assert!(out.status.success(), "{}", kit::render(&out, p.d()));
    let win = p.d().join("dist-windows");
    let win_files: Vec<String> = kit::files_in(&win)
        .into_iter()
        .filter(|n| !n.starts_with(".relkit"))
        .collect();
    p.publish(
        &win,
        &win_files.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let before = tree(&home);
    let o = install(&p, &home, &["octo/demo", "--to", &bin_s], &[]);
    refused(&o, "has no archive for this machine (linux/amd64");
    assert_eq!(tree(&home), before);
    let o = run_installer(
        &p,
        &script,
        &["dash"],
        &fresh_home,
        &[("RELKIT_INSTALL_TARGET", "aarch64-apple-darwin")],
    );
    refused(&o, "has no build for");
}

#[test]
fn a_truncated_download_is_refused() {
    let p = published(Some(DownloadQuirk::ShortBody));
    let home = p.d().join("home");
    let key_file = p.d().join("key.pub").display().to_string();
    let bin_s = home.join("bin").display().to_string();
    let o = install(
        &p,
        &home,
        &["octo/demo", "--public-key-file", &key_file, "--to", &bin_s],
        &[],
    );
    refused(&o, "truncated");
    assert!(!home.join("bin").exists());
    assert!(!home.join("cache/relkit/downloads").exists());
    assert!(
        !home.join("config/relkit/trusted-keys").exists(),
        "a key was remembered for a failed install"
    );
}

#[test]
fn verify_names_missing_extra_and_wrong_sizes() {
    let p = published(None);
    let key_file = p.d().join("key.pub").display().to_string();
    let check = |dir: &Path, needle: &str| {
        let mut cmd = kit::command(super::BIN);
        cmd.current_dir(p.d())
            .arg("verify")
            .arg("--dir")
            .arg(dir)
            .args(["--public-key-file", &key_file]);
        let o = kit::run(&mut cmd);
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains(needle), "`{needle}` not in {text}");
        assert!(text.contains("checks FAILED"), "{text}");
    };
    let copy = |name: &str| {
        let c = p.d().join(name);
        kit::run_ok(Command::new("cp").arg("-r").arg(p.dist()).arg(&c));
        let _ = fs_err::remove_dir_all(c.join(".relkit"));
        c
    };
    let missing = copy("missing");
    fs_err::remove_file(missing.join("tool-1.4.0-x86_64-unknown-linux-musl.tar.gz")).unwrap();
    check(&missing, "in the manifest, but not published");
    let extra = copy("extra");
    fs_err::write(extra.join("surprise.txt"), "hi\n").unwrap();
    check(&extra, "surprise.txt");
    check(&extra, "published, but the manifest does not describe it");
    let size = copy("size");
    let m = fs_err::read_to_string(size.join("manifest.json")).unwrap();
    let sidecar = format!("{GNU}.sha256");
    let at = m.find(&format!("\"name\": \"{sidecar}\"")).unwrap();
    let size_at = at + m[at..].find("\"size\": ").unwrap() + "\"size\": ".len();
    let end = size_at + m[size_at..].find(',').unwrap();
    let edited = format!("{}{}{}", &m[..size_at], 1, &m[end..]);
    fs_err::write(size.join("manifest.json"), edited).unwrap();
    check(&size, "but the manifest says 1");
    // Unsigned releases need --allow-unsigned; a key is needed to check a signed one.
    let unsigned = copy("unsigned");
    fs_err::remove_file(unsigned.join("SHA256SUMS.minisig")).unwrap();
    check(&unsigned, "is not signed");
    let mut cmd = kit::command(super::BIN);
    cmd.current_dir(p.d()).args(["verify", "--dir", "dist"]);
    let o = kit::run(&mut cmd);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--public-key"));
}

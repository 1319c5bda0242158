//! Conformance of relkit's `.rpm` files, checked by RPM's own tools:
//! `rpm -K` with the release key imported (and refusing a flipped byte),
//! `rpm -qp` for fields, files and scriptlets, rpmlint, and `rpm --root`
//! installing, verifying and erasing the package in a throwaway root; plus
//! reproducibility and refusals of bad input.

// Scenario tests name their few recurring things in one letter (d: the
// work folder, w: what was written, o: a tool's output).
#![allow(clippy::many_single_char_names)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use relkit_core::target::Target;
use relkit_core::version::Version;
use relkit_linux_pkg::rpm::{self, RpmOptions};
use relkit_linux_pkg::{Contents, Package};
use relkit_testkit as kit;

use super::{EPOCH, package, sources};

fn options() -> RpmOptions {
    RpmOptions {
        group: Some("Applications/System".to_owned()),
        vendor: Some("Example".to_owned()),
        requires: vec!["glibc >= 2.17".to_owned()],
        recommends: vec!["ca-certificates".to_owned()],
        ..RpmOptions::default()
    }
}

/// A gpg home holding one RSA signing key, and its public key file.
pub(crate) struct Key {
    pub(crate) home: PathBuf,
    pub(crate) public: PathBuf,
}

pub(crate) fn key(dir: &Path) -> Key {
    kit::require("gpg");
    let home = dir.join("gnupg");
    fs_err::create_dir_all(&home).unwrap();
    kit::set_mode(&home, 0o700);
    kit::run_ok(Command::new("gpg").arg("--homedir").arg(&home).args([
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "relkit rpm test <rpm@relkit.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]));
    let out = kit::run_ok(
        Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--armor", "--export"]),
    );
    let public = dir.join("RPM-GPG-KEY-tool");
    fs_err::write(&public, &out.stdout).unwrap();
    Key { home, public }
}

impl Key {
    /// Signs a file as relkit-sign's GpgSigner does (binary, detached).
    // The shape `rpm::Sign` takes; a failing gpg fails the test instead.
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn sign(&self, file: &Path) -> Result<Vec<u8>, relkit_core::Error> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--batch", "--detach-sign", "--no-armor", "--output", "-"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out.stdout)
    }
}

fn build_signed(dir: &Path, c: &Contents, key: &Key) -> relkit_linux_pkg::Written {
    let sign = |f: &Path| key.sign(f);
    rpm::build(
        &package(c, EPOCH),
        &options(),
        &dir.join("out"),
        Some(&sign),
    )
    .unwrap()
}

fn rpm_cmd(dbpath: &Path) -> Command {
    kit::require("rpm");
    let mut c = Command::new("rpm");
    c.arg("--dbpath").arg(dbpath).env("LC_ALL", "C");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn rpm_k_accepts_the_signed_package_and_refuses_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key(d);
    let w = build_signed(d, &sources(d), &key);
    assert_eq!(
        w.path.file_name().unwrap(),
        "tool-1.2.3-1.x86_64.rpm",
        "file name"
    );
    let db = d.join("db");
    // Without the key: the signature cannot be checked.
    let o = kit::run(rpm_cmd(&db).arg("-Kv").arg(&w.path));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("NOKEY"), "{}", text(&o));
    kit::run_ok(rpm_cmd(&db).arg("--import").arg(&key.public));
    let o = kit::run_ok(rpm_cmd(&db).args(["-Kv"]).arg(&w.path));
    let t = text(&o);
    for want in [
        "Header V4 RSA/SHA",
        "Header SHA256 digest: OK",
        "Payload SHA256 digest: OK",
        "MD5 digest: OK",
    ] {
        assert!(t.contains(want), "{want} in {t}");
    }
    assert!(!t.contains("NOT OK") && !t.contains("NOKEY"), "{t}");
    // A flipped byte anywhere — lead name aside — is refused: in the
    // header, in the middle of the payload, in its last byte.
    let bytes = fs_err::read(&w.path).unwrap();
    let header_at = bytes
        .windows(8)
        .rposition(|x| x == [0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0])
        .unwrap();
    for at in [header_at + 40, bytes.len() / 2, bytes.len() - 9] {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        let bad = d.join("bad.rpm");
        fs_err::write(&bad, &b).unwrap();
        let o = kit::run(rpm_cmd(&db).arg("-K").arg(&bad));
        assert!(
            !o.status.success(),
            "flipped byte {at} accepted: {}",
            text(&o)
        );
    }
}

#[test]
fn rpm_queries_show_fields_files_and_scriptlets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = rpm::build(
        &package(&sources(d), EPOCH),
        &options(),
        &d.join("out"),
        None,
    )
    .unwrap();
    let db = d.join("db");
    let q = |args: &[&str]| {
        text(&kit::run_ok(
            rpm_cmd(&db).arg("-qp").args(args).arg(&w.path),
        ))
    };
    let info = q(&["-i"]);
    for want in [
        "Name        : tool",
        "Version     : 1.2.3",
        "Release     : 1",
        "Architecture: x86_64",
        "Group       : Applications/System",
        "License     : MIT",
        "Signature   : (none)",
        "Build Date  : Tue Nov 14 22:13:20 2023",
        "Build Host  : relkit.invalid",
        "Packager    : Jane Doe <jane@example.org>",
        "Vendor      : Example",
        "URL         : https://example.org/tool",
        "Summary     : greets whoever runs it",
        "Tool prints a greeting and its version.",
    ] {
        assert!(info.contains(want), "{want} in {info}");
    }
    assert_eq!(
        q(&["-l"]).lines().collect::<Vec<_>>(),
        [
            "/etc/tool/tool.conf",
            "/usr/bin/tool",
            "/usr/lib/systemd/system/tool.service",
            "/usr/share/bash-completion/completions/tool",
            "/usr/share/doc/tool/README.md",
            "/usr/share/fish/vendor_completions.d/tool.fish",
            "/usr/share/licenses/tool/LICENSE",
            "/usr/share/man/man1/tool.1.gz",
            "/usr/share/zsh/vendor-completions/_tool",
        ]
    );
    // Config files are %config(noreplace), docs and man pages %doc, the license %license.
    assert_eq!(q(&["-c"]).trim(), "/etc/tool/tool.conf");
    assert_eq!(
        q(&["--qf", "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]"])
            .lines()
            .collect::<Vec<_>>(),
        [
            "cn -rw-r--r-- root:root /etc/tool/tool.conf",
            " -rwxr-xr-x root:root /usr/bin/tool",
            " -rw-r--r-- root:root /usr/lib/systemd/system/tool.service",
            " -rw-r--r-- root:root /usr/share/bash-completion/completions/tool",
            "d -rw-r--r-- root:root /usr/share/doc/tool/README.md",
            " -rw-r--r-- root:root /usr/share/fish/vendor_completions.d/tool.fish",
            "l -rw-r--r-- root:root /usr/share/licenses/tool/LICENSE",
            "d -rw-r--r-- root:root /usr/share/man/man1/tool.1.gz",
            " -rw-r--r-- root:root /usr/share/zsh/vendor-completions/_tool",
        ]
    );
    let scripts = q(&["--scripts"]);
    for want in [
        "postinstall scriptlet (using /bin/sh):",
        "systemctl --no-reload preset 'tool.service'",
        "preuninstall scriptlet (using /bin/sh):",
        "systemctl stop 'tool.service'",
        "postuninstall scriptlet (using /bin/sh):",
        "systemctl try-restart 'tool.service'",
    ] {
        assert!(scripts.contains(want), "{want} in {scripts}");
    }
    let provides = q(&["--provides"]);
    assert!(provides.contains("tool = 1.2.3-1"), "{provides}");
    assert!(provides.contains("tool(x86-64) = 1.2.3-1"), "{provides}");
    let requires = q(&["--requires"]);
    assert!(requires.contains("glibc >= 2.17"), "{requires}");
    assert!(q(&["--recommends"]).contains("ca-certificates"));
    assert!(q(&["--changelog"]).contains("- Release 1.2.3."));
}

/// rpmlint warnings relkit's packages keep, each for a reason:
const JUSTIFIED_RPMLINT: &[&str] = &[
    // A systemd unit is the package's only file under /usr/lib: rpmlint
    // expects only binaries there, but /usr/lib/systemd/system is where
    // units go on every architecture.
    "only-non-binary-in-usr-lib",
    // `MIT` is an SPDX identifier, what Fedora's License tags use since
    // 2022; Debian's rpmlint ships an empty list of valid licenses.
    "invalid-license",
    // We ship tool.1.gz; rpmlint 2.4 (FilesCheck.py) records each man
    // page's section instead of its name, so it never finds one.
    "no-manual-page-for-binary",
];

#[test]
fn rpmlint_finds_no_errors() {
    kit::require("rpmlint");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key(d);
    let mut c = sources(d);
    // A dynamically linked binary, as gnu targets build: for a static one
    // (musl targets) rpmlint reports `statically-linked-binary`, Fedora's
    // policy against bundled libraries rather than a fault of the package.
    let dynamic = d.join("dyn/tool");
    fs_err::create_dir_all(dynamic.parent().unwrap()).unwrap();
    kit::run_ok(
        Command::new("gcc")
            .args(["-O2", "-s", "-o"])
            .arg(&dynamic)
            .arg(d.join("tool.c")),
    );
    c.binaries = vec![dynamic];
    let mut p = package(&c, EPOCH);
    // RPM summaries start with a capital (Debian's synopses do not).
    p.summary = "Greets whoever runs it".to_owned();
    let sign = |f: &Path| key.sign(f);
    let w = rpm::build(&p, &options(), &d.join("out"), Some(&sign)).unwrap();
    // rpmlint checks the signature against rpm's database: point rpm at a
    // private one (through ~/.rpmmacros) holding the release key.
    let db = d.join("db");
    fs_err::write(d.join(".rpmmacros"), format!("%_dbpath {}\n", db.display())).unwrap();
    kit::run_ok(rpm_cmd(&db).arg("--import").arg(&key.public));
    // Fedora and RHEL gzip man pages; rpmlint's upstream default expects bzip2.
    let config = d.join("rpmlint.toml");
    fs_err::write(&config, "CompressExtension = \"gz\"\n").unwrap();
    let o = kit::run(
        Command::new("rpmlint")
            .env("HOME", d)
            .env("LC_ALL", "C.UTF-8")
            .arg("-c")
            .arg(&config)
            .arg(&w.path),
    );
    let t = text(&o);
    assert!(t.contains(" 0 errors"), "{t}");
    for line in t.lines().filter(|l| l.contains(": W: ")) {
        assert!(
            JUSTIFIED_RPMLINT.iter().any(|j| line.contains(j)),
            "unjustified rpmlint warning: {line}\n{t}"
        );
    }
}

/// rpm with a root needs chroot: as root, or in a user namespace mapped to root.
fn rpm_in(root: &Path) -> Command {
    kit::require("rpm");
    let mut c = if kit::is_root() {
        Command::new("rpm")
    } else {
        kit::require("unshare");
        let mut c = Command::new("unshare");
        c.args(["--map-root-user", "rpm"]);
        c
    };
    c.arg("--root").arg(root).env("LC_ALL", "C");
    c
}

#[test]
fn rpm_installs_verifies_runs_and_erases_it_without_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = rpm::build(
        &package(&sources(d), EPOCH),
        &options(),
        &d.join("out"),
        None,
    )
    .unwrap();
    let root = d.join("root");
    kit::pkgrepo::throwaway_root(&root);
    let o = kit::run(rpm_in(&root).args(["-i", "--nodeps"]).arg(&w.path));
    assert!(o.status.success(), "{}", text(&o));
    // The scriptlets ran (no warning about a failed one) and did nothing without systemd.
    assert!(!text(&o).contains("scriptlet failed"), "{}", text(&o));
    let out = kit::run_ok(Command::new(root.join("usr/bin/tool")).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tool 1.2.3\n");
    assert!(root.join("usr/lib/systemd/system/tool.service").is_file());
    // rpm -V re-checks every file's digest, size, mode and owner against the header.
    let o = kit::run(rpm_in(&root).args(["-V", "--nodeps", "tool"]));
    assert!(o.status.success(), "rpm -V: {}", text(&o));
    // An edited config file is kept on erase as .rpmsave.
    fs_err::write(root.join("etc/tool/tool.conf"), "greeting = hi\n").unwrap();
    let o = kit::run(rpm_in(&root).args(["-e", "tool"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("scriptlet failed"), "{}", text(&o));
    assert!(!root.join("usr/bin/tool").exists());
    assert!(!root.join("usr/lib/systemd/system/tool.service").exists());
    assert!(root.join("etc/tool/tool.conf.rpmsave").is_file());
    let o = kit::run(rpm_in(&root).args(["-q", "tool"]));
    assert!(!o.status.success());
}

#[test]
fn the_same_inputs_give_the_same_rpm_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca = sources(a.path());
    let cb = sources(b.path());
    kit::set_mode(&cb.binaries[0], 0o700);
    kit::set_mode(&cb.docs[0], 0o600);
    let build = |dir: &Path, c: &Contents, epoch: i64| {
        rpm::build(&package(c, epoch), &options(), &dir.join("out"), None).unwrap()
    };
    let wa = build(a.path(), &ca, EPOCH);
    let wb = build(b.path(), &cb, EPOCH);
    assert_eq!(
        fs_err::read(&wa.path).unwrap(),
        fs_err::read(&wb.path).unwrap()
    );
    assert_eq!(wa.sha256, wb.sha256);
    let later = build(&b.path().join("later"), &cb, EPOCH + 1);
    assert_ne!(later.sha256, wa.sha256);
}

type Edit = fn(&mut Package, &mut RpmOptions);

#[test]
fn bad_rpm_input_is_refused_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = sources(d);
    let cases: Vec<(Edit, &str)> = vec![
        (
            |p, _| p.name = "-tool".into(),
            "package.name: `-tool` is not an RPM package name",
        ),
        (
            |p, _| p.version = Version::parse("v", "1.0.0-rc-1").unwrap(),
            "version: `1.0.0-rc-1` gives the RPM version `1.0.0~rc-1`, which may not hold a `-`",
        ),
        (
            |p, _| p.target = Target::parse("riscv64gc-unknown-linux-gnu").unwrap(),
            "--target: `riscv64gc-unknown-linux-gnu` has no RPM architecture",
        ),
        (
            |_, o| o.release = "1-2".into(),
            "package.rpm.release: `1-2` is not an RPM release",
        ),
        (
            |p, _| p.license = None,
            "package.license: is required for RPM packages",
        ),
        (
            |_, o| o.requires = vec!["(a or b)".into()],
            "package.rpm.requires: `(a or b)` is not `name` or `name OP VERSION`",
        ),
        (
            |p, _| p.maintainer = "jane".into(),
            "package.maintainer: `jane` is not `Full Name <user@example.org>`",
        ),
    ];
    for (edit, want) in cases {
        let mut p = package(&c, EPOCH);
        let mut o = options();
        edit(&mut p, &mut o);
        let e = rpm::build(&p, &o, &d.join("out"), None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert!(!d.join("out").exists(), "{want}: wrote something");
    }
    // A signer that fails leaves nothing behind.
    let failing = |_: &Path| -> Result<Vec<u8>, relkit_core::Error> {
        Err(relkit_core::Error::invalid("sign", "no key"))
    };
    let e = rpm::build(
        &package(&c, EPOCH),
        &options(),
        &d.join("out"),
        Some(&failing),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "sign: no key");
    assert_eq!(kit::files_in(&d.join("out")), Vec::<String>::new());
    // A missing unit file is refused before anything is built.
    let missing = Contents {
        systemd_unit: Some(d.join("src/nope.service")),
        ..c.clone()
    };
    let e = missing.files("tool", EPOCH).unwrap_err().to_string();
    assert!(
        e.contains("nope.service") && e.contains("no such file"),
        "{e}"
    );
}

/// Peak resident memory of this process (nextest runs each test in its
/// own process), from /proc.
fn peak_rss_kib() -> u64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_90_mb_binary_is_packaged_in_bounded_memory() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 90 MiB written a chunk at a time (half noise, half text-like runs, as
    // a binary's sections are), so the test itself never holds it.
    let big = d.join("bin/big");
    fs_err::create_dir_all(big.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(fs_err::File::create(&big).unwrap());
    for i in 0..90u32 {
        let chunk = if i % 2 == 0 {
            kit::bytes(1 << 20, i)
        } else {
            format!("section {i} ").repeat((1 << 20) / 12).into_bytes()
        };
        f.write_all(&chunk).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    let c = Contents {
        binaries: vec![big],
        ..Contents::default()
    };
    let before = peak_rss_kib();
    let w = rpm::build(&package(&c, EPOCH), &options(), &d.join("out"), None).unwrap();
    let peak = peak_rss_kib();
    eprintln!("peak RSS {peak} KiB (before packaging: {before} KiB)");
    assert!(w.size > 40 << 20, "{}", w.size);
    // Under 64 MiB whatever the file's size (issue 12's budget).
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB (before: {before} KiB)"
    );
    let o = kit::run(
        rpm_cmd(&d.join("db"))
            .args(["-K", "--nosignature"])
            .arg(&w.path),
    );
    assert!(o.status.success(), "{}", text(&o));
}

//! Conformance of relkit's `.deb` files, checked by Debian's own tools:
//! lintian, dpkg-deb, and dpkg installing and removing the package in a
//! throwaway root; plus reproducibility and refusals of bad input.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_core::target::Target;
use relkit_core::version::Version;
use relkit_linux_pkg::deb::{self, DebOptions};
use relkit_linux_pkg::{Contents, Package, Relations, Shell};
use relkit_testkit as kit;

mod dnf_repo;
mod rpm;

/// A small static-pie program (as Rust's musl targets build them) printing `tool 1.2.3` for `--version`,
/// built with the C compiler every test machine has.
fn static_binary(dir: &Path) -> PathBuf {
    kit::require("gcc");
    let src = dir.join("tool.c");
    fs_err::write(
        &src,
        "#include <stdio.h>\n#include <string.h>\n\
         int main(int argc, char **argv) {\n\
           if (argc > 1 && strcmp(argv[1], \"--version\") == 0) { puts(\"tool 1.2.3\"); return 0; }\n\
           puts(\"hello from tool\");\n  return 0;\n}\n",
    )
    .unwrap();
    let out = dir.join("bin/tool");
    fs_err::create_dir_all(out.parent().unwrap()).unwrap();
    kit::run_ok(
        Command::new("gcc")
            .args(["-static-pie", "-fPIE", "-O2", "-s", "-o"])
            .arg(&out)
            .arg(&src),
    );
    out
}

/// The sources of a package with every kind of file: binary, man page,
/// docs, completions, a conffile and a systemd unit.
fn sources(dir: &Path) -> Contents {
    let w = |name: &str, text: &str| {
        let p = dir.join("src").join(name);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
        p
    };
    Contents {
        binaries: vec![static_binary(dir)],
        man_pages: vec![w(
            "tool.1",
            ".TH TOOL 1 \"2024\" \"tool 1.2.3\" \"User Commands\"\n.SH NAME\ntool \\- says hello\n\
             .SH SYNOPSIS\n.B tool\n.SH DESCRIPTION\nPrints a greeting.\n",
        )],
        docs: vec![w("README.md", "# tool\n\nSays hello.\n")],
        completions: [
            (
                Shell::Bash,
                w("tool.bash", "complete -W '--version' tool\n"),
            ),
            (
                Shell::Zsh,
                w(
                    "_tool",
                    "#compdef tool\n_arguments '--version[print the version]'\n",
                ),
            ),
            (Shell::Fish, w("tool.fish", "complete -c tool -l version\n")),
        ]
        .into(),
        config_files: [(
            "/etc/tool/tool.conf".to_owned(),
            w("tool.conf", "greeting = hello\n"),
        )]
        .into(),
        systemd_unit: Some(w(
            "tool.service",
            "[Unit]\nDescription=Tool greeter\nDocumentation=man:tool(1)\n\n\
             [Service]\nExecStart=/usr/bin/tool\n\n[Install]\nWantedBy=multi-user.target\n",
        )),
    }
}

fn package(contents: &Contents, epoch: i64) -> Package {
    let (files, unit) = contents.files("tool", epoch).unwrap();
    Package {
        name: "tool".to_owned(),
        version: Version::parse("version", "1.2.3").unwrap(),
        target: Target::parse("x86_64-unknown-linux-musl").unwrap(),
        maintainer: "Jane Doe <jane@example.org>".to_owned(),
        summary: "greets whoever runs it".to_owned(),
        description: Some(
            "Tool prints a greeting and its version.\n\nIt is packaged by relkit's tests."
                .to_owned(),
        ),
        homepage: Some("https://example.org/tool".to_owned()),
        license: Some("MIT".to_owned()),
        license_text: Some(MIT.to_owned()),
        copyright: None,
        section: "utils".to_owned(),
        priority: "optional".to_owned(),
        relations: Relations {
            recommends: vec!["ca-certificates".to_owned()],
            ..Relations::default()
        },
        files,
        systemd_unit: unit,
        epoch,
    }
}

const MIT: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy \
of this software and associated documentation files (the \"Software\"), to deal in the Software \
without restriction.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND.\n";

const EPOCH: i64 = 1_700_000_000;

/// Lintian warnings relkit's packages keep, each for a reason:
const JUSTIFIED_WARNINGS: &[&str] = &[
    // The issue asks for `systemctl` when deb-systemd-helper/-invoke are
    // absent (a distribution without init-system-helpers); lintian flags
    // every systemctl call but daemon-reload, fallback or not.
    "maintainer-script-calls-systemctl",
    // A static-pie executable (what Rust's musl targets build) has no
    // DT_NEEDED entries; lintian takes any PIE for a shared library.
    "shared-library-lacks-prerequisites",
];

fn build(dir: &Path, c: &Contents) -> relkit_linux_pkg::Written {
    deb::build(&package(c, EPOCH), &DebOptions::default(), &dir.join("out")).unwrap()
}

#[test]
fn lintian_finds_no_errors_and_only_justified_warnings() {
    kit::require("lintian");
    let dir = tempfile::tempdir().unwrap();
    let c = sources(dir.path());
    let w = build(dir.path(), &c);
    assert!(
        w.path.ends_with("tool_1.2.3_amd64.deb"),
        "{}",
        w.path.display()
    );
    let out = kit::run(
        Command::new("lintian")
            .args([
                "--no-cfg",
                "--display-level",
                ">=warning",
                "--tag-display-limit",
                "0",
            ])
            .arg(&w.path),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in text.lines() {
        let tag = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(
            line.starts_with("W: ") && JUSTIFIED_WARNINGS.contains(&tag),
            "lintian: {line}\n{text}"
        );
    }
}

#[test]
fn dpkg_deb_reads_fields_members_and_contents() {
    kit::require("dpkg-deb");
    kit::require("ar");
    let dir = tempfile::tempdir().unwrap();
    let w = build(dir.path(), &sources(dir.path()));
    let ar = kit::run_ok(Command::new("ar").arg("t").arg(&w.path));
    assert_eq!(
        String::from_utf8_lossy(&ar.stdout),
        "debian-binary\ncontrol.tar.gz\ndata.tar.gz\n"
    );
    let field = |f: &str| {
        let out = kit::run_ok(Command::new("dpkg-deb").arg("--field").arg(&w.path).arg(f));
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    };
    assert_eq!(field("Package"), "tool");
    assert_eq!(field("Version"), "1.2.3");
    assert_eq!(field("Architecture"), "amd64");
    assert_eq!(field("Maintainer"), "Jane Doe <jane@example.org>");
    assert_eq!(field("Recommends"), "ca-certificates");
    assert_eq!(field("Homepage"), "https://example.org/tool");
    assert!(field("Installed-Size").parse::<u64>().unwrap() > 600);
    assert_eq!(
        field("Description"),
        "greets whoever runs it\n Tool prints a greeting and its version.\n .\n It is packaged by relkit's tests."
    );
    let info = kit::run_ok(Command::new("dpkg-deb").arg("--info").arg(&w.path));
    let info = String::from_utf8_lossy(&info.stdout);
    for member in [
        "control",
        "md5sums",
        "conffiles",
        "postinst",
        "prerm",
        "postrm",
    ] {
        assert!(
            info.lines()
                .any(|l| l.split_whitespace().any(|w| w == member) && l.contains(" lines ")),
            "{member} missing:\n{info}"
        );
    }
    let contents = kit::run_ok(Command::new("dpkg-deb").arg("--contents").arg(&w.path));
    let listing: Vec<String> = String::from_utf8_lossy(&contents.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f[1], "root/root", "{l}");
            assert_eq!(f[3], "2023-11-14", "{l}");
            format!("{} {}", f[0], f[5])
        })
        .collect();
    assert_eq!(
        listing,
        [
            "drwxr-xr-x ./",
            "drwxr-xr-x ./etc/",
            "drwxr-xr-x ./etc/tool/",
            "-rw-r--r-- ./etc/tool/tool.conf",
            "drwxr-xr-x ./usr/",
            "drwxr-xr-x ./usr/bin/",
            "-rwxr-xr-x ./usr/bin/tool",
            "drwxr-xr-x ./usr/lib/",
            "drwxr-xr-x ./usr/lib/systemd/",
            "drwxr-xr-x ./usr/lib/systemd/system/",
            "-rw-r--r-- ./usr/lib/systemd/system/tool.service",
            "drwxr-xr-x ./usr/share/",
            "drwxr-xr-x ./usr/share/bash-completion/",
            "drwxr-xr-x ./usr/share/bash-completion/completions/",
            "-rw-r--r-- ./usr/share/bash-completion/completions/tool",
            "drwxr-xr-x ./usr/share/doc/",
            "drwxr-xr-x ./usr/share/doc/tool/",
            "-rw-r--r-- ./usr/share/doc/tool/README.md",
            "-rw-r--r-- ./usr/share/doc/tool/changelog.gz",
            "-rw-r--r-- ./usr/share/doc/tool/copyright",
            "drwxr-xr-x ./usr/share/fish/",
            "drwxr-xr-x ./usr/share/fish/vendor_completions.d/",
            "-rw-r--r-- ./usr/share/fish/vendor_completions.d/tool.fish",
            "drwxr-xr-x ./usr/share/man/",
            "drwxr-xr-x ./usr/share/man/man1/",
            "-rw-r--r-- ./usr/share/man/man1/tool.1.gz",
            "drwxr-xr-x ./usr/share/zsh/",
            "drwxr-xr-x ./usr/share/zsh/vendor-completions/",
            "-rw-r--r-- ./usr/share/zsh/vendor-completions/_tool",
        ]
    );
}

/// An empty dpkg database under `root`, as `dpkg --root` expects.
fn throwaway_root(root: &Path) {
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        fs_err::create_dir_all(root.join(d)).unwrap();
    }
    for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
        fs_err::write(root.join(f), "").unwrap();
    }
}

/// A folder of links to the programs dpkg itself needs, so a test decides
/// which of systemctl and deb-systemd-helper the maintainer scripts find.
fn dpkg_path(dir: &Path, extra: &[(&str, &str)]) -> String {
    let tools = dir.join("tools");
    fs_err::create_dir_all(&tools).unwrap();
    for t in [
        "dpkg",
        "dpkg-deb",
        "dpkg-split",
        "dpkg-query",
        "dpkg-trigger",
        "ldconfig",
        "start-stop-daemon",
        "sh",
        "rm",
        "tar",
        "diff",
    ] {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(t))
            .find(|p| p.is_file());
        let target = found.unwrap_or_else(|| panic!("`{t}` is not installed"));
        let _ = std::os::unix::fs::symlink(target, tools.join(t));
    }
    for (name, script) in extra {
        kit::write(&tools.join(name), script.as_bytes(), 0o755);
    }
    tools.display().to_string()
}

fn dpkg(root: &Path, path: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("dpkg");
    cmd.env("PATH", path)
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-not-root",
            "--force-script-chrootless",
            "--log=/dev/null",
        ])
        .args(args);
    kit::run_ok(&mut cmd)
}

#[test]
fn dpkg_installs_runs_and_removes_it_without_systemd() {
    kit::require("dpkg");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = build(d, &sources(d));
    let root = d.join("root");
    throwaway_root(&root);
    let path = dpkg_path(d, &[]);
    dpkg(&root, &path, &["--install", w.path.to_str().unwrap()]);
    let version = kit::run_ok(Command::new(root.join("usr/bin/tool")).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&version.stdout), "tool 1.2.3\n");
    assert!(root.join("usr/lib/systemd/system/tool.service").is_file());
    assert!(root.join("usr/share/man/man1/tool.1.gz").is_file());
    let status = dpkg(&root, &path, &["--status", "tool"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("Status: install ok installed"));
    // Installed files match their md5sums.
    kit::run_ok(
        Command::new("dpkg")
            .env("PATH", &path)
            .arg(format!("--root={}", root.display()))
            .args(["--verify", "tool"]),
    );

    // Remove keeps the edited conffile; purge removes it.
    fs_err::write(root.join("etc/tool/tool.conf"), "greeting = hi\n").unwrap();
    dpkg(&root, &path, &["--remove", "tool"]);
    assert!(!root.join("usr/bin/tool").exists());
    assert!(!root.join("usr/lib/systemd/system/tool.service").exists());
    assert!(root.join("etc/tool/tool.conf").exists());
    dpkg(&root, &path, &["--purge", "tool"]);
    assert!(!root.join("etc/tool/tool.conf").exists());
}

#[test]
fn maintainer_scripts_enable_the_unit_with_deb_systemd_helper() {
    kit::require("dpkg");
    kit::require("deb-systemd-helper");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = build(d, &sources(d));
    let root = d.join("root");
    throwaway_root(&root);
    let helper = fs_err::canonicalize("/usr/bin/deb-systemd-helper").unwrap();
    let tools = dpkg_path(d, &[]);
    let _ = std::os::unix::fs::symlink(&helper, Path::new(&tools).join("deb-systemd-helper"));
    let perl = ["/usr/bin/perl", "/bin/perl"]
        .iter()
        .find(|p| Path::new(p).is_file())
        .unwrap();
    let _ = std::os::unix::fs::symlink(perl, Path::new(&tools).join("perl"));
    dpkg(&root, &tools, &["--install", w.path.to_str().unwrap()]);
    // deb-systemd-helper honours DPKG_ROOT: the unit is enabled inside the root only.
    let wants = root.join("etc/systemd/system/multi-user.target.wants/tool.service");
    assert_eq!(
        fs_err::read_link(&wants).unwrap(),
        Path::new("/usr/lib/systemd/system/tool.service")
    );
    dpkg(&root, &tools, &["--purge", "tool"]);
    assert!(
        fs_err::symlink_metadata(&wants).is_err(),
        "purge leaves the unit enabled"
    );
}

#[test]
fn maintainer_scripts_fall_back_to_systemctl() {
    kit::require("dpkg");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = build(d, &sources(d));
    let root = d.join("root");
    throwaway_root(&root);
    let log = d.join("systemctl.log");
    let fake = format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display());
    let path = dpkg_path(d, &[("systemctl", &fake)]);
    dpkg(&root, &path, &["--install", w.path.to_str().unwrap()]);
    dpkg(&root, &path, &["--purge", "tool"]);
    // Not running systemd (dpkg --root): enabled and disabled in the root, never started.
    let r = root.display();
    assert_eq!(
        fs_err::read_to_string(&log).unwrap(),
        format!("--root={r} enable tool.service\n--root={r} disable tool.service\n")
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca = sources(a.path());
    let cb = sources(b.path());
    // Other modes and times on the sources change nothing.
    kit::set_mode(&cb.binaries[0], 0o700);
    kit::set_mode(&cb.docs[0], 0o600);
    let wa = build(a.path(), &ca);
    let wb = build(b.path(), &cb);
    assert_eq!(
        fs_err::read(&wa.path).unwrap(),
        fs_err::read(&wb.path).unwrap()
    );
    assert_eq!(wa.sha256, wb.sha256);
    let later = deb::build(
        &package(&cb, EPOCH + 1),
        &DebOptions::default(),
        &b.path().join("later"),
    )
    .unwrap();
    assert_ne!(later.sha256, wa.sha256);
}

type Edit = fn(&mut Package);

#[test]
fn bad_input_is_refused_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = sources(d);
    let cases: Vec<(Edit, &str)> = vec![
        (
            |p| p.maintainer = String::new(),
            "package.maintainer: `` is not `Full Name <user@example.org>`",
        ),
        (
            |p| p.name = "Tool".into(),
            "package.name: `Tool` is not a Debian package name",
        ),
        (
            |p| p.version = Version::parse("v", "1.0.0-rc-1").unwrap(),
            "version: `1.0.0-rc-1` gives the Debian version `1.0.0~rc-1`",
        ),
        (
            |p| p.target = Target::parse("riscv64gc-unknown-linux-gnu").unwrap(),
            "--target: `riscv64gc-unknown-linux-gnu` has no Debian architecture",
        ),
        (
            |p| p.relations.depends = vec!["libc6, foo".into()],
            "package.deb.depends: `libc6, foo` must be one clause",
        ),
        (|p| p.summary = "x".repeat(90), "package.description: "),
    ];
    for (edit, want) in cases {
        let mut p = package(&c, EPOCH);
        edit(&mut p);
        let e = deb::build(&p, &DebOptions::default(), &d.join("out"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert!(!d.join("out").exists(), "{want}: wrote something");
    }
    // A unit file that does not exist is refused before anything is built.
    let missing = Contents {
        systemd_unit: Some(d.join("src/nope.service")),
        ..c.clone()
    };
    let e = missing.files("tool", EPOCH).unwrap_err().to_string();
    assert!(
        e.contains("nope.service") && e.contains("no such file"),
        "{e}"
    );
    // A binary that vanishes between checking and packaging leaves nothing.
    let p = package(&c, EPOCH);
    fs_err::remove_file(&c.binaries[0]).unwrap();
    let e = deb::build(&p, &DebOptions::default(), &d.join("out"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bin/tool"), "{e}");
    assert_eq!(kit::files_in(&d.join("out")), Vec::<String>::new());
}

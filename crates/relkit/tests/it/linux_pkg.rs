//! `[package]`: `relkit dist` writes a `.deb` per Linux target, listed,
//! checksummed and verified like every release file; bad `[package]`
//! settings fail in one line and leave the output folder untouched.

use std::process::Command;

use relkit_testkit as kit;

use super::{project, relkit};

const PACKAGE: &str = "[package]\n\
maintainer = \"Jane Doe <jane@example.org>\"\n\
description = \"greets whoever runs it\"\n\
docs = [\"README.md\"]\n";

#[test]
fn dist_writes_a_deb_per_linux_target() {
    kit::require("dpkg-deb");
    let dir = project(PACKAGE);
    let d = dir.path();
    let out = relkit(d, &["dist"], &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let files = kit::files_in(&d.join("dist"));
    let debs: Vec<&String> = files.iter().filter(|f| f.ends_with(".deb")).collect();
    assert_eq!(debs, ["tool_1.4.0_amd64.deb"], "{files:?}");
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    assert!(sums.contains("  tool_1.4.0_amd64.deb\n"), "{sums}");
    let m: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    let deb = m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["file"] == "tool_1.4.0_amd64.deb")
        .unwrap();
    assert_eq!(deb["kind"], "deb-package");
    assert_eq!(deb["target"], "x86_64-unknown-linux-gnu");
    let verify = relkit(d, &["manifest", "verify", "dist/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));
    // The binary in the package is the one in the archive.
    let listing = kit::run_ok(
        Command::new("dpkg-deb")
            .arg("--contents")
            .arg(d.join("dist/tool_1.4.0_amd64.deb")),
    );
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains(" ./usr/bin/tool\n"), "{listing}");
    assert!(
        listing.contains(" ./usr/share/doc/tool/README.md\n"),
        "{listing}"
    );
    let deb_bytes = fs_err::read(d.join("dist/tool_1.4.0_amd64.deb")).unwrap();
    let extracted = d.join("x");
    kit::run_ok(
        Command::new("dpkg-deb")
            .arg("--extract")
            .arg(d.join("dist/tool_1.4.0_amd64.deb"))
            .arg(&extracted),
    );
    assert_eq!(
        fs_err::read(extracted.join("usr/bin/tool")).unwrap(),
        fs_err::read(d.join("prebuilt/tool")).unwrap()
    );
    // Reproducible: the same release again gives the same package.
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    let again = relkit(d, &["dist"], &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    assert!(fs_err::read(d.join("dist/tool_1.4.0_amd64.deb")).unwrap() == deb_bytes);
}

#[test]
fn bad_package_settings_fail_in_one_line_and_write_nothing() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "missing maintainer",
            "[package]\ndescription = \"x\"\n",
            "missing field `maintainer`",
        ),
        (
            "invalid name",
            "[package]\nname = \"Tool\"\nmaintainer = \"J <j@e.org>\"\ndescription = \"x\"\n",
            "package.name: `Tool` is not a Debian package name",
        ),
        (
            "missing unit",
            "[package]\nmaintainer = \"J <j@e.org>\"\ndescription = \"x\"\nsystemd-unit = \"tool.service\"\n",
            "tool.service",
        ),
        (
            "bad maintainer",
            "[package]\nmaintainer = \"Jane\"\ndescription = \"x\"\n",
            "package.maintainer: `Jane` is not `Full Name <user@example.org>`",
        ),
        (
            "unknown arch",
            "targets = [\"riscv64gc-unknown-linux-gnu\"]\n[package]\nmaintainer = \"J <j@e.org>\"\ndescription = \"x\"\n",
            "has no Debian architecture",
        ),
    ];
    for (name, toml, want) in cases {
        let dir = project("");
        let d = dir.path();
        let text = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
        let text = if let Some(rest) =
            toml.strip_prefix("targets = [\"riscv64gc-unknown-linux-gnu\"]\n")
        {
            text.replace(
                "targets = [\"x86_64-unknown-linux-gnu\", \"x86_64-pc-windows-msvc\"]",
                "targets = [\"riscv64gc-unknown-linux-gnu\"]",
            ) + rest
        } else {
            text + toml
        };
        fs_err::write(d.join("relkit.toml"), text).unwrap();
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

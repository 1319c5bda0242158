//! relkit-manifest end to end: the committed schema matches the types, our
//! manifests validate against it with check-jsonschema, merge rebases and
//! refuses conflicts, verify lists every mismatch.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_testkit as kit;

const BIN: &str = env!("CARGO_BIN_EXE_relkit-manifest");

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist-manifest.schema.json")
}

/// The committed schema must be what the types generate. Regenerate with
/// `RELKIT_UPDATE_SCHEMA=1 cargo nextest run -p relkit-manifest schema`.
#[test]
fn committed_schema_has_not_drifted() {
    let generated = relkit_core::manifest::schema_json();
    if std::env::var_os("RELKIT_UPDATE_SCHEMA").is_some() {
        fs_err::write(schema_path(), &generated).unwrap();
    }
    let committed = fs_err::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "dist-manifest.schema.json is stale: run RELKIT_UPDATE_SCHEMA=1 cargo nextest run -p relkit-manifest schema"
    );
    let out = kit::run_ok(kit::command(BIN).arg("schema"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), generated);
}

/// Two build jobs' worth of packaged archives under dist/<target>/.
fn two_jobs(dir: &Path) {
    kit::write(&dir.join("tool"), &kit::bytes(50_000, 3), 0o755);
    kit::write(&dir.join("tool.exe"), &kit::bytes(40_000, 4), 0o755);
    for (target, bin) in [
        ("x86_64-unknown-linux-gnu", "tool"),
        ("x86_64-pc-windows-msvc", "tool.exe"),
    ] {
        let opts = relkit_package::Options {
            name: "tool".into(),
            version: relkit_core::version::Version::parse("v", "1.0.0").unwrap(),
            target: relkit_core::target::Target::parse(target).unwrap(),
            format: relkit_core::target::Target::parse(target)
                .unwrap()
                .default_format(),
            binaries: vec![dir.join(bin)],
            includes: vec![],
            strip: false,
            output_dir: dir.join("dist").join(target),
            compression: relkit_package::compress::Compression::default(),
            epoch: 1_700_000_000,
        };
        relkit_package::package(&opts).unwrap();
    }
}

fn manifest(dir: &Path, args: &[&str]) -> std::process::Output {
    kit::run(kit::command(BIN).current_dir(dir).args(args))
}

#[test]
fn merge_then_verify_then_validate_with_check_jsonschema() {
    kit::require("check-jsonschema");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_jobs(d);
    kit::write(&d.join("dist/SHA256SUMS"), b"whatever\n", 0o644);
    kit::write(&d.join("dist/SHA256SUMS.minisig"), b"sig\n", 0o644);
    let out = manifest(
        d,
        &[
            "merge",
            "-o",
            "dist/manifest.json",
            "--tag",
            "v1.0.0",
            "--commit",
            "abc123",
            "--add",
            "dist/SHA256SUMS",
            "--add",
            "dist/SHA256SUMS.minisig",
            "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.part.json",
            "dist/x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.part.json",
        ],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let text = fs_err::read_to_string(d.join("dist/manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files: Vec<&str> = m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "SHA256SUMS",
            "SHA256SUMS.minisig",
            "x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.zip",
            "x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.zip.sha256",
            "x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
            "x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz.sha256",
        ]
    );
    assert_eq!(
        m["targets"],
        serde_json::json!(["x86_64-pc-windows-msvc", "x86_64-unknown-linux-gnu"])
    );
    assert_eq!(m["tag"], "v1.0.0");
    assert_eq!(
        m["artifacts"][0]["signatures"][0]["file"],
        "SHA256SUMS.minisig"
    );
    assert_eq!(m["artifacts"][0]["kind"], "checksums");

    kit::run_ok(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(schema_path())
            .arg(d.join("dist/manifest.json")),
    );
    // A part validates too.
    kit::run_ok(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(schema_path())
            .arg(d.join(
                "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.part.json",
            )),
    );
    // And the schema rejects a broken manifest, so the check means something.
    let broken = text.replacen("\"sha256\": \"", "\"sha256\": \"XX", 1);
    fs_err::write(d.join("broken.json"), broken).unwrap();
    let bad = kit::run(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(schema_path())
            .arg(d.join("broken.json")),
    );
    assert!(!bad.status.success());

    let ok = manifest(d, &["verify", "dist/manifest.json"]);
    assert!(ok.status.success(), "{}", kit::render(&ok, d));

    // Same inputs, same manifest bytes.
    let again = manifest(
        d,
        &[
            "merge",
            "-o",
            "dist/again.json",
            "--tag",
            "v1.0.0",
            "--commit",
            "abc123",
            "--add",
            "dist/SHA256SUMS.minisig",
            "--add",
            "dist/SHA256SUMS",
            "dist/x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.part.json",
            "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.part.json",
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        text,
        fs_err::read_to_string(d.join("dist/again.json")).unwrap(),
        "merge order must not matter"
    );
}

#[test]
fn verify_lists_every_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_jobs(d);
    kit::write(&d.join("dist/SHA256SUMS"), b"x\n", 0o644);
    kit::write(&d.join("dist/SHA256SUMS.minisig"), b"sig\n", 0o644);
    let parts = [
        "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.part.json",
        "dist/x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.part.json",
    ];
    let mut args = vec![
        "merge",
        "-o",
        "dist/manifest.json",
        "--commit",
        "c",
        "--add",
        "dist/SHA256SUMS",
        "--add",
        "dist/SHA256SUMS.minisig",
    ];
    args.extend(parts);
    assert!(manifest(d, &args).status.success());
    // A flipped byte, a truncated file, a deleted file, a deleted signature.
    let linux = d.join("dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz");
    let mut bytes = fs_err::read(&linux).unwrap();
    bytes[100] ^= 0xff;
    fs_err::write(&linux, bytes).unwrap();
    fs_err::write(d.join("dist/SHA256SUMS"), b"").unwrap();
    fs_err::remove_file(
        d.join("dist/x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.zip"),
    )
    .unwrap();
    fs_err::remove_file(d.join("dist/SHA256SUMS.minisig")).unwrap();
    let out = manifest(d, &["verify", "dist/manifest.json"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(kit::render(&out, d));
}

#[test]
fn merge_refuses_conflicts_and_bad_parts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_jobs(d);
    let linux = "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.part.json";
    // The same file with other content, as a racing job would produce.
    let text = fs_err::read_to_string(d.join(linux)).unwrap();
    let sha = text.split("\"sha256\": \"").nth(1).unwrap()[..64].to_owned();
    kit::write(
        &d.join("dist/x86_64-unknown-linux-gnu/conflict.part.json"),
        text.replace(&sha, &"0".repeat(64)).as_bytes(),
        0o644,
    );
    kit::write(
        &d.join("dist/other-version.part.json"),
        text.replace("\"version\": \"1.0.0\"", "\"version\": \"2.0.0\"")
            .as_bytes(),
        0o644,
    );
    kit::write(
        &d.join("dist/malformed.part.json"),
        b"{\"schema_version\": 1,",
        0o644,
    );
    kit::write(
        &d.join("dist/unknown-field.part.json"),
        text.replacen('{', "{\"surprise\": 1,", 1).as_bytes(),
        0o644,
    );
    kit::write(
        &d.join("dist/escape.part.json"),
        text.replace("\"file\": \"tool-1.0.0", "\"file\": \"../../tool-1.0.0")
            .as_bytes(),
        0o644,
    );
    let cases = [
        (
            "conflict",
            vec![
                "merge",
                "-o",
                "dist/m.json",
                linux,
                "dist/x86_64-unknown-linux-gnu/conflict.part.json",
            ],
        ),
        (
            "version_mismatch",
            vec![
                "merge",
                "-o",
                "dist/m.json",
                linux,
                "dist/other-version.part.json",
            ],
        ),
        (
            "malformed_part",
            vec!["merge", "-o", "dist/m.json", "dist/malformed.part.json"],
        ),
        (
            "unknown_field",
            vec!["merge", "-o", "dist/m.json", "dist/unknown-field.part.json"],
        ),
        (
            "path_escape",
            vec!["merge", "-o", "dist/m.json", "dist/escape.part.json"],
        ),
        (
            "missing_part",
            vec!["merge", "-o", "dist/m.json", "dist/nope.part.json"],
        ),
        (
            "create_outside_folder",
            vec![
                "create",
                "--name",
                "tool",
                "--version",
                "1.0.0",
                "-o",
                "dist/m.json",
                "tool",
            ],
        ),
        (
            "create_bad_version",
            vec![
                "create",
                "--name",
                "tool",
                "--version",
                "one",
                "-o",
                "dist/m.json",
                "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
            ],
        ),
    ];
    for (name, args) in cases {
        let out = manifest(d, &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}",
            kit::render(&out, d)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{name}"
        );
        assert!(!d.join("dist/m.json").exists(), "{name} wrote a manifest");
        insta::assert_snapshot!(name, kit::render(&out, d));
    }
}

#[test]
fn create_lists_files_with_kinds_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_jobs(d);
    let out = manifest(
        d,
        &[
            "create",
            "--name",
            "tool",
            "--version",
            "v1.0.0",
            "--commit",
            "c0ffee",
            "-o",
            "dist/manifest.json",
            "dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
            "dist/x86_64-pc-windows-msvc/tool-1.0.0-x86_64-pc-windows-msvc.zip",
        ],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let m: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["artifacts"][0]["target"], "x86_64-pc-windows-msvc");
    assert_eq!(m["artifacts"][1]["kind"], "archive");
    assert_eq!(m["commit"], "c0ffee");
    assert_eq!(m["build_timestamp"], "2023-11-14T22:13:20Z");
    assert!(
        manifest(d, &["verify", "dist/manifest.json"])
            .status
            .success()
    );
}

/// One-line refusal with exit 1 and no manifest written.
fn refuses(d: &Path, args: &[&str], expect: &str) {
    let out = manifest(d, args);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&d.display().to_string(), "[DIR]");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(expect), "{args:?}: {stderr}");
    assert!(!d.join("dist/m.json").exists(), "{args:?} wrote a manifest");
}

// issue 10.4: merge accepted two files with one asset name, an asset name
// `../x`, and two parts giving one file different names (the first won);
// create given one file twice wrote two entries.
#[test]
fn merge_and_create_refuse_contradictions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_jobs(d);
    let linux_dir = "dist/x86_64-unknown-linux-gnu";
    let linux = format!("{linux_dir}/tool-1.0.0-x86_64-unknown-linux-gnu.part.json");
    let archive = "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz";
    let text = fs_err::read_to_string(d.join(&linux)).unwrap();
    // The same archive copied into another folder: another file, same name.
    fs_err::create_dir_all(d.join("dist/copy")).unwrap();
    fs_err::copy(
        d.join(linux_dir).join(archive),
        d.join("dist/copy").join(archive),
    )
    .unwrap();
    fs_err::copy(
        d.join(linux_dir).join(format!("{archive}.sha256")),
        d.join("dist/copy").join(format!("{archive}.sha256")),
    )
    .unwrap();
    kit::write(&d.join("dist/copy/p.part.json"), text.as_bytes(), 0o644);
    refuses(
        d,
        &[
            "merge",
            "-o",
            "dist/m.json",
            &linux,
            "dist/copy/p.part.json",
        ],
        &format!(
            "asset name `{archive}` is given to both `copy/{archive}` (in `dist/copy/p.part.json`) and `x86_64-unknown-linux-gnu/{archive}` (in `{linux}`)"
        ),
    );
    let bad_name = text.replacen(&format!("\"name\": \"{archive}\""), "\"name\": \"../x\"", 1);
    kit::write(
        &d.join("dist/bad-name.part.json"),
        bad_name.as_bytes(),
        0o644,
    );
    refuses(
        d,
        &["merge", "-o", "dist/m.json", "dist/bad-name.part.json"],
        "error: `dist/bad-name.part.json`: artifacts[0].name: `../x` is not a plain file name",
    );
    let renamed = text.replacen(
        &format!("\"name\": \"{archive}\""),
        "\"name\": \"other.tar.gz\"",
        1,
    );
    kit::write(
        &d.join(linux_dir).join("renamed.part.json"),
        renamed.as_bytes(),
        0o644,
    );
    refuses(
        d,
        &[
            "merge",
            "-o",
            "dist/m.json",
            &linux,
            &format!("{linux_dir}/renamed.part.json"),
        ],
        &format!(
            "`x86_64-unknown-linux-gnu/{archive}` is named `{archive}` in `{linux}` but `other.tar.gz` in `{linux_dir}/renamed.part.json`"
        ),
    );
    let file = format!("{linux_dir}/{archive}");
    let create = [
        "create",
        "--name",
        "tool",
        "--version",
        "1.0.0",
        "-o",
        "dist/m.json",
    ];
    let args: Vec<&str> = create
        .iter()
        .copied()
        .chain([
            file.as_str(),
            "dist/../dist/x86_64-unknown-linux-gnu/tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
        ])
        .collect();
    refuses(
        d,
        &args,
        &format!(
            "`x86_64-unknown-linux-gnu/{archive}` is given twice: as `{file}` and as `dist/../{file}`"
        ),
    );
    let copy = format!("dist/copy/{archive}");
    let args: Vec<&str> = create
        .iter()
        .copied()
        .chain([file.as_str(), copy.as_str()])
        .collect();
    refuses(
        d,
        &args,
        &format!("asset name `{archive}` is given to both"),
    );
    // issue 10.8: tags git refuses.
    for tag in ["v1/../../x", "v1.0.lock", "v1\nx", "-v1"] {
        let flag = format!("--tag={tag}");
        let args: Vec<&str> = create
            .iter()
            .copied()
            .chain([flag.as_str(), file.as_str()])
            .collect();
        refuses(d, &args, "error: --tag: `");
    }
}

//! `relkit dist` and `relkit <helper>` end to end on a sample project: the
//! outputs verify with sha256sum, minisign and check-jsonschema, are
//! reproducible, and a failure leaves the output folder untouched.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

use std::path::Path;
use std::process::{Command, Output};

use relkit_testkit as kit;

mod consume;

mod sbom;

mod linux_pkg;

mod rpm_pkg;

mod image;

mod recipes;

mod apt_repo;

mod dnf_repo;

mod repos;

mod publish_repos;

const BIN: &str = env!("CARGO_BIN_EXE_relkit");

/// A project whose "build" copies prepared binaries into out/{os}_{arch}.
fn project(extra_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(&d.join("prebuilt/tool"), &kit::bytes(200_000, 11), 0o755);
    kit::write(
        &d.join("prebuilt/terraform-provider-demo"),
        &kit::bytes(90_000, 12),
        0o755,
    );
    kit::write(&d.join("README.md"), b"# tool\n", 0o644);
    kit::write(
        &d.join("relkit.toml"),
        format!(
            r#"name = "tool"
version = "1.4.0"
binaries = ["tool"]
include = ["README.md"]
targets = ["x86_64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]

[build]
command = "mkdir -p out/{{os}}_{{arch}} && cp prebuilt/tool out/{{os}}_{{arch}}/tool{{exe}} && cp prebuilt/terraform-provider-demo out/{{os}}_{{arch}}/terraform-provider-demo{{exe}}"
binary-dir = "out/{{os}}_{{arch}}"
{extra_toml}"#
        )
        .as_bytes(),
        0o644,
    );
    dir
}

/// A bad-input case `name` ended as bad input must: exit 1 and exactly one
/// `error:` line, which says `want`.
fn fails_in_one_line(out: &Output, d: &Path, name: &str, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: {}",
        kit::render(out, d)
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{name}: {stderr}");
    assert!(errors[0].contains(want), "{name}: {}", errors[0]);
}

fn relkit(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = kit::command(BIN);
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    kit::run(&mut cmd)
}

#[test]
fn dist_writes_a_verifiable_reproducible_release() {
    kit::require("sha256sum");
    kit::require("check-jsonschema");
    let dir = project("");
    let d = dir.path();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    insta::assert_snapshot!(kit::render(&out, d));
    assert_eq!(
        kit::files_in(&d.join("dist")),
        [
            ".relkit/attest.sha256",
            ".relkit/install.md",
            ".relkit/notes.md",
            "SHA256SUMS",
            "manifest.json",
            "tool-1.4.0-x86_64-pc-windows-msvc.zip",
            "tool-1.4.0-x86_64-pc-windows-msvc.zip.sha256",
            "tool-1.4.0-x86_64-unknown-linux-gnu.tar.gz",
            "tool-1.4.0-x86_64-unknown-linux-gnu.tar.gz.sha256",
            "tool-installer.sh",
        ]
    );
    kit::run_ok(Command::new("sha256sum").current_dir(d.join("dist")).args([
        "-c",
        "--strict",
        "SHA256SUMS",
    ]));
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist-manifest.schema.json");
    kit::run_ok(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(&schema)
            .arg(d.join("dist/manifest.json")),
    );
    let verify = relkit(d, &["manifest", "verify", "dist/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));
    let m: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["tag"], "v1.4.0");
    assert_eq!(
        m["targets"],
        serde_json::json!(["x86_64-pc-windows-msvc", "x86_64-unknown-linux-gnu"])
    );

    // The same release again, from a fresh copy: byte for byte the same.
    let before: Vec<(String, Vec<u8>)> = kit::files_in(&d.join("dist"))
        .into_iter()
        .map(|f| (f.clone(), fs_err::read(d.join("dist").join(&f)).unwrap()))
        .collect();
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    fs_err::remove_dir_all(d.join("out")).unwrap();
    let again = relkit(d, &["dist"], &[]);
    assert!(again.status.success());
    for (f, bytes) in before {
        assert!(
            fs_err::read(d.join("dist").join(&f)).unwrap() == bytes,
            "{f} differs between runs"
        );
    }
}

#[test]
fn dist_signs_sums_and_archives_with_minisign() {
    kit::require("minisign");
    let dir = project("[sign]\nminisign-key-env = \"TEST_MINISIGN_KEY\"\narchives = true\n");
    let d = dir.path();
    kit::run_ok(
        Command::new("minisign")
            .current_dir(d)
            .args(["-G", "-W", "-p", "key.pub", "-s", "key.sec"]),
    );
    let key = fs_err::read_to_string(d.join("key.sec")).unwrap();
    let out = relkit(
        d,
        &["dist", "--target", "x86_64-unknown-linux-gnu"],
        &[("TEST_MINISIGN_KEY", &key)],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(key.lines().nth(1).unwrap()),
        "key printed"
    );
    for f in ["SHA256SUMS", "tool-1.4.0-x86_64-unknown-linux-gnu.tar.gz"] {
        kit::run_ok(Command::new("minisign").current_dir(d.join("dist")).args([
            "-V",
            "-p",
            "../key.pub",
            "-m",
            f,
        ]));
    }
    let ok = relkit(
        d,
        &[
            "manifest",
            "verify",
            "--public-key",
            "key.pub",
            "dist/manifest.json",
        ],
        &[],
    );
    assert!(ok.status.success(), "{}", kit::render(&ok, d));
    let m = fs_err::read_to_string(d.join("dist/manifest.json")).unwrap();
    assert!(m.contains("\"file\": \"SHA256SUMS.minisig\""), "{m}");
    // The key id is recorded as minisign prints it.
    let pub_text = fs_err::read_to_string(d.join("key.pub")).unwrap();
    let key_id = pub_text.lines().next().unwrap().rsplit(' ').next().unwrap();
    assert!(
        m.contains(&format!("\"key_id\": \"{key_id}\"")),
        "{key_id} not in {m}"
    );

    // Another key's signature is caught, and so is a tampered SHA256SUMS.
    kit::run_ok(Command::new("minisign").current_dir(d).args([
        "-G",
        "-W",
        "-p",
        "other.pub",
        "-s",
        "other.sec",
    ]));
    let wrong = relkit(
        d,
        &[
            "manifest",
            "verify",
            "--public-key",
            "other.pub",
            "dist/manifest.json",
        ],
        &[],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stdout)
            .contains("SHA256SUMS: FAILED (signature `SHA256SUMS.minisig`")
    );
    fs_err::write(d.join("dist/SHA256SUMS"), "tampered\n").unwrap();
    let bad = relkit(
        d,
        &[
            "manifest",
            "verify",
            "--public-key",
            "key.pub",
            "dist/manifest.json",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains("does not match the file"), "{text}");
}

#[test]
fn dist_bundles_a_terraform_provider() {
    let dir = project("[provider]\nname = \"demo\"\nnamespace = \"acme\"\n");
    let d = dir.path();
    fs_err::write(
        d.join("relkit.toml"),
        fs_err::read_to_string(d.join("relkit.toml"))
            .unwrap()
            .replace(
                "binaries = [\"tool\"]",
                "binaries = [\"tool\", \"terraform-provider-demo\"]",
            ),
    )
    .unwrap();
    let out = relkit(d, &["dist"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let files = kit::files_in(&d.join("dist"));
    for f in [
        "terraform-provider-demo_1.4.0_linux_amd64.zip",
        "terraform-provider-demo_1.4.0_windows_amd64.zip",
        "terraform-provider-demo_1.4.0_SHA256SUMS",
        "terraform-provider-demo_1.4.0_manifest.json",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} missing from {files:?}");
    }
    let verify = relkit(d, &["manifest", "verify", "dist/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    assert!(
        sums.contains("terraform-provider-demo_1.4.0_linux_amd64.zip"),
        "{sums}"
    );
}

/// A case name, the arguments, and an edit (from, to) of relkit.toml.
type FailCase<'a> = (&'a str, Vec<&'a str>, Option<(&'a str, &'a str)>);

#[test]
fn failures_leave_the_output_folder_untouched() {
    let dir = project("");
    let d = dir.path();
    kit::write(&d.join("dist/keep.txt"), b"mine", 0o644);
    let cases: Vec<FailCase> = vec![
        (
            "build_fails",
            vec!["dist"],
            Some(("cp prebuilt/tool", "false && cp prebuilt/tool")),
        ),
        ("missing_binary", vec!["dist", "--no-build"], None),
        (
            "unknown_config_field",
            vec!["dist"],
            Some(("[build]", "colour = \"blue\"\n[build]")),
        ),
        ("bad_target", vec!["dist", "--target", "plan9/amd64"], None),
        (
            "target_twice",
            vec!["dist", "--target", "linux/amd64", "--target", "linux_amd64"],
            None,
        ),
        (
            "missing_config",
            vec!["dist", "--config", "nope.toml"],
            None,
        ),
        ("non_numeric_epoch", vec!["dist"], None),
    ];
    let original = fs_err::read_to_string(d.join("relkit.toml")).unwrap();
    for (name, args, edit) in cases {
        let text = edit.map_or_else(
            || original.clone(),
            |(from, to)| original.replacen(from, to, 1),
        );
        fs_err::write(d.join("relkit.toml"), text).unwrap();
        let _ = fs_err::remove_dir_all(d.join("out"));
        let env: Vec<(&str, &str)> = if name == "non_numeric_epoch" {
            vec![("SOURCE_DATE_EPOCH", "soon")]
        } else {
            vec![]
        };
        let out = relkit(d, &args, &env);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}",
            kit::render(&out, d)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{name}: {stderr}"
        );
        assert_eq!(
            kit::files_in(&d.join("dist")),
            ["keep.txt"],
            "{name} touched dist/"
        );
        insta::assert_snapshot!(
            name,
            stderr
                .lines()
                .find(|l| l.starts_with("error:"))
                .unwrap()
                .replace(&d.display().to_string(), "[TEMP]")
        );
    }
}

#[test]
fn helpers_run_in_process() {
    kit::require("sha256sum");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(&d.join("a"), b"alpha", 0o644);
    let out = relkit(d, &["checksum", "a"], &[]);
    assert!(out.status.success());
    let theirs = kit::run_ok(Command::new("sha256sum").current_dir(d).arg("a"));
    assert_eq!(
        fs_err::read_to_string(d.join("SHA256SUMS")).unwrap(),
        String::from_utf8_lossy(&theirs.stdout)
    );
    let usage = relkit(d, &["package", "--bogus"], &[]);
    assert_eq!(usage.status.code(), Some(1));
    let help = relkit(d, &["--help"], &[]);
    insta::assert_snapshot!("help", kit::render(&help, d));
}

/// `relkit dist` then `relkit release-upload` against the fake GitHub: the
/// release holds every release asset once, with matching digests, and no
/// mirror-tree files; a second upload changes nothing.
#[test]
fn dist_then_release_upload_publishes_every_asset_once() {
    let dir = project("[provider]\nname = \"demo\"\nnamespace = \"acme\"\n");
    let d = dir.path();
    fs_err::write(
        d.join("relkit.toml"),
        fs_err::read_to_string(d.join("relkit.toml"))
            .unwrap()
            .replace(
                "binaries = [\"tool\"]",
                "binaries = [\"tool\", \"terraform-provider-demo\"]",
            ),
    )
    .unwrap();
    assert!(relkit(d, &["dist"], &[]).status.success());
    let fake =
        relkit_fake_github::FakeGitHub::start_blocking(relkit_fake_github::Config::default())
            .unwrap();
    let api = fake.api_url();
    let env = [
        ("GITHUB_TOKEN", "test-token"),
        ("GITHUB_REPOSITORY", "octo/demo"),
        ("GITHUB_API_URL", api.as_str()),
        ("RELKIT_RETRY_BASE_MS", "1"),
    ];
    let out = relkit(
        d,
        &["release-upload", "--manifest", "dist/manifest.json"],
        &env,
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));

    let manifest: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    let mut expected: Vec<(String, String)> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] != "terraform-mirror")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                format!("sha256:{}", a["sha256"].as_str().unwrap()),
            )
        })
        .collect();
    // The manifest itself is published beside the files it lists.
    expected.push((
        "manifest.json".to_owned(),
        format!(
            "sha256:{}",
            relkit_core::hash::hash_file(
                &d.join("dist/manifest.json"),
                relkit_core::hash::Algo::Sha256,
                |_| {}
            )
            .unwrap()
            .hex
        ),
    ));
    expected.sort();
    assert!(
        expected
            .iter()
            .any(|(n, _)| n == "terraform-provider-demo_1.4.0_SHA256SUMS")
    );
    let releases = fake.releases();
    assert_eq!(releases.len(), 1);
    let release = &releases[0];
    assert_eq!(
        (release.tag_name.as_str(), release.draft),
        ("v1.4.0", false)
    );
    let mut got: Vec<(String, String)> = release
        .assets
        .iter()
        .map(|a| (a.name.clone(), a.digest.clone()))
        .collect();
    got.sort();
    assert_eq!(got, expected);

    // A user downloads every asset and verifies it with the tools they have.
    let fetched = d.join("fetched");
    fs_err::create_dir_all(&fetched).unwrap();
    for a in &release.assets {
        fs_err::write(fetched.join(&a.name), a.content().unwrap()).unwrap();
    }
    kit::run_ok(Command::new("sha256sum").current_dir(&fetched).args([
        "-c",
        "--strict",
        "SHA256SUMS",
    ]));
    let verify = relkit(d, &["manifest", "verify", "fetched/manifest.json"], &[]);
    assert!(verify.status.success(), "{}", kit::render(&verify, d));

    let again = relkit(
        d,
        &["release-upload", "--manifest", "dist/manifest.json"],
        &env,
    );
    assert!(again.status.success(), "{}", kit::render(&again, d));
    let uploads = fake
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/assets?"))
        .count();
    assert_eq!(
        uploads,
        expected.len(),
        "the second run must upload nothing"
    );
}

/// issue 9: a link named `relkit-HELPER` runs that helper, with the very
/// same parsing and help text as `relkit HELPER`.
#[test]
fn a_link_named_after_a_helper_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(BIN, d.join("relkit-package")).unwrap();
    std::os::unix::fs::symlink(BIN, d.join("relkit-checksum")).unwrap();
    let via_link = kit::run(Command::new(d.join("relkit-package")).arg("--help"));
    let via_sub = relkit(d, &["package", "--help"], &[]);
    assert!(via_link.status.success());
    assert_eq!(
        String::from_utf8_lossy(&via_link.stdout),
        String::from_utf8_lossy(&via_sub.stdout)
    );
    kit::write(&d.join("a"), b"alpha", 0o644);
    let out = kit::run(
        Command::new(d.join("relkit-checksum"))
            .current_dir(d)
            .arg("a"),
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    assert!(d.join("SHA256SUMS").is_file());
}

/// issue 9: release.yml's way (build and package per target in separate
/// jobs, then `relkit finalize` over every job's outputs) and `relkit dist`
/// give byte-identical archives, SHA256SUMS and manifest.json.
#[test]
fn finalize_over_per_target_outputs_equals_dist() {
    let dir = project("");
    let d = dir.path();
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let out = relkit(d, &["dist"], &epoch);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    for target in ["x86_64-unknown-linux-gnu", "x86_64-pc-windows-msvc"] {
        let built = relkit(d, &["build", "--target", target], &epoch);
        assert!(built.status.success(), "{}", kit::render(&built, d));
        let files: Vec<String> = String::from_utf8_lossy(&built.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let job = format!("jobs/{target}");
        let mut args = vec![
            "package",
            "--name",
            "tool",
            "--version",
            "1.4.0",
            "--target",
            target,
            "--include",
            "README.md",
            "--output-dir",
            &job,
        ];
        args.extend(files.iter().map(String::as_str));
        let packaged = relkit(d, &args, &epoch);
        assert!(packaged.status.success(), "{}", kit::render(&packaged, d));
    }
    let fin = relkit(
        d,
        &["finalize", "--input", "jobs", "--output-dir", "final"],
        &epoch,
    );
    assert!(fin.status.success(), "{}", kit::render(&fin, d));
    assert_eq!(
        kit::files_in(&d.join("final")),
        kit::files_in(&d.join("dist"))
    );
    for f in kit::files_in(&d.join("dist")) {
        assert!(
            fs_err::read(d.join("dist").join(&f)).unwrap()
                == fs_err::read(d.join("final").join(&f)).unwrap(),
            "{f} differs between dist and finalize"
        );
    }
}

/// issue 9: a new version's dist replaces the previous release's files (no
/// `dist/*` upload of an old archive), and a file relkit did not write is
/// refused rather than deleted or mixed in.
#[test]
fn dist_replaces_the_previous_release_and_refuses_strangers() {
    let dir = project("");
    let d = dir.path();
    assert!(relkit(d, &["dist"], &[]).status.success());
    let out = relkit(d, &["dist", "--version", "1.5.0"], &[]);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let files = kit::files_in(&d.join("dist"));
    assert!(!files.iter().any(|f| f.contains("1.4.0")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("1.5.0")), "{files:?}");
    kit::write(&d.join("dist/notes.txt"), b"mine", 0o644);
    let before = kit::files_in(&d.join("dist"));
    let out = relkit(d, &["dist", "--version", "1.6.0"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "holds `notes.txt`, which the previous release's manifest.json does not list"
        ),
        "{stderr}"
    );
    assert_eq!(kit::files_in(&d.join("dist")), before);
}

/// issue 9: a misspelt include fails before any build runs.
#[test]
fn a_misspelt_include_fails_before_building() {
    let dir = project("");
    let d = dir.path();
    let out = relkit(d, &["dist", "--include", "LICENSEE"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("include: `LICENSEE` does not exist"),
        "{}",
        kit::render(&out, d)
    );
    assert!(!d.join("out").exists(), "the build ran");
}

/// issue 9: `relkit build` finds cargo's target dir the way cargo does
/// (CARGO_TARGET_DIR here), and a Go-style project takes its version from
/// the git tag on HEAD.
#[test]
fn build_finds_cargo_target_dir_and_version_from_the_tag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(
        &d.join("Cargo.toml"),
        b"[package]\nname = \"hello\"\nversion = \"0.3.0\"\nedition = \"2021\"\n[workspace]\n",
        0o644,
    );
    kit::write(&d.join("src/main.rs"), b"fn main() {}\n", 0o644);
    let custom = d.join("elsewhere");
    let out = relkit(
        d,
        &[
            "build",
            "--target",
            relkit_core::target::Target::host().name(),
            "--binary",
            "hello",
            "--cargo-args=",
        ],
        &[("CARGO_TARGET_DIR", custom.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(printed, custom.join("release/hello").display().to_string());
    assert!(custom.join("release/hello").is_file());

    let g = d.join("go");
    fs_err::create_dir_all(&g).unwrap();
    for args in [
        vec!["init", "-q"],
        vec![
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        vec!["tag", "v2.3.4"],
    ] {
        kit::run_ok(Command::new("git").current_dir(&g).args(args));
    }
    kit::write(
        &g.join("relkit.toml"),
        b"name = \"gotool\"\nbinaries = [\"gotool\"]\n[build]\ntool = \"go\"\n",
        0o644,
    );
    let outputs = g.join("outputs");
    let out = relkit(
        &g,
        &["plan", "--target", "linux/amd64"],
        &[("GITHUB_OUTPUT", outputs.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", kit::render(&out, &g));
    let written = fs_err::read_to_string(&outputs).unwrap();
    assert!(
        written.contains("version=2.3.4\n") && written.contains("tag=v2.3.4\n"),
        "{written}"
    );
}

/// issue 9: release notes from this version's section of a Keep a
/// Changelog file, written by finalize where release-upload reads them.
#[test]
fn finalize_takes_the_release_notes_from_the_changelog() {
    let dir = project("");
    let d = dir.path();
    let pkg = relkit(
        d,
        &[
            "package",
            "--name",
            "tool",
            "--version",
            "1.4.0",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--output-dir",
            "jobs",
            "prebuilt/tool",
        ],
        &[],
    );
    assert!(pkg.status.success(), "{}", kit::render(&pkg, d));
    kit::write(
        &d.join("CHANGELOG.md"),
        b"# Changelog\n\n## [1.4.0] - 2024-05-01\n\n### Fixed\n- the thing\n\n## [1.3.0]\n- older\n",
        0o644,
    );
    let out = relkit(
        d,
        &[
            "finalize",
            "--input",
            "jobs",
            "--output-dir",
            "out",
            "--changelog",
            "CHANGELOG.md",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    // The changelog's section, then how to install and verify.
    let notes = fs_err::read_to_string(d.join("out/.relkit/notes.md")).unwrap();
    assert!(
        notes.starts_with("### Fixed\n- the thing\n\n### Install\n"),
        "{notes}"
    );
    assert!(notes.contains("tool-installer.sh | sh"), "{notes}");
    // A version the changelog lacks fails before anything is written.
    kit::write(&d.join("CHANGELOG.md"), b"## [9.9.9]\n- x\n", 0o644);
    let out = relkit(
        d,
        &[
            "finalize",
            "--input",
            "jobs",
            "--output-dir",
            "out2",
            "--changelog",
            "CHANGELOG.md",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no section for 1.4.0"));
    assert!(kit::files_in(&d.join("out2")).is_empty());
}

/// issue 9: relkit releases itself as one multi-call binary, built by the
/// same cargo invocation as the README's first command.
#[test]
fn relkit_ships_one_binary_built_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let c = relkit::config::Config::load(&root.join("relkit.toml"), true).unwrap();
    assert_eq!(c.binaries, ["relkit"]);
    assert_eq!(c.build.tool, Some(relkit::config::BuildTool::Cargo));
    assert_eq!(
        c.build.cargo_args.as_deref(),
        Some(&["--locked".to_owned(), "-p".to_owned(), "relkit".to_owned()][..])
    );
    let readme = fs_err::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("cargo run --release --locked -p relkit -- dist"));
}

/// issue 9: under `cargo run` (which sets CARGO_PKG_NAME and friends), the
/// nested build reuses what cargo already built: build scripts that watch
/// those names (ring does) must not see them change, or the README's first
/// command builds everything twice.
#[test]
fn a_build_started_by_cargo_run_reuses_cargos_build() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(
        &d.join("Cargo.toml"),
        b"[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\ndep = { path = \"dep\" }\n[workspace]\n",
        0o644,
    );
    kit::write(&d.join("src/main.rs"), b"fn main() { dep::f() }\n", 0o644);
    kit::write(
        &d.join("dep/Cargo.toml"),
        b"[package]\nname = \"dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        0o644,
    );
    kit::write(&d.join("dep/src/lib.rs"), b"pub fn f() {}\n", 0o644);
    kit::write(
        &d.join("dep/build.rs"),
        b"fn main() { println!(\"cargo:rerun-if-env-changed=CARGO_PKG_NAME\"); }\n",
        0o644,
    );
    let target = relkit_core::target::Target::host();
    // The test runner itself runs under cargo's variables: the first build
    // is made without them, as from a shell; the second with other values.
    let build = |env: &[(&str, &str)]| {
        let mut cmd = kit::command(BIN);
        cmd.current_dir(d)
            .args([
                "build",
                "--target",
                target.name(),
                "--binary",
                "app",
                "--cargo-args=",
            ])
            .env("CARGO_TARGET_DIR", "t");
        for (k, _) in std::env::vars() {
            if k.starts_with("CARGO_PKG_") || k.starts_with("CARGO_MANIFEST_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        let out = kit::run(&mut cmd);
        assert!(out.status.success(), "{}", kit::render(&out, d));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(build(&[]).contains("Compiling dep"));
    let again = build(&[
        ("CARGO_PKG_NAME", "under-cargo-run"),
        ("CARGO_MANIFEST_DIR", "/elsewhere"),
    ]);
    assert!(
        !again.contains("Compiling"),
        "rebuilt under cargo run's variables:\n{again}"
    );
}

/// issue 9: the build jobs package what `relkit dist` packages: plan hands
/// them relkit.toml's `include` plus the workflow's, once checked.
#[test]
fn plan_hands_every_include_to_the_build_jobs() {
    let dir = project("");
    let d = dir.path();
    kit::write(&d.join("LICENSE"), b"MIT\n", 0o644);
    let outputs = d.join("outputs");
    let out = relkit(
        d,
        &[
            "plan",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--include",
            "LICENSE",
        ],
        &[("GITHUB_OUTPUT", outputs.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let written = fs_err::read_to_string(&outputs).unwrap();
    assert!(
        written.contains("include<<RELKIT_EOF_0\nREADME.md\nLICENSE\nRELKIT_EOF_0\n"),
        "{written}"
    );
}

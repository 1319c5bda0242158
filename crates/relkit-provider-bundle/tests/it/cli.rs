//! The command line: help, a full run and its files checked by real tools,
//! reproducibility, Actions output, and every bad input.

use std::path::Path;

use relkit_core::manifest::{ArtifactKind, Manifest};

use crate::{binary_args, cmd, fake_binaries, render, sha256_file};

#[test]
fn help() {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = render(cmd().arg("--help").env("COLUMNS", "100"), dir.path());
    assert!(out.status.success());
    insta::assert_snapshot!(text);
}

fn bundle_into(work: &Path, out_dir: &Path) -> (std::process::Output, String) {
    let bins = fake_binaries(work);
    render(
        cmd()
            .args([
                "--name",
                "demo",
                "--version",
                "v1.2.3",
                "--namespace",
                "acme",
            ])
            .args(binary_args(&bins))
            .arg("--output-dir")
            .arg(out_dir),
        work,
    )
}

#[test]
fn full_run_layout_and_lock_block() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("dist");
    let (out, text) = bundle_into(work.path(), &out_dir);
    assert!(out.status.success(), "{text}");
    insta::assert_snapshot!("full_run_output", text);
    insta::assert_snapshot!(
        "full_run_files",
        relkit_testkit::files_in(&out_dir).join("\n")
    );
    // The lock file holds exactly what was printed.
    let lock =
        fs_err::read_to_string(out_dir.join("terraform-provider-demo_1.2.3.terraform.lock.hcl"))
            .unwrap();
    assert_eq!(lock, String::from_utf8(out.stdout).unwrap());
    // The unpacked binaries are executable, byte for byte the inputs.
    let unpacked = out_dir.join("terraform-providers/registry.terraform.io/acme/demo/1.2.3");
    for (platform, input, name) in [
        ("linux_amd64", "linux", "terraform-provider-demo_v1.2.3"),
        ("darwin_arm64", "darwin", "terraform-provider-demo_v1.2.3"),
        (
            "windows_amd64",
            "windows.exe",
            "terraform-provider-demo_v1.2.3.exe",
        ),
    ] {
        let p = unpacked.join(platform).join(name);
        assert_eq!(
            fs_err::read(&p).unwrap(),
            fs_err::read(work.path().join("bin").join(input)).unwrap()
        );
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs_err::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o755, "{}", p.display());
    }
    let manifest_json =
        fs_err::read_to_string(out_dir.join("terraform-provider-demo_1.2.3_manifest.json"))
            .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&manifest_json).unwrap(),
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );
    let packed = out_dir.join("terraform-mirror/registry.terraform.io/acme/demo");
    insta::assert_snapshot!(
        "packed_index",
        fs_err::read_to_string(packed.join("index.json")).unwrap()
    );
    insta::assert_snapshot!(
        "packed_version",
        fs_err::read_to_string(packed.join("1.2.3.json")).unwrap()
    );
}

#[test]
fn zips_pass_real_unzip_and_python_zipfile() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("dist");
    let (out, text) = bundle_into(work.path(), &out_dir);
    assert!(out.status.success(), "{text}");
    relkit_testkit::require("unzip");
    relkit_testkit::require("python3");
    for (platform, input, entry) in [
        ("linux_amd64", "linux", "terraform-provider-demo_v1.2.3"),
        (
            "windows_amd64",
            "windows.exe",
            "terraform-provider-demo_v1.2.3.exe",
        ),
    ] {
        let zip = out_dir.join(format!("terraform-provider-demo_1.2.3_{platform}.zip"));
        relkit_testkit::run_ok(Command::new("unzip").arg("-tq").arg(&zip));
        let listing = relkit_testkit::run_ok(Command::new("unzip").arg("-Z").arg(&zip));
        let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
        let line = listing
            .lines()
            .find(|l| l.ends_with(entry))
            .unwrap_or_else(|| panic!("{listing}"));
        assert!(
            line.starts_with("-rwxr-xr-x") && line.contains(" unx ") && line.contains(" defN "),
            "{line}"
        );
        assert!(
            listing.contains("1 file,"),
            "exactly one entry, no folders: {listing}"
        );
        let py = "import sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  [i] = z.infolist()\n\
                  assert not i.is_dir() and i.extra == b'' and i.create_system == 3, i\n\
                  assert (i.external_attr >> 16) == 0o100755, oct(i.external_attr >> 16)\n\
                  assert i.date_time == (2023, 11, 14, 22, 13, 20), i.date_time\n\
                  sys.stdout.buffer.write(z.read(i))\n";
        let got = relkit_testkit::run_ok(Command::new("python3").args(["-c", py]).arg(&zip));
        assert_eq!(
            got.stdout,
            fs_err::read(work.path().join("bin").join(input)).unwrap()
        );
    }
}

use std::process::Command;

#[test]
fn sha256sums_cover_zips_and_manifest_and_pass_sha256sum() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("dist");
    let (out, text) = bundle_into(work.path(), &out_dir);
    assert!(out.status.success(), "{text}");
    relkit_testkit::require("sha256sum");
    let sums =
        fs_err::read_to_string(out_dir.join("terraform-provider-demo_1.2.3_SHA256SUMS")).unwrap();
    let names: Vec<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    assert_eq!(
        names,
        [
            "terraform-provider-demo_1.2.3_darwin_arm64.zip",
            "terraform-provider-demo_1.2.3_linux_amd64.zip",
            "terraform-provider-demo_1.2.3_manifest.json",
            "terraform-provider-demo_1.2.3_windows_amd64.zip",
        ]
    );
    let check = relkit_testkit::run(
        Command::new("sha256sum")
            .args(["-c", "--strict", "terraform-provider-demo_1.2.3_SHA256SUMS"])
            .current_dir(&out_dir),
    );
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn manifest_part_lists_every_file_with_true_hashes() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("dist");
    let (out, text) = bundle_into(work.path(), &out_dir);
    assert!(out.status.success(), "{text}");
    let part_path = out_dir.join("terraform-provider-demo_1.2.3.part.json");
    let part = Manifest::read(&part_path).unwrap();
    assert_eq!(part.name, "terraform-provider-demo");
    assert_eq!(part.version, "1.2.3");
    assert_eq!(part.tag.as_deref(), Some("v1.2.3"));
    assert_eq!(part.build_timestamp, "2023-11-14T22:13:20Z");
    assert_eq!(
        part.targets,
        [
            "aarch64-apple-darwin",
            "windows-amd64",
            "x86_64-unknown-linux-gnu"
        ]
    );
    let mut listed: Vec<String> = part.artifacts.iter().map(|a| a.file.clone()).collect();
    listed.push("terraform-provider-demo_1.2.3.part.json".into());
    listed.sort();
    assert_eq!(
        listed,
        relkit_testkit::files_in(&out_dir),
        "every file but the part itself is listed"
    );
    for a in &part.artifacts {
        let p = out_dir.join(&a.file);
        assert_eq!(a.size, fs_err::metadata(&p).unwrap().len(), "{}", a.file);
        assert_eq!(a.sha256, sha256_file(&p), "{}", a.file);
        assert_eq!(a.name, a.file.rsplit('/').next().unwrap());
    }
    let kinds = |k: ArtifactKind| part.artifacts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kinds(ArtifactKind::TerraformProviderZip), 3);
    assert_eq!(kinds(ArtifactKind::TerraformRegistryManifest), 1);
    assert_eq!(kinds(ArtifactKind::TerraformSha256sums), 1);
    assert_eq!(kinds(ArtifactKind::TerraformLock), 1);
    assert_eq!(kinds(ArtifactKind::TerraformMirror), 3 + 3 + 2);
    let zip = part
        .artifacts
        .iter()
        .find(|a| a.file.ends_with("linux_amd64.zip") && !a.file.contains('/'))
        .unwrap();
    assert_eq!(zip.target.as_deref(), Some("x86_64-unknown-linux-gnu"));
    assert_eq!(zip.contents.len(), 1);
    assert_eq!(zip.contents[0].path, "terraform-provider-demo_v1.2.3");
    assert!(zip.contents[0].executable);
    assert_eq!(
        zip.contents[0].sha256,
        sha256_file(&work.path().join("bin/linux"))
    );
}

/// Two runs from binaries with different mtimes, under different umasks,
/// give byte-identical outputs.
#[test]
fn reproducible_across_runs_mtimes_and_umask() {
    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("a");
    let (out, text) = bundle_into(work.path(), &a);
    assert!(out.status.success(), "{text}");
    // Touch the inputs to a different time and run under umask 077.
    for f in ["linux", "darwin", "windows.exe"] {
        let p = work.path().join("bin").join(f);
        let file = fs_err::File::options().write(true).open(&p).unwrap();
        file.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000),
        )
        .unwrap();
    }
    let b = work.path().join("b");
    let bins = crate::fake_binaries(work.path());
    let script = format!(
        "umask 077; exec \"$0\" --name demo --version 1.2.3 --namespace acme {} --output-dir {}",
        binary_args(&bins)
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(" "),
        b.display()
    );
    let c = cmd();
    let program = c.get_program().to_owned();
    let env: Vec<_> = c
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
        .collect();
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(script).arg(program);
    for (k, v) in env {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    relkit_testkit::run_ok(&mut sh);
    let files = relkit_testkit::files_in(&a);
    assert_eq!(files, relkit_testkit::files_in(&b));
    for f in files {
        assert_eq!(
            fs_err::read(a.join(&f)).unwrap(),
            fs_err::read(b.join(&f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn actions_summary_and_outputs() {
    let work = tempfile::tempdir().unwrap();
    let bins = fake_binaries(work.path());
    let summary = work.path().join("summary.md");
    let outputs = work.path().join("outputs");
    let (out, text) = render(
        cmd()
            .args(["--name", "demo", "--version", "1.2.3"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY_OWNER", "Acme")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .args(binary_args(&bins))
            .arg("--output-dir")
            .arg(work.path().join("dist")),
        work.path(),
    );
    assert!(out.status.success(), "{text}");
    insta::assert_snapshot!("actions_stdout_stderr", text);
    insta::assert_snapshot!("actions_summary", fs_err::read_to_string(&summary).unwrap());
    let outputs = fs_err::read_to_string(&outputs)
        .unwrap()
        .replace(&work.path().display().to_string(), "[TEMP]");
    insta::assert_snapshot!("actions_outputs", outputs);
}

/// Each bad input: one `error:` line, exit 1, nothing written.
#[test]
fn bad_inputs_fail_cleanly() {
    let work = tempfile::tempdir().unwrap();
    let bins = fake_binaries(work.path());
    let linux = format!("linux_amd64={}", bins[0].1.display());
    let darwin = format!("darwin/arm64={}", bins[1].1.display());
    let a_file = work.path().join("a-file");
    fs_err::write(&a_file, b"x").unwrap();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "target_twice",
            vec![
                "--binary".into(),
                linux.clone(),
                "--binary".into(),
                format!("x86_64-unknown-linux-musl={}", bins[0].1.display()),
            ],
        ),
        (
            "missing_binary",
            vec![
                "--binary".into(),
                linux.clone(),
                "--binary".into(),
                "darwin_arm64=nope/provider".into(),
            ],
        ),
        (
            "unsupported_platform",
            vec![
                "--binary".into(),
                linux.clone(),
                "--binary".into(),
                format!("plan9/amd64={}", bins[0].1.display()),
            ],
        ),
        (
            "binary_is_folder",
            vec![
                "--binary".into(),
                format!("linux_amd64={}", work.path().join("bin").display()),
            ],
        ),
        (
            "not_target_eq_path",
            vec!["--binary".into(), "linux_amd64".into()],
        ),
        (
            "non_semver",
            vec![
                "--version".into(),
                "1.2".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "bad_name_underscore",
            vec![
                "--name".into(),
                "my_provider".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "bad_name_prefix",
            vec![
                "--name".into(),
                "terraform-provider-demo".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "bad_name_upper",
            vec![
                "--name".into(),
                "Demo".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "bad_namespace",
            vec![
                "--namespace".into(),
                "ac/me".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "bad_hostname",
            vec![
                "--hostname".into(),
                "https://example.com".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "bad_protocol",
            vec![
                "--protocol".into(),
                "6".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "unwritable_output",
            vec![
                "--binary".into(),
                linux.clone(),
                "--binary".into(),
                darwin.clone(),
                "--output-dir".into(),
                a_file.join("dist").display().to_string(),
            ],
        ),
        ("no_binary", vec![]),
        (
            "passphrase_without_key",
            vec![
                "--gpg-passphrase-env".into(),
                "X".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
        (
            "gpg_key_env_unset",
            vec![
                "--gpg-import-key-env".into(),
                "RELKIT_TEST_UNSET_KEY".into(),
                "--binary".into(),
                linux.clone(),
            ],
        ),
    ];
    let out_dir = work.path().join("dist");
    for (name, args) in cases {
        let mut c = cmd();
        c.current_dir(work.path());
        let has = |flag: &str| args.iter().any(|a| a == flag);
        if !has("--name") {
            c.args(["--name", "demo"]);
        }
        if !has("--version") {
            c.args(["--version", "1.2.3"]);
        }
        if !has("--namespace") {
            c.args(["--namespace", "acme"]);
        }
        if !has("--output-dir") {
            c.arg("--output-dir").arg(&out_dir);
        }
        c.args(&args).env_remove("RELKIT_TEST_UNSET_KEY");
        let (out, text) = render(&mut c, work.path());
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(
            !out_dir.exists(),
            "{name}: wrote {:?}",
            relkit_testkit::files_in(&out_dir)
        );
        insta::assert_snapshot!(format!("bad_input_{name}"), text);
    }
    // Nothing but our inputs in the work folder.
    let left = relkit_testkit::files_in(work.path());
    assert_eq!(
        left,
        ["a-file", "bin/darwin", "bin/linux", "bin/windows.exe"]
    );
}

/// A stray file in an unpacked platform folder (such as the manifest JSON a
/// wrong layout put there) would be hashed and maybe executed by Terraform:
/// refuse, and write nothing.
#[test]
fn refuses_stray_files_in_unpacked_mirror() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("dist");
    let stray = out_dir.join("terraform-providers/registry.terraform.io/acme/demo/1.2.3/linux_amd64/terraform-provider-demo_1.2.3_manifest.json");
    relkit_testkit::write(&stray, b"{}", 0o644);
    let (out, text) = bundle_into(work.path(), &out_dir);
    assert_eq!(out.status.code(), Some(1), "{text}");
    insta::assert_snapshot!(text);
    assert_eq!(relkit_testkit::files_in(&out_dir).len(), 1);
}

/// Re-running into the same folder replaces the outputs and still succeeds.
#[test]
fn rerun_into_same_folder() {
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("dist");
    let (first, _) = bundle_into(work.path(), &out_dir);
    let (second, text) = bundle_into(work.path(), &out_dir);
    assert!(second.status.success(), "{text}");
    assert_eq!(first.stdout, second.stdout);
}

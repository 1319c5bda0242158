//! The library entry point `relkit dist` calls, and `relkit-manifest verify`
//! over the manifest part it writes.

use std::path::PathBuf;

use relkit_core::manifest::ArtifactKind;
use relkit_provider_bundle::{BundleOptions, GpgOptions, bundle};

use crate::fake_binaries;

fn options(work: &std::path::Path) -> BundleOptions {
    let mut opts = BundleOptions::new(
        "demo",
        "1.2.3",
        "acme",
        fake_binaries(work),
        work.join("dist"),
    );
    opts.epoch = Some(1_700_000_000);
    opts.actions_io = false;
    opts.protocols = vec!["6.0".into(), "5.0".into()];
    opts.hostname = "Registry.Example.com:8443".into();
    opts.project_name = Some("demo-project".into());
    opts
}

#[test]
fn bundle_reports_what_it_wrote() {
    let work = tempfile::tempdir().unwrap();
    let report = bundle(&options(work.path())).unwrap();
    assert_eq!(report.address, "registry.example.com:8443/acme/demo");
    assert_eq!(report.version, "1.2.3");
    assert_eq!(report.manifest.name, "demo-project");
    assert_eq!(report.signing_key, None);
    let platforms: Vec<&str> = report
        .platforms
        .iter()
        .map(|p| p.platform.as_str())
        .collect();
    assert_eq!(platforms, ["darwin_arm64", "linux_amd64", "windows_amd64"]);
    for p in &report.platforms {
        let zip = report.output_dir.join(&p.zip);
        assert_eq!(p.zh, format!("zh:{}", crate::sha256_file(&zip)));
        assert!(report.lock_hashes.contains(&p.h1) && report.lock_hashes.contains(&p.zh));
    }
    // 3 h1 + 3 zip zh + the manifest's zh.
    assert_eq!(report.lock_hashes.len(), 7);
    assert_eq!(
        fs_err::read_to_string(&report.lock_file).unwrap(),
        report.lock_block
    );
    assert_eq!(
        report.unpacked_mirror,
        work.path().join("dist/terraform-providers")
    );
    assert_eq!(
        report.packed_mirror,
        work.path().join("dist/terraform-mirror")
    );
    assert!(
        report
            .unpacked_mirror
            .join("registry.example.com:8443/acme/demo/1.2.3/linux_amd64")
            .is_dir()
    );
    let manifest_json = fs_err::read_to_string(
        work.path()
            .join("dist/terraform-provider-demo_1.2.3_manifest.json"),
    )
    .unwrap();
    assert_eq!(
        manifest_json,
        "{\n  \"version\": 1,\n  \"metadata\": {\n    \"protocol_versions\": [\n      \"5.0\",\n      \"6.0\"\n    ]\n  }\n}\n"
    );
    let mut files: Vec<PathBuf> = report.files.iter().map(|f| f.path.clone()).collect();
    files.push(report.manifest_part.clone());
    files.sort();
    let on_disk: Vec<PathBuf> = relkit_testkit::files_in(&report.output_dir)
        .iter()
        .map(|f| report.output_dir.join(f))
        .collect();
    assert_eq!(files, on_disk);
    for f in &report.files {
        assert_eq!(f.sha256, crate::sha256_file(&f.path), "{}", f.file);
        let a = report
            .manifest
            .artifacts
            .iter()
            .find(|a| a.file == f.file)
            .unwrap();
        assert_eq!((a.kind, a.size, &a.sha256), (f.kind, f.size, &f.sha256));
    }
    assert_eq!(
        report
            .files
            .iter()
            .filter(|f| f.kind == ArtifactKind::TerraformProviderZip)
            .count(),
        3
    );
}

#[test]
fn relkit_manifest_verify_covers_the_bundle() {
    let work = tempfile::tempdir().unwrap();
    let report = bundle(&options(work.path())).unwrap();
    let problems = relkit_manifest::verify(&report.manifest_part, None).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // A changed mirror file and a deleted zip are both caught.
    let mirror_bin = report.unpacked_mirror.join(
        "registry.example.com:8443/acme/demo/1.2.3/linux_amd64/terraform-provider-demo_v1.2.3",
    );
    fs_err::write(&mirror_bin, b"tampered").unwrap();
    fs_err::remove_file(
        report
            .output_dir
            .join("terraform-provider-demo_1.2.3_darwin_arm64.zip"),
    )
    .unwrap();
    let problems: Vec<String> = relkit_manifest::verify(&report.manifest_part, None)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].starts_with("terraform-provider-demo_1.2.3_darwin_arm64.zip: FAILED (missing)"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("linux_amd64/terraform-provider-demo_v1.2.3: FAILED (size")),
        "{problems:?}"
    );
}

#[test]
fn signing_settings_are_checked_before_writing() {
    let work = tempfile::tempdir().unwrap();
    let mut opts = options(work.path());
    opts.gpg = Some(GpgOptions {
        key_id: None,
        passphrase_env: Some("RELKIT_TEST_NO_SUCH_VAR".into()),
        import_key_env: None,
    });
    let err = bundle(&opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--gpg-passphrase-env: environment variable `RELKIT_TEST_NO_SUCH_VAR` is not set or is empty"
    );
    assert!(!work.path().join("dist").exists());
}

//! `relkit dist` with `[sbom]` on relkit-sbom's sample project (real crates
//! from crates.io): SBOMs per binary and per release, listed in
//! SHA256SUMS and manifest.json (kind `sbom`), signed with minisign,
//! reproducible; a denied license and an advisory each stop the release
//! with one line, leaving the output folder as it was; an ignore with a
//! reason lets it pass and is recorded.

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_testkit as kit;

use super::relkit;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../relkit-sbom/tests/fixtures/sample")
}

fn host() -> String {
    let out = kit::run_ok(Command::new("rustc").arg("-vV"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned()
}

/// The sample's sources (so cargo can resolve its graph) plus its binary,
/// built once into the workspace's target dir and copied by the "build".
fn project(sbom_toml: &str) -> tempfile::TempDir {
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sbom-fixtures/plain");
    kit::run_ok(
        Command::new("cargo")
            .args(["build", "--locked", "--release", "--manifest-path"])
            .arg(sample().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir),
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs"] {
        let bytes = fs_err::read(sample().join(f)).unwrap();
        kit::write(&d.join(f), &bytes, 0o644);
    }
    let bin = fs_err::read(target_dir.join("release/sbom-sample")).unwrap();
    kit::write(&d.join("prebuilt/sbom-sample"), &bin, 0o755);
    kit::write(
        &d.join("relkit.toml"),
        format!(
            r#"name = "sample"
version = "0.3.1"
binaries = ["sbom-sample"]
targets = ["{}"]

[build]
command = "mkdir -p out && cp prebuilt/sbom-sample out/"
binary-dir = "out"

{sbom_toml}"#,
            host()
        )
        .as_bytes(),
        0o644,
    );
    dir
}

/// A RustSec database with one advisory against the sample's smallvec.
fn advisory_db(d: &Path) {
    kit::write(
        &d.join("advisory-db/crates/smallvec/RUSTSEC-2099-0042.md"),
        b"```toml\n[advisory]\nid = \"RUSTSEC-2099-0042\"\npackage = \"smallvec\"\ndate = \"2099-01-01\"\n[versions]\npatched = [\">= 99.0.0\"]\n```\n\n# A test advisory\n",
        0o644,
    );
}

#[test]
fn dist_writes_signed_reproducible_sboms() {
    kit::require("minisign");
    let dir = project(
        r#"[sign]
minisign-key-env = "TEST_MINISIGN_KEY"

[sbom]
formats = ["cyclonedx", "spdx"]
[sbom.licenses]
deny = ["GPL-3.0-only", "AGPL-3.0-only"]
[sbom.advisories]
rustsec-db = "advisory-db"
[[sbom.advisories.ignore]]
id = "RUSTSEC-2099-0042"
reason = "the sample never grows a SmallVec past its inline size"
"#,
    );
    let d = dir.path();
    advisory_db(d);
    kit::run_ok(
        Command::new("minisign")
            .current_dir(d)
            .args(["-G", "-W", "-p", "key.pub", "-s", "key.sec"]),
    );
    let key = fs_err::read_to_string(d.join("key.sec")).unwrap();
    let env = [
        ("TEST_MINISIGN_KEY", key.as_str()),
        ("SOURCE_DATE_EPOCH", "1700000000"),
    ];
    let out = relkit(d, &["dist"], &env);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let host = host();
    let per_binary = format!("sbom-sample-0.3.1-{host}.cdx.json");
    let names = [
        per_binary.clone(),
        format!("sbom-sample-0.3.1-{host}.spdx.json"),
        "sample-0.3.1.cdx.json".to_owned(),
        "sample-0.3.1.spdx.json".to_owned(),
    ];
    let sums = fs_err::read_to_string(d.join("dist/SHA256SUMS")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist/manifest.json")).unwrap())
            .unwrap();
    for n in &names {
        assert!(sums.contains(&format!("  {n}\n")), "{n} not in SHA256SUMS");
        let a = manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["file"] == n.as_str())
            .unwrap_or_else(|| panic!("{n} not in manifest.json"));
        assert_eq!(a["kind"], "sbom", "{n}");
        assert_eq!(a["signatures"][0]["kind"], "minisign", "{n}");
        kit::run_ok(Command::new("minisign").current_dir(d.join("dist")).args([
            "-V",
            "-p",
            "../key.pub",
            "-m",
            n,
        ]));
    }
    // The ignore is recorded in manifest.json too, with its reason.
    assert_eq!(
        manifest["ignored_advisories"],
        serde_json::json!([{
            "id": "RUSTSEC-2099-0042",
            "database": "RustSec",
            "component": "pkg:cargo/smallvec@1.16.6",
            "reason": "the sample never grows a SmallVec past its inline size"
        }])
    );
    let cdx: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(d.join("dist").join(&per_binary)).unwrap())
            .unwrap();
    assert_eq!(cdx["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(cdx["metadata"]["component"]["name"], "sbom-sample");
    assert_eq!(cdx["vulnerabilities"][0]["id"], "RUSTSEC-2099-0042");
    assert_eq!(
        cdx["vulnerabilities"][0]["analysis"]["detail"],
        "the sample never grows a SmallVec past its inline size"
    );
    let listed: Vec<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"smallvec") && listed.contains(&"serde_derive"),
        "{listed:?}"
    );

    // Again from scratch: the same SBOM bytes.
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs_err::read(d.join("dist").join(n)).unwrap())
        .collect();
    fs_err::remove_dir_all(d.join("dist")).unwrap();
    // This time as in GitHub Actions: the step summary and the output
    // release.yml hands to actions/attest-sbom.
    let summary = d.join("summary.md");
    let outputs = d.join("outputs.txt");
    let (s, o) = (summary.to_string_lossy(), outputs.to_string_lossy());
    let mut gha_env = env.to_vec();
    gha_env.extend([
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", s.as_ref()),
        ("GITHUB_OUTPUT", o.as_ref()),
    ]);
    let again = relkit(d, &["dist"], &gha_env);
    assert!(again.status.success(), "{}", kit::render(&again, d));
    for (n, bytes) in names.iter().zip(before) {
        assert!(
            fs_err::read(d.join("dist").join(n)).unwrap() == bytes,
            "{n} differs"
        );
    }
    let summary = fs_err::read_to_string(&summary).unwrap();
    assert!(summary.contains("### SBOMs"), "{summary}");
    assert!(
        summary.contains(&format!("| `{per_binary}` | 11 | 6 |")),
        "{summary}"
    );
    assert!(
        summary.contains(
            "Gates: license policy passed; advisories passed (RustSec; 1 ignored with a reason)."
        ),
        "{summary}"
    );
    let outputs = fs_err::read_to_string(&outputs).unwrap();
    assert!(outputs.contains("sample-0.3.1.cdx.json"), "{outputs}");
}

#[test]
fn gates_stop_the_release_with_one_line() {
    let cases = [
        (
            "[sbom]\n[sbom.licenses]\ndeny = [\"Unicode-3.0\"]\n",
            "error: sbom: `sbom-sample`: unicode-ident 1.0.27 (build-time): license `(MIT OR Apache-2.0) AND Unicode-3.0` is denied\n",
        ),
        (
            "[sbom]\n[sbom.advisories]\nrustsec-db = \"advisory-db\"\n",
            "error: sbom: `sbom-sample`: smallvec 1.16.6 is affected by RUSTSEC-2099-0042 (patched in >= 99.0.0); upgrade it, or ignore the id with a reason in relkit.toml's [sbom.advisories]\n",
        ),
        (
            "[sbom]\n[sbom.licenses]\ndeny = [\"GPL3\"]\n",
            "error: sbom: `relkit.toml`: sbom.licenses.deny: `GPL3` is not an SPDX license identifier\n",
        ),
        (
            "[sbom]\n[sbom.advisories]\nrustsec-db = \"advisory-db\"\n[[sbom.advisories.ignore]]\nid = \"RUSTSEC-2099-0042\"\nreason = \" \"\n",
            "error: sbom.advisories.ignore: `RUSTSEC-2099-0042` has no reason; say why it does not apply\n",
        ),
    ];
    for (toml, want) in cases {
        let dir = project(toml);
        let d = dir.path();
        advisory_db(d);
        kit::write(&d.join("dist/keep.txt"), b"mine", 0o644);
        let out = relkit(d, &["dist"], &[]);
        assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("");
        assert_eq!(format!("{last}\n"), want, "{stderr}");
        assert_eq!(kit::files_in(&d.join("dist")), ["keep.txt"], "{toml}");
    }
}

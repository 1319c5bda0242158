//! relkit-sbom against the real tools: cargo tree (what the SBOM must list),
//! cargo-auditable (the same list read back from a binary), Go (the modules
//! `go version -m` prints), and the CycloneDX and SPDX validators. Every
//! tool is required: a missing one fails the test.

#![allow(clippy::too_many_lines)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_sbom::{
    BinaryInput, Checksum, Component, Ecosystem, Method, Origin, Sbom, Scope, advisory, auditable,
    cargo, cyclonedx, go, spdx,
};

const TIMESTAMP: &str = "2024-01-02T03:04:05Z";

fn host() -> String {
    let out = run(Command::new("rustc").arg("-vV"));
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV prints the host")
        .to_owned()
}

fn run(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{shown}: cannot run ({e}); scripts/install-test-tools installs it")
    });
    assert!(
        out.status.success(),
        "{shown} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where fixture builds go: inside the workspace's target dir, so they are
/// cached between runs.
fn fixture_target(kind: &str) -> PathBuf {
    workspace_root().join("target/sbom-fixtures").join(kind)
}

/// `cargo tree` for one package and target: the set of `name version`.
fn cargo_tree(manifest: &Path, package: &str, target: &str, edges: &str) -> BTreeSet<String> {
    let out = run(Command::new("cargo")
        .args(["tree", "--locked", "--manifest-path"])
        .arg(manifest)
        .args(["-p", package, "-e", edges, "--target", target])
        .args(["--prefix", "none", "-f", "{p}"]));
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next().unwrap();
            let version = w.next().unwrap().trim_start_matches('v');
            format!("{name} {version}")
        })
        .filter(|p| !p.starts_with(&format!("{package} ")))
        .collect()
}

fn names(
    components: impl IntoIterator<Item = impl std::borrow::Borrow<Component>>,
) -> BTreeSet<String> {
    components
        .into_iter()
        .map(|c| {
            let c = c.borrow();
            format!("{} {}", c.name, c.version)
        })
        .collect()
}

fn metadata_sbom(manifest: &Path, bin: &str, target: &str) -> Sbom {
    let g = cargo::graph(manifest, bin, target, None).unwrap();
    Sbom::new(
        g.root,
        Some(target.to_owned()),
        TIMESTAMP.to_owned(),
        Origin::CargoMetadata,
        g.components,
    )
}

#[test]
fn sample_lists_exactly_what_cargo_tree_lists() {
    let target = host();
    let manifest = sample().join("Cargo.toml");
    let sbom = metadata_sbom(&manifest, "sbom-sample", &target);
    assert_eq!(sbom.subject.name, "sbom-sample");
    assert_eq!(
        names(&sbom.components),
        cargo_tree(&manifest, "sbom-sample", &target, "normal")
    );
    assert_eq!(
        names(sbom.required()),
        cargo_tree(&manifest, "sbom-sample", &target, "normal,no-proc-macro")
    );
    // Build, dev and Windows-only dependencies are not in a Linux binary.
    let all = names(&sbom.components);
    for absent in ["autocfg", "either", "hex"] {
        assert!(
            !all.iter().any(|n| n.starts_with(&format!("{absent} "))),
            "{absent} listed"
        );
    }
    let serde_derive = sbom
        .components
        .iter()
        .find(|c| c.name == "serde_derive")
        .unwrap();
    assert_eq!(serde_derive.scope, Scope::Excluded);
    // Every registry crate carries Cargo.lock's checksum.
    let lock = cargo::read_lock(&sample().join("Cargo.lock")).unwrap();
    for c in &sbom.components {
        let want = lock
            .iter()
            .find(|l| l.name == c.name && l.version == c.version)
            .unwrap_or_else(|| panic!("{} not in Cargo.lock", c.name));
        assert_eq!(c.source, want.source, "{}", c.name);
        let sum = want.checksum.clone().expect("a registry crate");
        assert_eq!(c.checksum, Some(Checksum::Sha256(sum)), "{}", c.name);
        assert!(c.license.is_some(), "{}", c.name);
    }
    // The target filter: for Windows, `hex` is in.
    let win = metadata_sbom(&manifest, "sbom-sample", "x86_64-pc-windows-msvc");
    assert!(win.components.iter().any(|c| c.name == "hex"));
    assert_eq!(
        names(&win.components),
        cargo_tree(&manifest, "sbom-sample", "x86_64-pc-windows-msvc", "normal")
    );
}

#[test]
fn relkit_itself_lists_exactly_what_cargo_tree_lists() {
    let target = host();
    let manifest = workspace_root().join("Cargo.toml");
    let sbom = metadata_sbom(&manifest, "relkit", &target);
    assert_eq!(sbom.subject.name, "relkit");
    assert!(sbom.components.len() > 50, "{}", sbom.components.len());
    assert_eq!(
        names(&sbom.components),
        cargo_tree(&manifest, "relkit", &target, "normal")
    );
    assert_eq!(
        names(sbom.required()),
        cargo_tree(&manifest, "relkit", &target, "normal,no-proc-macro")
    );
}

fn build_sample(auditable_build: bool) -> PathBuf {
    let kind = if auditable_build {
        "auditable"
    } else {
        "plain"
    };
    let dir = fixture_target(kind);
    let mut cmd = Command::new("cargo");
    if auditable_build {
        cmd.arg("auditable");
    }
    run(cmd
        .args(["build", "--locked", "--release", "--manifest-path"])
        .arg(sample().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &dir));
    dir.join("release/sbom-sample")
}

#[test]
fn a_cargo_auditable_binary_gives_the_same_list() {
    let target = host();
    let binary = build_sample(true);
    let (root, components) = auditable::read(&binary).unwrap().expect("audit data");
    assert_eq!(
        (root.name.as_str(), root.version.as_str()),
        ("sbom-sample", "0.3.1")
    );
    let from_binary = Sbom::new(
        root,
        Some(target.clone()),
        TIMESTAMP.into(),
        Origin::Auditable,
        components,
    );
    let from_cargo = metadata_sbom(&sample().join("Cargo.toml"), "sbom-sample", &target);
    assert_eq!(names(from_binary.required()), names(from_cargo.required()));
    // Through the top-level entry point, with no Cargo.toml at hand.
    let input = BinaryInput {
        path: &binary,
        name: "sbom-sample",
        target: &target,
        cargo_manifest: None,
        timestamp: TIMESTAMP,
    };
    let auto = relkit_sbom::of_binary(&input, Method::Auto).unwrap();
    assert_eq!(auto.origin, Origin::Auditable);
    assert_eq!(names(auto.required()), names(from_cargo.required()));

    // A plain build carries nothing: a clear refusal.
    let plain = build_sample(false);
    assert!(auditable::read(&plain).unwrap().is_none());
    let input = BinaryInput {
        path: &plain,
        ..input
    };
    let e = relkit_sbom::of_binary(&input, Method::Auto)
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("has no component data: not a Go binary, no cargo-auditable data, and no Cargo.toml to ask cargo"), "{e}");
}

/// A Go program with one module from a file-based module proxy (so it has
/// a version and a go.sum hash) and one replaced by a local folder.
fn build_go(dir: &Path) -> PathBuf {
    let proxy = dir.join("proxy");
    let v = proxy.join("example.com/greet/@v");
    fs_err::create_dir_all(&v).unwrap();
    fs_err::write(v.join("list"), "v1.2.3\n").unwrap();
    fs_err::write(
        v.join("v1.2.3.info"),
        r#"{"Version":"v1.2.3","Time":"2023-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    fs_err::write(
        v.join("v1.2.3.mod"),
        "module example.com/greet\n\ngo 1.18\n",
    )
    .unwrap();
    let src = dir.join("zipsrc/example.com/greet@v1.2.3");
    fs_err::create_dir_all(&src).unwrap();
    fs_err::write(src.join("go.mod"), "module example.com/greet\n\ngo 1.18\n").unwrap();
    fs_err::write(
        src.join("greet.go"),
        "package greet\n\nfunc Hello() string { return \"hello\" }\n",
    )
    .unwrap();
    run(Command::new("zip")
        .args(["-qrXD"])
        .arg(v.join("v1.2.3.zip"))
        .arg("example.com")
        .current_dir(dir.join("zipsrc")));
    let local = dir.join("local");
    fs_err::create_dir_all(&local).unwrap();
    fs_err::write(
        local.join("go.mod"),
        "module example.com/local\n\ngo 1.18\n",
    )
    .unwrap();
    fs_err::write(
        local.join("local.go"),
        "package local\n\nconst Name = \"local\"\n",
    )
    .unwrap();
    let app = dir.join("app");
    fs_err::create_dir_all(&app).unwrap();
    fs_err::write(
        app.join("go.mod"),
        "module example.com/app\n\ngo 1.18\n\nrequire (\n\texample.com/greet v1.2.3\n\texample.com/local v0.1.0\n)\n\nreplace example.com/local => ../local\n",
    )
    .unwrap();
    fs_err::write(
        app.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/greet\"\n\t\"example.com/local\"\n)\n\nfunc main() { fmt.Println(greet.Hello(), local.Name) }\n",
    )
    .unwrap();
    let bin = dir.join("app-bin");
    run(Command::new("go")
        .args(["build", "-mod=mod", "-trimpath", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&app)
        .env("GOPROXY", format!("file://{}", proxy.display()))
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-modcacherw")
        .env("GOPATH", dir.join("gopath"))
        // A shared build cache: a fresh one rebuilds the standard library (~35 s).
        .env("GOCACHE", fixture_target("gocache"))
        .env("CGO_ENABLED", "0"));
    bin
}

#[test]
fn a_go_binary_lists_the_modules_go_version_m_prints() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_go(dir.path());
    let printed = run(Command::new("go").args(["version", "-m"]).arg(&bin));
    // `dep PATH VERSION [SUM]`, a following `=> PATH VERSION` replacing it.
    let mut want: Vec<(String, String, Option<String>)> = Vec::new();
    for line in printed.lines() {
        let f: Vec<&str> = line.trim().split('\t').collect();
        match f[0] {
            "dep" => want.push((f[1].into(), f[2].into(), f.get(3).map(|s| (*s).to_owned()))),
            "=>" => {
                *want.last_mut().unwrap() =
                    (f[1].into(), f[2].into(), f.get(3).map(|s| (*s).to_owned()));
            }
            _ => {}
        }
    }
    assert_eq!(want.len(), 2, "{printed}");
    let info = go::read(&bin).unwrap().expect("build info");
    assert_eq!(info.path, "example.com/app");
    let got: Vec<(String, String, Option<String>)> = info
        .deps
        .iter()
        .map(|c| {
            let sum = match &c.checksum {
                Some(Checksum::GoSum(s)) => Some(s.clone()),
                _ => None,
            };
            (c.name.clone(), c.version.clone(), sum)
        })
        .collect();
    assert_eq!(got, want);
    assert!(got[0].2.as_deref().unwrap().starts_with("h1:"));
    // The OSV gate on a real binary's modules.
    let osv = dir.path().join("osv");
    fs_err::create_dir_all(&osv).unwrap();
    fs_err::write(
        osv.join("GO-2099-0001.json"),
        r#"{"id":"GO-2099-0001","affected":[{"package":{"ecosystem":"Go","name":"example.com/greet"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.4"}]}]}]}"#,
    )
    .unwrap();
    let dbs = advisory::Databases {
        osv_go: Some(osv),
        ..Default::default()
    };
    let r = dbs.check(&info.deps).unwrap();
    assert_eq!(
        r.result().unwrap_err().to_string(),
        "advisory: example.com/greet v1.2.3 is affected by GO-2099-0001 (fixed in v1.2.4); upgrade it, or ignore the id with a reason in relkit.toml's [sbom.advisories]"
    );
    // A Rust binary is not a Go one.
    assert!(go::read(&build_sample(false)).unwrap().is_none());
}

/// Validate with cyclonedx-python-lib (the official 1.6 schema it ships,
/// strict) and pyspdxtools; returns each tool's complaint, if any.
fn validate(cdx: &Path, spdx_file: &Path) {
    let script = r"
import sys
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if err is not None:
    print(str(err.data.message) if hasattr(err.data, 'message') else str(err)[:2000])
    sys.exit(1)
";
    run(Command::new("python3").args(["-c", script]).arg(cdx));
    let out = Command::new("pyspdxtools")
        .arg("-i")
        .arg(spdx_file)
        .output()
        .expect("pyspdxtools (pip spdx-tools) runs; scripts/install-test-tools installs it");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pyspdxtools: {text}");
    assert!(!text.contains("validation"), "pyspdxtools: {text}");
}

#[test]
fn documents_validate_and_are_reproducible() {
    let target = host();
    let mut sbom = metadata_sbom(&sample().join("Cargo.toml"), "sbom-sample", &target);
    sbom.ignored.push(relkit_sbom::IgnoredAdvisory {
        id: "RUSTSEC-2099-0001".into(),
        database: "RustSec".into(),
        purl: sbom.components[0].purl(),
        reason: "not reachable from the CLI".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let cdx = dir.path().join("s.cdx.json");
    let sp = dir.path().join("s.spdx.json");
    let cdx_text = cyclonedx::to_json(&sbom);
    let spdx_text = spdx::to_json(&sbom);
    fs_err::write(&cdx, &cdx_text).unwrap();
    fs_err::write(&sp, &spdx_text).unwrap();
    validate(&cdx, &sp);
    let doc: serde_json::Value = serde_json::from_str(&cdx_text).unwrap();
    assert_eq!(doc["metadata"]["timestamp"], TIMESTAMP);
    assert_eq!(
        doc["vulnerabilities"][0]["analysis"]["detail"],
        "not reachable from the CLI"
    );
    assert!(
        spdx_text
            .contains("RustSec advisory RUSTSEC-2099-0001 ignored: not reachable from the CLI")
    );

    // A Go SBOM and a release-wide union validate too.
    let gdir = tempfile::tempdir().unwrap();
    let info = go::read(&build_go(gdir.path())).unwrap().unwrap();
    let gsbom = Sbom::new(
        info.main,
        Some(target.clone()),
        TIMESTAMP.into(),
        Origin::GoBuildInfo,
        info.deps,
    );
    let subject = Component::new(Ecosystem::Generic, "sample", "0.3.1");
    let union = Sbom::union(subject, TIMESTAMP.into(), &[sbom.clone(), gsbom.clone()]);
    for (i, s) in [gsbom, union].iter().enumerate() {
        let c = dir.path().join(format!("{i}.cdx.json"));
        let p = dir.path().join(format!("{i}.spdx.json"));
        fs_err::write(&c, cyclonedx::to_json(s)).unwrap();
        fs_err::write(&p, spdx::to_json(s)).unwrap();
        validate(&c, &p);
    }

    // Two runs: the same bytes.
    let again = metadata_sbom(&sample().join("Cargo.toml"), "sbom-sample", &target);
    let mut again = again;
    again.ignored.clone_from(&sbom.ignored);
    assert_eq!(cyclonedx::to_json(&again), cdx_text);
    assert_eq!(spdx::to_json(&again), spdx_text);

    // A different Cargo.lock (one checksum changed): different bytes and a
    // different serial number and namespace.
    let lock = fs_err::read_to_string(sample().join("Cargo.lock")).unwrap();
    let itoa = lock.find("name = \"itoa\"").unwrap();
    let first = itoa + lock[itoa..].find("checksum = \"").unwrap() + "checksum = \"".len();
    let mut changed = lock.clone();
    changed.replace_range(first..first + 4, "0000");
    let other = dir.path().join("Cargo.lock");
    fs_err::write(&other, changed).unwrap();
    let g = cargo::graph(
        &sample().join("Cargo.toml"),
        "sbom-sample",
        &target,
        Some(&other),
    )
    .unwrap();
    let mut diff = Sbom::new(
        g.root,
        Some(target),
        TIMESTAMP.into(),
        Origin::CargoMetadata,
        g.components,
    );
    diff.ignored.clone_from(&sbom.ignored);
    let diff_cdx = cyclonedx::to_json(&diff);
    assert_ne!(diff_cdx, cdx_text);
    let serial =
        |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap()["serialNumber"].clone();
    assert_ne!(serial(&diff_cdx), serial(&cdx_text));
    assert_ne!(spdx::to_json(&diff), spdx_text);
}

//! A Rust binary's components from cargo's resolved graph:
//! `cargo metadata --filter-platform TARGET` (only what builds for that
//! target), walked from the package that owns the binary along normal
//! dependencies only, with each crate's registry checksum from Cargo.lock.
//! Proc-macros are build-time code: they and what only they pull in are
//! listed with [`Scope::Excluded`], as `cargo tree -e normal` lists them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{Checksum, Component, Ecosystem, Error, Scope};

/// The most `cargo metadata` output read (a large workspace is a few MiB).
const METADATA_LIMIT: u64 = 256 * 1024 * 1024;
/// The most of Cargo.lock read.
const LOCK_LIMIT: relkit_core::input::Limit =
    relkit_core::input::Limit::new("Cargo.lock", 64 * 1024 * 1024);

#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    resolve: Option<Resolve>,
    workspace_root: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    source: Option<String>,
    license: Option<String>,
    license_file: Option<String>,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    deps: Vec<NodeDep>,
}

#[derive(Debug, Deserialize)]
struct NodeDep {
    pkg: String,
    #[serde(default)]
    dep_kinds: Vec<DepKind>,
}

#[derive(Debug, Deserialize)]
struct DepKind {
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Debug, Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// What one binary is made of, per cargo.
#[derive(Debug)]
pub struct CargoGraph {
    /// The package owning the binary.
    pub root: Component,
    /// Every crate `cargo tree -e normal` lists below it.
    pub components: Vec<Component>,
}

/// Run `cargo metadata --locked --filter-platform TARGET` on `manifest`
/// (a Cargo.toml) and return its JSON.
pub fn metadata_json(manifest: &Path, target: &str) -> Result<String, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--filter-platform",
    ])
    .arg(target)
    .arg("--manifest-path")
    .arg(manifest)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let shown = format!(
        "cargo metadata --locked --filter-platform {target} --manifest-path {}",
        manifest.display()
    );
    let failed = |message: String| Error::Command {
        command: shown.clone(),
        message,
    };
    let mut child = cmd.spawn().map_err(|e| failed(e.to_string()))?;
    let mut out = Vec::new();
    let stdout = child.stdout.take().expect("piped");
    let read = stdout.take(METADATA_LIMIT + 1).read_to_end(&mut out);
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    read.map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(failed(format!("{} ({})", last.trim(), output.status)));
    }
    if out.len() as u64 > METADATA_LIMIT {
        return Err(failed(format!("printed more than {METADATA_LIMIT} bytes")));
    }
    String::from_utf8(out).map_err(|_| failed("printed invalid UTF-8".to_owned()))
}

/// The graph of binary `bin` from `cargo metadata` JSON (already filtered to
/// the target) and the workspace's Cargo.lock at `lock`.
pub fn graph(metadata: &str, lock: Option<&Path>, bin: &str) -> Result<CargoGraph, Error> {
    let m: Metadata = serde_json::from_str(metadata).map_err(|e| Error::Command {
        command: "cargo metadata".to_owned(),
        message: format!("printed JSON relkit cannot read: {e}"),
    })?;
    let lock_path = lock.map_or_else(|| m.workspace_root.join("Cargo.lock"), Path::to_path_buf);
    let checksums = lock_checksums(&lock_path)?;
    let packages: BTreeMap<&str, &Package> =
        m.packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let root = m
        .workspace_members
        .iter()
        .filter_map(|id| packages.get(id.as_str()))
        .find(|p| {
            p.targets
                .iter()
                .any(|t| t.name == bin && t.kind.iter().any(|k| k == "bin"))
        })
        .ok_or_else(|| {
            Error::input(
                &m.workspace_root,
                format!("no workspace package has a binary `{bin}`"),
            )
        })?;
    let resolve = m.resolve.as_ref().ok_or_else(|| {
        Error::input(
            &m.workspace_root,
            "cargo metadata printed no dependency graph",
        )
    })?;
    let nodes: BTreeMap<&str, &Node> = resolve.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let is_macro = |id: &str| {
        packages.get(id).is_some_and(|p| {
            p.targets
                .iter()
                .any(|t| t.kind.iter().any(|k| k == "proc-macro"))
        })
    };
    let all = walk(&nodes, &root.id, |_| true);
    let linked = walk(&nodes, &root.id, |id| !is_macro(id));
    let mut components = Vec::new();
    for id in all.iter().filter(|id| **id != root.id) {
        let p = packages.get(id).ok_or_else(|| {
            Error::input(
                &m.workspace_root,
                format!("cargo metadata lists no package `{id}`"),
            )
        })?;
        let mut c = component(p, &checksums);
        if !linked.contains(id) {
            c.scope = Scope::Excluded;
        }
        components.push(c);
    }
    components.sort();
    Ok(CargoGraph {
        root: component(root, &checksums),
        components,
    })
}

/// Every package reachable from `root` along normal (not dev, not build)
/// edges, not descending into packages `descend` refuses.
fn walk<'a>(
    nodes: &BTreeMap<&'a str, &'a Node>,
    root: &'a str,
    descend: impl Fn(&str) -> bool,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([root]);
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for d in &node.deps {
            let normal = d.dep_kinds.is_empty() || d.dep_kinds.iter().any(|k| k.kind.is_none());
            if normal && descend(&d.pkg) && seen.insert(d.pkg.as_str()) {
                todo.push(d.pkg.as_str());
            }
        }
    }
    seen
}

fn component(p: &Package, checksums: &BTreeMap<LockKey, String>) -> Component {
    let key = (p.name.clone(), p.version.clone(), p.source.clone());
    Component {
        ecosystem: Ecosystem::Cargo,
        name: p.name.clone(),
        version: p.version.clone(),
        source: p.source.clone(),
        checksum: checksums.get(&key).cloned().map(Checksum::Sha256),
        license: p.license.clone().or_else(|| {
            p.license_file
                .as_ref()
                .map(|_| "LicenseRef-license-file".to_owned())
        }),
        scope: Scope::Required,
    }
}

type LockKey = (String, String, Option<String>);

/// `(name, version, source)` → checksum, from a Cargo.lock (v3 or v4).
pub fn lock_checksums(path: &Path) -> Result<BTreeMap<LockKey, String>, Error> {
    let text = relkit_core::input::read_text(path, LOCK_LIMIT)?;
    let lock: Lock = toml::from_str(&text)
        .map_err(|e| Error::input(path, format!("is not a Cargo.lock: {}", e.message())))?;
    Ok(lock
        .package
        .into_iter()
        .filter_map(|p| Some(((p.name, p.version, p.source), p.checksum?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(lock_dir: &Path) -> String {
        serde_json::json!({
            "workspace_root": lock_dir,
            "workspace_members": ["app 0.1.0"],
            "packages": [
                {"id": "app 0.1.0", "name": "app", "version": "0.1.0", "source": null,
                 "license": "MIT", "targets": [{"name": "app", "kind": ["bin"]}]},
                {"id": "lib 1.0.0", "name": "lib", "version": "1.0.0",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "license": "MIT/Apache-2.0", "targets": [{"name": "lib", "kind": ["lib"]}]},
                {"id": "mac 1.0.0", "name": "mac", "version": "1.0.0",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "license": null, "license_file": "LICENSE",
                 "targets": [{"name": "mac", "kind": ["proc-macro"]}]},
                {"id": "syn 2.0.0", "name": "syn", "version": "2.0.0",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "targets": [{"name": "syn", "kind": ["lib"]}]},
                {"id": "cc 1.0.0", "name": "cc", "version": "1.0.0",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "targets": [{"name": "cc", "kind": ["lib"]}]},
                {"id": "tst 1.0.0", "name": "tst", "version": "1.0.0",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "targets": [{"name": "tst", "kind": ["lib"]}]}
            ],
            "resolve": {"nodes": [
                {"id": "app 0.1.0", "deps": [
                    {"pkg": "lib 1.0.0", "dep_kinds": [{"kind": null}]},
                    {"pkg": "mac 1.0.0", "dep_kinds": [{"kind": null}]},
                    {"pkg": "cc 1.0.0", "dep_kinds": [{"kind": "build"}]},
                    {"pkg": "tst 1.0.0", "dep_kinds": [{"kind": "dev"}]}
                ]},
                {"id": "lib 1.0.0", "deps": []},
                {"id": "mac 1.0.0", "deps": [{"pkg": "syn 2.0.0", "dep_kinds": [{"kind": null}]}]},
                {"id": "syn 2.0.0", "deps": []},
                {"id": "cc 1.0.0", "deps": []},
                {"id": "tst 1.0.0", "deps": []}
            ]}
        })
        .to_string()
    }

    const LOCK: &str = r#"version = 4
[[package]]
name = "lib"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"
[[package]]
name = "app"
version = "0.1.0"
"#;

    #[test]
    fn walks_normal_edges_and_marks_build_only_code() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let g = graph(&metadata(dir.path()), None, "app").unwrap();
        assert_eq!(g.root.name, "app");
        let listed: Vec<(&str, Scope)> = g
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.scope))
            .collect();
        assert_eq!(
            listed,
            [
                ("lib", Scope::Required),
                ("mac", Scope::Excluded),
                ("syn", Scope::Excluded)
            ]
        );
        assert_eq!(
            g.components[0].checksum,
            Some(Checksum::Sha256("aaaa".into()))
        );
        assert_eq!(g.components[0].license.as_deref(), Some("MIT/Apache-2.0"));
        assert_eq!(
            g.components[1].license.as_deref(),
            Some("LicenseRef-license-file")
        );
    }

    #[test]
    fn a_missing_binary_or_bad_lock_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let e = graph(&metadata(dir.path()), None, "nope")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("no workspace package has a binary `nope`"),
            "{e}"
        );
        fs_err::write(dir.path().join("Cargo.lock"), "[[package]]\nname = 1\n").unwrap();
        let e = graph(&metadata(dir.path()), None, "app")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Cargo.lock`: is not a Cargo.lock"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = graph("{", None, "app").unwrap_err().to_string();
        assert!(
            e.starts_with("`cargo metadata` failed: printed JSON"),
            "{e}"
        );
    }
}

//! A Rust binary's components from cargo's resolved graph for that binary's
//! package and target: `cargo tree -p PACKAGE -e normal --target TARGET`,
//! which resolves features the way `cargo build -p PACKAGE --target TARGET`
//! does (`cargo metadata` resolves them for the whole workspace at once, so
//! in a workspace it lists crates the binary never links). Only normal
//! dependencies, only those for the target. Proc-macros are build-time
//! code: they and what only they pull in (the difference from
//! `-e normal,no-proc-macro`) are listed with [`Scope::Excluded`]. Each
//! crate's source and registry checksum come from Cargo.lock; its license
//! from cargo's `{l}`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{Checksum, Component, Ecosystem, Error, Scope};

/// The most output read from one cargo command.
const OUTPUT_LIMIT: u64 = 256 * 1024 * 1024;
/// The most of Cargo.lock read.
const LOCK_LIMIT: relkit_core::input::Limit =
    relkit_core::input::Limit::new("Cargo.lock", 64 * 1024 * 1024);

#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
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

/// One line of `cargo tree --prefix none -f '{p}\t{l}'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// Crate name.
    pub name: String,
    /// Version, without the `v`.
    pub version: String,
    /// Whether it is a local path package.
    pub path: bool,
    /// The license cargo printed, if any.
    pub license: Option<String>,
}

fn run_cargo(args: &[&std::ffi::OsStr]) -> Result<String, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let shown = format!(
        "cargo {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let failed = |message: String| Error::Command {
        command: shown.clone(),
        message,
    };
    let mut child = Command::new(cargo)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let mut out = Vec::new();
    let stdout = child.stdout.take().expect("piped");
    let read = stdout.take(OUTPUT_LIMIT + 1).read_to_end(&mut out);
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    read.map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(failed(format!("{} ({})", last.trim(), output.status)));
    }
    if out.len() as u64 > OUTPUT_LIMIT {
        return Err(failed(format!("printed more than {OUTPUT_LIMIT} bytes")));
    }
    String::from_utf8(out).map_err(|_| failed("printed invalid UTF-8".to_owned()))
}

/// The graph of binary `bin` for `target`, in the workspace of `manifest`
/// (a Cargo.toml); checksums from `lock` [default: the workspace's Cargo.lock].
pub fn graph(
    manifest: &Path,
    bin: &str,
    target: &str,
    lock: Option<&Path>,
) -> Result<CargoGraph, Error> {
    let m = manifest.as_os_str();
    let meta = run_cargo(&[
        "metadata".as_ref(),
        "--no-deps".as_ref(),
        "--format-version".as_ref(),
        "1".as_ref(),
        "--locked".as_ref(),
        "--manifest-path".as_ref(),
        m,
    ])?;
    let (root, workspace) = owner(&meta, bin)?;
    let spec = format!("{}@{}", root.name, root.version);
    let tree = |edges: &str| {
        run_cargo(&[
            "tree".as_ref(),
            "--locked".as_ref(),
            "--manifest-path".as_ref(),
            m,
            "-p".as_ref(),
            spec.as_ref(),
            "-e".as_ref(),
            edges.as_ref(),
            "--target".as_ref(),
            target.as_ref(),
            "--prefix".as_ref(),
            "none".as_ref(),
            "-f".as_ref(),
            "{p}\t{l}".as_ref(),
        ])
    };
    let all = parse_tree(&tree("normal")?);
    let linked = parse_tree(&tree("normal,no-proc-macro")?);
    let lock_path = lock.map_or_else(|| workspace.join("Cargo.lock"), Path::to_path_buf);
    let lock = read_lock(&lock_path)?;
    Ok(assemble(root, &all, &linked, &lock))
}

/// The workspace package that has binary `bin`, and the workspace root.
fn owner(metadata: &str, bin: &str) -> Result<(Component, PathBuf), Error> {
    let m: Metadata = serde_json::from_str(metadata).map_err(|e| Error::Command {
        command: "cargo metadata".to_owned(),
        message: format!("printed JSON relkit cannot read: {e}"),
    })?;
    let p = m
        .packages
        .iter()
        .filter(|p| m.workspace_members.contains(&p.id))
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
    let mut c = Component::new(Ecosystem::Cargo, &p.name, &p.version);
    c.license.clone_from(&p.license);
    Ok((c, m.workspace_root))
}

/// Parse `cargo tree --prefix none -f '{p}\t{l}'`: `name vX.Y.Z [(path)]
/// [(proc-macro)] [(*)]`, a tab, the license.
pub fn parse_tree(text: &str) -> Vec<TreeLine> {
    let mut out: Vec<TreeLine> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // cargo appends its markers after the whole format.
        let mut line = line.trim_end();
        for marker in [" (*)", " (proc-macro)"] {
            line = line.strip_suffix(marker).unwrap_or(line);
        }
        let (p, license) = line.split_once('\t').unwrap_or((line, ""));
        let p = p.trim_end().strip_suffix(" (proc-macro)").unwrap_or(p);
        let mut words = p.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let rest: String = words.collect::<Vec<_>>().join(" ");
        let t = TreeLine {
            name: name.to_owned(),
            version: version.trim_start_matches('v').to_owned(),
            path: rest.starts_with("(/") || rest.starts_with("(file://") || rest.contains(":\\"),
            license: Some(license.trim().to_owned()).filter(|l| !l.is_empty()),
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Components from the two tree listings, with Cargo.lock's sources and checksums.
pub fn assemble(
    root: Component,
    all: &[TreeLine],
    linked: &[TreeLine],
    lock: &[LockEntry],
) -> CargoGraph {
    let mut components = Vec::new();
    for t in all {
        if t.name == root.name && t.version == root.version && t.path {
            continue;
        }
        let entry = lock
            .iter()
            .find(|l| l.name == t.name && l.version == t.version && (l.source.is_none() == t.path));
        let mut c = Component::new(Ecosystem::Cargo, &t.name, &t.version);
        c.license.clone_from(&t.license);
        c.source = entry.and_then(|e| e.source.clone());
        c.checksum = entry.and_then(|e| e.checksum.clone()).map(Checksum::Sha256);
        if !linked
            .iter()
            .any(|l| l.name == t.name && l.version == t.version)
        {
            c.scope = Scope::Excluded;
        }
        components.push(c);
    }
    components.sort();
    CargoGraph { root, components }
}

/// One package of a Cargo.lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEntry {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source id (`registry+…`, `git+…`); `None` for path packages.
    pub source: Option<String>,
    /// Registry checksum.
    pub checksum: Option<String>,
}

/// Every package of a Cargo.lock (v3 or v4).
pub fn read_lock(path: &Path) -> Result<Vec<LockEntry>, Error> {
    let text = relkit_core::input::read_text(path, LOCK_LIMIT)?;
    let lock: Lock = toml::from_str(&text)
        .map_err(|e| Error::input(path, format!("is not a Cargo.lock: {}", e.message())))?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| LockEntry {
            name: p.name,
            version: p.version,
            source: p.source,
            checksum: p.checksum,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "app v0.1.0 (/src/app)\tMIT\nlib v1.0.0\tMIT/Apache-2.0\n\
                        mac v1.0.0 (proc-macro)\t\nsyn v2.0.0\tMIT\nlib v1.0.0\tMIT/Apache-2.0 (*)\n\
                        local v0.2.0 (/src/local)\tMIT\n";
    const LINKED: &str =
        "app v0.1.0 (/src/app)\tMIT\nlib v1.0.0\tMIT/Apache-2.0\nlocal v0.2.0 (/src/local)\tMIT\n";

    const LOCK: &str = r#"version = 4
[[package]]
name = "lib"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"
[[package]]
name = "app"
version = "0.1.0"
[[package]]
name = "local"
version = "0.2.0"
"#;

    #[test]
    fn tree_lines_become_components_with_lock_data() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join("Cargo.lock");
        fs_err::write(&lock_path, LOCK).unwrap();
        let lock = read_lock(&lock_path).unwrap();
        let root = Component::new(Ecosystem::Cargo, "app", "0.1.0");
        let g = assemble(root, &parse_tree(TREE), &parse_tree(LINKED), &lock);
        let listed: Vec<(&str, Scope, bool)> = g
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.scope, c.source.is_some()))
            .collect();
        assert_eq!(
            listed,
            [
                ("lib", Scope::Required, true),
                ("local", Scope::Required, false),
                ("mac", Scope::Excluded, false),
                ("syn", Scope::Excluded, false),
            ]
        );
        assert_eq!(
            g.components[0].checksum,
            Some(Checksum::Sha256("aaaa".into()))
        );
        assert_eq!(g.components[0].license.as_deref(), Some("MIT/Apache-2.0"));
        assert_eq!(g.components[2].license, None);
    }

    #[test]
    fn a_missing_binary_or_bad_lock_is_one_line() {
        let meta = serde_json::json!({
            "workspace_root": "/w", "workspace_members": ["a"],
            "packages": [{"id": "a", "name": "app", "version": "0.1.0",
                          "targets": [{"name": "app", "kind": ["bin"]}]}]
        })
        .to_string();
        assert_eq!(owner(&meta, "app").unwrap().0.name, "app");
        let e = owner(&meta, "nope").unwrap_err().to_string();
        assert_eq!(e, "`/w`: no workspace package has a binary `nope`");
        let e = owner("{", "app").unwrap_err().to_string();
        assert!(
            e.starts_with("`cargo metadata` failed: printed JSON"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Cargo.lock");
        fs_err::write(&p, "[[package]]\nname = 1\n").unwrap();
        let e = read_lock(&p).unwrap_err().to_string();
        assert!(e.contains("Cargo.lock`: is not a Cargo.lock"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

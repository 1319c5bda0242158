//! Software bills of materials for released binaries: which components a
//! binary contains (from cargo's resolved graph, from the module list a Go
//! binary embeds, or from the list cargo-auditable embeds), written as
//! CycloneDX 1.6 or SPDX 2.3 JSON that is byte-reproducible, and checked
//! against a license policy and an advisory database before a release ships.

pub mod advisory;
pub mod auditable;
pub mod cargo;
pub mod cyclonedx;
pub mod go;
pub mod license;
pub mod spdx;

use std::fmt;
use std::path::PathBuf;

use relkit_core::{Failure, HasFailure};

/// Errors of SBOM making and of the gates.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From relkit-core (bounded reads, invalid input).
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// A binary or data file that cannot be understood.
    #[error("`{}`: {message}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A command relkit ran (cargo metadata) failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr's last line, or why it could not run.
        message: String,
    },
    /// A component's license is denied, or not allowed, by the policy.
    #[error("license policy: {0}")]
    License(String),
    /// A component has an advisory that is neither patched nor ignored.
    #[error("advisory: {0}")]
    Advisory(String),
}

impl Error {
    pub(crate) fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            _ => Failure::Input,
        }
    }
}

/// Which package ecosystem a component comes from; decides its purl type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ecosystem {
    /// A Rust crate.
    Cargo,
    /// A Go module.
    Go,
    /// Anything else (a release as a whole).
    Generic,
}

/// Whether a component ends up inside the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Linked into the binary.
    Required,
    /// Used only while building (proc-macros and what only they depend on):
    /// listed, as `cargo tree -e normal` lists them, but not in the binary.
    Excluded,
}

/// A checksum recorded for a component by its package manager.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Checksum {
    /// The registry's sha256 of the `.crate` file, from Cargo.lock (hex).
    Sha256(String),
    /// A Go module sum (`h1:` + base64 of a sha256 over the module's file
    /// list), as go.sum and the binary's build info record it.
    GoSum(String),
}

/// One component of a binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Component {
    /// Package ecosystem.
    pub ecosystem: Ecosystem,
    /// Crate name or Go module path.
    pub name: String,
    /// Version (Go versions keep their `v`).
    pub version: String,
    /// Where it came from, as cargo writes it (`registry+…`, `git+…`), or
    /// `None` for a local path.
    pub source: Option<String>,
    /// Its checksum, when the lock file or build info records one.
    pub checksum: Option<Checksum>,
    /// Its declared license (an SPDX expression, as the package declares it).
    pub license: Option<String>,
    /// Whether it is inside the binary.
    pub scope: Scope,
}

impl Component {
    /// A component with only a name and version.
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str) -> Component {
        Component {
            ecosystem,
            name: name.to_owned(),
            version: version.to_owned(),
            source: None,
            checksum: None,
            license: None,
            scope: Scope::Required,
        }
    }

    /// The package URL (`pkg:cargo/serde@1.0.0`, `pkg:golang/golang.org/x/text@v0.3.0`).
    pub fn purl(&self) -> String {
        let ty = match self.ecosystem {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Go => "golang",
            Ecosystem::Generic => "generic",
        };
        format!(
            "pkg:{ty}/{}@{}",
            purl_encode(&self.name, true),
            purl_encode(&self.version, false)
        )
    }
}

/// Percent-encode what a purl may not hold literally (`/` separates a Go
/// module path's namespace segments, so it stays in names).
fn purl_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+')
            || (keep_slash && b == b'/');
        if plain {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&hex::encode_upper([b]));
        }
    }
    out
}

/// An advisory that matched a component but is ignored by the policy: the
/// SBOM records it with the reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IgnoredAdvisory {
    /// Advisory id (`RUSTSEC-2020-0071`, `GO-2022-0969`).
    pub id: String,
    /// Which database it is from (`RustSec`, `OSV`).
    pub database: String,
    /// The component it matched.
    pub purl: String,
    /// Why the policy ignores it.
    pub reason: String,
}

/// The SBOM of one binary, or of a whole release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sbom {
    /// What the SBOM describes: the binary's own package, or the release.
    pub subject: Component,
    /// The target the binary is built for, if it is one binary.
    pub target: Option<String>,
    /// Build time, RFC 3339 UTC (from SOURCE_DATE_EPOCH).
    pub timestamp: String,
    /// Where the component list came from (`cargo metadata`, `go build info`,
    /// `cargo-auditable`), recorded in the document.
    pub origin: Origin,
    /// Every component, sorted, without duplicates.
    pub components: Vec<Component>,
    /// Advisories ignored by the policy, sorted.
    pub ignored: Vec<IgnoredAdvisory>,
}

/// Where an SBOM's component list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// cargo's resolved graph (`cargo tree`) plus Cargo.lock.
    CargoMetadata,
    /// The dependency list cargo-auditable embedded in the binary.
    Auditable,
    /// The module build info embedded in a Go binary.
    GoBuildInfo,
    /// The union of the release's binaries' SBOMs.
    Release,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::CargoMetadata => "cargo",
            Origin::Auditable => "cargo-auditable",
            Origin::GoBuildInfo => "go-buildinfo",
            Origin::Release => "release",
        })
    }
}

impl Sbom {
    /// An SBOM of `components` (sorted and deduplicated here).
    pub fn new(
        subject: Component,
        target: Option<String>,
        timestamp: String,
        origin: Origin,
        mut components: Vec<Component>,
    ) -> Sbom {
        components.sort();
        components.dedup();
        Sbom {
            subject,
            target,
            timestamp,
            origin,
            components,
            ignored: Vec::new(),
        }
    }

    /// The SBOM of a whole release: every binary's components, once each (a
    /// component required by one binary is required).
    pub fn union(subject: Component, timestamp: String, parts: &[Sbom]) -> Sbom {
        let mut all: Vec<Component> = parts
            .iter()
            .flat_map(|s| s.components.iter().cloned())
            .collect();
        all.sort();
        // Keep the Required copy when a component is in both scopes.
        let mut out: Vec<Component> = Vec::with_capacity(all.len());
        for c in all {
            if let Some(prev) = out.iter_mut().find(|p| same_package(p, &c)) {
                prev.scope = prev.scope.min(c.scope);
                continue;
            }
            out.push(c);
        }
        let mut ignored: Vec<IgnoredAdvisory> = parts
            .iter()
            .flat_map(|s| s.ignored.iter().cloned())
            .collect();
        ignored.sort();
        ignored.dedup();
        Sbom {
            subject,
            target: None,
            timestamp,
            origin: Origin::Release,
            components: out,
            ignored,
        }
    }

    /// Components inside the binary (not build-only ones).
    pub fn required(&self) -> impl Iterator<Item = &Component> {
        self.components
            .iter()
            .filter(|c| c.scope == Scope::Required)
    }
}

fn same_package(a: &Component, b: &Component) -> bool {
    a.ecosystem == b.ecosystem && a.name == b.name && a.version == b.version && a.source == b.source
}

/// How to find a binary's components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A Go binary's build info if it has one; else cargo metadata when a
    /// Cargo.toml is given; else the binary's cargo-auditable data.
    Auto,
    /// cargo's graph only.
    CargoMetadata,
    /// cargo-auditable data only.
    Auditable,
    /// Go build info only.
    Go,
}

/// What [`of_binary`] needs besides the binary.
#[derive(Debug, Clone)]
pub struct BinaryInput<'a> {
    /// The binary file.
    pub path: &'a std::path::Path,
    /// Its name without `.exe` (the cargo `[[bin]]` name).
    pub name: &'a str,
    /// The target it was built for.
    pub target: &'a str,
    /// The workspace's Cargo.toml, when there is one.
    pub cargo_manifest: Option<&'a std::path::Path>,
    /// Build time, RFC 3339.
    pub timestamp: &'a str,
}

/// The SBOM of one binary.
pub fn of_binary(input: &BinaryInput<'_>, method: Method) -> Result<Sbom, Error> {
    let target = Some(input.target.to_owned());
    let ts = input.timestamp.to_owned();
    if matches!(method, Method::Auto | Method::Go) {
        if let Some(b) = go::read(input.path)? {
            return Ok(Sbom::new(b.main, target, ts, Origin::GoBuildInfo, b.deps));
        }
        if method == Method::Go {
            return Err(Error::input(
                input.path,
                "is not a Go binary with build info",
            ));
        }
    }
    let use_cargo = match method {
        Method::CargoMetadata => true,
        Method::Auto => input.cargo_manifest.is_some_and(std::path::Path::is_file),
        _ => false,
    };
    if use_cargo {
        let manifest = input
            .cargo_manifest
            .ok_or_else(|| Error::input(input.path, "needs a Cargo.toml for cargo"))?;
        let g = cargo::graph(manifest, input.name, input.target, None)?;
        return Ok(Sbom::new(
            g.root,
            target,
            ts,
            Origin::CargoMetadata,
            g.components,
        ));
    }
    match auditable::read(input.path)? {
        Some((root, components)) => Ok(Sbom::new(root, target, ts, Origin::Auditable, components)),
        None => Err(Error::input(
            input.path,
            "has no component data: not a Go binary, no cargo-auditable data, and no Cargo.toml to ask cargo",
        )),
    }
}

/// A stable, name-based UUID for a document: the first 16 bytes of
/// sha256(`bytes`) with the RFC 9562 variant bits and version 5 (the
/// CycloneDX schema admits versions 1–5 only; this is a name-based UUID,
/// hashed with sha256 instead of SHA-1).
pub(crate) fn content_uuid(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        let c = Component::new(Ecosystem::Cargo, "serde_json", "1.0.1+x");
        assert_eq!(c.purl(), "pkg:cargo/serde_json@1.0.1+x");
        let g = Component::new(Ecosystem::Go, "golang.org/x/text", "v0.3.8");
        assert_eq!(g.purl(), "pkg:golang/golang.org/x/text@v0.3.8");
        let odd = Component::new(Ecosystem::Generic, "a b", "1@2");
        assert_eq!(odd.purl(), "pkg:generic/a%20b@1%402");
    }

    #[test]
    fn uuid_is_stable_and_well_formed() {
        let a = content_uuid(b"one");
        assert_eq!(a, content_uuid(b"one"));
        assert_ne!(a, content_uuid(b"two"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn union_keeps_required_over_excluded() {
        let mut a = Component::new(Ecosystem::Cargo, "syn", "2.0.0");
        a.scope = Scope::Excluded;
        let b = Component::new(Ecosystem::Cargo, "syn", "2.0.0");
        let subject = Component::new(Ecosystem::Generic, "r", "1.0.0");
        let s1 = Sbom::new(
            subject.clone(),
            None,
            "t".into(),
            Origin::CargoMetadata,
            vec![a],
        );
        let s2 = Sbom::new(
            subject.clone(),
            None,
            "t".into(),
            Origin::CargoMetadata,
            vec![b],
        );
        let u = Sbom::union(subject, "t".into(), &[s1, s2]);
        assert_eq!(u.components.len(), 1);
        assert_eq!(u.components[0].scope, Scope::Required);
    }
}

//! The release manifest (`manifest.json`) and its parts: every artifact of a
//! release with its size, sha256, contents and signatures. The published
//! JSON schema, `dist-manifest.schema.json`, is generated from these types.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The manifest format version this build of relkit writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A release: what was built, from which commit, and every file it ships.
///
/// A manifest part (`*.part.json`, written per archive by relkit-package) is
/// a manifest with the artifacts of one build job; `relkit-manifest merge`
/// combines parts into the release manifest. Every `file` is relative to the
/// folder that holds the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "relkit release manifest")]
pub struct Manifest {
    /// Version of this format; relkit writes 1.
    pub schema_version: u32,
    /// Name of the project being released.
    pub name: String,
    /// Release version, semver without a leading `v`.
    pub version: String,
    /// The git tag of the release, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit the release was built from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Build time, RFC 3339 in UTC, from `SOURCE_DATE_EPOCH` or the commit time.
    pub build_timestamp: String,
    /// The tool that wrote this manifest.
    pub tool: Tool,
    /// Every target the release covers, sorted.
    pub targets: Vec<String>,
    /// Every artifact, sorted by `file`.
    pub artifacts: Vec<Artifact>,
    /// Container images built from the release's binaries (relkit.toml
    /// `[image]`), identified by digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Advisories that affect a component of the release but that
    /// relkit.toml's `[[sbom.advisories.ignore]]` lets pass, each with the
    /// reason given (the SBOMs record them too). Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_advisories: Vec<IgnoredAdvisory>,
    /// Optional build measurements. Durations vary run to run, so they are
    /// recorded only when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
}

/// The tool that wrote a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Tool name, `relkit`.
    pub name: String,
    /// Tool version.
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: crate::TOOL_NAME.to_owned(),
            version: crate::TOOL_VERSION.to_owned(),
        }
    }
}

/// One file of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// The file's base name: the name of the release asset.
    pub name: String,
    /// What the file is.
    pub kind: ArtifactKind,
    /// Path relative to the manifest's folder, with `/` separators.
    pub file: String,
    /// The target the file was built for, if it is target-specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// For archives: the files inside, in archive order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contents: Vec<Content>,
    /// Detached signatures of this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
}

/// A multi-platform container image of the release: an OCI image index
/// over one image per Linux target. Pull it by `index_digest` to get
/// exactly what was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Where it is pushed: `REGISTRY/REPOSITORY` (`ghcr.io/owner/tool`).
    pub repository: String,
    /// Digest of the OCI image index (what a multi-platform pull resolves).
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub index_digest: String,
    /// Platform (`linux/amd64`, `linux/arm/v7`) → digest of that
    /// platform's image manifest.
    pub platforms: BTreeMap<String, String>,
    /// Tags set on the index when it is pushed (`v1.2.3`, `1.2`, `latest`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// An advisory the release ships with knowingly: it matched a component,
/// and the project's policy ignores it for the reason given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IgnoredAdvisory {
    /// Advisory id (`RUSTSEC-2020-0071`, `GO-2022-1059`).
    pub id: String,
    /// The database it is from (`RustSec`, `OSV`).
    pub database: String,
    /// The affected component's package URL (`pkg:cargo/time@0.1.45`).
    pub component: String,
    /// Why it does not apply, as relkit.toml gives it.
    pub reason: String,
}

/// Kinds of artifact.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ArtifactKind {
    /// A packaged archive of binaries and extra files.
    Archive,
    /// A bare executable.
    Executable,
    /// A combined checksum file such as `SHA256SUMS`.
    Checksums,
    /// A per-file checksum sidecar (`*.sha256`).
    ChecksumSidecar,
    /// A detached signature.
    Signature,
    /// A Terraform provider zip (`terraform-provider-NAME_VERSION_OS_ARCH.zip`).
    TerraformProviderZip,
    /// The Terraform registry manifest (`…_manifest.json`).
    TerraformRegistryManifest,
    /// The Terraform `…_SHA256SUMS` file.
    TerraformSha256sums,
    /// A file of a Terraform provider mirror (`index.json`, `VERSION.json`).
    TerraformMirror,
    /// A ready `.terraform.lock.hcl` provider block.
    TerraformLock,
    /// A Debian package (`NAME_VERSION_ARCH.deb`).
    DebPackage,
    /// An RPM package (`NAME-VERSION-RELEASE.ARCH.rpm`).
    RpmPackage,
    /// A software bill of materials: CycloneDX 1.6 (`*.cdx.json`) or
    /// SPDX 2.3 (`*.spdx.json`) JSON.
    Sbom,
    /// The generated POSIX sh installer (`NAME-installer.sh`).
    Installer,
    /// A Homebrew formula (`NAME.rb`), committed to a tap as `Formula/NAME.rb`.
    HomebrewFormula,
    /// A Scoop manifest (`NAME.json`: any JSON release file no other kind
    /// claims), installable by URL or committed to a bucket.
    ScoopManifest,
    /// A container image as a `docker load` tarball
    /// (`NAME-VERSION-OS-ARCH.image.tar`).
    ImageArchive,
    /// A signed static APT repository as one archive
    /// (`NAME-VERSION-apt-repo.tar.gz`, holding `apt/`), to extract where
    /// the repository is hosted.
    AptRepository,
    /// A signed static DNF/YUM repository as one archive
    /// (`NAME-VERSION-dnf-repo.tar.gz`, holding `dnf/`), to extract where
    /// the repository is hosted.
    DnfRepository,
    /// The armored OpenPGP public key that signs the release's `.rpm`
    /// packages and repositories (`NAME-VERSION-release-key.asc`), for
    /// `rpm --import`, dnf's `gpgkey=` and APT's `signed-by=`.
    OpenpgpPublicKey,
    /// Any other file.
    Other,
}

/// A file inside an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// Path inside the archive, with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// Whether the entry is executable (mode 0755; else 0644).
    pub executable: bool,
}

/// A detached signature of an artifact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signature scheme.
    pub kind: SignatureKind,
    /// Path of the signature file, relative to the manifest's folder.
    pub file: String,
    /// Identifies the key: minisign key id or OpenPGP fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// Signature schemes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SignatureKind {
    /// A minisign signature (`.minisig`).
    Minisign,
    /// A binary detached OpenPGP signature (`.sig`).
    Openpgp,
}

/// Build measurements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Wall time of each step in milliseconds, by step name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub durations_ms: BTreeMap<String, u64>,
    /// Binary sizes before and after `--strip`, by archive entry path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub strip: BTreeMap<String, StripSizes>,
}

impl Metrics {
    /// Whether nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.durations_ms.is_empty() && self.strip.is_empty()
    }
}

/// Sizes of a binary before and after stripping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StripSizes {
    /// Bytes before stripping.
    pub before: u64,
    /// Bytes after stripping.
    pub after: u64,
}

impl Manifest {
    /// An empty manifest for a release.
    pub fn new(name: &str, version: &str, build_timestamp: String) -> Self {
        Manifest {
            schema_version: SCHEMA_VERSION,
            name: name.to_owned(),
            version: version.to_owned(),
            tag: None,
            commit: None,
            build_timestamp,
            tool: Tool::default(),
            targets: Vec::new(),
            artifacts: Vec::new(),
            images: Vec::new(),
            ignored_advisories: Vec::new(),
            metrics: None,
        }
    }

    /// Sort artifacts and targets so equal manifests serialise identically.
    pub fn normalize(&mut self) {
        self.artifacts.sort_by(|a, b| a.file.cmp(&b.file));
        for a in &mut self.artifacts {
            a.signatures.sort();
            a.signatures.dedup();
        }
        let mut targets: Vec<String> = self
            .artifacts
            .iter()
            .filter_map(|a| a.target.clone())
            .chain(std::mem::take(&mut self.targets))
            .collect();
        targets.sort();
        targets.dedup();
        self.targets = targets;
        self.ignored_advisories.sort();
        self.ignored_advisories.dedup();
        if self.metrics.as_ref().is_some_and(Metrics::is_empty) {
            self.metrics = None;
        }
    }

    /// Serialise as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("manifest serialises");
        s.push('\n');
        s
    }

    /// Read and check a manifest (or part) from `path`.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = crate::input::read_text(path, crate::input::Limit::MANIFEST)?;
        let m: Manifest = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        m.check(path)?;
        Ok(m)
    }

    /// Check what the type system cannot: the version, the tag, the
    /// digests, that asset names are plain file names, and that no file path
    /// escapes the manifest's folder.
    pub fn check(&self, path: &Path) -> Result<(), Error> {
        let at = |field: String, msg: String| {
            Error::invalid(format!("`{}`: {field}", path.display()), msg)
        };
        if self.schema_version != SCHEMA_VERSION {
            return Err(at(
                "schema_version".into(),
                format!(
                    "{} is not supported (this relkit reads {SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        if let Some(tag) = &self.tag {
            crate::names::check_tag(&format!("`{}`: tag", path.display()), tag)?;
        }
        for (i, a) in self.artifacts.iter().enumerate() {
            let field = |f: &str| format!("artifacts[{i}].{f}");
            // issue 10.4: an asset name `../x` was accepted.
            crate::names::check_file_name(
                &format!("`{}`: {}", path.display(), field("name")),
                &a.name,
            )?;
            if !is_hex(&a.sha256, 64) {
                return Err(at(
                    field("sha256"),
                    format!("`{}` is not 64 lower-case hex digits", a.sha256),
                ));
            }
            check_relative(&a.file).map_err(|m| at(field("file"), m))?;
            for (j, s) in a.signatures.iter().enumerate() {
                check_relative(&s.file)
                    .map_err(|m| at(field(&format!("signatures[{j}].file")), m))?;
            }
            for (j, c) in a.contents.iter().enumerate() {
                if !is_hex(&c.sha256, 64) {
                    return Err(at(
                        field(&format!("contents[{j}].sha256")),
                        format!("`{}` is not 64 lower-case hex digits", c.sha256),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether `s` is exactly `len` lower-case hex digits.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A manifest `file` must be a plain relative path inside the manifest's
/// folder: no absolute paths, no `..`, no backslashes.
pub fn check_relative(file: &str) -> Result<(), String> {
    if file.is_empty()
        || file.starts_with('/')
        || file.contains('\\')
        || file
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "`{file}` must be a relative path inside the manifest's folder"
        ));
    }
    Ok(())
}

/// The JSON schema of [`Manifest`], pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(file: &str) -> Artifact {
        Artifact {
            name: file.rsplit('/').next().unwrap().to_owned(),
            kind: ArtifactKind::Archive,
            file: file.to_owned(),
            target: Some("x86_64-unknown-linux-gnu".into()),
            size: 3,
            sha256: "a".repeat(64),
            contents: vec![],
            signatures: vec![],
        }
    }

    #[test]
    fn normalize_sorts_and_collects_targets() {
        let mut m = Manifest::new("t", "1.0.0", "1970-01-01T00:00:00Z".into());
        m.artifacts = vec![artifact("b.tar.gz"), artifact("a.tar.gz")];
        m.metrics = Some(Metrics::default());
        m.normalize();
        assert_eq!(m.artifacts[0].file, "a.tar.gz");
        assert_eq!(m.targets, ["x86_64-unknown-linux-gnu"]);
        assert_eq!(m.metrics, None);
        let back: Manifest = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn ignored_advisories_are_sorted_and_absent_when_none() {
        let mut m = Manifest::new("t", "1.0.0", "1970-01-01T00:00:00Z".into());
        m.normalize();
        assert!(!m.to_json().contains("ignored_advisories"));
        let ignored = |id: &str| IgnoredAdvisory {
            id: id.into(),
            database: "RustSec".into(),
            component: "pkg:cargo/smallvec@1.4.0".into(),
            reason: "not reachable".into(),
        };
        m.ignored_advisories = vec![
            ignored("RUSTSEC-2"),
            ignored("RUSTSEC-1"),
            ignored("RUSTSEC-2"),
        ];
        m.normalize();
        let ids: Vec<&str> = m.ignored_advisories.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["RUSTSEC-1", "RUSTSEC-2"]);
        let json = m.to_json();
        assert!(
            json.contains(r#""component": "pkg:cargo/smallvec@1.4.0""#),
            "{json}"
        );
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn check_rejects_escapes_and_bad_digests() {
        let mut m = Manifest::new("t", "1.0.0", "1970-01-01T00:00:00Z".into());
        m.artifacts = vec![artifact("../evil")];
        let e = m.check(Path::new("m.json")).unwrap_err().to_string();
        assert_eq!(
            e,
            "`m.json`: artifacts[0].file: `../evil` must be a relative path inside the manifest's folder"
        );
        m.artifacts = vec![artifact("ok")];
        m.artifacts[0].sha256 = "XYZ".into();
        let e = m.check(Path::new("m.json")).unwrap_err().to_string();
        assert!(e.contains("artifacts[0].sha256: `XYZ`"), "{e}");
        m.artifacts[0].sha256 = "a".repeat(64);
        m.artifacts[0].name = "../x".into();
        let e = m.check(Path::new("m.json")).unwrap_err().to_string();
        assert!(
            e.starts_with("`m.json`: artifacts[0].name: `../x` is not a plain"),
            "{e}"
        );
        m.artifacts[0].name = "ok".into();
        m.tag = Some("v1.0.lock".into());
        let e = m.check(Path::new("m.json")).unwrap_err().to_string();
        assert!(
            e.starts_with("`m.json`: tag: `v1.0.lock` is not a valid git tag"),
            "{e}"
        );
        m.tag = None;
        m.schema_version = 9;
        assert!(
            m.check(Path::new("m.json"))
                .unwrap_err()
                .to_string()
                .contains("schema_version")
        );
    }
}

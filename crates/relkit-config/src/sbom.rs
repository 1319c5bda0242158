//! `[sbom]`: SBOMs of the release's binaries and the supply-chain gates
//! (license policy, advisories) that can stop a release.

use std::path::PathBuf;

use serde::Deserialize;

/// `[sbom]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sbom {
    /// Formats to write: `cyclonedx` (CycloneDX 1.6 JSON, `.cdx.json`)
    /// and/or `spdx` (SPDX 2.3 JSON, `.spdx.json`) [default: cyclonedx].
    #[serde(default = "default_formats")]
    pub formats: Vec<SbomFormat>,
    /// Where the component list comes from [default: auto].
    #[serde(default)]
    pub source: SbomSource,
    /// The Cargo.toml whose graph describes Rust binaries [default: ./Cargo.toml].
    pub cargo_manifest: Option<PathBuf>,
    /// The license policy.
    #[serde(default)]
    pub licenses: Licenses,
    /// The advisory check.
    #[serde(default)]
    pub advisories: Advisories,
}

fn default_formats() -> Vec<SbomFormat> {
    vec![SbomFormat::Cyclonedx]
}

/// An SBOM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

impl SbomFormat {
    /// The file name suffix (which is also how the kind table knows it).
    pub fn suffix(self) -> &'static str {
        match self {
            SbomFormat::Cyclonedx => ".cdx.json",
            SbomFormat::Spdx => ".spdx.json",
        }
    }
}

/// Where a binary's component list comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SbomSource {
    /// Go build info if the binary has it; else cargo's graph when the
    /// Cargo.toml exists; else the binary's cargo-auditable data.
    #[default]
    Auto,
    /// cargo's graph only.
    Cargo,
    /// The binary's cargo-auditable data only.
    Auditable,
    /// Go build info only.
    Go,
}

/// `[sbom.licenses]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Licenses {
    /// SPDX ids no component may require.
    #[serde(default)]
    pub deny: Vec<String>,
    /// When set, every component must be usable under these alone.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Let components without an SPDX license pass an `allow` list.
    #[serde(default)]
    pub allow_unknown: bool,
}

/// `[sbom.advisories]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Advisories {
    /// A RustSec advisory-db checkout [env RELKIT_RUSTSEC_DB overrides].
    pub rustsec_db: Option<PathBuf>,
    /// Clone https://github.com/rustsec/advisory-db (git, depth 1) when no
    /// `rustsec-db` is given.
    #[serde(default)]
    pub fetch: bool,
    /// A folder of OSV JSON records for Go modules [env RELKIT_OSV_GO_DB overrides].
    pub osv_go_db: Option<PathBuf>,
    /// Advisories to let pass, each with a reason.
    #[serde(default)]
    pub ignore: Vec<IgnoreAdvisory>,
}

/// One `[[sbom.advisories.ignore]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IgnoreAdvisory {
    /// The advisory id or an alias (`RUSTSEC-…`, `CVE-…`, `GO-…`).
    pub id: String,
    /// Why it does not apply; recorded in the SBOMs.
    pub reason: String,
}

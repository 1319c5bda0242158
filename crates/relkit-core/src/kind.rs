//! The one table of release-file kinds: which file name is which
//! [`ArtifactKind`], and for each kind whether it goes into `SHA256SUMS`,
//! whether it is signed, and whether it is uploaded as a release asset.
//! `relkit finalize`, `relkit dist`, relkit-manifest and
//! relkit-release-upload all read these rules; a new kind of release file is
//! one variant and one row here.

use crate::manifest::{ArtifactKind, SignatureKind};

/// What happens to a file of one kind in a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Listed in the release's `SHA256SUMS`.
    pub checksummed: bool,
    /// Signed when the release is signed. `Optional` kinds are signed only
    /// when relkit.toml asks (`[sign] archives = true`).
    pub signed: Signed,
    /// Uploaded as a release asset. A file that is not is marked `local` in
    /// the manifest, and `relkit-manifest verify` does not expect it among
    /// downloaded assets.
    pub uploaded: bool,
}

/// Whether a kind is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// Always, when a signing key is configured.
    Always,
    /// Only when `[sign] archives = true`.
    OnRequest,
    /// Never.
    Never,
}

impl ArtifactKind {
    /// The rules for this kind: the one place that decides what is
    /// checksummed, signed and uploaded.
    pub fn rules(self) -> Rules {
        use ArtifactKind as K;
        let (checksummed, signed, uploaded) = match self {
            // (A `docker load` tarball is a packaged form of the binaries,
            // like an archive. Package-manager recipes name archives by url
            // and sha256: the user's package manager checks those,
            // SHA256SUMS covers the recipe. A repository archive carries its
            // own signatures inside, the release key is what checks them:
            // SHA256SUMS covers both.)
            K::Archive
            | K::Executable
            | K::DebPackage
            | K::RpmPackage
            | K::Installer
            | K::ImageArchive
            | K::HomebrewFormula
            | K::ScoopManifest
            | K::AptRepository
            | K::DnfRepository
            | K::OpenpgpPublicKey => (true, Signed::OnRequest, true),
            // SHA256SUMS is what users verify; signing it covers every file it lists.
            K::Checksums => (false, Signed::Always, true),
            // Checksums and signatures of other files are not checksummed again.
            K::ChecksumSidecar | K::Signature => (false, Signed::Never, true),
            // SBOMs are what users check a release's contents against: listed,
            // signed and uploaded.
            K::Sbom => (true, Signed::Always, true),
            // The Registry's own files: its SHA256SUMS is signed by the
            // provider stage with gpg, as the Registry requires.
            K::TerraformProviderZip
            | K::TerraformRegistryManifest
            | K::TerraformSha256sums
            | K::TerraformLock
            | K::Other => (true, Signed::Never, true),
            // Mirror trees hold several files of one name (index.json per
            // provider): they are hosted by the user, never release assets.
            K::TerraformMirror => (false, Signed::Never, false),
        };
        Rules {
            checksummed,
            signed,
            uploaded,
        }
    }

    /// The kind of a release file, from its base name.
    pub fn from_name(name: &str) -> ArtifactKind {
        let ends = |s: &str| name.ends_with(s);
        if name.starts_with("terraform-provider-") {
            if ends("_SHA256SUMS") {
                return ArtifactKind::TerraformSha256sums;
            }
            if ends("_manifest.json") {
                return ArtifactKind::TerraformRegistryManifest;
            }
            if ends(".zip") {
                return ArtifactKind::TerraformProviderZip;
            }
            if ends(".terraform.lock.hcl") {
                return ArtifactKind::TerraformLock;
            }
        }
        if ends(".cdx.json") || ends(".spdx.json") {
            return ArtifactKind::Sbom;
        }
        // Before `.asc` (signatures) and `.tar.gz` (archives).
        if ends("-release-key.asc") {
            return ArtifactKind::OpenpgpPublicKey;
        }
        if ends("-apt-repo.tar.gz") {
            return ArtifactKind::AptRepository;
        }
        if ends("-dnf-repo.tar.gz") {
            return ArtifactKind::DnfRepository;
        }
        if signature_kind(name).is_some() || ends(".asc") {
            ArtifactKind::Signature
        } else if ends(".sha256") || ends(".sha512") || ends(".b3") {
            ArtifactKind::ChecksumSidecar
        } else if name.ends_with("SUMS") {
            ArtifactKind::Checksums
        } else if ARCHIVE_SUFFIXES.iter().any(|s| ends(s)) {
            ArtifactKind::Archive
        } else if ends("-installer.sh") {
            ArtifactKind::Installer
        } else if ends(".deb") {
            ArtifactKind::DebPackage
        } else if ends(".rpm") {
            ArtifactKind::RpmPackage
        } else if ends(".image.tar") {
            ArtifactKind::ImageArchive
        } else if ends(".rb") {
            ArtifactKind::HomebrewFormula
        } else if ends(".json") && name != "manifest.json" && !ends(".part.json") {
            // Every other JSON release file has a kind above.
            ArtifactKind::ScoopManifest
        } else {
            ArtifactKind::Other
        }
    }
}

/// File name endings of archives.
pub const ARCHIVE_SUFFIXES: [&str; 5] = [".tar.gz", ".tgz", ".tar.xz", ".tar.zst", ".zip"];

impl SignatureKind {
    /// The suffix a signature file of this kind adds to the signed file's name.
    pub fn suffix(self) -> &'static str {
        match self {
            SignatureKind::Minisign => ".minisig",
            SignatureKind::Openpgp => ".sig",
        }
    }
}

/// Which signature scheme a file name ends with, if any.
pub fn signature_kind(name: &str) -> Option<SignatureKind> {
    [SignatureKind::Minisign, SignatureKind::Openpgp]
        .into_iter()
        .find(|k| name.ends_with(k.suffix()) && name.len() > k.suffix().len())
}

/// For a signature file name, the name of the file it signs and its scheme.
pub fn signed_file(name: &str) -> Option<(&str, SignatureKind)> {
    let kind = signature_kind(name)?;
    Some((&name[..name.len() - kind.suffix().len()], kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kinds() {
        let cases = [
            (
                "t-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
                ArtifactKind::Archive,
            ),
            ("t-1.0.0-x86_64-pc-windows-msvc.zip", ArtifactKind::Archive),
            ("SHA256SUMS", ArtifactKind::Checksums),
            ("t-installer.sh", ArtifactKind::Installer),
            ("SHA256SUMS.minisig", ArtifactKind::Signature),
            ("SHA256SUMS.sig", ArtifactKind::Signature),
            ("a.zip.sha256", ArtifactKind::ChecksumSidecar),
            (
                "terraform-provider-x_1.0.0_linux_amd64.zip",
                ArtifactKind::TerraformProviderZip,
            ),
            (
                "terraform-provider-x_1.0.0_SHA256SUMS",
                ArtifactKind::TerraformSha256sums,
            ),
            (
                "terraform-provider-x_1.0.0_SHA256SUMS.sig",
                ArtifactKind::Signature,
            ),
            (
                "terraform-provider-x_1.0.0.terraform.lock.hcl",
                ArtifactKind::TerraformLock,
            ),
            ("tool_1.2.3_amd64.deb", ArtifactKind::DebPackage),
            ("tool-1.2.3~rc.1-1.x86_64.rpm", ArtifactKind::RpmPackage),
            ("notes.txt", ArtifactKind::Other),
            ("tool.rb", ArtifactKind::HomebrewFormula),
            (
                "tool-1.2.3-linux-amd64.image.tar",
                ArtifactKind::ImageArchive,
            ),
            ("plain.tar", ArtifactKind::Other),
            ("tool.json", ArtifactKind::ScoopManifest),
            ("manifest.json", ArtifactKind::Other),
            (
                "terraform-provider-x_1.0.0_manifest.json",
                ArtifactKind::TerraformRegistryManifest,
            ),
            ("t-1.0.0.cdx.json", ArtifactKind::Sbom),
            (
                "t-1.0.0-x86_64-unknown-linux-gnu.spdx.json",
                ArtifactKind::Sbom,
            ),
            ("t-1.0.0.cdx.json.minisig", ArtifactKind::Signature),
            ("tool-1.2.3-apt-repo.tar.gz", ArtifactKind::AptRepository),
            ("tool-1.2.3-dnf-repo.tar.gz", ArtifactKind::DnfRepository),
            ("tool-1.2.3-release-key.asc", ArtifactKind::OpenpgpPublicKey),
            (
                "tool-1.2.3-dnf-repo.tar.gz.minisig",
                ArtifactKind::Signature,
            ),
            ("tool-1.2.3-release-key.asc.sig", ArtifactKind::Signature),
            ("Release.asc", ArtifactKind::Signature),
        ];
        for (name, kind) in cases {
            assert_eq!(ArtifactKind::from_name(name), kind, "{name}");
        }
    }

    #[test]
    fn rules_decide_sums_signing_and_upload() {
        let r = ArtifactKind::Archive.rules();
        assert!(r.checksummed && r.uploaded && r.signed == Signed::OnRequest);
        let r = ArtifactKind::Checksums.rules();
        assert!(!r.checksummed && r.uploaded && r.signed == Signed::Always);
        assert!(!ArtifactKind::ChecksumSidecar.rules().checksummed);
        assert!(!ArtifactKind::TerraformMirror.rules().uploaded);
        assert!(ArtifactKind::TerraformLock.rules().uploaded);
    }

    #[test]
    fn signature_names() {
        assert_eq!(
            signed_file("SHA256SUMS.minisig"),
            Some(("SHA256SUMS", SignatureKind::Minisign))
        );
        assert_eq!(
            signed_file("x_SHA256SUMS.sig"),
            Some(("x_SHA256SUMS", SignatureKind::Openpgp))
        );
        assert_eq!(signed_file(".sig"), None);
        assert_eq!(signed_file("a.tar.gz"), None);
    }
}

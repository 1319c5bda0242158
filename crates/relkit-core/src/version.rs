//! Release versions: a tag `v1.2.3` names version `1.2.3`; versions are
//! semver, and a pre-release suffix marks a pre-release.

use crate::Error;

/// A validated semver release version, without any leading `v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(semver::Version);

impl Version {
    /// Parse a version or a tag (`1.2.3`, `v1.2.3`, `1.2.3-rc.1`,
    /// `refs/tags/v1.2.3`). `field` names the flag or field for errors.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let s = raw.strip_prefix("refs/tags/").unwrap_or(raw);
        let s = s.strip_prefix('v').unwrap_or(s);
        semver::Version::parse(s).map(Version).map_err(|e| {
            Error::invalid(
                field,
                format!("`{raw}` is not a semver version such as 1.2.3 or v1.2.3-rc.1 ({e})"),
            )
        })
    }

    /// Whether the version carries a pre-release suffix (`-rc.1`, `-beta`).
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// The tag conventionally naming this version: `v` + version.
    pub fn tag(&self) -> String {
        format!("v{}", self.0)
    }

    /// The underlying semver value.
    pub fn semver(&self) -> &semver::Version {
        &self.0
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_prereleases() {
        let v = Version::parse("--version", "v1.2.3").unwrap();
        assert_eq!(v.to_string(), "1.2.3");
        assert!(!v.is_prerelease());
        assert_eq!(v.tag(), "v1.2.3");
        let rc = Version::parse("--version", "refs/tags/v2.0.0-rc.1+build.5").unwrap();
        assert_eq!(rc.to_string(), "2.0.0-rc.1+build.5");
        assert!(rc.is_prerelease());
        let e = Version::parse("--version", "1.2").unwrap_err().to_string();
        assert!(
            e.starts_with("--version: `1.2` is not a semver version"),
            "{e}"
        );
        assert!(Version::parse("--version", "vv1.0.0").is_err());
    }
}

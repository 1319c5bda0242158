//! `[package]` in relkit.toml: Linux packages built from the release's
//! binaries by finalize (`.deb` and `.rpm` per Linux target). `maintainer` and
//! `description` are required, so a table without them is refused when the
//! file is read, before anything is built.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[package]`: what goes into every Linux package and what it says about
/// itself. Paths are relative to the folder relkit runs in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LinuxPackage {
    /// Package formats to build [default: `["deb"]`].
    #[serde(default = "default_formats")]
    pub formats: Vec<PackageFormat>,
    /// Package name [default: the project name].
    pub name: Option<String>,
    /// Who answers for the package: `Full Name <user@example.org>`.
    pub maintainer: String,
    /// One line saying what the package is (under 80 characters).
    pub description: String,
    /// Longer description; blank lines separate paragraphs.
    pub long_description: Option<String>,
    /// Project home page.
    pub homepage: Option<String>,
    /// License as an SPDX expression (`MIT`, `Apache-2.0 OR MIT`).
    pub license: Option<String>,
    /// The license text, copied into `/usr/share/doc/NAME/copyright`.
    pub license_file: Option<PathBuf>,
    /// Copyright notice (`2024 Jane Doe`) [default: the release year and
    /// `NAME contributors`].
    pub copyright: Option<String>,
    /// Debian section [default: `utils`].
    pub section: Option<String>,
    /// Debian priority [default: `optional`].
    pub priority: Option<String>,
    /// Which of `binaries` go to `/usr/bin` [default: all of them].
    pub binaries: Option<Vec<String>>,
    /// Man pages named `NAME.SECTION` (`tool.1`), installed gzipped.
    #[serde(default)]
    pub man_pages: Vec<PathBuf>,
    /// Documentation files for `/usr/share/doc/NAME/`.
    #[serde(default)]
    pub docs: Vec<PathBuf>,
    /// Shell completion scripts.
    #[serde(default)]
    pub completions: Completions,
    /// Configuration files kept across upgrades (conffiles): destination
    /// under `/etc` = source file.
    #[serde(default)]
    pub config_files: BTreeMap<String, PathBuf>,
    /// A systemd unit installed to `/usr/lib/systemd/system`, enabled and
    /// started on install, stopped on removal.
    pub systemd_unit: Option<PathBuf>,
    /// Debian-only settings.
    #[serde(default)]
    pub deb: Deb,
    /// RPM-only settings.
    #[serde(default)]
    pub rpm: Rpm,
    /// Package repositories to publish as release files, built from this
    /// release's packages (plus the previous trees given with
    /// `--previous-repo`): `apt` (needs `deb` in `formats`) writes
    /// `NAME-VERSION-apt-repo.tar.gz`, `dnf` (needs `rpm`)
    /// `NAME-VERSION-dnf-repo.tar.gz`; both are signed with `[sign]`'s
    /// gpg key [default: none].
    #[serde(default)]
    pub repositories: Vec<Repository>,
    /// Keep the versions the previous trees hold beside this release's
    /// (`false`: only the newest version of each package stays, like
    /// `relkit apt-repo/dnf-repo --only-latest`) [default: true].
    #[serde(default = "default_true")]
    pub repositories_keep_older: bool,
    /// The previously published trees (`DIR/apt`, `DIR/dnf`), from
    /// `relkit dist`/`relkit finalize --previous-repo DIR`; not read from
    /// relkit.toml.
    #[serde(skip)]
    pub previous_repo: Option<PathBuf>,
}

/// A package repository relkit can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repository {
    /// A signed static APT repository of the `.deb` packages.
    Apt,
    /// A signed static DNF/YUM repository of the `.rpm` packages.
    Dnf,
}

/// Package formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageFormat {
    /// A Debian package, `NAME_VERSION_ARCH.deb`.
    Deb,
    /// An RPM package, `NAME-VERSION-RELEASE.ARCH.rpm`, signed with the
    /// release's OpenPGP key (`[sign] gpg-…`) when one is configured.
    Rpm,
}

fn default_formats() -> Vec<PackageFormat> {
    vec![PackageFormat::Deb]
}

/// `[package.completions]`: one script per shell.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completions {
    /// bash completion script.
    pub bash: Option<PathBuf>,
    /// zsh completion script (`_NAME`).
    pub zsh: Option<PathBuf>,
    /// fish completion script.
    pub fish: Option<PathBuf>,
}

/// `[package.deb]`: relationships in Debian's syntax, one clause per
/// string (`"libc6 (>= 2.31)"`, `"foo | bar"`), and the packaging revision.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deb {
    /// Packaging revision: `1` makes version `1.2.3-1` [default: none].
    pub revision: Option<String>,
    /// Packages needed to run.
    #[serde(default)]
    pub depends: Vec<String>,
    /// Packages wanted in all usual installs.
    #[serde(default)]
    pub recommends: Vec<String>,
    /// Packages that cannot be installed together with this one.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// Virtual packages this one provides.
    #[serde(default)]
    pub provides: Vec<String>,
}

/// `[package.rpm]`: the packaging release, group and vendor, and
/// dependencies in rpm's syntax, one clause per string (`"glibc >= 2.28"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rpm {
    /// Packaging release: `1` makes `NAME-1.2.3-1.ARCH.rpm` [default: `1`].
    #[serde(default = "default_release")]
    pub release: String,
    /// Package group [default: `Unspecified`].
    pub group: Option<String>,
    /// Who distributes the package.
    pub vendor: Option<String>,
    /// Packages or capabilities needed to run.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Weak dependencies, installed when available.
    #[serde(default)]
    pub recommends: Vec<String>,
    /// Packages that cannot be installed together with this one.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// Capabilities this package provides besides its name.
    #[serde(default)]
    pub provides: Vec<String>,
}

impl Default for Rpm {
    fn default() -> Self {
        Rpm {
            release: default_release(),
            group: None,
            vendor: None,
            requires: Vec::new(),
            recommends: Vec::new(),
            conflicts: Vec::new(),
            provides: Vec::new(),
        }
    }
}

fn default_release() -> String {
    "1".to_owned()
}

fn default_true() -> bool {
    true
}

//! relkit-linux-pkg: Linux packages built from a release's binaries, as
//! byte-reproducible as the archives: `.deb` today (see [`deb`]). A
//! [`Package`] says what goes in, in words every format shares; each format
//! checks the names and version against its own rules before writing a byte.

pub mod apt_repo;
pub mod ar;
pub mod deb;
pub mod debian;
pub mod dnf_repo;
pub mod layout;
pub mod rpm;
pub mod rpm_rules;
pub mod scripts;

use std::path::PathBuf;

use relkit_core::target::Target;
use relkit_core::version::Version;

pub use layout::{Contents, Shell};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem with an input or output, from relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
}

impl relkit_core::HasFailure for Error {
    fn failure(&self) -> relkit_core::Failure {
        match self {
            Error::Core(e) => e.failure(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Core(e.into())
    }
}

/// Shorthand for a bad-input error naming `field`.
pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Core(relkit_core::Error::invalid(field, message))
}

/// One package: its metadata and its files, independent of the format.
#[derive(Debug, Clone)]
pub struct Package {
    /// Package name (checked by each format's rules).
    pub name: String,
    /// The release version (semver), turned into each format's version.
    pub version: Version,
    /// The target the binaries were built for; decides the architecture.
    pub target: Target,
    /// `Name <email>` of whoever answers for the package.
    pub maintainer: String,
    /// One line saying what the package is.
    pub summary: String,
    /// Longer description (paragraphs separated by blank lines).
    pub description: Option<String>,
    /// Project home page.
    pub homepage: Option<String>,
    /// License, as an SPDX expression (`MIT`, `Apache-2.0 OR MIT`).
    pub license: Option<String>,
    /// The license's full text, for the package's copyright file.
    pub license_text: Option<String>,
    /// The copyright notice (`2024 Jane Doe`) [default: the release year
    /// and `NAME contributors`].
    pub copyright: Option<String>,
    /// Debian section (`utils`, `admin`, `net`, …).
    pub section: String,
    /// Debian priority (`optional`).
    pub priority: String,
    /// Relationships to other packages, in the format's own syntax.
    pub relations: Relations,
    /// The files installed, with absolute destination paths.
    pub files: Vec<File>,
    /// The systemd unit's file name, when the package ships one (its file
    /// is among `files`, under `/usr/lib/systemd/system`).
    pub systemd_unit: Option<String>,
    /// Time of every entry (SOURCE_DATE_EPOCH).
    pub epoch: i64,
}

/// Dependencies and the like: each entry is one clause (`libc6 (>= 2.31)`,
/// `foo | bar`), written as the format expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Needed to run.
    pub depends: Vec<String>,
    /// Wanted in all usual installs.
    pub recommends: Vec<String>,
    /// Cannot be installed together.
    pub conflicts: Vec<String>,
    /// Virtual packages this one provides.
    pub provides: Vec<String>,
}

/// One installed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Absolute path where it is installed (`/usr/bin/tool`).
    pub dest: String,
    /// Its bytes.
    pub source: Source,
    /// Permission bits (0755 or 0644).
    pub mode: u32,
    /// A configuration file the administrator may edit: the package manager
    /// keeps their changes on upgrade.
    pub conffile: bool,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Streamed from disk (binaries may be large).
    Path(PathBuf),
    /// Made here (compressed man pages, the copyright file).
    Bytes(Vec<u8>),
}

/// What one package build wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The package file.
    pub path: PathBuf,
    /// Its lowercase hex sha256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

//! Build targets: Rust triples (`x86_64-unknown-linux-gnu`), Go pairs
//! (`linux/amd64`) and Terraform platforms (`linux_amd64`), mapped onto one
//! os/arch vocabulary (Go's, which Terraform shares) with per-target
//! defaults such as the `.exe` suffix and the archive format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Archive formats relkit writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveFormat {
    /// gzip-compressed tar, the default on unix targets.
    #[serde(rename = "tar.gz")]
    TarGz,
    /// xz-compressed tar.
    #[serde(rename = "tar.xz")]
    TarXz,
    /// zstd-compressed tar.
    #[serde(rename = "tar.zst")]
    TarZst,
    /// zip, the default on windows targets.
    #[serde(rename = "zip")]
    Zip,
}

impl ArchiveFormat {
    /// Every format, in the order help text lists them.
    pub const ALL: [ArchiveFormat; 4] = [Self::TarGz, Self::TarXz, Self::TarZst, Self::Zip];

    /// The file extension, without the leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::TarGz => "tar.gz",
            Self::TarXz => "tar.xz",
            Self::TarZst => "tar.zst",
            Self::Zip => "zip",
        }
    }
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for ArchiveFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|f| f.extension() == s || (s == "tgz" && *f == Self::TarGz))
            .ok_or_else(|| {
                Error::invalid(
                    "--format",
                    format!(
                        "`{s}` is not a known format (expected tar.gz, tar.xz, tar.zst or zip)"
                    ),
                )
            })
    }
}

/// How a target was spelled, which decides its canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Spelling {
    /// A Rust target triple; the canonical name is the triple.
    RustTriple,
    /// A Go `GOOS/GOARCH` pair or Terraform `os_arch`; the canonical name
    /// is `os-arch`.
    Pair,
}

/// A parsed build target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    name: String,
    os: &'static str,
    arch: &'static str,
    spelling: Spelling,
}

/// Operating systems in Go's vocabulary, with the words that name them in a
/// Rust triple.
const OSES: &[(&str, &[&str])] = &[
    ("android", &["android", "androideabi"]),
    ("linux", &["linux"]),
    ("darwin", &["darwin", "macos"]),
    ("windows", &["windows"]),
    ("freebsd", &["freebsd"]),
    ("netbsd", &["netbsd"]),
    ("openbsd", &["openbsd"]),
    ("dragonfly", &["dragonfly"]),
    ("illumos", &["illumos"]),
    ("solaris", &["solaris"]),
];

/// Architectures in Go's vocabulary, with the first component of Rust
/// triples that map to them.
const ARCHES: &[(&str, &[&str])] = &[
    ("amd64", &["x86_64"]),
    ("arm64", &["aarch64", "arm64"]),
    ("386", &["i686", "i586", "i386"]),
    (
        "arm",
        &["arm", "armv5te", "armv6", "armv7", "armv7a", "thumbv7neon"],
    ),
    ("riscv64", &["riscv64gc", "riscv64"]),
    ("ppc64le", &["powerpc64le"]),
    ("ppc64", &["powerpc64"]),
    ("s390x", &["s390x"]),
    ("loong64", &["loongarch64"]),
    ("mips64le", &["mips64el"]),
    ("mips64", &["mips64"]),
    ("mipsle", &["mipsel"]),
    ("mips", &["mips"]),
];

impl Target {
    /// Parse a Rust triple, a Go pair (`linux/amd64`, `linux-amd64`) or a
    /// Terraform platform (`linux_amd64`).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let unknown = || {
            Error::invalid(
                "--target",
                format!(
                    "`{raw}` is not a known target (expected a Rust triple such as \
                     x86_64-unknown-linux-gnu or an os/arch pair such as linux/amd64)"
                ),
            )
        };
        if raw.is_empty()
            || !raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_/.".contains(&b))
        {
            return Err(unknown());
        }
        let parts: Vec<&str> = raw.split(['/', '_', '-']).collect();
        // A pair: exactly two parts, os first, in Go's own words.
        if parts.len() == 2 && !raw.contains('.') {
            if let (Some(os), Some(arch)) = (go_os(parts[0]), go_arch(parts[1])) {
                return Ok(Target {
                    name: format!("{os}-{arch}"),
                    os,
                    arch,
                    spelling: Spelling::Pair,
                });
            }
            return Err(unknown());
        }
        let dashed: Vec<&str> = raw.split('-').collect();
        if dashed.len() < 2 || raw.contains('/') {
            return Err(unknown());
        }
        let arch = ARCHES
            .iter()
            .find(|(_, names)| names.contains(&dashed[0]))
            .map(|(go, _)| *go)
            .ok_or_else(unknown)?;
        let os = if dashed[1..].contains(&"apple") && dashed[1..].contains(&"darwin") {
            "darwin"
        } else {
            // `OSES` is in priority order: `aarch64-linux-android` is android.
            OSES.iter()
                .find(|(_, names)| dashed[1..].iter().any(|w| names.contains(w)))
                .map(|(go, _)| *go)
                .ok_or_else(unknown)?
        };
        Ok(Target {
            name: raw.to_owned(),
            os,
            arch,
            spelling: Spelling::RustTriple,
        })
    }

    /// The canonical name used in file names: the Rust triple as given, or
    /// `os-arch` for a pair.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating system in Go's words (`linux`, `darwin`, `windows`, …).
    pub fn os(&self) -> &'static str {
        self.os
    }

    /// The architecture in Go's words (`amd64`, `arm64`, `386`, …).
    pub fn arch(&self) -> &'static str {
        self.arch
    }

    /// How the target was spelled.
    pub fn spelling(&self) -> Spelling {
        self.spelling
    }

    /// Whether binaries for this target are Windows executables.
    pub fn is_windows(&self) -> bool {
        self.os == "windows"
    }

    /// The executable suffix: `.exe` on Windows, else empty.
    pub fn exe_suffix(&self) -> &'static str {
        if self.is_windows() { ".exe" } else { "" }
    }

    /// The archive format users of this platform expect by default.
    pub fn default_format(&self) -> ArchiveFormat {
        if self.is_windows() {
            ArchiveFormat::Zip
        } else {
            ArchiveFormat::TarGz
        }
    }

    /// The Terraform platform string, `os_arch`.
    pub fn terraform_platform(&self) -> String {
        format!("{}_{}", self.os, self.arch)
    }

    /// The target relkit itself was built for.
    pub fn host() -> Self {
        Target::parse(env!("RELKIT_HOST_TARGET")).expect("the host triple is a known target")
    }
}

fn go_os(s: &str) -> Option<&'static str> {
    OSES.iter().map(|(go, _)| *go).find(|go| *go == s)
}

fn go_arch(s: &str) -> Option<&'static str> {
    ARCHES.iter().map(|(go, _)| *go).find(|go| *go == s)
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Target::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_triples() {
        let cases = [
            ("x86_64-unknown-linux-gnu", "linux", "amd64", false),
            ("x86_64-unknown-linux-musl", "linux", "amd64", false),
            ("aarch64-unknown-linux-musl", "linux", "arm64", false),
            ("aarch64-apple-darwin", "darwin", "arm64", false),
            ("x86_64-apple-darwin", "darwin", "amd64", false),
            ("x86_64-pc-windows-msvc", "windows", "amd64", true),
            ("aarch64-pc-windows-msvc", "windows", "arm64", true),
            ("i686-pc-windows-gnu", "windows", "386", true),
            ("armv7-unknown-linux-gnueabihf", "linux", "arm", false),
            ("riscv64gc-unknown-linux-gnu", "linux", "riscv64", false),
            ("x86_64-unknown-freebsd", "freebsd", "amd64", false),
            ("aarch64-linux-android", "android", "arm64", false),
        ];
        for (triple, os, arch, windows) in cases {
            let t = Target::parse(triple).unwrap();
            assert_eq!(
                (t.os(), t.arch(), t.is_windows()),
                (os, arch, windows),
                "{triple}"
            );
            assert_eq!(t.name(), triple);
            assert_eq!(t.spelling(), Spelling::RustTriple);
            assert_eq!(t.exe_suffix(), if windows { ".exe" } else { "" });
            let fmt = if windows {
                ArchiveFormat::Zip
            } else {
                ArchiveFormat::TarGz
            };
            assert_eq!(t.default_format(), fmt);
        }
    }

    #[test]
    fn pairs() {
        for raw in ["linux/amd64", "linux_amd64", "linux-amd64"] {
            let t = Target::parse(raw).unwrap();
            assert_eq!(t.name(), "linux-amd64");
            assert_eq!(t.terraform_platform(), "linux_amd64");
            assert_eq!(t.spelling(), Spelling::Pair);
        }
        let w = Target::parse("windows/386").unwrap();
        assert_eq!(w.exe_suffix(), ".exe");
        assert_eq!(w.default_format(), ArchiveFormat::Zip);
        assert_eq!(
            Target::parse("darwin_arm64").unwrap().name(),
            "darwin-arm64"
        );
    }

    #[test]
    fn unknown_targets() {
        for bad in [
            "",
            "linux",
            "amd64/linux",
            "plan9/amd64",
            "sparc-sun-solaris",
            "x86_64-unknown-none",
            "x86_64-unknown-linux gnu",
            "../x",
            "linux/amd64/v2",
            "linux/../amd64",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("--target: `"), "{bad}: {e}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(
            "tar.zst".parse::<ArchiveFormat>().unwrap(),
            ArchiveFormat::TarZst
        );
        assert_eq!(
            "tgz".parse::<ArchiveFormat>().unwrap(),
            ArchiveFormat::TarGz
        );
        assert!("rar".parse::<ArchiveFormat>().is_err());
        assert_eq!(
            Target::host().os(),
            std::env::consts::OS.replace("macos", "darwin")
        );
    }
}

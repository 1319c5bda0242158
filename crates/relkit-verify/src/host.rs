//! This machine, as a release's targets see it: OS, CPU and C library, and
//! which of a release's targets can run here, best first.
//!
//! The fallbacks, in order: on Linux with glibc, a `*-gnu` build, then a
//! static Go-style `linux-ARCH` build, then `*-musl`; on Linux without glibc
//! (Alpine), `*-musl` then static builds only; a `*-gnu` build whose
//! binaries need a newer glibc than this machine has is skipped for the
//! next (checked on the binaries themselves, see [`glibc_needed`]). On
//! macOS on Apple silicon, arm64 then x86_64 builds (Rosetta 2); on
//! Windows on Arm, arm64 then x86_64 (emulation). On Windows, `*-msvc`
//! before `*-gnu`.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use relkit_core::target::{Spelling, Target};

/// The C library of a Linux machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Libc {
    /// glibc, with its version when known.
    Glibc(Option<(u32, u32)>),
    /// musl.
    Musl,
    /// Not Linux, or not known.
    Unknown,
}

/// The machine to install for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// OS in Go's words (`linux`, `darwin`, `windows`, …).
    pub os: &'static str,
    /// CPU in Go's words (`amd64`, `arm64`, …).
    pub arch: &'static str,
    /// The C library (Linux).
    pub libc: Libc,
}

impl Host {
    /// This machine.
    pub fn detect() -> Host {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => Target::parse(&format!("{other}/amd64")).map_or("unknown", |t| t.os()),
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "riscv64" => "riscv64",
            "s390x" => "s390x",
            "loongarch64" => "loong64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            _ => "unknown",
        };
        let libc = if os == "linux" {
            detect_libc()
        } else {
            Libc::Unknown
        };
        Host { os, arch, libc }
    }

    /// How well `target` fits this machine: lower is better, `None` when it
    /// cannot run here.
    pub fn rank(&self, target: &Target) -> Option<u8> {
        if target.os() != self.os {
            return None;
        }
        let arch = if target.arch() == self.arch {
            0
        } else if matches!(self.os, "darwin" | "windows")
            && self.arch == "arm64"
            && target.arch() == "amd64"
        {
            // Rosetta 2 / Windows' x64 emulation.
            10
        } else {
            return None;
        };
        let name = target.name();
        let kind = if self.os == "linux" {
            let statically = target.spelling() == Spelling::Pair;
            let musl = name.contains("musl");
            let gnu = name.contains("gnu");
            match self.libc {
                Libc::Glibc(_) if gnu => 0,
                Libc::Glibc(_) if statically => 1,
                Libc::Glibc(_) if musl => 2,
                Libc::Musl if musl => 0,
                Libc::Musl if statically => 1,
                Libc::Unknown if statically => 0,
                Libc::Unknown if musl => 1,
                Libc::Unknown if gnu => 2,
                _ => return None,
            }
        } else if self.os == "windows" {
            u8::from(name.contains("-gnu"))
        } else {
            0
        };
        Some(arch + kind)
    }

    /// The target names of `targets` that run here, best first.
    pub fn candidates<'a>(&self, targets: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut ranked: Vec<(u8, String)> = targets
            .into_iter()
            .filter_map(|t| {
                let parsed = Target::parse(t).ok()?;
                Some((self.rank(&parsed)?, t.to_owned()))
            })
            .collect();
        ranked.sort();
        ranked.dedup();
        ranked.into_iter().map(|(_, t)| t).collect()
    }

    /// This machine in words, for messages.
    pub fn describe(&self) -> String {
        let libc = match self.libc {
            Libc::Glibc(Some((a, b))) => format!(", glibc {a}.{b}"),
            Libc::Glibc(None) => ", glibc".to_owned(),
            Libc::Musl => ", musl".to_owned(),
            Libc::Unknown => String::new(),
        };
        format!("{}/{}{libc}", self.os, self.arch)
    }
}

fn detect_libc() -> Libc {
    // `getconf GNU_LIBC_VERSION` prints `glibc 2.36` on glibc systems only.
    if let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output()
        && out.status.success()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(v) = text.trim().strip_prefix("glibc ") {
            return Libc::Glibc(parse_version(v));
        }
    }
    let musl = ["/lib", "/usr/lib"].iter().any(|d| {
        fs_err::read_dir(d).is_ok_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("ld-musl-")))
        })
    });
    if musl { Libc::Musl } else { Libc::Unknown }
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| {
        let digits: String = m.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })?;
    Some((major, minor))
}

/// The newest glibc symbol version an ELF binary asks for (`GLIBC_2.34`…),
/// read from its version-needs strings; `None` for a binary that needs none
/// (static, musl, not ELF).
pub fn glibc_needed(path: &Path) -> std::io::Result<Option<(u32, u32)>> {
    const TAG: &[u8] = b"GLIBC_";
    let mut file = fs_err::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut best: Option<(u32, u32)> = None;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        let mut i = 0;
        while let Some(pos) = find(&carry[i..], TAG) {
            let start = i + pos + TAG.len();
            let end = carry[start..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'.'))
                .map(|p| start + p);
            let Some(end) = end else { break };
            if let Some(v) = std::str::from_utf8(&carry[start..end])
                .ok()
                .and_then(parse_version)
            {
                best = best.max(Some(v));
            }
            i = end;
        }
        // Keep a tail that may hold a tag cut by the read (finding one twice
        // is harmless).
        let keep_from = carry.len().saturating_sub(32);
        carry.drain(..keep_from);
    }
    Ok(best)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(libc: Libc) -> Host {
        Host {
            os: "linux",
            arch: "amd64",
            libc,
        }
    }

    const TARGETS: [&str; 6] = [
        "x86_64-unknown-linux-musl",
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ];

    #[test]
    fn glibc_prefers_gnu_then_musl() {
        assert_eq!(
            linux(Libc::Glibc(Some((2, 36)))).candidates(TARGETS),
            ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]
        );
    }

    #[test]
    fn musl_never_takes_gnu() {
        assert_eq!(
            linux(Libc::Musl).candidates(TARGETS),
            ["x86_64-unknown-linux-musl"]
        );
    }

    #[test]
    fn go_pairs_are_static() {
        assert_eq!(
            linux(Libc::Musl).candidates(["linux-amd64", "linux-arm64", "darwin-amd64"]),
            ["linux-amd64"]
        );
    }

    #[test]
    fn apple_silicon_falls_back_to_rosetta() {
        let mac = Host {
            os: "darwin",
            arch: "arm64",
            libc: Libc::Unknown,
        };
        assert_eq!(
            mac.candidates(TARGETS),
            ["aarch64-apple-darwin", "x86_64-apple-darwin"]
        );
        let intel = Host {
            arch: "amd64",
            ..mac
        };
        assert_eq!(intel.candidates(TARGETS), ["x86_64-apple-darwin"]);
    }

    #[test]
    fn no_candidate_for_another_os() {
        let bsd = Host {
            os: "freebsd",
            arch: "amd64",
            libc: Libc::Unknown,
        };
        assert!(bsd.candidates(TARGETS).is_empty());
    }

    #[test]
    fn glibc_versions_from_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bin");
        let mut bytes = vec![0u8; 3 << 20];
        bytes.extend_from_slice(b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0GLIBC_PRIVATE\0");
        fs_err::write(&f, &bytes).unwrap();
        assert_eq!(glibc_needed(&f).unwrap(), Some((2, 34)));
        fs_err::write(&f, b"static binary").unwrap();
        assert_eq!(glibc_needed(&f).unwrap(), None);
        assert_eq!(parse_version("2.36"), Some((2, 36)));
        assert_eq!(parse_version("2"), Some((2, 0)));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn this_machine_is_linux_with_glibc() {
        // The test machines are Debian: glibc, found by getconf.
        let host = Host::detect();
        assert_eq!(host.os, "linux");
        assert!(matches!(host.libc, Libc::Glibc(Some(_))), "{host:?}");
    }
}

//! RPM's rules for what goes in a package header: names, versions and
//! releases, architectures, and dependency clauses. Each check names the
//! relkit.toml field at fault in one line.

use relkit_core::names::shown;
use relkit_core::target::Target;
use relkit_core::version::Version;

use crate::{Error, invalid};

/// Whether `name` is an RPM package name: ASCII letters, digits, `-`, `.`,
/// `_` and `+`, starting with a letter or digit (rpm refuses a leading `-`
/// and any white space; Fedora's naming guidelines allow nothing else).
pub fn check_name(field: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "`{}` is not an RPM package name (letters, digits, `-`, `.`, `_` and `+`, \
                 starting with a letter or digit)",
                shown(name)
            ),
        ))
    }
}

/// Characters rpm allows in a Version or Release (`-` separates them, so
/// neither may hold one).
fn version_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~^".contains(&b))
}

/// The RPM version of a release: a pre-release sorts before its release
/// (`1.2.3-rc.1` becomes `1.2.3~rc.1`), build metadata follows a `+`.
pub fn version(field: &str, v: &Version) -> Result<String, Error> {
    let s = v.semver();
    let mut out = format!("{}.{}.{}", s.major, s.minor, s.patch);
    if !s.pre.is_empty() {
        out.push('~');
        out.push_str(s.pre.as_str());
    }
    if !s.build.is_empty() {
        out.push('+');
        out.push_str(s.build.as_str());
    }
    if version_chars(&out) {
        Ok(out)
    } else {
        Err(invalid(
            field,
            format!(
                "`{v}` gives the RPM version `{}`, which may not hold a `-` \
                 (letters, digits, `.`, `_`, `+`, `~` and `^` only)",
                shown(&out)
            ),
        ))
    }
}

/// Check the packaging release (`1`, `2.el9`).
pub fn check_release(field: &str, release: &str) -> Result<(), Error> {
    if version_chars(release) && release.len() <= 64 {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "`{}` is not an RPM release (letters, digits, `.`, `_`, `+`, `~` and `^`, no `-`)",
                shown(release)
            ),
        ))
    }
}

/// The RPM architecture of a Linux target (glibc and musl alike).
pub fn arch(target: &Target) -> Result<&'static str, Error> {
    let name = target.name();
    let arch = match (target.os(), target.arch()) {
        ("linux", "amd64") => Some("x86_64"),
        ("linux", "arm64") => Some("aarch64"),
        ("linux", "386") => Some("i686"),
        // Hard-float ARMv7 only, as for Debian's armhf.
        ("linux", "arm")
            if name.starts_with("armv7")
                || name.starts_with("thumbv7neon")
                || !name.contains("unknown") =>
        {
            Some("armv7hl")
        }
        _ => None,
    };
    arch.ok_or_else(|| {
        invalid(
            "--target",
            format!(
                "`{name}` has no RPM architecture relkit packages for \
                 (x86_64, aarch64, armv7 → armv7hl, i686, on Linux)"
            ),
        )
    })
}

/// The `NAME(ISA)` provide rpmbuild adds for an architecture, so that
/// other packages can require this one for a given ABI.
pub(crate) fn isa(arch: &str) -> &'static str {
    match arch {
        "x86_64" => "x86-64",
        "aarch64" => "aarch-64",
        "i686" => "x86-32",
        _ => "arm-32",
    }
}

/// Comparison bits of a dependency (rpmds.h).
pub(crate) const LESS: u32 = 0x02;
pub(crate) const GREATER: u32 = 0x04;
pub(crate) const EQUAL: u32 = 0x08;

/// One dependency: name, comparison flags and version (`""` for none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dependency {
    /// What is needed (a package name, a file path or a capability).
    pub name: String,
    /// `LESS`, `GREATER`, `EQUAL` bits.
    pub flags: u32,
    /// The version compared against, or empty.
    pub version: String,
}

/// Parse one clause as rpm spec files write it: `name`, or `name OP
/// VERSION` with OP one of `<`, `<=`, `=`, `>=`, `>`. Rich dependencies
/// (`(a or b)`) are not accepted.
pub fn dependency(field: &str, clause: &str) -> Result<Dependency, Error> {
    let bad = |why: &str| invalid(field, format!("`{}` {why}", shown(clause)));
    if clause.chars().any(char::is_control) || clause.contains(',') {
        return Err(bad(
            "must be one clause on one line (list several as separate strings)",
        ));
    }
    let words: Vec<&str> = clause.split_whitespace().collect();
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(['-', '('])
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._+/()".contains(&b) || b == b':')
    };
    match words.as_slice() {
        [name] if name_ok(name) => Ok(Dependency {
            name: (*name).to_owned(),
            flags: 0,
            version: String::new(),
        }),
        [name, op, ver] if name_ok(name) => {
            let flags = match *op {
                "<" => LESS,
                "<=" => LESS | EQUAL,
                "=" | "==" => EQUAL,
                ">=" => GREATER | EQUAL,
                ">" => GREATER,
                _ => return Err(bad("has an unknown comparison (use <, <=, =, >= or >)")),
            };
            let (epoch, rest) = ver.split_once(':').unwrap_or(("0", ver));
            let (v, r) = rest.split_once('-').unwrap_or((rest, "1"));
            if !epoch.bytes().all(|b| b.is_ascii_digit()) || !version_chars(v) || !version_chars(r)
            {
                return Err(bad("has a version that is not [EPOCH:]VERSION[-RELEASE]"));
            }
            Ok(Dependency {
                name: (*name).to_owned(),
                flags,
                version: (*ver).to_owned(),
            })
        }
        _ => Err(bad(
            "is not `name` or `name OP VERSION` (rich dependencies are not supported)",
        )),
    }
}

/// Check a one-line text field (summary, group, vendor, url).
pub(crate) fn check_line(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() || value.chars().any(char::is_control) || value.len() > max {
        return Err(invalid(
            field,
            format!(
                "`{}` must be one non-empty line of at most {max} characters",
                shown(value)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse("version", s).unwrap()
    }

    #[test]
    fn versions_sort_the_rpm_way() {
        assert_eq!(version("v", &v("1.2.3")).unwrap(), "1.2.3");
        assert_eq!(version("v", &v("1.2.3-rc.1")).unwrap(), "1.2.3~rc.1");
        assert_eq!(version("v", &v("1.2.3+g1a.2")).unwrap(), "1.2.3+g1a.2");
        let e = version("version", &v("1.0.0-rc-1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("version: `1.0.0-rc-1` gives the RPM version `1.0.0~rc-1`"),
            "{e}"
        );
        assert!(check_release("r", "1").is_ok());
        assert!(check_release("r", "2.el9").is_ok());
        for bad in ["", "1-2", "1 2", "ä"] {
            assert!(check_release("r", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arches_map_from_targets() {
        let a = |t: &str| arch(&Target::parse(t).unwrap()).map_err(|e| e.to_string());
        assert_eq!(a("x86_64-unknown-linux-gnu").unwrap(), "x86_64");
        assert_eq!(a("x86_64-unknown-linux-musl").unwrap(), "x86_64");
        assert_eq!(a("aarch64-unknown-linux-gnu").unwrap(), "aarch64");
        assert_eq!(a("armv7-unknown-linux-musleabihf").unwrap(), "armv7hl");
        assert_eq!(a("i686-unknown-linux-gnu").unwrap(), "i686");
        assert_eq!(a("linux/arm").unwrap(), "armv7hl");
        assert!(a("arm-unknown-linux-gnueabi").is_err());
        assert!(a("aarch64-apple-darwin").is_err());
        let e = a("riscv64gc-unknown-linux-gnu").unwrap_err();
        assert!(
            e.starts_with("--target: `riscv64gc-unknown-linux-gnu` has no RPM"),
            "{e}"
        );
    }

    #[test]
    fn names_and_dependencies() {
        for ok in ["tool", "Tool", "lib_x+y.z-2", "7zip"] {
            assert!(check_name("n", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-tool", "to ol", "tööl", "a/b", "a,b"] {
            assert!(check_name("n", bad).is_err(), "{bad}");
        }
        assert_eq!(
            dependency("d", "glibc >= 2.28").unwrap(),
            Dependency {
                name: "glibc".into(),
                flags: GREATER | EQUAL,
                version: "2.28".into()
            }
        );
        assert_eq!(dependency("d", "/bin/sh").unwrap().flags, 0);
        assert!(dependency("d", "foo = 1:2.0-3").is_ok());
        for bad in ["a, b", "(a or b)", "a => 1", "a >= 1-2-3", "a >=", "a\n"] {
            assert!(dependency("d", bad).is_err(), "{bad}");
        }
    }
}

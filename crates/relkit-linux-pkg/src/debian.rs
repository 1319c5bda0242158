//! Debian's rules for what goes in a control file: package names, versions,
//! architectures, the maintainer field and relationship clauses. Each check
//! names the relkit.toml field at fault in one line.

use relkit_core::target::Target;
use relkit_core::version::Version;

use crate::{Error, Package, invalid};

/// Whether `name` is a Debian package name: lower-case letters, digits, `+`,
/// `-` and `.`, at least two long, starting with a letter or digit (Debian
/// Policy 5.6.1).
pub fn check_name(field: &str, name: &str) -> Result<(), Error> {
    let ok = name.len() >= 2
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "`{}` is not a Debian package name (lower-case letters, digits, `+`, `-` and `.`, \
                 at least 2 long, starting with a letter or digit)",
                relkit_core::names::shown(name)
            ),
        ))
    }
}

/// The Debian version of a release: a pre-release sorts before its release
/// (`1.0.0-rc.1` becomes `1.0.0~rc.1`), build metadata follows a `+`, and
/// `revision` (the packaging's own version) follows a `-`.
pub fn version(field: &str, v: &Version, revision: Option<&str>) -> Result<String, Error> {
    let s = v.semver();
    let mut upstream = format!("{}.{}.{}", s.major, s.minor, s.patch);
    if !s.pre.is_empty() {
        upstream.push('~');
        upstream.push_str(s.pre.as_str());
    }
    if !s.build.is_empty() {
        upstream.push('+');
        upstream.push_str(s.build.as_str());
    }
    match revision {
        Some(r) => {
            let ok = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b));
            if !ok {
                return Err(invalid(
                    "package.deb.revision",
                    format!(
                        "`{}` is not a Debian revision (letters, digits, `+`, `.` and `~`)",
                        relkit_core::names::shown(r)
                    ),
                ));
            }
            Ok(format!("{upstream}-{r}"))
        }
        None if upstream.contains('-') => Err(invalid(
            field,
            format!(
                "`{v}` gives the Debian version `{upstream}`, which may hold a `-` only \
                 before a revision (set `package.deb.revision`)"
            ),
        )),
        None => Ok(upstream),
    }
}

/// The Debian architecture of a Linux target (glibc and musl alike).
pub fn arch(target: &Target) -> Result<&'static str, Error> {
    let name = target.name();
    let arch = match (target.os(), target.arch()) {
        ("linux", "amd64") => Some("amd64"),
        ("linux", "arm64") => Some("arm64"),
        ("linux", "386") => Some("i386"),
        // Hard-float ARMv7 only: Go's linux/arm defaults to GOARM=7 with hard float.
        ("linux", "arm")
            if name.starts_with("armv7")
                || name.starts_with("thumbv7neon")
                || !name.contains("unknown") =>
        {
            Some("armhf")
        }
        _ => None,
    };
    arch.ok_or_else(|| {
        invalid(
            "--target",
            format!(
                "`{name}` has no Debian architecture relkit packages for \
                 (x86_64 → amd64, aarch64 → arm64, armv7 → armhf, i686 → i386, on Linux)"
            ),
        )
    })
}

/// Check a `Name <email>` field.
pub fn check_maintainer(field: &str, m: &str) -> Result<(), Error> {
    let parsed = m
        .strip_suffix('>')
        .and_then(|rest| rest.split_once(" <"))
        .filter(|(name, email)| {
            !name.trim().is_empty()
                && !name.contains(['<', '>', ','])
                && email.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && !host.is_empty() && !email.contains(['<', '>', ' '])
                })
        });
    if parsed.is_some() && !m.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "`{}` is not `Full Name <user@example.org>`",
                relkit_core::names::shown(m)
            ),
        ))
    }
}

/// Check one relationship clause (`libc6 (>= 2.31)`, `foo | bar`).
pub fn check_relation(field: &str, clause: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        invalid(
            field,
            format!("`{}` {why}", relkit_core::names::shown(clause)),
        )
    };
    if clause.chars().any(char::is_control) || clause.contains(',') {
        return Err(bad(
            "must be one clause on one line (list several as separate strings)",
        ));
    }
    for alt in clause.split('|') {
        let alt = alt.trim();
        let name_end = alt.find([' ', '(']).unwrap_or(alt.len());
        let (name, rest) = alt.split_at(name_end);
        // An architecture qualifier (`foo:any`) may follow the name.
        let (name, qualifier) = name.split_once(':').unwrap_or((name, "a"));
        let arch_ok = !qualifier.is_empty()
            && qualifier
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if check_name(field, name).is_err() || !arch_ok {
            return Err(bad("does not start with a Debian package name"));
        }
        let rest = rest.trim();
        if !(rest.is_empty() || rest.starts_with('(') && rest.ends_with(')')) {
            return Err(bad(
                "is not `name`, `name (OP VERSION)` or alternatives joined by `|`",
            ));
        }
    }
    Ok(())
}

/// Check a one-line text field (summary, section, priority, homepage).
fn check_line(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() || value.chars().any(char::is_control) || value.len() > max {
        return Err(invalid(
            field,
            format!(
                "`{}` must be one non-empty line of at most {max} characters",
                relkit_core::names::shown(value)
            ),
        ));
    }
    Ok(())
}

/// Check everything the control file will say, before anything is written.
pub(crate) fn check(p: &Package) -> Result<(), Error> {
    check_name("package.name", &p.name)?;
    check_maintainer("package.maintainer", &p.maintainer)?;
    // Debian Policy 3.4.1: the synopsis should be under 80 characters.
    check_line("package.description", &p.summary, 79)?;
    check_line("package.section", &p.section, 64)?;
    check_line("package.priority", &p.priority, 64)?;
    if let Some(h) = &p.homepage {
        check_line("package.homepage", h, 1024)?;
    }
    if let Some(d) = &p.description {
        if d.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid(
                "package.long-description",
                "holds a control character",
            ));
        }
    }
    let r = &p.relations;
    for (field, list) in [
        ("package.deb.depends", &r.depends),
        ("package.deb.recommends", &r.recommends),
        ("package.deb.conflicts", &r.conflicts),
        ("package.deb.provides", &r.provides),
    ] {
        for clause in list {
            check_relation(field, clause)?;
        }
    }
    Ok(())
}

/// A control-file field value continued over several lines: each line is
/// indented by one space and blank lines become ` .`.
pub(crate) fn continued(text: &str) -> String {
    let mut out = String::new();
    for line in text.trim_end().lines() {
        if line.trim().is_empty() {
            out.push_str(" .\n");
        } else {
            out.push(' ');
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse("version", s).unwrap()
    }

    #[test]
    fn versions_sort_the_debian_way() {
        assert_eq!(version("v", &v("1.2.3"), None).unwrap(), "1.2.3");
        assert_eq!(version("v", &v("1.2.3-rc.1"), None).unwrap(), "1.2.3~rc.1");
        assert_eq!(
            version("v", &v("1.2.3+g1a"), Some("2")).unwrap(),
            "1.2.3+g1a-2"
        );
        let e = version("version", &v("1.0.0-rc-1"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("version: `1.0.0-rc-1` gives the Debian version"),
            "{e}"
        );
        assert!(version("v", &v("1.0.0-rc-1"), Some("1")).is_ok());
        assert!(version("v", &v("1.0.0"), Some("1-2")).is_err());
    }

    #[test]
    fn arches_map_from_targets() {
        let a = |t: &str| arch(&Target::parse(t).unwrap()).map_err(|e| e.to_string());
        assert_eq!(a("x86_64-unknown-linux-gnu").unwrap(), "amd64");
        assert_eq!(a("x86_64-unknown-linux-musl").unwrap(), "amd64");
        assert_eq!(a("aarch64-unknown-linux-musl").unwrap(), "arm64");
        assert_eq!(a("armv7-unknown-linux-gnueabihf").unwrap(), "armhf");
        assert_eq!(a("i686-unknown-linux-gnu").unwrap(), "i386");
        assert_eq!(a("linux/arm").unwrap(), "armhf");
        assert!(a("arm-unknown-linux-gnueabi").is_err());
        assert!(a("x86_64-apple-darwin").is_err());
        assert!(a("riscv64gc-unknown-linux-gnu").is_err());
    }

    #[test]
    fn names_maintainers_and_relations() {
        assert!(check_name("n", "tool").is_ok());
        assert!(check_name("n", "lib+x.y-2").is_ok());
        for bad in ["Tool", "t", "-tool", "to_ol", "tööl", ""] {
            assert!(check_name("n", bad).is_err(), "{bad}");
        }
        assert!(check_maintainer("m", "Jane Doe <jane@example.org>").is_ok());
        for bad in [
            "Jane",
            "<jane@example.org>",
            "Jane <jane>",
            "Jane <a@b> x",
            "J\n <a@b>",
        ] {
            assert!(check_maintainer("m", bad).is_err(), "{bad}");
        }
        for ok in [
            "libc6 (>= 2.31)",
            "foo | bar (<< 2)",
            "ca-certificates",
            "foo:any",
        ] {
            assert!(check_relation("d", ok).is_ok(), "{ok}");
        }
        for bad in ["libc6, foo", "Foo", "foo >= 2", "foo\n"] {
            assert!(check_relation("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_descriptions_are_continued() {
        assert_eq!(continued("One.\n\nTwo.\n"), " One.\n .\n Two.\n");
    }
}

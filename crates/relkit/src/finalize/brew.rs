//! The Homebrew stage: `NAME.rb`, a formula installing the release's
//! binaries from its macOS archives (arm64 and x86_64) and, when there are
//! any, its Linux archives, each by URL and sha256 as the manifest records
//! them. A tap holds it as `Formula/NAME.rb` (`relkit recipes commit` puts
//! it there). Runs before `SHA256SUMS`: the formula is checksummed and
//! listed like any release file.

use std::fmt::Write as _;

use relkit_core::Error as CoreError;
use relkit_core::atomic;
use relkit_core::manifest::ArtifactKind;

use super::Context;
use super::recipes::{self, Download, Resolved};
use super::stages::Stage;
use crate::Error;

const TABLE: &str = "homebrew";

/// Writes `NAME.rb`.
pub(super) struct Homebrew;

impl Stage for Homebrew {
    fn name(&self) -> &'static str {
        "homebrew formula"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.homebrew.is_some()
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let recipe = cx
            .config
            .homebrew
            .clone()
            .expect("enabled only with [homebrew]");
        let r = recipes::resolve(cx, TABLE, &recipe)?;
        let text = formula(cx, &r)?;
        let file = recipes::file_name(TABLE, &r.name, ".rb", ArtifactKind::HomebrewFormula)?;
        let path = cx.dir.join(file);
        atomic::write_file(&path, text.as_bytes())?;
        cx.add_files(&[path])?;
        Ok(())
    }
}

/// The formula's text.
fn formula(cx: &Context<'_>, r: &Resolved) -> Result<String, Error> {
    check_name(&r.name)?;
    recipes::one_line(TABLE, "description", &r.description)?;
    recipes::one_line(TABLE, "homepage", &r.homepage)?;
    let mut platforms = Vec::new();
    for (os, block) in [("darwin", "on_macos"), ("linux", "on_linux")] {
        let mut arches = Vec::new();
        for (arch, arch_block) in [("arm64", "on_arm"), ("amd64", "on_intel")] {
            if let Some(d) = recipes::download(cx, r, TABLE, os, arch)? {
                arches.push((arch_block, d));
            }
        }
        if !arches.is_empty() {
            platforms.push((block, arches));
        }
    }
    if !platforms.iter().any(|(b, _)| *b == "on_macos") {
        return Err(CoreError::invalid(
            TABLE,
            "the release has no macOS archive (aarch64-apple-darwin or x86_64-apple-darwin) for the formula",
        )
        .into());
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} {} from its release manifest; written by relkit {}.",
        r.name,
        cx.release.version,
        relkit_core::TOOL_VERSION
    );
    let _ = writeln!(s, "class {} < Formula", class_name(&r.name));
    let _ = writeln!(s, "  desc {}", ruby_string(&r.description));
    let _ = writeln!(s, "  homepage {}", ruby_string(&r.homepage));
    let _ = writeln!(
        s,
        "  version {}",
        ruby_string(&cx.release.version.to_string())
    );
    if let Some(l) = &r.license {
        let _ = writeln!(s, "  license {}", license(l)?);
    }
    for (block, arches) in &platforms {
        let _ = writeln!(s, "\n  {block} do");
        for (arch_block, d) in arches {
            write_download(&mut s, arch_block, d);
        }
        let _ = writeln!(s, "  end");
    }
    let _ = writeln!(s, "\n  def install");
    for b in &r.binaries {
        let _ = writeln!(s, "    bin.install {}", ruby_string(b));
    }
    let _ = writeln!(s, "  end");
    let test_bin = r
        .binaries
        .iter()
        .find(|b| **b == r.name)
        .unwrap_or(&r.binaries[0]);
    let _ = writeln!(s, "\n  test do");
    let quoted = ruby_string(test_bin);
    let _ = writeln!(
        s,
        "    system \"#{{bin}}/{}\", \"--version\"",
        &quoted[1..quoted.len() - 1]
    );
    let _ = writeln!(s, "  end\nend");
    Ok(s)
}

fn write_download(s: &mut String, block: &str, d: &Download<'_>) {
    let _ = writeln!(s, "    {block} do");
    let _ = writeln!(s, "      url {}", ruby_string(&d.url));
    let _ = writeln!(s, "      sha256 {}", ruby_string(&d.archive.sha256));
    let _ = writeln!(s, "    end");
}

/// A Ruby double-quoted string literal holding exactly `v` (no
/// interpolation: `#` is escaped).
fn ruby_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' | '"' | '#' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `license "MIT"`, `license any_of: ["MIT", "Apache-2.0"]`, `all_of:`.
fn license(l: &str) -> Result<String, Error> {
    let (op, ids) = recipes::license_terms(TABLE, l)?;
    let list = || {
        ids.iter()
            .map(|i| ruby_string(i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(match op {
        None => ruby_string(ids[0]),
        Some("OR") => format!("any_of: [{}]", list()),
        Some(_) => format!("all_of: [{}]", list()),
    })
}

/// Homebrew's formula names: lower case letters, digits, `-`, `_`, `.`,
/// `+`, and an optional `@VERSION` suffix (`tool@2`).
fn check_name(name: &str) -> Result<(), Error> {
    let (base, at) = match name.split_once('@') {
        Some((b, v)) => (b, Some(v)),
        None => (name, None),
    };
    let base_ok = base
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && base
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.+".contains(&b));
    let at_ok = at.is_none_or(|v| {
        v.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    });
    if base_ok && at_ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            format!("{TABLE}.name"),
            format!("`{name}` is not a Homebrew formula name (lower case letters, digits, `-_.+`, optional `@VERSION`)"),
        )
        .into())
    }
}

/// The class Homebrew expects in `Formula/NAME.rb` (its `Formulary.class_s`
/// rule): capitalised, each `-`, `_` or `.` dropped and the next letter or
/// digit upper-cased, `+` as `x`, and `@` before a digit as `AT`.
fn class_name(name: &str) -> String {
    let mut chars: Vec<char> = Vec::with_capacity(name.len());
    let mut it = name.chars().peekable();
    if let Some(first) = it.next() {
        chars.extend(first.to_uppercase());
    }
    while let Some(c) = it.next() {
        if "-_. ".contains(c) && it.peek().is_some_and(char::is_ascii_alphanumeric) {
            let next = it.next().expect("peeked");
            chars.extend(next.to_uppercase());
        } else {
            chars.extend(c.to_lowercase());
        }
    }
    let joined: String = chars.into_iter().collect::<String>().replace('+', "x");
    match joined.char_indices().find(|&(i, c)| {
        c == '@' && i > 0 && joined[i + 1..].starts_with(|d: char| d.is_ascii_digit())
    }) {
        Some((i, _)) => format!("{}AT{}", &joined[..i], &joined[i + 1..]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_follow_homebrew() {
        for (name, class) in [
            ("tool", "Tool"),
            ("my-tool", "MyTool"),
            ("a_b.c", "ABC"),
            ("foo+bar", "Fooxbar"),
            ("python@3.12", "PythonAT312"),
            ("tool2", "Tool2"),
            ("x-1", "X1"),
        ] {
            assert_eq!(class_name(name), class, "{name}");
        }
    }

    #[test]
    fn names() {
        for ok in ["tool", "my-tool", "tool@2", "lib.x", "c++"] {
            check_name(ok).unwrap();
        }
        for bad in ["Tool", "-x", "", "a b", "tool@", "tool@x", "a/b", "a\"b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_cannot_interpolate() {
        assert_eq!(ruby_string(r#"a "b" #{x} \n"#), r#""a \"b\" \#{x} \\n""#);
    }

    #[test]
    fn licenses() {
        assert_eq!(license("MIT").unwrap(), "\"MIT\"");
        assert_eq!(
            license("MIT OR Apache-2.0").unwrap(),
            "any_of: [\"MIT\", \"Apache-2.0\"]"
        );
        assert_eq!(
            license("MIT AND Zlib").unwrap(),
            "all_of: [\"MIT\", \"Zlib\"]"
        );
    }
}

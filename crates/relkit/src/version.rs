//! Which version and tag a release has, found the same way by `relkit
//! dist`, `relkit build`, `relkit plan` and `relkit finalize`: given, else
//! a tag in `GITHUB_REF`, else `Cargo.toml`'s version, else the git tag on
//! HEAD (Go projects have no Cargo.toml: their tag is their version).

use std::path::Path;
use std::process::{Command, Stdio};

use relkit_core::version::Version;

use crate::Error;

/// The tag `GITHUB_REF` names, when it names one.
pub fn github_ref_tag() -> Option<String> {
    std::env::var("GITHUB_REF")
        .ok()
        .and_then(|r| r.strip_prefix("refs/tags/").map(str::to_owned))
}

/// The version: given, else a tag in GITHUB_REF, else Cargo.toml's, else a
/// tag pointing at HEAD.
pub fn resolve(given: Option<&str>) -> Result<Version, Error> {
    if let Some(v) = given {
        return Ok(Version::parse("--version", v)?);
    }
    if let Some(tag) = github_ref_tag() {
        return Ok(Version::parse("GITHUB_REF", &tag)?);
    }
    if let Some(v) = cargo_version(Path::new("Cargo.toml"))? {
        return Ok(Version::parse("Cargo.toml version", &v)?);
    }
    if let Some(tag) = head_tag() {
        return Ok(Version::parse("the git tag on HEAD", &tag)?);
    }
    Err(relkit_core::Error::invalid(
        "--version",
        "is required: no version in relkit.toml, no tag in GITHUB_REF, no version in Cargo.toml and no tag on HEAD",
    )
    .into())
}

/// The tag: given, else GITHUB_REF's, else `v` + version.
pub fn tag(given: Option<&str>, version: &Version) -> Result<String, Error> {
    let tag = given
        .map(str::to_owned)
        .or_else(github_ref_tag)
        .unwrap_or_else(|| version.tag());
    relkit_core::names::check_tag("--tag", &tag)?;
    Ok(tag)
}

fn cargo_version(cargo: &Path) -> Result<Option<String>, Error> {
    if !cargo.is_file() {
        return Ok(None);
    }
    let text = relkit_core::input::read_text(cargo, relkit_core::input::Limit::CONFIG)?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
        path: cargo.to_path_buf(),
        message: e.message().to_owned(),
    })?;
    Ok(["package", "workspace"].iter().find_map(|section| {
        let table = doc.get(*section)?.as_table()?;
        let table = if *section == "workspace" {
            table.get("package")?.as_table()?
        } else {
            table
        };
        table.get("version")?.as_str().map(str::to_owned)
    }))
}

/// The newest version tag pointing at HEAD, if git knows one.
fn head_tag() -> Option<String> {
    let out = Command::new("git")
        .args([
            "tag",
            "--points-at",
            "HEAD",
            "--sort=-v:refname",
            "--list",
            "v[0-9]*",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

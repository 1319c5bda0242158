//! What the Homebrew formula and the Scoop manifest share: the recipe's
//! settings resolved against `[package]` and the GitHub repository, and
//! the archive each platform installs from, with its download URL and the
//! folder its binaries sit in.

use relkit_core::Error as CoreError;
use relkit_core::manifest::{Artifact, ArtifactKind};
use relkit_core::target::Target;

use super::Context;
use crate::Error;
use crate::config::Recipe;

/// A recipe's settings with every default filled in.
pub(super) struct Resolved {
    /// Formula or app name (the file name).
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub license: Option<String>,
    pub binaries: Vec<String>,
    /// `OWNER/REPO` on GitHub, when known.
    pub repository: Option<String>,
    /// The folder the release's files are downloaded from.
    pub base_url: String,
}

/// Fill in `recipe` (the `[table]` named `table`) from `[package]`, the
/// project and the GitHub repository.
pub(super) fn resolve(cx: &Context<'_>, table: &str, recipe: &Recipe) -> Result<Resolved, Error> {
    let package = cx.config.package.as_ref();
    let field = |f: &str| format!("{table}.{f}");
    let repository = recipe
        .repository
        .clone()
        .or_else(super::installer::github_repository);
    if let Some(r) = &repository {
        let ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !r.split_once('/').is_some_and(|(o, n)| ok(o) && ok(n)) {
            return Err(CoreError::invalid(
                field("repository"),
                format!("`{r}` is not OWNER/REPO"),
            )
            .into());
        }
    }
    let description = recipe
        .description
        .clone()
        .or_else(|| package.map(|p| p.description.clone()))
        .ok_or_else(|| {
            CoreError::invalid(
                field("description"),
                "is required (or `description` in [package])",
            )
        })?;
    let homepage = recipe
        .homepage
        .clone()
        .or_else(|| package.and_then(|p| p.homepage.clone()))
        .or_else(|| {
            repository
                .as_ref()
                .map(|r| format!("https://github.com/{r}"))
        })
        .ok_or_else(|| {
            CoreError::invalid(
                field("homepage"),
                "is required outside GitHub Actions (or `homepage` in [package])",
            )
        })?;
    if !(homepage.starts_with("https://") || homepage.starts_with("http://")) {
        return Err(CoreError::invalid(
            field("homepage"),
            format!("`{homepage}` is not an http(s) URL"),
        )
        .into());
    }
    let base_url = super::installer::base_url(cx).ok_or_else(|| {
        CoreError::invalid(
            field("url"),
            "no download URL: set `[installer] base-url` or run in GitHub Actions",
        )
    })?;
    let binaries = recipe
        .binaries
        .clone()
        .unwrap_or_else(|| cx.config.binaries.clone());
    if binaries.is_empty() {
        return Err(CoreError::invalid(field("binaries"), "names no binary to install").into());
    }
    Ok(Resolved {
        name: recipe
            .name
            .clone()
            .unwrap_or_else(|| cx.release.name.clone()),
        description,
        homepage,
        license: recipe
            .license
            .clone()
            .or_else(|| package.and_then(|p| p.license.clone())),
        binaries,
        repository,
        base_url,
    })
}

/// One platform's archive as a recipe names it.
pub(super) struct Download<'a> {
    pub archive: &'a Artifact,
    /// The archive's download URL.
    pub url: String,
    /// The folder inside the archive holding the binaries.
    pub folder: String,
}

/// The archive for `os`/`arch` (Go's words), if the release has one: on
/// Linux a static musl build is preferred over a glibc one. Every binary
/// must be in it, at the top of its one folder.
pub(super) fn download<'a>(
    cx: &'a Context<'_>,
    r: &Resolved,
    table: &str,
    os: &str,
    arch: &str,
) -> Result<Option<Download<'a>>, Error> {
    let mut found: Vec<&Artifact> = cx
        .manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Archive)
        .filter(|a| {
            a.target
                .as_deref()
                .and_then(|t| Target::parse(t).ok())
                .is_some_and(|t| t.os() == os && t.arch() == arch)
        })
        .collect();
    found.sort_by_key(|a| (!a.target.as_deref().unwrap_or("").contains("musl"), &a.file));
    let Some(archive) = found.first().copied() else {
        return Ok(None);
    };
    let exe = if os == "windows" { ".exe" } else { "" };
    let mut folder: Option<String> = None;
    for b in &r.binaries {
        let want = format!("{b}{exe}");
        let at = archive
            .contents
            .iter()
            .filter(|c| c.executable)
            .find_map(|c| match c.path.split_once('/') {
                Some((dir, name)) if name == want => Some(dir.to_owned()),
                _ => None,
            })
            .ok_or_else(|| {
                CoreError::invalid(
                    format!("{table}.binaries"),
                    format!("`{}` holds no executable `{want}`", archive.name),
                )
            })?;
        if folder.as_ref().is_some_and(|f| *f != at) {
            return Err(CoreError::invalid(
                format!("{table}.binaries"),
                format!("`{}` holds the binaries in two folders", archive.name),
            )
            .into());
        }
        folder = Some(at);
    }
    Ok(Some(Download {
        archive,
        url: format!("{}/{}", r.base_url, archive.name),
        folder: folder.unwrap_or_default(),
    }))
}

/// Check a recipe file name against the kind table, so the file is read
/// back as the kind it is (a Scoop app called `manifest` would collide
/// with `manifest.json`).
pub(super) fn file_name(
    table: &str,
    name: &str,
    suffix: &str,
    kind: ArtifactKind,
) -> Result<String, Error> {
    let file = format!("{name}{suffix}");
    if ArtifactKind::from_name(&file) == kind {
        Ok(file)
    } else {
        Err(CoreError::invalid(
            format!("{table}.name"),
            format!("`{name}` would make `{file}`, a name relkit reads as another kind of file"),
        )
        .into())
    }
}

/// The SPDX identifiers of a license that is one identifier or several
/// joined by one operator: (`OR` or `AND` or none, identifiers).
pub(super) fn license_terms<'a>(
    table: &str,
    license: &'a str,
) -> Result<(Option<&'static str>, Vec<&'a str>), Error> {
    let bad = || {
        CoreError::invalid(
            format!("{table}.license"),
            format!(
                "`{license}` is not an SPDX identifier or identifiers joined by one of OR, AND"
            ),
        )
    };
    let id_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.+".contains(&b))
            && s != "OR"
            && s != "AND"
    };
    let (op, parts): (Option<&'static str>, Vec<&str>) = if license.contains(" OR ") {
        (Some("OR"), license.split(" OR ").collect())
    } else if license.contains(" AND ") {
        (Some("AND"), license.split(" AND ").collect())
    } else {
        (None, vec![license])
    };
    if parts.iter().all(|p| id_ok(p)) {
        Ok((op, parts))
    } else {
        Err(bad().into())
    }
}

/// A one-line text field: no control characters.
pub(super) fn one_line(table: &str, field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            format!("{table}.{field}"),
            "must be one non-empty line without control characters",
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses() {
        assert_eq!(license_terms("t", "MIT").unwrap(), (None, vec!["MIT"]));
        assert_eq!(
            license_terms("t", "MIT OR Apache-2.0").unwrap(),
            (Some("OR"), vec!["MIT", "Apache-2.0"])
        );
        for bad in [
            "MIT OR (Apache-2.0 AND BSD-3-Clause)",
            "MIT OR",
            "GPL-2.0 WITH x",
            "",
        ] {
            assert!(license_terms("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names_keep_their_kind() {
        assert_eq!(
            file_name("scoop", "tool", ".json", ArtifactKind::ScoopManifest).unwrap(),
            "tool.json"
        );
        for bad in ["manifest", "x.cdx", "x.part"] {
            let e = file_name("scoop", bad, ".json", ArtifactKind::ScoopManifest).unwrap_err();
            assert!(e.to_string().contains("scoop.name"), "{e}");
        }
    }
}

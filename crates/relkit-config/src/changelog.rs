//! Release notes from a Keep a Changelog file: the section whose level-2
//! heading names this version (`## [1.2.0] - 2024-05-01`, `## 1.2.0`,
//! `## [v1.2.0]`), up to the next level-2 heading or the link definitions.

use std::path::Path;

use relkit_core::Error;
use relkit_core::version::Version;

/// This version's section of the changelog at `path`, without its heading.
pub fn section(path: &Path, version: &Version) -> Result<String, Error> {
    let text = relkit_core::input::read_text(path, relkit_core::input::Limit::NOTES)?;
    section_in(&text, path, version)
}

/// [`section`] of changelog text already read; `path` names it in errors.
/// Public for the fuzz target `changelog_section` (issue 10).
pub fn section_in(text: &str, path: &Path, version: &Version) -> Result<String, Error> {
    let v = version.to_string();
    let mut lines = text.lines();
    let found = lines
        .by_ref()
        .any(|l| heading_version(l).is_some_and(|h| h == v));
    if !found {
        return Err(Error::invalid(
            format!("`{}`", path.display()),
            format!("has no section for {v} (a heading like `## [{v}] - YYYY-MM-DD`)"),
        ));
    }
    let body: Vec<&str> = lines
        .take_while(|l| !l.starts_with("## ") && !is_link_definition(l))
        .collect();
    let body = body.join("\n").trim().to_owned();
    if body.is_empty() {
        return Err(Error::invalid(
            format!("`{}`", path.display()),
            format!("the section for {v} is empty"),
        ));
    }
    Ok(body + "\n")
}

/// The version a `## ` heading names, if it is one.
fn heading_version(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("## ")?.trim();
    let word = rest.split_whitespace().next()?;
    let word = word.trim_start_matches('[').trim_end_matches(']');
    Some(word.strip_prefix('v').unwrap_or(word))
}

/// `[1.0.0]: https://…` lines close the last section.
fn is_link_definition(line: &str) -> bool {
    line.starts_with('[') && line.contains("]: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# Changelog\n\n## [Unreleased]\n\n- next\n\n## [1.2.0] - 2024-05-01\n\n### Added\n- a thing\n\n## [1.1.0] - 2024-01-01\n- old\n\n[1.2.0]: https://example.com/compare\n";

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("CHANGELOG.md");
        fs_err::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn takes_the_versions_section() {
        let (_d, p) = write(TEXT);
        let v = Version::parse("v", "1.2.0").unwrap();
        assert_eq!(section(&p, &v).unwrap(), "### Added\n- a thing\n");
        let v = Version::parse("v", "1.1.0").unwrap();
        assert_eq!(section(&p, &v).unwrap(), "- old\n");
    }

    #[test]
    fn a_missing_or_empty_section_is_one_line() {
        let (_d, p) = write(TEXT);
        let e = section(&p, &Version::parse("v", "9.9.9").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no section for 9.9.9"), "{e}");
        let (_d, p) = write("## [1.0.0]\n\n## [0.9.0]\n- x\n");
        let e = section(&p, &Version::parse("v", "1.0.0").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("the section for 1.0.0 is empty"), "{e}");
    }
}

//! Validation of names that end up in file names, archive paths, git tags
//! and GitHub release asset names: one copy of each rule, used by every
//! helper, so a bad name is refused at the first helper that sees it.

use crate::Error;
use crate::atomic::TEMP_NAME_EXTRA;
use crate::version::Version;

/// The longest file name, in bytes, that file systems (ext4, APFS, NTFS)
/// and GitHub accept.
pub const MAX_FILE_NAME: usize = 255;

/// Check that `value` can be used as one path component: non-empty, no
/// `/` or `\`, not `.` or `..`, no control characters, no leading `-`.
pub fn check_component(field: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let problem = if value == "." || value == ".." || value.contains("..") {
        Some("must not contain `..`")
    } else if value.contains('/') || value.contains('\\') {
        Some("must not contain `/` or `\\`")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if value.starts_with('-') {
        Some("must not start with `-`")
    } else if value.chars().any(char::is_whitespace) {
        Some("must not contain spaces")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(field, format!("`{}` {p}", shown(value)))),
        None => Ok(()),
    }
}

/// Check that `value` is a plain file name: non-empty, not `.` or `..`,
/// no `/` or `\\`, no control characters, at most [`MAX_FILE_NAME`] bytes.
/// Release asset names in a manifest must be.
pub fn check_file_name(field: &str, value: &str) -> Result<(), Error> {
    let problem = if value.is_empty() {
        "must not be empty"
    } else if value == "." || value == ".." || value.contains('/') || value.contains('\\') {
        "is not a plain file name (no `/`, `\\`, `.` or `..`)"
    } else if value.chars().any(char::is_control) {
        "must not contain control characters"
    } else if value.len() > MAX_FILE_NAME {
        "is longer than the 255-byte limit of a file name"
    } else {
        return Ok(());
    };
    Err(Error::invalid(
        field,
        format!("`{}` {problem}", shown(value)),
    ))
}

/// The name GitHub stores for an uploaded file name: it keeps ASCII
/// letters, digits and `-_.`, turns every other character into `.` (`+`
/// and `~` included), drops trailing periods, and puts `default` before a
/// leading one (`.config` is stored as `default.config`, as
/// softprops/action-gh-release#741 shows).
pub fn github_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .collect();
    let kept = mapped.trim_end_matches('.');
    if kept.starts_with('.') {
        format!("default{kept}")
    } else {
        kept.to_owned()
    }
}

/// Check that GitHub keeps `value` as it is in a release asset name (see
/// [`github_name`]): refusing it early beats an upload that renames it.
pub fn check_github_name(field: &str, value: &str) -> Result<(), Error> {
    let stored = github_name(value);
    if stored == value {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "`{}` would be renamed `{}` by GitHub; use only ASCII letters, digits, `-`, `_` and `.` (not first or last)",
            shown(value),
            shown(&stored)
        ),
    ))
}

/// Check that `version` can be part of a release asset name: GitHub would
/// turn the `+` of build metadata into `.`, so `+build` is refused.
pub fn check_asset_version(field: &str, version: &Version) -> Result<(), Error> {
    let build = &version.semver().build;
    if build.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "`{version}` carries build metadata `+{build}`, which GitHub would turn into `.` in asset names; leave it out"
        ),
    ))
}

/// Check that `longest`, the longest file name a helper will write, fits a
/// file name together with its temporary name's [`TEMP_NAME_EXTRA`] bytes,
/// so the flag to blame is named rather than the output folder failing later
/// with "File name too long". `parts` are the `(flag, value)` pairs the name
/// is made of; the longest value is blamed (the first of equals).
pub fn check_output_name(longest: &str, parts: &[(&str, &str)]) -> Result<(), Error> {
    let limit = MAX_FILE_NAME - TEMP_NAME_EXTRA;
    if longest.len() <= limit {
        return Ok(());
    }
    let (field, value) = parts
        .iter()
        .fold(None, |best: Option<(&str, &str)>, &(f, v)| match best {
            Some((_, b)) if b.len() >= v.len() => best,
            _ => Some((f, v)),
        })
        .unwrap_or(("output", longest));
    Err(Error::invalid(
        field,
        format!(
            "`{}` is too long: the output `{}` would be {} bytes, over the {limit} bytes a file name can take here (GitHub and file systems allow {MAX_FILE_NAME}, less {TEMP_NAME_EXTRA} for the temporary name)",
            shown(value),
            shown(longest),
            longest.len(),
        ),
    ))
}

/// Check a git tag name (what follows `refs/tags/`) by the rules of
/// `git check-ref-format`, which GitHub follows too: no empty component
/// (leading, trailing or doubled `/`), no component starting with `.` or
/// ending with `.lock`, no `..`, `@{`, lone `@`, trailing `.`, `\\`, control
/// characters, space, `~ ^ : ? * [`. A leading `-` is refused as well: git
/// commands would read the tag as an option.
pub fn check_tag(field: &str, value: &str) -> Result<(), Error> {
    match tag_problem(value) {
        None => Ok(()),
        Some(p) => Err(Error::invalid(
            field,
            format!("`{}` is not a valid git tag: {p}", shown(value)),
        )),
    }
}

fn tag_problem(tag: &str) -> Option<&'static str> {
    if tag.is_empty() {
        return Some("it is empty");
    }
    if let Some(c) = tag
        .chars()
        .find(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Some(if c.is_control() {
            "it contains a control character"
        } else {
            "it contains one of space ~ ^ : ? * [ \\"
        });
    }
    let problem = if tag.contains("..") {
        "it contains `..`"
    } else if tag.contains("@{") {
        "it contains `@{`"
    } else if tag == "@" {
        "it is `@`"
    } else if tag.starts_with('-') {
        "it starts with `-`"
    } else if tag.ends_with('.') {
        "it ends with `.`"
    } else if tag.split('/').any(str::is_empty) {
        "it has an empty path component (leading, trailing or doubled `/`)"
    } else if tag.split('/').any(|c| c.starts_with('.')) {
        "a path component starts with `.`"
    } else if tag.split('/').any(|c| c.ends_with(".lock")) {
        "a path component ends with `.lock`"
    } else if tag.split('/').any(|c| c.len() > MAX_FILE_NAME) {
        "a path component is longer than 255 bytes"
    } else {
        return None;
    };
    Some(problem)
}

/// `value` for an error message: escapes control characters (a newline
/// must not split the one error line) and shortens very long values.
pub fn shown(value: &str) -> String {
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    let escaped = escaped.replace("\\'", "'").replace("\\\"", "\"");
    if escaped.chars().count() > 80 {
        let head: String = escaped.chars().take(60).collect();
        format!("{head}… ({} bytes)", value.len())
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_tricks() {
        assert!(check_component("--name", "mytool").is_ok());
        assert!(check_component("--name", "my_tool-2.x").is_ok());
        assert_eq!(
            check_component("--name", "").unwrap_err().to_string(),
            "--name: must not be empty"
        );
        for bad in [
            ".", "..", "a/b", "a\\b", "../x", "a..b", "a\nb", "-x", "a b",
        ] {
            let e = check_component("--name", bad).unwrap_err().to_string();
            assert!(e.starts_with("--name: `"), "{e}");
        }
    }

    // issue 10.8: tags git and GitHub refuse passed.
    #[test]
    fn tags_follow_check_ref_format() {
        for good in ["v1.0.0", "v1.0.0-rc.1", "release/v2", "v1+build", "1.2.3_x"] {
            assert!(check_tag("--tag", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "v1/../../x",
            "v1.0.lock",
            "..",
            "a@{b",
            "@",
            "v1\n",
            "v1\u{7f}",
            "v1 x",
            "v1~1",
            "v1^",
            "v1:x",
            "v1?",
            "v1*",
            "v1[",
            "a\\b",
            "v1/",
            "/v1",
            "a//b",
            "v1.",
            ".v1",
            "a/.b",
            "-v1",
            "x/y.lock/z",
        ] {
            let e = check_tag("--tag", bad).unwrap_err().to_string();
            assert!(e.starts_with("--tag: `"), "{e}");
            assert!(e.contains("is not a valid git tag"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let long = format!("v{}", "1".repeat(300));
        let e = check_tag("--tag", &long).unwrap_err().to_string();
        assert!(e.contains("longer than 255 bytes") && e.len() < 200, "{e}");
    }

    #[test]
    fn github_names() {
        assert_eq!(
            github_name("tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz"),
            "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz"
        );
        assert_eq!(github_name("My App (x64).msi"), "My.App..x64..msi");
        assert_eq!(github_name(".hidden"), "default.hidden");
        assert_eq!(github_name("crème.zip"), "cr.me.zip");
        assert_eq!(github_name("tool."), "tool");
        assert!(check_github_name("--name", "tool_2-x.y").is_ok());
        let e = check_github_name("--name", ".config")
            .unwrap_err()
            .to_string();
        assert!(e.contains("would be renamed `default.config`"), "{e}");
        let e = check_github_name("--name", "outil-é")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--name: `outil-é` would be renamed `outil-` by GitHub; use only ASCII letters, digits, `-`, `_` and `.` (not first or last)"
        );
        let e = check_github_name("`bin`", "a\nb").unwrap_err().to_string();
        assert!(
            e.starts_with("`bin`: `a\\nb` would be renamed `a.b`"),
            "{e}"
        );
    }

    // issue 10.8: `+build` versions and over-long names were refused only
    // by relkit-package; provider-bundle blamed its output folder.
    #[test]
    fn asset_versions_and_output_lengths() {
        let v = |s| Version::parse("--version", s).unwrap();
        assert!(check_asset_version("--version", &v("1.0.0-rc.1")).is_ok());
        let e = check_asset_version("--version", &v("1.0.0+build.5"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--version: `1.0.0+build.5` carries build metadata `+build.5`"),
            "{e}"
        );
        let parts = [("--name", "x"), ("--version", "1.0.0")];
        assert!(check_output_name(&"x".repeat(243), &parts).is_ok());
        let e = check_output_name(&"x".repeat(244), &parts)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--version: `1.0.0` is too long"), "{e}");
        assert!(e.contains("would be 244 bytes, over the 243 bytes"), "{e}");
        let long = "n".repeat(300);
        let parts = [("--name", long.as_str()), ("--version", "1.0.0")];
        let e = check_output_name(&long, &parts).unwrap_err().to_string();
        assert!(e.starts_with("--name: `nnn"), "{e}");
        assert!(!e.contains('\n') && e.len() < 400, "{e}");
        let tie = [("--name", "ab"), ("--version", "cd")];
        let e = check_output_name(&long, &tie).unwrap_err().to_string();
        assert!(e.starts_with("--name: "), "{e}");
    }

    // issue 10.4: an asset name `../x` was accepted by merge.
    #[test]
    fn plain_file_names() {
        assert!(check_file_name("name", "a.tar.gz").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "a\nb"] {
            assert!(check_file_name("name", bad).is_err(), "{bad}");
        }
        let e = check_file_name("name", &"x".repeat(300))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("(300 bytes)` is longer than the 255-byte limit of a file name"),
            "{e}"
        );
    }
}

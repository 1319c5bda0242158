//! The build time recorded in archives and manifests: `SOURCE_DATE_EPOCH`
//! when set (the reproducible-builds convention), else the commit time of
//! HEAD, so that two builds of one commit agree to the byte.

use std::path::Path;
use std::process::Command;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// The environment variable that fixes the build time.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Parse a `SOURCE_DATE_EPOCH` value: a whole, non-negative number of
/// seconds since 1970.
pub fn parse_epoch(raw: &str) -> Result<i64, Error> {
    let trimmed = raw.trim();
    trimmed
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0 && trimmed.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::invalid(
                SOURCE_DATE_EPOCH,
                format!("`{raw}` is not a whole number of seconds since 1970"),
            )
        })
}

/// The build time in seconds since 1970: `SOURCE_DATE_EPOCH` if set, else
/// the commit time of HEAD in `repo`.
pub fn build_epoch(repo: &Path) -> Result<i64, Error> {
    if let Some(raw) = std::env::var_os(SOURCE_DATE_EPOCH) {
        return parse_epoch(&raw.to_string_lossy());
    }
    git(repo, &["log", "-1", "--format=%ct"])
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            Error::invalid(
                SOURCE_DATE_EPOCH,
                format!(
                    "unset, and `{}` has no git commit to take the time from; set it to fix the build time",
                    repo.display()
                ),
            )
        })
}

/// The commit being released: `GITHUB_SHA` in Actions, else HEAD of `repo`.
pub fn commit(repo: &Path) -> Option<String> {
    std::env::var("GITHUB_SHA")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(repo, &["rev-parse", "HEAD"]))
}

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

/// Format seconds since 1970 as RFC 3339 in UTC, e.g. `2024-01-02T03:04:05Z`.
pub fn rfc3339(epoch: i64) -> Result<String, Error> {
    OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| Error::invalid(SOURCE_DATE_EPOCH, format!("`{epoch}` is out of range")))
}

/// Parse an RFC 3339 timestamp back to seconds since 1970.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_epochs() {
        assert_eq!(parse_epoch("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_epoch(" 0\n").unwrap(), 0);
        for bad in ["", "abc", "-5", "1.5", "+3", "1e9"] {
            let e = parse_epoch(bad).unwrap_err().to_string();
            assert!(e.starts_with("SOURCE_DATE_EPOCH: "), "{e}");
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
    }
}

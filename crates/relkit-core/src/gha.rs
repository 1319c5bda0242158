//! GitHub Actions I/O: step outputs (`$GITHUB_OUTPUT`), the step summary
//! (`$GITHUB_STEP_SUMMARY`), workflow commands (`::error::`, `::group::`,
//! `::add-mask::`). Outside Actions these are quiet no-ops, so helpers call
//! them unconditionally.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

/// Whether we are running inside GitHub Actions.
pub fn is_actions() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

fn env_file(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn append(path: &Path, text: &str) -> Result<(), Error> {
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Set a step output. Multi-line values use a heredoc delimiter that the
/// value provably does not contain. No-op when `$GITHUB_OUTPUT` is unset.
pub fn set_output(name: &str, value: &str) -> Result<(), Error> {
    let Some(path) = env_file("GITHUB_OUTPUT") else {
        return Ok(());
    };
    append(&path, &format_output(name, value))
}

fn format_output(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut n = 0u32;
    let delimiter = loop {
        let d = format!("RELKIT_EOF_{n}");
        if !value.lines().any(|l| l == d) {
            break d;
        }
        n += 1;
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Append Markdown to the step summary. No-op when `$GITHUB_STEP_SUMMARY`
/// is unset.
pub fn append_summary(markdown: &str) -> Result<(), Error> {
    let Some(path) = env_file("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    append(&path, markdown)
}

/// A row of the artifact table.
pub struct ArtifactRow<'a> {
    /// File name.
    pub name: &'a str,
    /// Target, if any.
    pub target: Option<&'a str>,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256.
    pub sha256: &'a str,
}

/// A Markdown table of artifacts for the step summary.
pub fn artifact_table(title: &str, rows: &[ArtifactRow<'_>]) -> String {
    let mut s =
        format!("### {title}\n\n| name | target | size | sha256 |\n| --- | --- | ---: | --- |\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | `{}` |",
            r.name.replace('|', "\\|"),
            r.target.unwrap_or("—"),
            human_size(r.size),
            r.sha256
        );
    }
    s.push('\n');
    s
}

/// The step-summary table of every artifact of a manifest, titled with the
/// release's name and version.
pub fn manifest_table(m: &crate::manifest::Manifest) -> String {
    let rows: Vec<ArtifactRow<'_>> = m
        .artifacts
        .iter()
        .map(|a| ArtifactRow {
            name: &a.file,
            target: a.target.as_deref(),
            size: a.size,
            sha256: &a.sha256,
        })
        .collect();
    artifact_table(&format!("{} {}", m.name, m.version), &rows)
}

/// A size for people: `1.5 MiB`, `312 B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Escape the message part of a workflow command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value of a workflow command.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Print an error annotation (`::error file=…::message`) to stdout in
/// Actions, or `error: message` to stderr elsewhere.
pub fn error_annotation(message: &str, file: Option<&Path>) {
    if is_actions() {
        let props = file.map_or_else(String::new, |f| {
            format!(" file={}", escape_property(&f.to_string_lossy()))
        });
        println!("::error{props}::{}", escape_data(message));
    } else {
        eprintln!("error: {message}");
    }
}

/// Ask Actions to mask `secret` in all later log output. Call this before
/// anything could print it.
pub fn mask(secret: &str) {
    if is_actions() && !secret.is_empty() {
        for line in secret.lines().filter(|l| !l.trim().is_empty()) {
            println!("::add-mask::{}", escape_data(line));
        }
    }
}

/// A log group (`::group::` … `::endgroup::`), closed when dropped.
pub struct Group {
    open: bool,
}

/// Open a collapsible log group in Actions; a no-op elsewhere.
pub fn group(title: &str) -> Group {
    let open = is_actions();
    if open {
        println!("::group::{}", escape_data(title));
    }
    Group { open }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.open {
            println!("::endgroup::");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_single_and_multi_line() {
        assert_eq!(format_output("a", "b"), "a=b\n");
        assert_eq!(
            format_output("a", "x\ny"),
            "a<<RELKIT_EOF_0\nx\ny\nRELKIT_EOF_0\n"
        );
        // A value holding the delimiter cannot end the heredoc early.
        assert_eq!(
            format_output("a", "RELKIT_EOF_0\nz"),
            "a<<RELKIT_EOF_1\nRELKIT_EOF_0\nz\nRELKIT_EOF_1\n"
        );
    }

    #[test]
    fn manifest_table_lists_every_artifact_by_file() {
        let mut m = crate::manifest::Manifest::new("tool", "1.2.3", "1970-01-01T00:00:00Z".into());
        m.artifacts.push(crate::manifest::Artifact {
            name: "a.tar.gz".into(),
            kind: crate::manifest::ArtifactKind::Archive,
            file: "x86_64-unknown-linux-gnu/a.tar.gz".into(),
            target: Some("x86_64-unknown-linux-gnu".into()),
            size: 2048,
            sha256: "ab".repeat(32),
            contents: vec![],
            signatures: vec![],
        });
        let t = manifest_table(&m);
        assert!(t.starts_with("### tool 1.2.3\n"), "{t}");
        assert!(
            t.contains(&format!(
                "| `x86_64-unknown-linux-gnu/a.tar.gz` | x86_64-unknown-linux-gnu | 2.0 KiB | `{}` |",
                "ab".repeat(32)
            )),
            "{t}"
        );
    }

    #[test]
    fn escaping_and_sizes() {
        assert_eq!(escape_data("50%\nx"), "50%25%0Ax");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
        let t = artifact_table(
            "Artifacts",
            &[ArtifactRow {
                name: "a|b",
                target: None,
                size: 1,
                sha256: "00",
            }],
        );
        assert!(t.contains("| `a\\|b` | — | 1 B | `00` |"), "{t}");
    }
}

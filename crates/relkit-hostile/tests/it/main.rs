//! Hostile input against every helper binary: a generated corpus of bad
//! files, names and values (each must give one stderr line naming the
//! culprit, exit 1, no panic, nothing new on disk, peak RSS under 64 MB),
//! and signals sent mid-run to every writing helper (the output folder must
//! be as it was).

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod corpus;
mod signals;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The helper binaries the suite drives.
const BINS: [&str; 7] = [
    "relkit",
    "relkit-checksum",
    "relkit-package",
    "relkit-manifest",
    "relkit-sign",
    "relkit-provider-bundle",
    "relkit-release-upload",
];

/// The folder holding the debug binaries of the shared target dir (see
/// `relkit_testkit::workspace_bin_dir`: a no-op inside a workspace run).
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| relkit_testkit::workspace_bin_dir(&BINS))
}

/// The path of helper binary `name`.
fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Every file and folder under `dir` (relative, with sizes), to tell
/// whether a run left anything behind.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let rel = path.strip_prefix(base).unwrap().display().to_string();
        let Ok(meta) = fs_err::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            out.push(format!("{rel}/"));
            walk(base, &path, out);
        } else {
            out.push(format!("{rel} {}", meta.len()));
        }
    }
}

//! The checks of `relkit verify`, over a release's files in one folder:
//! the signature of SHA256SUMS (and of manifest.json), every line of
//! SHA256SUMS, the manifest against the files (size, sha256, kind,
//! signatures), SHA256SUMS and the manifest agreeing, nothing published that
//! the manifest does not describe, and optionally the archives rebuilt
//! byte for byte.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use relkit_checksum::Verdict;
use relkit_core::hash::Algo;
use relkit_core::input::{Limit, read_text};
use relkit_core::manifest::{ArtifactKind, Manifest};
use relkit_sign::minisig::MinisignPublicKey;
use serde::Serialize;

use crate::Error;
use crate::source::Local;

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Which check: `signature`, `checksum`, `manifest`, `listing`, `reproduce`, `download`.
    pub check: &'static str,
    /// The file it is about.
    pub file: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// Everything `relkit verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where the release came from.
    pub source: String,
    /// Project name, from the manifest.
    pub name: Option<String>,
    /// Version, from the manifest.
    pub version: Option<String>,
    /// Whether every check passed.
    pub ok: bool,
    /// Every check, in order.
    pub checks: Vec<Row>,
}

/// What to check against.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The minisign key SHA256SUMS must be signed with.
    pub key: Option<MinisignPublicKey>,
    /// The same key as text, for the manifest's per-file signatures.
    pub key_text: Option<String>,
    /// Accept an unsigned release.
    pub allow_unsigned: bool,
    /// Rebuild each archive and compare bytes.
    pub reproduce: bool,
}

struct Rows(Vec<Row>);

impl Rows {
    fn push(&mut self, check: &'static str, file: &str, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.0.push(Row {
            check,
            file: file.to_owned(),
            ok,
            detail,
        });
    }
}

/// Run every check over `local`.
pub fn verify(local: &Local, opts: &Options) -> Report {
    let mut rows = Rows(Vec::new());
    for (file, why) in &local.fetch_problems {
        rows.push("download", file, Err(why.clone()));
    }
    let dir = &local.dir;
    let manifest_path = dir.join("manifest.json");
    let manifest = match Manifest::read(&manifest_path) {
        Ok(m) => {
            rows.push(
                "manifest",
                "manifest.json",
                Ok(format!(
                    "{} {}, {} files",
                    m.name,
                    m.version,
                    m.artifacts.len()
                )),
            );
            Some(m)
        }
        Err(e) => {
            rows.push(
                "manifest",
                "manifest.json",
                Err(relkit_core::error::one_line(&e)),
            );
            None
        }
    };
    signature(&mut rows, dir, "SHA256SUMS", opts, true);
    signature(&mut rows, dir, "manifest.json", opts, false);
    let sums = sums(&mut rows, dir);
    if let Some(m) = &manifest {
        against_manifest(
            &mut rows,
            &manifest_path,
            m,
            opts.key_text.as_deref(),
            sums.as_ref(),
        );
        listing(&mut rows, local, m);
        if opts.reproduce {
            for a in m
                .artifacts
                .iter()
                .filter(|a| a.kind == ArtifactKind::Archive)
            {
                let result = crate::reproduce::reproduce(dir, m, a)
                    .map_err(|e| relkit_core::error::one_line(&e))
                    .and_then(|same| same);
                rows.push("reproduce", &a.name, result);
            }
        }
    }
    Report {
        source: local.origin.clone(),
        name: manifest.as_ref().map(|m| m.name.clone()),
        version: manifest.as_ref().map(|m| m.version.clone()),
        ok: rows.0.iter().all(|r| r.ok),
        checks: rows.0,
    }
}

/// The minisign signature of `file` (`FILE.minisig`). SHA256SUMS must be
/// signed unless unsigned releases are allowed; manifest.json is checked
/// when signed.
fn signature(rows: &mut Rows, dir: &Path, file: &str, opts: &Options, required: bool) {
    let sig_name = format!("{file}.minisig");
    let sig_path = dir.join(&sig_name);
    if !dir.join(file).is_file() {
        return;
    }
    if !sig_path.is_file() {
        if required && !opts.allow_unsigned {
            rows.push("signature", &sig_name, Err(format!("missing: `{file}` is not signed (pass --allow-unsigned to accept an unsigned release)")));
        } else if required {
            rows.push(
                "signature",
                &sig_name,
                Ok("missing; accepted (--allow-unsigned)".to_owned()),
            );
        }
        return;
    }
    let Some(key) = &opts.key else {
        let result = if opts.allow_unsigned {
            Ok("not checked: no --public-key given (--allow-unsigned)".to_owned())
        } else {
            Err(
                "cannot be checked: give the project's key with --public-key or --public-key-file"
                    .to_owned(),
            )
        };
        rows.push("signature", &sig_name, result);
        return;
    };
    let result = read_text(&sig_path, Limit::SIGNATURE)
        .map_err(|e| relkit_core::error::one_line(&e))
        .and_then(|text| {
            relkit_sign::minisig::verify_detailed(&dir.join(file), &sig_path, &text, key, false)
                .map_err(|e| relkit_core::error::one_line(&e))
        })
        .map(|v| format!("good minisign signature by key {}", v.key_id));
    rows.push("signature", &sig_name, result);
}

/// Every line of SHA256SUMS; returns the names it lists.
fn sums(rows: &mut Rows, dir: &Path) -> Option<BTreeSet<String>> {
    let path = dir.join("SHA256SUMS");
    if !path.is_file() {
        rows.push("checksum", "SHA256SUMS", Err("missing".to_owned()));
        return None;
    }
    let verdicts = match relkit_checksum::check_file(&path, Algo::Sha256) {
        Ok(v) => v,
        Err(e) => {
            rows.push(
                "checksum",
                "SHA256SUMS",
                Err(relkit_core::error::one_line(&e)),
            );
            return None;
        }
    };
    let mut listed = BTreeSet::new();
    for v in verdicts {
        match v {
            Verdict::Ok(n) => {
                rows.push("checksum", &n, Ok("sha256 matches SHA256SUMS".to_owned()));
                listed.insert(n);
            }
            Verdict::Mismatch(n) => {
                rows.push(
                    "checksum",
                    &n,
                    Err("sha256 does not match SHA256SUMS".to_owned()),
                );
                listed.insert(n);
            }
            Verdict::Missing(n) => {
                rows.push(
                    "checksum",
                    &n,
                    Err("listed in SHA256SUMS but missing".to_owned()),
                );
                listed.insert(n);
            }
            Verdict::Unreadable(n, why) => {
                rows.push("checksum", &n, Err(why));
                listed.insert(n);
            }
            Verdict::Malformed(line, why) => {
                rows.push(
                    "checksum",
                    &format!("SHA256SUMS:{line}"),
                    Err(format!("malformed: {why}")),
                );
            }
        }
    }
    Some(listed)
}

/// Sizes, hashes, kinds and signatures against the manifest, and the
/// manifest and SHA256SUMS listing the same files.
fn against_manifest(
    rows: &mut Rows,
    manifest_path: &Path,
    m: &Manifest,
    key: Option<&str>,
    sums: Option<&BTreeSet<String>>,
) {
    let problems = match relkit_manifest::verify(manifest_path, key) {
        Ok(p) => p,
        Err(e) => {
            rows.push(
                "manifest",
                "manifest.json",
                Err(relkit_core::error::one_line(&e)),
            );
            return;
        }
    };
    for a in m.artifacts.iter().filter(|a| a.kind.rules().uploaded) {
        let mine: Vec<&str> = problems
            .iter()
            .filter(|p| p.file == a.file)
            .map(|p| p.what.as_str())
            .collect();
        let expected_kind = ArtifactKind::from_name(&a.name);
        let mut why: Vec<String> = mine.iter().map(|s| (*s).to_owned()).collect();
        if a.kind != expected_kind {
            why.push(format!(
                "listed as kind {:?} but its name makes it {:?}",
                a.kind, expected_kind
            ));
        }
        if let Some(listed) = sums {
            let checksummed = a.kind.rules().checksummed;
            if checksummed && !listed.contains(&a.name) {
                why.push("not in SHA256SUMS".to_owned());
            } else if !checksummed && listed.contains(&a.name) {
                why.push("in SHA256SUMS, but files of its kind are not checksummed".to_owned());
            }
        }
        let result = if why.is_empty() {
            Ok(format!("{} bytes, sha256 as listed", a.size))
        } else {
            Err(why.join("; "))
        };
        rows.push("manifest", &a.name, result);
    }
    if let Some(listed) = sums {
        for n in listed {
            if !m.artifacts.iter().any(|a| &a.name == n) {
                rows.push(
                    "manifest",
                    n,
                    Err("in SHA256SUMS but not in the manifest".to_owned()),
                );
            }
        }
    }
}

/// Nothing published that the manifest does not describe.
fn listing(rows: &mut Rows, local: &Local, m: &Manifest) {
    let Some(published) = &local.listing else {
        rows.push(
            "listing",
            "(release)",
            Ok("not checked: a static host cannot be listed".to_owned()),
        );
        return;
    };
    let described: BTreeSet<&str> = m
        .artifacts
        .iter()
        .filter(|a| a.kind.rules().uploaded)
        .map(|a| a.name.as_str())
        .collect();
    let own = |n: &str| {
        n == "manifest.json"
            || n.strip_prefix("manifest.json.")
                .is_some_and(|ext| ["minisig", "sig", "asc"].contains(&ext))
    };
    let mut extra = 0;
    for n in published {
        if !described.contains(n.as_str()) && !own(n) {
            extra += 1;
            rows.push(
                "listing",
                n,
                Err("published, but the manifest does not describe it".to_owned()),
            );
        }
    }
    for n in &described {
        if !published.contains(*n) {
            rows.push(
                "listing",
                n,
                Err("in the manifest, but not published".to_owned()),
            );
        }
    }
    if extra == 0 {
        rows.push(
            "listing",
            "(release)",
            Ok(format!(
                "{} files published, each described by the manifest",
                published.len()
            )),
        );
    }
}

/// The report as a terminal table, one check per line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "relkit verify: {}", report.source);
    let w_check = report
        .checks
        .iter()
        .map(|r| r.check.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let w_file = report
        .checks
        .iter()
        .map(|r| r.file.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let _ = writeln!(
        out,
        "{:<6} {:<w_check$}  {:<w_file$}  DETAIL",
        "RESULT", "CHECK", "FILE"
    );
    for r in &report.checks {
        let _ = writeln!(
            out,
            "{:<6} {:<w_check$}  {:<w_file$}  {}",
            if r.ok { "ok" } else { "FAILED" },
            r.check,
            r.file,
            r.detail
        );
    }
    let failed = report.checks.iter().filter(|r| !r.ok).count();
    let what = match (&report.name, &report.version) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        _ => "the release".to_owned(),
    };
    if failed == 0 {
        let _ = writeln!(out, "{what}: all {} checks passed", report.checks.len());
    } else {
        let _ = writeln!(
            out,
            "{what}: {failed} of {} checks FAILED",
            report.checks.len()
        );
    }
    out
}

/// The key given on the command line, parsed.
pub fn key_from(
    public_key: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<(MinisignPublicKey, String)>, Error> {
    if let Some(k) = public_key {
        return Ok(Some((
            MinisignPublicKey::parse(k, "--public-key")?,
            k.to_owned(),
        )));
    }
    if let Some(f) = file {
        let text = read_text(f, Limit::KEY)?;
        let key = MinisignPublicKey::parse(&text, &format!("`{}`", f.display()))?;
        return Ok(Some((key, text)));
    }
    Ok(None)
}

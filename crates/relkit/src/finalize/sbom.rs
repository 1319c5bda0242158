//! The SBOM stage: for every binary of every archive, the components it
//! contains (relkit-sbom: cargo's graph for that target, a Go binary's
//! build info, or cargo-auditable data read from the binary, which is
//! extracted from the archive and checked against its recorded sha256),
//! the license and advisory gates over them, then one SBOM per binary and
//! one for the release, in each configured format. Runs before
//! `SHA256SUMS`, so the SBOMs are checksummed, signed and listed like any
//! release file (kind `sbom`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use relkit_core::Error as CoreError;
use relkit_core::manifest::IgnoredAdvisory;
use relkit_core::{atomic, buildtime, gha};
use relkit_sbom::advisory::{Checker, Databases, Ignore};
use relkit_sbom::{BinaryInput, Component, Ecosystem, Method, Sbom};

use super::stages::Stage;
use super::{Context, extract};
use crate::Error;
use crate::config::{SbomConfig, SbomFormat, SbomSource};

/// Where `fetch = true` clones the RustSec database from.
const RUSTSEC_URL: &str = "https://github.com/rustsec/advisory-db";

/// The stage.
pub(super) struct Sboms;

impl Stage for Sboms {
    fn name(&self) -> &'static str {
        "SBOM"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.sbom.is_some()
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let cfg = cx.config.sbom.clone().expect("enabled only with [sbom]");
        let timestamp = buildtime::rfc3339(cx.release.epoch)?;
        let scratch = tempfile::tempdir().map_err(CoreError::from)?;
        let sboms = binary_sboms(cx, &cfg, &timestamp, scratch.path())?;
        if sboms.is_empty() {
            return Err(CoreError::invalid(
                "sbom",
                "no archive of the release holds any of relkit.toml's `binaries`",
            )
            .into());
        }
        let has_go = sboms
            .iter()
            .any(|(_, s)| s.components.iter().any(|c| c.ecosystem == Ecosystem::Go));
        let gates = Gates::new(&cfg, scratch.path(), has_go)?;
        // The OSV export is read once for every binary.
        let advisories = gates.databases.open().map_err(|e| {
            Error::from(CoreError::invalid(
                "sbom.advisories.osv-go-db",
                e.to_string(),
            ))
        })?;
        let mut checked = Vec::new();
        let mut ignored = 0;
        for (bin, mut sbom) in sboms {
            gates.check(&advisories, &mut sbom)?;
            ignored += sbom.ignored.len();
            checked.push((bin, sbom));
        }
        gates.warn_unchecked_go(&checked);
        let subject = Component::new(
            Ecosystem::Generic,
            &cx.release.name,
            &cx.release.version.to_string(),
        );
        let parts: Vec<Sbom> = checked.iter().map(|(_, s)| s.clone()).collect();
        let release = Sbom::union(subject, timestamp, &parts);
        let mut written = Vec::new();
        let mut rows = Vec::new();
        for (stem, sbom) in checked
            .iter()
            .map(|(bin, s)| {
                let target = s.target.as_deref().unwrap_or("any");
                (format!("{bin}-{}-{target}", cx.release.version), s)
            })
            .chain(std::iter::once((
                format!("{}-{}", cx.release.name, cx.release.version),
                &release,
            )))
        {
            for f in &cfg.formats {
                let name = format!("{stem}{}", f.suffix());
                let text = match f {
                    SbomFormat::Cyclonedx => relkit_sbom::cyclonedx::to_json(sbom),
                    SbomFormat::Spdx => relkit_sbom::spdx::to_json(sbom),
                };
                let path = cx.dir.join(&name);
                atomic::write_file(&path, text.as_bytes())?;
                written.push(path);
                rows.push((name, sbom.components.len(), sbom.required().count()));
            }
        }
        cx.add_files(&written)?;
        // manifest.json records what the release ships with knowingly.
        cx.manifest.ignored_advisories = release
            .ignored
            .iter()
            .map(|i| IgnoredAdvisory {
                id: i.id.clone(),
                database: i.database.clone(),
                component: i.purl.clone(),
                reason: i.reason.clone(),
            })
            .collect();
        summarize(&rows, &gates.summary(ignored), &release);
        Ok(())
    }
}

/// The release-wide SBOM files' names, CycloneDX first.
pub(super) fn release_files(name: &str, version: &str) -> [String; 2] {
    [
        format!("{name}-{version}{}", SbomFormat::Cyclonedx.suffix()),
        format!("{name}-{version}{}", SbomFormat::Spdx.suffix()),
    ]
}

/// Each binary's SBOM, as `(binary name, sbom)`, sorted by binary then target.
fn binary_sboms(
    cx: &Context<'_>,
    cfg: &SbomConfig,
    timestamp: &str,
    scratch: &Path,
) -> Result<Vec<(String, Sbom)>, Error> {
    let manifest = cfg
        .cargo_manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
    let method = match cfg.source {
        SbomSource::Auto => Method::Auto,
        SbomSource::Cargo => Method::CargoMetadata,
        SbomSource::Auditable => Method::Auditable,
        SbomSource::Go => Method::Go,
    };
    let mut out = Vec::new();
    for bin in &cx.config.binaries {
        let dest = scratch.join("bin").join(bin);
        fs_err::create_dir_all(&dest).map_err(CoreError::from)?;
        for (target, path) in extract::binaries_named(&cx.manifest, cx.dir, bin, &dest)? {
            let input = BinaryInput {
                path: &path,
                name: bin,
                target: &target,
                cargo_manifest: Some(&manifest),
                timestamp,
            };
            let sbom = relkit_sbom::of_binary(&input, method).map_err(|e| sbom_error(bin, &e))?;
            tracing::info!(
                "{bin} for {target}: {} components ({})",
                sbom.components.len(),
                sbom.origin
            );
            out.push((bin.clone(), sbom));
        }
    }
    Ok(out)
}

/// relkit-sbom's one-line errors, named after the binary they concern.
fn sbom_error(bin: &str, e: &relkit_sbom::Error) -> Error {
    match e {
        relkit_sbom::Error::License(m) | relkit_sbom::Error::Advisory(m) => {
            CoreError::invalid(format!("sbom: `{bin}`"), m.clone()).into()
        }
        other => CoreError::invalid(format!("sbom: `{bin}`"), other.to_string()).into(),
    }
}

/// The license policy and advisory databases.
struct Gates {
    policy: relkit_sbom::license::Policy,
    databases: Databases,
}

impl Gates {
    /// The policy and databases; with `fetch = true`, the RustSec database
    /// is cloned and, when `has_go` (a binary lists Go modules), osv.dev's
    /// Go export downloaded, unless relkit.toml or the environment name them.
    fn new(cfg: &SbomConfig, scratch: &Path, has_go: bool) -> Result<Gates, Error> {
        let policy = relkit_sbom::license::Policy {
            deny: cfg.licenses.deny.clone(),
            allow: cfg.licenses.allow.clone(),
            allow_unknown: cfg.licenses.allow_unknown,
        };
        policy
            .validate("sbom.licenses")
            .map_err(|e| sbom_error("relkit.toml", &e))?;
        let a = &cfg.advisories;
        for i in &a.ignore {
            if i.reason.trim().is_empty() {
                return Err(CoreError::invalid(
                    "sbom.advisories.ignore",
                    format!("`{}` has no reason; say why it does not apply", i.id),
                )
                .into());
            }
        }
        let env_path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let mut rustsec = env_path("RELKIT_RUSTSEC_DB").or_else(|| a.rustsec_db.clone());
        if rustsec.is_none() && a.fetch {
            rustsec = Some(fetch_rustsec(scratch)?);
        }
        let mut osv_go = env_path("RELKIT_OSV_GO_DB").or_else(|| a.osv_go_db.clone());
        if osv_go.is_none() && a.fetch && has_go {
            // RELKIT_OSV_GO_URL: a mirror of the export (tests, air-gapped CI).
            let url = std::env::var("RELKIT_OSV_GO_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| relkit_sbom::advisory::OSV_GO_ALL_ZIP.to_owned());
            osv_go = Some(fetch_osv_go(&url, scratch)?);
        }
        let databases = Databases {
            rustsec,
            osv_go,
            ignore: a
                .ignore
                .iter()
                .map(|i| Ignore {
                    id: i.id.clone(),
                    reason: i.reason.clone(),
                })
                .collect(),
        };
        Ok(Gates { policy, databases })
    }

    /// Fail on the first binary that breaks a gate; record ignored advisories.
    fn check(&self, checker: &Checker<'_>, sbom: &mut Sbom) -> Result<(), Error> {
        let bin = sbom.subject.name.clone();
        self.policy
            .check(&sbom.components)
            .map_err(|e| sbom_error(&bin, &e))?;
        let report = checker
            .check(&sbom.components)
            .map_err(|e| sbom_error(&bin, &e))?;
        report.result().map_err(|e| sbom_error(&bin, &e))?;
        for i in &report.ignored {
            tracing::warn!(
                "{} in {} ignored by relkit.toml: {}",
                i.id,
                i.purl,
                i.reason
            );
        }
        sbom.ignored = report.ignored;
        Ok(())
    }

    /// An advisory check without OSV data leaves Go modules unchecked: say so.
    fn warn_unchecked_go(&self, sboms: &[(String, Sbom)]) {
        if self.databases.rustsec.is_none() || self.databases.osv_go.is_some() {
            return;
        }
        if let Some((bin, _)) = sboms
            .iter()
            .find(|(_, s)| s.components.iter().any(|c| c.ecosystem == Ecosystem::Go))
        {
            tracing::warn!(
                "{bin}: Go modules are not checked for advisories: no OSV data (set `osv-go-db` in [sbom.advisories] or RELKIT_OSV_GO_DB to the Go `all.zip` of osv.dev)"
            );
        }
    }

    fn summary(&self, ignored: usize) -> String {
        let licenses = if self.policy.deny.is_empty() && self.policy.allow.is_empty() {
            "no license policy"
        } else {
            "license policy passed"
        };
        let names: Vec<&str> = [
            self.databases.rustsec.as_ref().map(|_| "RustSec"),
            self.databases.osv_go.as_ref().map(|_| "OSV Go"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let advisories = if names.is_empty() {
            "no advisory database".to_owned()
        } else {
            format!(
                "advisories passed ({}; {ignored} ignored with a reason)",
                names.join(", ")
            )
        };
        format!("{licenses}; {advisories}")
    }
}

/// Download osv.dev's export of Go advisories (`all.zip`) into `scratch`.
fn fetch_osv_go(url: &str, scratch: &Path) -> Result<PathBuf, Error> {
    let _g = gha::group("fetch the OSV data for Go modules");
    let dest = scratch.join("osv-go-all.zip");
    let expect = relkit_verify::http::Expect {
        what: "sbom.advisories.fetch: the OSV export of Go advisories".to_owned(),
        max: 1024 * 1024 * 1024,
        size: None,
        sha256: None,
    };
    let digest = relkit_verify::http::download(url, &dest, &expect)
        .map_err(|e| Error::Verify(Box::new(e)))?;
    tracing::info!("OSV Go advisories: {} bytes from {url}", digest.size);
    Ok(dest)
}

/// `git clone --depth 1` of the RustSec database into `scratch`.
fn fetch_rustsec(scratch: &Path) -> Result<PathBuf, Error> {
    let dest = scratch.join("advisory-db");
    let _g = gha::group("fetch the RustSec advisory database");
    let out = std::process::Command::new("git")
        .args(["clone", "--quiet", "--depth", "1", RUSTSEC_URL])
        .arg(&dest)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| CoreError::invalid("sbom.advisories.fetch", format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(CoreError::invalid(
            "sbom.advisories.fetch",
            format!("`git clone {RUSTSEC_URL}` failed: {}", last.trim()),
        )
        .into());
    }
    Ok(dest)
}

/// Log each SBOM with its component count, and in Actions add them to the
/// step summary with the gate results.
fn summarize(rows: &[(String, usize, usize)], gates: &str, release: &Sbom) {
    tracing::info!(
        "SBOMs: {} files, {} components in the release; {gates}",
        rows.len(),
        release.components.len()
    );
    if !gha::is_actions() {
        return;
    }
    let mut md =
        String::from("### SBOMs\n\n| file | components | in the binary |\n|---|---:|---:|\n");
    for (name, all, required) in rows {
        let _ = writeln!(md, "| `{name}` | {all} | {required} |");
    }
    let _ = writeln!(md, "\nGates: {gates}.");
    if let Err(e) = gha::append_summary(&md) {
        tracing::warn!("cannot write the step summary: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback HTTP server over `dir` that prints its port first.
    fn serve(dir: &Path) -> relkit_testkit::PortServer {
        let script = dir.join("serve.py");
        fs_err::write(
            &script,
            "import functools, http.server, sys\n\
             h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n\
             s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\n\
             print(s.server_address[1], flush=True)\n\
             s.serve_forever()\n",
        )
        .unwrap();
        relkit_testkit::PortServer::python(&script, &[dir.as_os_str()])
    }

    #[test]
    fn fetch_osv_go_downloads_an_export_the_gate_reads() {
        let d = tempfile::tempdir().unwrap();
        let site = d.path().join("site");
        fs_err::create_dir_all(site.join("Go")).unwrap();
        let mut z = zip::ZipWriter::new(fs_err::File::create(site.join("Go/all.zip")).unwrap());
        z.start_file(
            "GO-2099-0007.json",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(
            &mut z,
            br#"{"id":"GO-2099-0007","affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}"#,
        )
        .unwrap();
        z.finish().unwrap();
        let server = serve(&site);
        let base = format!("http://127.0.0.1:{}", server.port);
        let scratch = d.path().join("scratch");
        fs_err::create_dir_all(&scratch).unwrap();
        let path = fetch_osv_go(&format!("{base}/Go/all.zip"), &scratch).unwrap();
        let dbs = Databases {
            osv_go: Some(path),
            ..Databases::default()
        };
        let m = Component::new(Ecosystem::Go, "example.com/m", "v1.0.0");
        let e = dbs.check(&[m]).unwrap().result().unwrap_err().to_string();
        assert!(
            e.starts_with("advisory: example.com/m v1.0.0 is affected by GO-2099-0007"),
            "{e}"
        );
        // A missing export is one line naming what was fetched.
        let e = fetch_osv_go(&format!("{base}/Go/nope.zip"), &scratch)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the OSV export of Go advisories"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

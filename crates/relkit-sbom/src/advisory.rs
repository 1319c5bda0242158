//! The vulnerability gate: components checked against the RustSec advisory
//! database (its git layout: `crates/NAME/RUSTSEC-….md`, TOML front matter
//! in a fenced block) and, for Go modules, OSV records (`*.json`, the OSV
//! schema). An advisory that affects a listed version fails the release
//! unless the policy ignores its id with a reason; ignored ones are
//! recorded in the SBOM. Informational (unmaintained, unsound) and
//! withdrawn advisories do not fail it, as with `cargo audit`.
//!
//! The OSV data for Go is what osv.dev publishes per ecosystem: the
//! `Go/all.zip` archive (one `GO-….json` record per entry), read as it is
//! downloaded, or a folder of the same records (the zip unpacked). It is
//! loaded once per release ([`Databases::open`]), each record bounded.
//!
//! A small reader rather than the `rustsec` crate: only `[advisory]` and
//! `[versions]` are needed, and `rustsec` (even without its git feature)
//! brings cvss, platform and fetch machinery relkit does not use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use relkit_core::input::{Limit, read_text};
use serde::Deserialize;

use crate::{Component, Ecosystem, Error, IgnoredAdvisory};

const ADVISORY_LIMIT: Limit = Limit::new("advisory", 1024 * 1024);
/// osv.dev's export of every Go advisory (what release.yml fetches).
pub const OSV_GO_ALL_ZIP: &str = "https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip";
/// More records than any OSV ecosystem export holds (Go's has a few thousand).
const MAX_OSV_RECORDS: usize = 200_000;

/// An ignored advisory id and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// Advisory id (`RUSTSEC-…`, `GO-…`, `GHSA-…`, or an alias).
    pub id: String,
    /// Why it does not apply; recorded in the SBOM.
    pub reason: String,
}

/// Where the advisory data lives, and what to ignore.
#[derive(Debug, Clone, Default)]
pub struct Databases {
    /// A RustSec advisory-db checkout.
    pub rustsec: Option<PathBuf>,
    /// A folder of OSV JSON records for Go modules.
    pub osv_go: Option<PathBuf>,
    /// Advisories to let pass.
    pub ignore: Vec<Ignore>,
}

/// One advisory, reduced to what the check needs.
#[derive(Debug, Clone)]
struct Advisory {
    id: String,
    aliases: Vec<String>,
    database: &'static str,
    affects: Affects,
}

#[derive(Debug, Clone)]
enum Affects {
    /// RustSec: affected unless a `patched` or `unaffected` requirement matches.
    Rust {
        safe: Vec<semver::VersionReq>,
        patched: Vec<String>,
    },
    /// OSV: affected when an event range or the explicit list covers it.
    Osv {
        ranges: Vec<Vec<Event>>,
        versions: Vec<String>,
    },
}

#[derive(Debug, Clone)]
enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
}

/// The outcome of the check.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per unignored advisory: crate, version, id.
    pub failures: Vec<String>,
    /// Advisories that matched but are ignored.
    pub ignored: Vec<IgnoredAdvisory>,
}

impl Report {
    /// Fail with the first line (and how many more).
    pub fn result(&self) -> Result<(), Error> {
        match self.failures.first() {
            None => Ok(()),
            Some(f) if self.failures.len() == 1 => Err(Error::Advisory(f.clone())),
            Some(f) => Err(Error::Advisory(format!(
                "{f} (and {} more)",
                self.failures.len() - 1
            ))),
        }
    }
}

impl Databases {
    /// Load the OSV data once, for checking many component lists.
    pub fn open(&self) -> Result<Checker<'_>, Error> {
        let osv = match &self.osv_go {
            Some(path) => load_osv(path)?,
            None => BTreeMap::new(),
        };
        Ok(Checker { dbs: self, osv })
    }

    /// Check `components` against the databases.
    pub fn check(&self, components: &[Component]) -> Result<Report, Error> {
        self.open()?.check(components)
    }
}

/// The databases with the OSV records loaded, indexed by module path.
#[derive(Debug)]
pub struct Checker<'a> {
    dbs: &'a Databases,
    osv: BTreeMap<String, Vec<Advisory>>,
}

impl Checker<'_> {
    /// How many Go modules the OSV data has advisories for.
    pub fn osv_modules(&self) -> usize {
        self.osv.len()
    }

    /// Check `components` against the databases.
    pub fn check(&self, components: &[Component]) -> Result<Report, Error> {
        let mut report = Report::default();
        for c in components {
            let advisories = match c.ecosystem {
                Ecosystem::Cargo => match &self.dbs.rustsec {
                    Some(db) => rustsec_for(db, &c.name)?,
                    None => Vec::new(),
                },
                Ecosystem::Go => self.osv.get(&c.name).cloned().unwrap_or_default(),
                Ecosystem::Generic => Vec::new(),
            };
            for a in advisories.iter().filter(|a| affected(a, &c.version)) {
                let ignore = self
                    .dbs
                    .ignore
                    .iter()
                    .find(|i| i.id == a.id || a.aliases.contains(&i.id));
                if let Some(i) = ignore {
                    report.ignored.push(IgnoredAdvisory {
                        id: a.id.clone(),
                        database: a.database.to_owned(),
                        purl: c.purl(),
                        reason: i.reason.clone(),
                    });
                } else {
                    report.failures.push(failure_line(c, a));
                }
            }
        }
        report.failures.sort();
        report.failures.dedup();
        report.ignored.sort();
        report.ignored.dedup();
        Ok(report)
    }
}

fn failure_line(c: &Component, a: &Advisory) -> String {
    let fix = match &a.affects {
        Affects::Rust { patched, .. } if !patched.is_empty() => {
            format!("patched in {}", patched.join(", "))
        }
        Affects::Osv { ranges, .. } => {
            let fixed: Vec<&str> = ranges
                .iter()
                .flatten()
                .filter_map(|e| match e {
                    Event::Fixed(v) => Some(v.as_str()),
                    _ => None,
                })
                .collect();
            if fixed.is_empty() {
                "no fixed version".to_owned()
            } else {
                // OSV writes Go versions without the `v` Go itself shows.
                let shown: Vec<String> = fixed
                    .iter()
                    .map(|f| match c.ecosystem {
                        Ecosystem::Go if !f.starts_with('v') => format!("v{f}"),
                        _ => (*f).to_owned(),
                    })
                    .collect();
                format!("fixed in {}", shown.join(", "))
            }
        }
        Affects::Rust { .. } => "no patched version".to_owned(),
    };
    format!(
        "{} {} is affected by {} ({fix}); upgrade it, or ignore the id with a reason in relkit.toml's [sbom.advisories]",
        c.name, c.version, a.id
    )
}

fn affected(a: &Advisory, version: &str) -> bool {
    match &a.affects {
        Affects::Rust { safe, .. } => {
            let Ok(v) = semver::Version::parse(version) else {
                return false;
            };
            !safe.iter().any(|r| r.matches(&v))
        }
        Affects::Osv { ranges, versions } => {
            let bare = version.strip_prefix('v').unwrap_or(version);
            if versions
                .iter()
                .any(|v| v.strip_prefix('v').unwrap_or(v) == bare)
            {
                return true;
            }
            let Ok(v) = semver::Version::parse(bare) else {
                return false;
            };
            ranges.iter().any(|r| in_range(r, &v))
        }
    }
}

/// OSV's event semantics over an ordered event list.
fn in_range(events: &[Event], v: &semver::Version) -> bool {
    let parse = |s: &str| {
        if s == "0" {
            Some(semver::Version::new(0, 0, 0))
        } else {
            semver::Version::parse(s.strip_prefix('v').unwrap_or(s)).ok()
        }
    };
    let mut hit = false;
    for e in events {
        match e {
            Event::Introduced(s) => {
                // "0" is every version, pre-releases too: a Go
                // pseudo-version v0.0.0-2020… sorts below 0.0.0 in semver.
                if s == "0" || parse(s).is_some_and(|i| *v >= i) {
                    hit = true;
                }
            }
            Event::Fixed(s) => {
                if parse(s).is_some_and(|f| *v >= f) {
                    hit = false;
                }
            }
            Event::LastAffected(s) => {
                if parse(s).is_some_and(|l| *v > l) {
                    hit = false;
                }
            }
        }
    }
    hit
}

#[derive(Deserialize)]
struct RustsecFile {
    advisory: RustsecAdvisory,
    #[serde(default)]
    versions: RustsecVersions,
}

#[derive(Deserialize)]
struct RustsecAdvisory {
    id: String,
    package: String,
    #[serde(default)]
    aliases: Vec<String>,
    informational: Option<String>,
    withdrawn: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
struct RustsecVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// The advisories for crate `name` in a RustSec checkout.
fn rustsec_for(db: &Path, name: &str) -> Result<Vec<Advisory>, Error> {
    if !db.join("crates").is_dir() {
        return Err(Error::input(
            db,
            "is not a RustSec advisory database (no `crates` folder)",
        ));
    }
    // Crate names are [A-Za-z0-9_-]; anything else cannot be a folder name.
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(Vec::new());
    }
    let dir = db.join("crates").join(name);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = fs_err::read_dir(&dir)
        .map_err(relkit_core::Error::from)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md" || e == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        if let Some(a) = parse_rustsec(&f, name)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// One advisory file; `None` for informational or withdrawn ones.
fn parse_rustsec(path: &Path, name: &str) -> Result<Option<Advisory>, Error> {
    let text = read_text(path, ADVISORY_LIMIT)?;
    let toml_text =
        front_matter(&text).ok_or_else(|| Error::input(path, "has no ```toml front matter"))?;
    let file: RustsecFile = toml::from_str(toml_text)
        .map_err(|e| Error::input(path, format!("is not a RustSec advisory: {}", e.message())))?;
    let a = file.advisory;
    if a.package != name {
        return Err(Error::input(
            path,
            format!("is for `{}`, not `{name}` (its folder)", a.package),
        ));
    }
    if a.informational.is_some() || a.withdrawn.is_some() {
        return Ok(None);
    }
    let mut safe = Vec::new();
    for r in file
        .versions
        .patched
        .iter()
        .chain(&file.versions.unaffected)
    {
        safe.push(
            semver::VersionReq::parse(r)
                .map_err(|e| Error::input(path, format!("version requirement `{r}`: {e}")))?,
        );
    }
    Ok(Some(Advisory {
        id: a.id,
        aliases: a.aliases,
        database: "RustSec",
        affects: Affects::Rust {
            safe,
            patched: file.versions.patched,
        },
    }))
}

/// The TOML between a leading "```toml" line and the next "```" line (a
/// bare `.toml` advisory is all TOML).
fn front_matter(text: &str) -> Option<&str> {
    let t = text.trim_start();
    let Some(rest) = t.strip_prefix("```toml") else {
        return (!t.starts_with("```")).then_some(text);
    };
    let end = rest.find("\n```")?;
    Some(&rest[..end])
}

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<BTreeMap<String, String>>,
}

/// Every Go advisory of an OSV export (`all.zip`, or a folder of its
/// records), by module path.
fn load_osv(path: &Path) -> Result<BTreeMap<String, Vec<Advisory>>, Error> {
    let mut out: BTreeMap<String, Vec<Advisory>> = BTreeMap::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = fs_err::read_dir(path)
            .map_err(relkit_core::Error::from)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        if files.len() > MAX_OSV_RECORDS {
            return Err(Error::input(
                path,
                format!("holds more than {MAX_OSV_RECORDS} OSV records"),
            ));
        }
        for f in files {
            let text = read_text(&f, ADVISORY_LIMIT)?;
            add_osv(&f, &text, &mut out)?;
        }
    } else if path.is_file() {
        load_osv_zip(path, &mut out)?;
    } else {
        return Err(Error::input(
            path,
            "does not exist (want an OSV export: `all.zip` or a folder of its JSON records)",
        ));
    }
    Ok(out)
}

/// The records of an OSV `all.zip`, each entry read with a bound.
fn load_osv_zip(path: &Path, out: &mut BTreeMap<String, Vec<Advisory>>) -> Result<(), Error> {
    use std::io::Read as _;
    let (file, _) = relkit_core::input::open_regular(path)?;
    let not_zip = |e: zip::result::ZipError| {
        Error::input(
            path,
            format!("is not an OSV export (`all.zip` or a folder of JSON records): {e}"),
        )
    };
    let mut archive = zip::ZipArchive::new(file).map_err(not_zip)?;
    if archive.len() > MAX_OSV_RECORDS {
        return Err(Error::input(
            path,
            format!("holds more than {MAX_OSV_RECORDS} OSV records"),
        ));
    }
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(not_zip)?;
        let name = entry.name().map_err(not_zip)?.into_owned();
        if entry.is_dir()
            || !Path::new(&name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            continue;
        }
        // Named like a file inside the zip, for messages only.
        let at = path.join(name.trim_start_matches('/'));
        let max = ADVISORY_LIMIT.max();
        if entry.size() > max {
            return Err(Error::input(
                &at,
                format!("is larger than the {max}-byte limit for an advisory"),
            ));
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::input(&at, format!("cannot be read from the zip: {e}")))?;
        if bytes.len() as u64 > max {
            return Err(Error::input(
                &at,
                format!("is larger than the {max}-byte limit for an advisory"),
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| Error::input(&at, "is not UTF-8 text"))?;
        add_osv(&at, &text, out)?;
    }
    Ok(())
}

/// One OSV record's Go advisories, added to `out` by module path.
fn add_osv(at: &Path, text: &str, out: &mut BTreeMap<String, Vec<Advisory>>) -> Result<(), Error> {
    let rec: OsvRecord = serde_json::from_str(text)
        .map_err(|e| Error::input(at, format!("is not an OSV record: {e}")))?;
    if rec.withdrawn.is_some() {
        return Ok(());
    }
    for aff in rec.affected {
        let Some(pkg) = aff.package.filter(|p| p.ecosystem == "Go") else {
            continue;
        };
        let ranges = aff
            .ranges
            .iter()
            .filter(|r| r.kind == "SEMVER" || r.kind == "ECOSYSTEM")
            .map(|r| r.events.iter().filter_map(event).collect())
            .collect();
        out.entry(pkg.name).or_default().push(Advisory {
            id: rec.id.clone(),
            aliases: rec.aliases.clone(),
            database: "OSV",
            affects: Affects::Osv {
                ranges,
                versions: aff.versions,
            },
        });
    }
    Ok(())
}

fn event(e: &BTreeMap<String, String>) -> Option<Event> {
    let (k, v) = e.iter().next()?;
    match k.as_str() {
        "introduced" => Some(Event::Introduced(v.clone())),
        "fixed" => Some(Event::Fixed(v.clone())),
        "last_affected" => Some(Event::LastAffected(v.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("crates/smallvec");
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(
            dir.join("RUSTSEC-2021-0003.md"),
            "```toml\n[advisory]\nid = \"RUSTSEC-2021-0003\"\npackage = \"smallvec\"\n\
             date = \"2021-01-08\"\naliases = [\"CVE-2021-25900\"]\n[versions]\n\
             patched = [\">= 1.6.1\"]\nunaffected = [\"< 1.3.0\"]\n```\n\n# Buffer overflow\n",
        )
        .unwrap();
        fs_err::write(
            dir.join("RUSTSEC-2099-0001.md"),
            "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"smallvec\"\n\
             informational = \"unmaintained\"\n[versions]\npatched = []\n```\n",
        )
        .unwrap();
        let osv = d.path().join("osv");
        fs_err::create_dir_all(&osv).unwrap();
        fs_err::write(
            osv.join("GO-2022-1059.json"),
            r#"{"id":"GO-2022-1059","aliases":["CVE-2022-32149"],"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.8"}]}]}]}"#,
        )
        .unwrap();
        d
    }

    fn rust(v: &str) -> Component {
        Component::new(Ecosystem::Cargo, "smallvec", v)
    }

    #[test]
    fn rustsec_ranges() {
        let d = db();
        let dbs = Databases {
            rustsec: Some(d.path().to_path_buf()),
            ..Databases::default()
        };
        let r = dbs.check(&[rust("1.4.0")]).unwrap();
        assert_eq!(
            r.failures,
            [
                "smallvec 1.4.0 is affected by RUSTSEC-2021-0003 (patched in >= 1.6.1); upgrade it, or ignore the id with a reason in relkit.toml's [sbom.advisories]"
            ]
        );
        assert!(
            r.result()
                .unwrap_err()
                .to_string()
                .starts_with("advisory: smallvec 1.4.0 is affected by RUSTSEC-2021-0003")
        );
        for v in ["1.6.1", "1.2.0", "2.0.0"] {
            assert!(dbs.check(&[rust(v)]).unwrap().failures.is_empty(), "{v}");
        }
    }

    #[test]
    fn ignores_by_id_or_alias_and_records_the_reason() {
        let d = db();
        let dbs = Databases {
            rustsec: Some(d.path().to_path_buf()),
            osv_go: Some(d.path().join("osv")),
            ignore: vec![
                Ignore {
                    id: "CVE-2021-25900".into(),
                    reason: "no untrusted input".into(),
                },
                Ignore {
                    id: "GO-2022-1059".into(),
                    reason: "not reachable".into(),
                },
            ],
        };
        let go = Component::new(Ecosystem::Go, "golang.org/x/text", "v0.3.7");
        let r = dbs.check(&[rust("1.4.0"), go]).unwrap();
        assert!(r.failures.is_empty());
        let ids: Vec<_> = r
            .ignored
            .iter()
            .map(|i| (i.id.as_str(), i.database.as_str()))
            .collect();
        assert_eq!(
            ids,
            [("GO-2022-1059", "OSV"), ("RUSTSEC-2021-0003", "RustSec")]
        );
        assert_eq!(r.ignored[1].reason, "no untrusted input");
    }

    #[test]
    fn osv_events() {
        let d = db();
        let dbs = Databases {
            osv_go: Some(d.path().join("osv")),
            ..Databases::default()
        };
        let go = |v: &str| Component::new(Ecosystem::Go, "golang.org/x/text", v);
        assert_eq!(dbs.check(&[go("v0.3.7")]).unwrap().failures.len(), 1);
        assert!(dbs.check(&[go("v0.3.8")]).unwrap().failures.is_empty());
        assert!(dbs.check(&[go("v0.4.0")]).unwrap().failures.is_empty());
    }

    /// An OSV export as osv.dev publishes it: `all.zip`, one record per entry.
    fn osv_zip(path: &Path, records: &[(&str, &str)]) {
        let mut z = zip::ZipWriter::new(fs_err::File::create(path).unwrap());
        for (name, text) in records {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn osv_all_zip_with_every_range_form() {
        let d = tempfile::tempdir().unwrap();
        let zip_path = d.path().join("all.zip");
        osv_zip(
            &zip_path,
            &[
                // introduced/fixed, in two intervals
                (
                    "GO-2099-0001.json",
                    r#"{"id":"GO-2099-0001","aliases":["CVE-2099-1"],"affected":[{"package":{"ecosystem":"Go","name":"example.com/a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.4"},{"introduced":"1.5.0"},{"fixed":"1.5.2"}]}]}]}"#,
                ),
                // last_affected, as an ECOSYSTEM range
                (
                    "GO-2099-0002.json",
                    r#"{"id":"GO-2099-0002","affected":[{"package":{"ecosystem":"Go","name":"example.com/b"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.0.0"},{"last_affected":"2.3.0"}]}]}]}"#,
                ),
                // explicit versions; a GIT range is not version-based
                (
                    "GO-2099-0003.json",
                    r#"{"id":"GO-2099-0003","affected":[{"package":{"ecosystem":"Go","name":"example.com/c"},"versions":["v0.9.0"],"ranges":[{"type":"GIT","repo":"https://x","events":[{"introduced":"0"}]}]}]}"#,
                ),
                // withdrawn, and another ecosystem: never fail
                (
                    "GO-2099-0004.json",
                    r#"{"id":"GO-2099-0004","withdrawn":"2099-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"example.com/a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#,
                ),
                (
                    "PYSEC-2099-1.json",
                    r#"{"id":"PYSEC-2099-1","affected":[{"package":{"ecosystem":"PyPI","name":"example.com/a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
                ),
                ("README", "not a record"),
            ],
        );
        let dbs = Databases {
            osv_go: Some(zip_path),
            ..Databases::default()
        };
        let checker = dbs.open().unwrap();
        assert_eq!(checker.osv_modules(), 3);
        let go = |name: &str, v: &str| Component::new(Ecosystem::Go, name, v);
        let cases = [
            ("example.com/a", "v1.2.3", true),
            ("example.com/a", "v1.2.4", false),
            ("example.com/a", "v1.4.9", false),
            ("example.com/a", "v1.5.1", true),
            ("example.com/a", "v1.5.2", false),
            ("example.com/a", "v0.0.0-20200101000000-abcdefabcdef", true),
            ("example.com/b", "v1.9.0", false),
            ("example.com/b", "v2.0.0", true),
            ("example.com/b", "v2.3.0", true),
            ("example.com/b", "v2.3.1", false),
            ("example.com/c", "v0.9.0", true),
            ("example.com/c", "v0.9.1", false),
            ("example.com/d", "v1.0.0", false),
        ];
        for (name, v, bad) in cases {
            let r = checker.check(&[go(name, v)]).unwrap();
            assert_eq!(r.failures.len(), usize::from(bad), "{name} {v}: {r:?}");
        }
        let r = checker.check(&[go("example.com/a", "v1.2.3")]).unwrap();
        assert_eq!(
            r.result().unwrap_err().to_string(),
            "advisory: example.com/a v1.2.3 is affected by GO-2099-0001 (fixed in v1.2.4, v1.5.2); upgrade it, or ignore the id with a reason in relkit.toml's [sbom.advisories]"
        );
        // Ignored by an alias, with the reason recorded.
        let ignoring = Databases {
            ignore: vec![Ignore {
                id: "CVE-2099-1".into(),
                reason: "the affected parser is never called".into(),
            }],
            ..dbs.clone()
        };
        let r = ignoring.check(&[go("example.com/a", "v1.2.3")]).unwrap();
        assert!(r.failures.is_empty());
        assert_eq!(
            r.ignored,
            [IgnoredAdvisory {
                id: "GO-2099-0001".into(),
                database: "OSV".into(),
                purl: "pkg:golang/example.com/a@v1.2.3".into(),
                reason: "the affected parser is never called".into(),
            }]
        );
    }

    #[test]
    fn a_bad_osv_export_is_one_line() {
        let d = tempfile::tempdir().unwrap();
        let check = |p: PathBuf| {
            let dbs = Databases {
                osv_go: Some(p),
                ..Databases::default()
            };
            let e = dbs.open().unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
            e
        };
        let not_zip = d.path().join("all.zip");
        fs_err::write(&not_zip, "<html>rate limited</html>").unwrap();
        let e = check(not_zip);
        assert!(
            e.contains("all.zip`: is not an OSV export (`all.zip` or a folder of JSON records)"),
            "{e}"
        );
        let e = check(d.path().join("nope"));
        assert!(e.ends_with("nope`: does not exist (want an OSV export: `all.zip` or a folder of its JSON records)"), "{e}");
        let bad = d.path().join("bad.zip");
        osv_zip(&bad, &[("GO-1.json", r#"{"id":"GO-1","affected":3}"#)]);
        let e = check(bad);
        assert!(
            e.contains("bad.zip/GO-1.json`: is not an OSV record"),
            "{e}"
        );
        let big = d.path().join("big.zip");
        let huge = format!(r#"{{"id":"GO-2","details":"{}"}}"#, "x".repeat(1024 * 1024));
        osv_zip(&big, &[("GO-2.json", &huge)]);
        let e = check(big);
        assert!(
            e.contains("big.zip/GO-2.json`: is larger than the 1048576-byte limit"),
            "{e}"
        );
    }

    #[test]
    fn a_broken_database_is_one_line() {
        let d = db();
        fs_err::write(
            d.path().join("crates/smallvec/RUSTSEC-2021-0003.md"),
            "```toml\n[advisory]\nid = 3\n```\n",
        )
        .unwrap();
        let dbs = Databases {
            rustsec: Some(d.path().to_path_buf()),
            ..Databases::default()
        };
        let e = dbs.check(&[rust("1.0.0")]).unwrap_err().to_string();
        assert!(
            e.contains("RUSTSEC-2021-0003.md`: is not a RustSec advisory"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let none = Databases {
            rustsec: Some(d.path().join("crates")),
            ..Databases::default()
        };
        let e = none.check(&[rust("1.0.0")]).unwrap_err().to_string();
        assert!(
            e.ends_with("is not a RustSec advisory database (no `crates` folder)"),
            "{e}"
        );
    }
}

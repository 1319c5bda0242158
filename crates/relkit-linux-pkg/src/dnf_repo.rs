//! A DNF/YUM repository as a static tree: the `.rpm` files and
//! `repodata/` with `primary`, `filelists` and `other` (gzipped XML, as
//! createrepo_c writes them), `repomd.xml` naming each by sha256 with its
//! open (uncompressed) checksum and sizes, and `repomd.xml.asc`, a detached
//! armored OpenPGP signature for `repo_gpgcheck`. Built from the previous
//! tree plus new packages; every timestamp is SOURCE_DATE_EPOCH and the
//! packages are sorted, so the same inputs give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use relkit_core::atomic::Staging;
use relkit_core::hash::Algo;
use relkit_core::input::Limit;

use crate::{Error, invalid};

/// Headers larger than this are refused (rpm itself caps them at 256 MiB;
/// relkit's are a few KiB).
const MAX_HEADER: u64 = 32 << 20;

/// Name, epoch, version, release, arch: a package's identity.
type Nevra = (String, u64, String, String, String);

/// One tag's value as read back.
#[derive(Debug, Clone)]
enum Val {
    Int(Vec<u64>),
    Str(Vec<String>),
    Bin,
}

/// What a repository lists about one package, read from its header.
#[derive(Debug, Clone)]
pub struct RpmInfo {
    tags: BTreeMap<u32, Val>,
    /// Offset of the main header and of its end (`rpm:header-range`).
    header_start: u64,
    header_end: u64,
    /// The package file's size and sha256.
    size: u64,
    sha256: String,
    /// Its file name.
    file: String,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Read one header structure at the reader's position: (index count,
/// data size, raw index+data).
fn read_header(r: &mut impl Read, path: &Path) -> Result<Vec<u8>, Error> {
    let bad = |why: &str| invalid(format!("`{}`", path.display()), why.to_owned());
    let mut intro = [0u8; 16];
    r.read_exact(&mut intro)
        .map_err(|_| bad("is not an RPM package (truncated header)"))?;
    if intro[..4] != [0x8e, 0xad, 0xe8, 0x01] {
        return Err(bad("is not an RPM package (no header magic)"));
    }
    let n = u64::from(be32(&intro, 8));
    let data = u64::from(be32(&intro, 12));
    let len = n * 16 + data;
    if len > MAX_HEADER {
        return Err(bad("has an RPM header over 32 MiB"));
    }
    let mut body = vec![0u8; usize::try_from(len).unwrap_or(0)];
    r.read_exact(&mut body)
        .map_err(|_| bad("is not an RPM package (truncated header)"))?;
    let mut out = intro.to_vec();
    out.extend(body);
    Ok(out)
}

/// Parse a header's entries into tags (string, string-array, i18n and
/// integer types; binary values are only noted).
fn parse_header(h: &[u8], path: &Path) -> Result<BTreeMap<u32, Val>, Error> {
    let bad = || {
        invalid(
            format!("`{}`", path.display()),
            "has a malformed RPM header",
        )
    };
    let n = be32(h, 8) as usize;
    let data = &h[16 + n * 16..];
    let mut tags = BTreeMap::new();
    for i in 0..n {
        let e = 16 + i * 16;
        let (tag, kind, off, count) = (
            be32(h, e),
            be32(h, e + 4),
            be32(h, e + 8) as usize,
            be32(h, e + 12) as usize,
        );
        let val = match kind {
            2..=5 => {
                let w = [1, 2, 4, 8][kind as usize - 2];
                let bytes = data.get(off..off + w * count).ok_or_else(bad)?;
                Val::Int(
                    bytes
                        .chunks(w)
                        .map(|c| c.iter().fold(0u64, |a, &b| a << 8 | u64::from(b)))
                        .collect(),
                )
            }
            6 | 8 | 9 => {
                // Each string takes at least its NUL: a count beyond the data is
                // a malformed header, not an allocation.
                let mut out = Vec::with_capacity(count.min(data.len()));
                let mut at = off;
                for _ in 0..count {
                    let rest = data.get(at..).ok_or_else(bad)?;
                    let end = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
                    out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                    at += end + 1;
                }
                Val::Str(out)
            }
            _ => {
                // Binary (and char) values are not read, but must lie in the data.
                data.get(off..off.saturating_add(count)).ok_or_else(bad)?;
                Val::Bin
            }
        };
        tags.insert(tag, val);
    }
    Ok(tags)
}

/// Read what the repository needs from one `.rpm` (its headers only, then
/// its digest streamed).
pub fn read_rpm(path: &Path) -> Result<RpmInfo, Error> {
    let (mut f, size) = relkit_core::input::open_regular(path)?;
    let mut lead = [0u8; 96];
    f.read_exact(&mut lead).map_err(|_| {
        invalid(
            format!("`{}`", path.display()),
            "is not an RPM package (too short)",
        )
    })?;
    if lead[..4] != [0xed, 0xab, 0xee, 0xdb] {
        return Err(invalid(
            format!("`{}`", path.display()),
            "is not an RPM package (no lead magic)",
        ));
    }
    let sig = read_header(&mut f, path)?;
    let pad = (8 - sig.len() % 8) % 8;
    let header_start = 96 + sig.len() as u64 + pad as u64;
    f.seek(SeekFrom::Start(header_start))?;
    let header = read_header(&mut f, path)?;
    let header_end = header_start + header.len() as u64;
    let tags = parse_header(&header, path)?;
    f.rewind()?;
    let digest = relkit_core::hash::hash_reader(&mut f, Algo::Sha256, |_| {})?;
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let info = RpmInfo {
        tags,
        header_start,
        header_end,
        size,
        sha256: digest.hex,
        file,
    };
    for tag in [NAME, VERSION, RELEASE, ARCH] {
        if info.str(tag).is_empty() {
            return Err(invalid(
                format!("`{}`", path.display()),
                "has an RPM header without name, version, release or arch",
            ));
        }
    }
    Ok(info)
}

// The RPM tags, as the writer names them.
use crate::rpm::{
    ARCH, BASENAMES, BUILDHOST, BUILDTIME, CHANGELOGNAME, CHANGELOGTEXT, CHANGELOGTIME,
    CONFLICTFLAGS, CONFLICTNAME, CONFLICTVERSION, DESCRIPTION, DIRINDEXES, DIRNAMES, EPOCH,
    FILEMODES, GROUP, LICENSE, NAME, PACKAGER, PROVIDEFLAGS, PROVIDENAME, PROVIDEVERSION,
    RECOMMENDFLAGS, RECOMMENDNAME, RECOMMENDVERSION, RELEASE, REQUIREFLAGS, REQUIRENAME,
    REQUIREVERSION, SIG_PAYLOADSIZE_MAIN, SIZE, SOURCERPM, SUMMARY, URL, VENDOR, VERSION,
};

impl RpmInfo {
    fn str(&self, tag: u32) -> &str {
        match self.tags.get(&tag) {
            Some(Val::Str(v)) => v.first().map_or("", String::as_str),
            _ => "",
        }
    }
    fn strs(&self, tag: u32) -> &[String] {
        match self.tags.get(&tag) {
            Some(Val::Str(v)) => v,
            _ => &[],
        }
    }
    fn ints(&self, tag: u32) -> &[u64] {
        match self.tags.get(&tag) {
            Some(Val::Int(v)) => v,
            _ => &[],
        }
    }
    fn int(&self, tag: u32) -> u64 {
        self.ints(tag).first().copied().unwrap_or(0)
    }
    /// `(name, epoch, version, release, arch)`: the package's identity.
    fn key(&self) -> Nevra {
        (
            self.str(NAME).to_owned(),
            self.int(EPOCH),
            self.str(VERSION).to_owned(),
            self.str(RELEASE).to_owned(),
            self.str(ARCH).to_owned(),
        )
    }
    /// Every installed path, with whether it is a folder.
    fn paths(&self) -> Vec<(String, bool)> {
        let dirs = self.strs(DIRNAMES);
        let modes = self.ints(FILEMODES);
        self.strs(BASENAMES)
            .iter()
            .zip(self.ints(DIRINDEXES))
            .enumerate()
            .map(|(i, (b, &d))| {
                let dir = dirs
                    .get(usize::try_from(d).unwrap_or(0))
                    .map_or("", String::as_str);
                let is_dir = modes.get(i).is_some_and(|m| m & 0o170_000 == 0o040_000);
                (format!("{dir}{b}"), is_dir)
            })
            .collect()
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn flags_name(flags: u64) -> Option<&'static str> {
    match flags & 0x0e {
        0x02 => Some("LT"),
        0x0a => Some("LE"),
        0x08 => Some("EQ"),
        0x0c => Some("GE"),
        0x04 => Some("GT"),
        _ => None,
    }
}

/// `<rpm:provides>` and the like: entries with their comparison.
fn deps_xml(out: &mut String, pkg: &RpmInfo, element: &str, tags: [u32; 3]) {
    let names = pkg.strs(tags[0]);
    let flags = pkg.ints(tags[1]);
    let versions = pkg.strs(tags[2]);
    let entries: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.starts_with("rpmlib("))
        .map(|(i, n)| {
            let bits = flags.get(i).copied().unwrap_or(0);
            let evr = versions.get(i).map_or("", String::as_str);
            match flags_name(bits).filter(|_| !evr.is_empty()) {
                Some(op) => {
                    let (epoch, rest) = evr.split_once(':').unwrap_or(("0", evr));
                    let (ver, rel) = match rest.rsplit_once('-') {
                        Some((a, b)) => (a, Some(b)),
                        None => (rest, None),
                    };
                    let rel = rel.map_or(String::new(), |r| format!(" rel=\"{}\"", esc(r)));
                    format!(
                        "        <rpm:entry name=\"{}\" flags=\"{op}\" epoch=\"{}\" ver=\"{}\"{rel}/>\n",
                        esc(n),
                        esc(epoch),
                        esc(ver)
                    )
                }
                None => format!("        <rpm:entry name=\"{}\"/>\n", esc(n)),
            }
        })
        .collect();
    if !entries.is_empty() {
        let _ = write!(
            out,
            "      <rpm:{element}>\n{}      </rpm:{element}>\n",
            entries.concat()
        );
    }
}

/// Whether primary.xml lists a file (as createrepo_c does: /etc, bin
/// folders and sendmail; filelists.xml has them all).
fn primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
}

fn primary_xml(pkgs: &[RpmInfo]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        pkgs.len()
    );
    for p in pkgs {
        let (name, epoch, ver, rel, arch) = p.key();
        let _ = write!(
            s,
            "<package type=\"rpm\">\n  <name>{}</name>\n  <arch>{}</arch>\n  <version epoch=\"{epoch}\" ver=\"{}\" rel=\"{}\"/>\n  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>\n  <summary>{}</summary>\n  <description>{}</description>\n  <packager>{}</packager>\n  <url>{}</url>\n  <time file=\"{}\" build=\"{}\"/>\n  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>\n  <location href=\"{}\"/>\n  <format>\n    <rpm:license>{}</rpm:license>\n    <rpm:vendor>{}</rpm:vendor>\n    <rpm:group>{}</rpm:group>\n    <rpm:buildhost>{}</rpm:buildhost>\n    <rpm:sourcerpm>{}</rpm:sourcerpm>\n    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
            esc(&name),
            esc(&arch),
            esc(&ver),
            esc(&rel),
            p.sha256,
            esc(p.str(SUMMARY)),
            esc(p.str(DESCRIPTION)),
            esc(p.str(PACKAGER)),
            esc(p.str(URL)),
            p.int(BUILDTIME),
            p.int(BUILDTIME),
            p.size,
            p.int(SIZE),
            p.int(SIG_PAYLOADSIZE_MAIN),
            esc(&p.file),
            esc(p.str(LICENSE)),
            esc(p.str(VENDOR)),
            esc(p.str(GROUP)),
            esc(p.str(BUILDHOST)),
            esc(p.str(SOURCERPM)),
            p.header_start,
            p.header_end,
        );
        deps_xml(
            &mut s,
            p,
            "provides",
            [PROVIDENAME, PROVIDEFLAGS, PROVIDEVERSION],
        );
        deps_xml(
            &mut s,
            p,
            "requires",
            [REQUIRENAME, REQUIREFLAGS, REQUIREVERSION],
        );
        deps_xml(
            &mut s,
            p,
            "conflicts",
            [CONFLICTNAME, CONFLICTFLAGS, CONFLICTVERSION],
        );
        deps_xml(
            &mut s,
            p,
            "recommends",
            [RECOMMENDNAME, RECOMMENDFLAGS, RECOMMENDVERSION],
        );
        for (path, is_dir) in p.paths() {
            if primary_file(&path) {
                let kind = if is_dir { " type=\"dir\"" } else { "" };
                let _ = writeln!(s, "    <file{kind}>{}</file>", esc(&path));
            }
        }
        s.push_str("  </format>\n</package>\n");
    }
    s.push_str("</metadata>\n");
    s
}

fn pkg_open(s: &mut String, p: &RpmInfo) {
    let (name, epoch, ver, rel, arch) = p.key();
    let _ = writeln!(
        s,
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">\n  <version epoch=\"{epoch}\" ver=\"{}\" rel=\"{}\"/>",
        p.sha256,
        esc(&name),
        esc(&arch),
        esc(&ver),
        esc(&rel)
    );
}

fn filelists_xml(pkgs: &[RpmInfo]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{}\">\n",
        pkgs.len()
    );
    for p in pkgs {
        pkg_open(&mut s, p);
        for (path, is_dir) in p.paths() {
            let kind = if is_dir { " type=\"dir\"" } else { "" };
            let _ = writeln!(s, "  <file{kind}>{}</file>", esc(&path));
        }
        s.push_str("</package>\n");
    }
    s.push_str("</filelists>\n");
    s
}

fn other_xml(pkgs: &[RpmInfo]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{}\">\n",
        pkgs.len()
    );
    for p in pkgs {
        pkg_open(&mut s, p);
        let names = p.strs(CHANGELOGNAME);
        let texts = p.strs(CHANGELOGTEXT);
        for (i, t) in p.ints(CHANGELOGTIME).iter().enumerate() {
            let _ = writeln!(
                s,
                "  <changelog author=\"{}\" date=\"{t}\">{}</changelog>",
                esc(names.get(i).map_or("", String::as_str)),
                esc(texts.get(i).map_or("", String::as_str))
            );
        }
        s.push_str("</package>\n");
    }
    s.push_str("</otherdata>\n");
    s
}

/// Signs `repomd.xml`: given its path, an ASCII-armored detached OpenPGP
/// signature (`gpg --armor --detach-sign`, relkit-sign's
/// `GpgSigner::sign_text` with `TextSignature::Detached`), written as
/// `repomd.xml.asc` byte for byte.
pub type Sign<'a> = &'a dyn Fn(&Path) -> Result<Vec<u8>, relkit_core::Error>;

/// What a repository build wrote (paths inside the tree).
#[derive(Debug, Clone)]
pub struct RepoWritten {
    /// Every file of the tree, sorted, relative to it.
    pub files: Vec<String>,
    /// The packages it lists, by file name.
    pub packages: Vec<String>,
}

/// The largest `repomd.xml` read back from a previous tree (ours are under
/// 2 KiB; createrepo_c's with every database under 8 KiB).
const REPOMD_LIMIT: Limit = Limit::new("repomd.xml", 1 << 20);
/// The largest uncompressed `primary.xml` read back from a previous tree:
/// about 2 KiB a package, so room for 100,000 of them.
const PRIMARY_LIMIT: u64 = 256 << 20;

/// One package of the previous tree: its path and the sha256 its
/// repodata lists for it.
#[derive(Debug)]
struct Listed {
    path: PathBuf,
    sha256: String,
}

/// Build the repository in `out` from the packages the previous tree's
/// repodata lists (`previous`, when given: each must be there with the
/// sha256 listed; older versions are kept unless `keep_older` is false)
/// plus `rpms`. `out` must not exist or be empty; nothing is left in it
/// on failure.
pub fn build(
    previous: Option<&Path>,
    rpms: &[PathBuf],
    out: &Path,
    keep_older: bool,
    epoch: i64,
    sign: Option<Sign<'_>>,
) -> Result<RepoWritten, Error> {
    let time = u64::try_from(epoch).map_err(|_| invalid("SOURCE_DATE_EPOCH", "is before 1970"))?;
    let listed = match previous {
        Some(prev) => previous_packages(prev)?,
        None => Vec::new(),
    };
    let mut all: BTreeMap<Nevra, (RpmInfo, PathBuf)> = BTreeMap::new();
    let sources = listed
        .into_iter()
        .map(|l| (l.path, Some(l.sha256)))
        .chain(rpms.iter().map(|p| (p.clone(), None)));
    for (path, expected) in sources {
        let info = read_rpm(&path)?;
        if let Some(sum) = expected {
            if sum != info.sha256 {
                return Err(invalid(
                    format!("`{}`", path.display()),
                    "does not match the sha256 the previous tree's repodata lists for it",
                ));
            }
        }
        let key = info.key();
        if let Some((old, _)) = all.get(&key) {
            if old.sha256 != info.sha256 {
                return Err(invalid(
                    format!("`{}`", path.display()),
                    format!(
                        "{} {}-{}.{} is already in the repository with different bytes",
                        key.0, key.2, key.3, key.4
                    ),
                ));
            }
        }
        all.insert(key, (info, path));
    }
    if !keep_older {
        newest_only(&mut all);
    }
    if all.is_empty() {
        return Err(invalid("dnf-repo", "no .rpm package to publish"));
    }
    let mut names = std::collections::BTreeSet::new();
    for (info, path) in all.values() {
        if !names.insert(info.file.clone()) {
            return Err(invalid(
                format!("`{}`", path.display()),
                "two packages share this file name",
            ));
        }
    }
    let pkgs: Vec<RpmInfo> = all.values().map(|(i, _)| i.clone()).collect();

    let mut staging = Staging::new();
    staging.ensure_dir(out)?;
    staging.ensure_dir(&out.join("repodata"))?;
    let mut files = Vec::new();
    for (info, path) in all.values() {
        let dest = out.join(&info.file);
        let tmp = staging.create(&dest)?;
        let (mut src, _) = relkit_core::input::open_regular(path)?;
        std::io::copy(&mut src, tmp.as_file_mut())?;
        files.push(info.file.clone());
    }
    files.extend(write_metadata(&mut staging, out, &pkgs, time, sign)?);
    staging.commit()?;
    files.sort();
    Ok(RepoWritten {
        files,
        packages: pkgs.iter().map(|p| p.file.clone()).collect(),
    })
}

/// Keep the newest version (epoch, version, release in rpm's order) of
/// each package name and architecture.
fn newest_only(all: &mut BTreeMap<Nevra, (RpmInfo, PathBuf)>) {
    let mut best: BTreeMap<(String, String), Nevra> = BTreeMap::new();
    for k in all.keys() {
        let slot = (k.0.clone(), k.4.clone());
        let newer = best.get(&slot).is_none_or(|b| {
            compare_evr((k.1, &k.2, &k.3), (b.1, &b.2, &b.3)) == std::cmp::Ordering::Greater
        });
        if newer {
            best.insert(slot, k.clone());
        }
    }
    all.retain(|k, _| best.get(&(k.0.clone(), k.4.clone())) == Some(k));
}

/// The packages a previous tree's `repodata/repomd.xml` lists through its
/// primary metadata (gzip, zstd, xz or plain, as createrepo_c may write
/// it), each with the sha256 listed for it. A tree that is not a DNF
/// repository, or that lacks a listed package, is refused: publishing from
/// a partial checkout would drop packages users have installed.
fn previous_packages(prev: &Path) -> Result<Vec<Listed>, Error> {
    let not_repo = |why: &str| {
        invalid(
            format!("`{}`", prev.display()),
            format!("is not a DNF repository ({why})"),
        )
    };
    if !prev.is_dir() {
        return Err(not_repo("not a folder"));
    }
    let repomd_path = prev.join("repodata/repomd.xml");
    if !repomd_path.is_file() {
        return Err(not_repo("no repodata/repomd.xml"));
    }
    let repomd = relkit_core::input::read_text(&repomd_path, REPOMD_LIMIT)?;
    let bad_repomd = |why: &str| invalid(format!("`{}`", repomd_path.display()), why.to_owned());
    let primary = repomd
        .split("<data type=\"primary\">")
        .nth(1)
        .and_then(|d| d.split("</data>").next())
        .and_then(|d| attribute(d, "<location", "href"))
        .ok_or_else(|| bad_repomd("lists no primary metadata"))?;
    let primary_path = prev.join(
        safe_relative(&primary)
            .ok_or_else(|| bad_repomd(&format!("names `{primary}`, which is outside the tree")))?,
    );
    let xml = read_primary(&primary_path)?;
    let bad_primary = |why: String| invalid(format!("`{}`", primary_path.display()), why);
    let mut out = Vec::new();
    for pkg in xml.split("<package ").skip(1) {
        let href = attribute(pkg, "<location", "href")
            .ok_or_else(|| bad_primary("lists a package without a location".to_owned()))?;
        let sum = pkg
            .split("<checksum ")
            .nth(1)
            .and_then(|c| c.split_once('>'))
            .filter(|(attrs, _)| attrs.contains("type=\"sha256\""))
            .and_then(|(_, rest)| rest.split('<').next())
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad_primary(format!("lists no sha256 for `{href}`")))?;
        let rel = safe_relative(&href)
            .ok_or_else(|| bad_primary(format!("names `{href}`, which is outside the tree")))?;
        let path = prev.join(rel);
        if !path.is_file() {
            return Err(invalid(
                format!("`{}`", path.display()),
                "is listed in the previous tree's repodata but missing",
            ));
        }
        out.push(Listed {
            path,
            sha256: sum.to_ascii_lowercase(),
        });
    }
    Ok(out)
}

/// The value of `name="…"` in the first `element` of `xml`, unescaped.
fn attribute(xml: &str, element: &str, name: &str) -> Option<String> {
    let tag = xml.split(element).nth(1)?.split('>').next()?;
    let value = tag
        .split(&format!(" {name}=\""))
        .nth(1)?
        .split('"')
        .next()?;
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// `href` as a path inside the tree: relative, without `..`.
fn safe_relative(href: &str) -> Option<PathBuf> {
    let p = Path::new(href);
    p.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| p.to_path_buf())
}

/// The uncompressed primary metadata, at most [`PRIMARY_LIMIT`] bytes.
fn read_primary(path: &Path) -> Result<String, Error> {
    let (file, _) = relkit_core::input::open_regular(path)?;
    let name = path.to_string_lossy();
    let reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::new(file)?)
    } else if name.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut bytes = Vec::new();
    let bad = |why: &str| invalid(format!("`{}`", path.display()), why.to_owned());
    reader
        .take(PRIMARY_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| bad("cannot be decompressed"))?;
    if bytes.len() as u64 > PRIMARY_LIMIT {
        return Err(bad("holds more than 256 MiB of metadata"));
    }
    String::from_utf8(bytes).map_err(|_| bad("is not UTF-8 XML"))
}

/// rpm's order of two `(epoch, version, release)`: epochs as numbers, then
/// [`rpmvercmp`] on the versions, then on the releases.
pub fn compare_evr(a: (u64, &str, &str), b: (u64, &str, &str)) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| rpmvercmp(a.1, b.1))
        .then_with(|| rpmvercmp(a.2, b.2))
}

/// rpm's `rpmvercmp`: the strings are compared segment by segment (runs of
/// digits or of letters; other characters only separate), numbers as
/// numbers and newer than letters; `~` sorts before anything, the end
/// included (`1.0~rc1` < `1.0`), and `^` after the end but before any
/// other segment (`1.0` < `1.0^git1` < `1.0.1`).
// a, b and their positions i, j, as in rpm's own rpmvercmp.
#[allow(clippy::many_single_char_names)]
pub fn rpmvercmp(left: &str, right: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let (a, b) = (left.as_bytes(), right.as_bytes());
    if a == b {
        return Equal;
    }
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    // Positions in `a` and `b`.
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Greater;
            }
            if y != Some(b'~') {
                return Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if x == Some(b'^') || y == Some(b'^') {
            if x.is_none() {
                return Less;
            }
            if y.is_none() {
                return Greater;
            }
            if x != Some(b'^') {
                return Greater;
            }
            if y != Some(b'^') {
                return Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(x), Some(_)) = (x, y) else {
            break;
        };
        let numeric = x.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let seg_a = &a[i..i + a[i..].iter().take_while(|c| class(c)).count()];
        let seg_b = &b[j..j + b[j..].iter().take_while(|c| class(c)).count()];
        i += seg_a.len();
        j += seg_b.len();
        if seg_b.is_empty() {
            // A number is newer than letters.
            return if numeric { Greater } else { Less };
        }
        let ord = if numeric {
            let trim =
                |s: &[u8]| -> Vec<u8> { s.iter().copied().skip_while(|&c| c == b'0').collect() };
            let (ta, tb) = (trim(seg_a), trim(seg_b));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb))
        } else {
            seg_a.cmp(seg_b)
        };
        if ord != Equal {
            return ord;
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Equal,
        (true, false) => Less,
        _ => Greater,
    }
}

/// repodata/: the three gzipped XML files named by their sha256,
/// repomd.xml listing them, and its signature.
fn write_metadata(
    staging: &mut Staging,
    out: &Path,
    pkgs: &[RpmInfo],
    time: u64,
    sign: Option<Sign<'_>>,
) -> Result<Vec<String>, Error> {
    let epoch = i64::try_from(time).unwrap_or(i64::MAX);
    let mut files = Vec::new();
    let mut records = String::new();
    for (kind, xml) in [
        ("primary", primary_xml(pkgs)),
        ("filelists", filelists_xml(pkgs)),
        ("other", other_xml(pkgs)),
    ] {
        let gz = crate::layout::gzip_max(xml.as_bytes(), epoch)?;
        let sum = hex_sha256(&gz);
        let open = hex_sha256(xml.as_bytes());
        let href = format!("repodata/{sum}-{kind}.xml.gz");
        staging.write(&out.join(&href), &gz)?;
        files.push(href.clone());
        let _ = write!(
            records,
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{sum}</checksum>\n    <open-checksum type=\"sha256\">{open}</open-checksum>\n    <location href=\"{href}\"/>\n    <timestamp>{time}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            gz.len(),
            xml.len()
        );
    }
    let repomd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{time}</revision>\n{records}</repomd>\n"
    );
    let repomd_path = out.join("repodata/repomd.xml");
    staging.write(&repomd_path, repomd.as_bytes())?;
    files.push("repodata/repomd.xml".to_owned());
    if let Some(sign) = sign {
        let mut t = tempfile::NamedTempFile::new_in(out).map_err(relkit_core::Error::from)?;
        t.write_all(repomd.as_bytes())?;
        t.flush()?;
        let sig = sign(t.path())?;
        if !sig.starts_with(b"-----BEGIN PGP SIGNATURE-----") {
            return Err(invalid(
                "repomd.xml.asc",
                "the signer returned no ASCII-armored signature",
            ));
        }
        staging.write(&out.join("repodata/repomd.xml.asc"), &sig)?;
        files.push("repodata/repomd.xml.asc".to_owned());
    }
    Ok(files)
}

fn hex_sha256(b: &[u8]) -> String {
    let mut h = Algo::Sha256.hasher();
    h.update(b);
    h.finish_hex()
}

//! A static APT repository: `pool/COMPONENT/…/*.deb`,
//! `dists/SUITE/COMPONENT/binary-ARCH/Packages{,.gz}` and
//! `dists/SUITE/Release`, built from the previous tree's pool plus new
//! `.deb` files. The same packages and SOURCE_DATE_EPOCH give the same
//! bytes. Signing `Release` (`InRelease`, `Release.gpg`) is the caller's:
//! this crate knows no keys.
//!
//! Each package's stanza is its own `control` file, read out of the `.deb`
//! (control.tar.gz, .xz, .zst or plain), followed by `Filename`, `Size`,
//! `MD5sum` and `SHA256` from one streaming pass that copies it into the pool.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use md5::Digest as _;
use relkit_core::Error as CoreError;
use relkit_core::hash::Algo;

use crate::Error;

/// What the repository says about itself.
#[derive(Debug, Clone)]
pub struct RepoOptions {
    /// Suite and codename (`stable`).
    pub suite: String,
    /// The one component (`main`).
    pub component: String,
    /// `Origin` and `Label` (the project name).
    pub origin: String,
    /// `Date`, seconds since the epoch (SOURCE_DATE_EPOCH).
    pub epoch: i64,
    /// Keep every version found in the previous tree (else only the
    /// newest of each package and architecture).
    pub keep_older: bool,
}

/// One package in the pool.
#[derive(Debug, Clone)]
struct Entry {
    package: String,
    version: String,
    arch: String,
    /// The `control` paragraph, without its final newline.
    control: String,
    /// `pool/…` path.
    filename: String,
    size: u64,
    md5: String,
    sha256: String,
}

/// What [`build`] wrote.
#[derive(Debug)]
pub struct Built {
    /// `dists/SUITE/Release`, to be signed.
    pub release: PathBuf,
    /// Pool paths of the packages, sorted.
    pub packages: Vec<String>,
}

/// Write the repository into `out` (an empty folder): every `.deb` of
/// `previous`'s pool (when given) and `debs`.
pub fn build(
    opts: &RepoOptions,
    previous: Option<&Path>,
    debs: &[PathBuf],
    out: &Path,
) -> Result<Built, Error> {
    check_word("suite", &opts.suite)?;
    check_word("component", &opts.component)?;
    let mut inputs: Vec<PathBuf> = Vec::new();
    if let Some(prev) = previous {
        let pool = prev.join("pool");
        if !pool.is_dir() {
            return Err(CoreError::invalid(
                format!("`{}`", prev.display()),
                "is not an APT repository (no pool/ folder)",
            )
            .into());
        }
        collect_debs(&pool, &mut inputs)?;
    }
    inputs.extend(debs.iter().cloned());
    let mut by_path: BTreeMap<String, Entry> = BTreeMap::new();
    for deb in &inputs {
        let e = add_to_pool(deb, &opts.component, out)?;
        if let Some(prev) = by_path.get(&e.filename) {
            if prev.sha256 != e.sha256 {
                return Err(CoreError::invalid(
                    format!("`{}`", deb.display()),
                    format!(
                        "{} {} ({}) is already in the repository with different bytes",
                        e.package, e.version, e.arch
                    ),
                )
                .into());
            }
            continue;
        }
        by_path.insert(e.filename.clone(), e);
    }
    let mut entries: Vec<Entry> = by_path.into_values().collect();
    if !opts.keep_older {
        entries = newest_only(entries, out)?;
    }
    if entries.is_empty() {
        return Err(CoreError::invalid("apt-repo", "no .deb package to publish").into());
    }
    let release = write_indexes(opts, &entries, out)?;
    Ok(Built {
        release,
        packages: entries.into_iter().map(|e| e.filename).collect(),
    })
}

fn check_word(field: &str, v: &str) -> Result<(), Error> {
    let ok = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !v.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(field, format!("`{v}` is not a plain word")).into())
    }
}

fn collect_debs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let mut items: Vec<_> = fs_err::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    items.sort();
    for p in items {
        let meta = fs_err::symlink_metadata(&p)?;
        if meta.is_dir() {
            collect_debs(&p, out)?;
        } else if meta.is_file() && p.extension().is_some_and(|x| x == "deb") {
            out.push(p);
        }
    }
    Ok(())
}

/// Read `deb`'s control paragraph, then copy it to its pool path while
/// hashing it.
fn add_to_pool(deb: &Path, component: &str, out: &Path) -> Result<Entry, Error> {
    let bad =
        |what: String| -> Error { CoreError::invalid(format!("`{}`", deb.display()), what).into() };
    let control = read_control(deb).map_err(|e| bad(e.to_string()))?;
    let field = |name: &str| {
        control_field(&control, name)
            .ok_or_else(|| bad(format!("its control file has no `{name}` field")))
    };
    let package = field("Package")?;
    let version = field("Version")?;
    let arch = field("Architecture")?;
    let plain = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.~:".contains(&b))
    };
    if !plain(&package) || !plain(&version) || !plain(&arch) || package.starts_with('.') {
        return Err(bad(
            "its Package, Version or Architecture holds an unexpected character".to_owned(),
        ));
    }
    let prefix = if package.starts_with("lib") && package.len() > 3 {
        &package[..4]
    } else {
        &package[..1]
    };
    let upstream = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
    let filename = format!("pool/{component}/{prefix}/{package}/{package}_{upstream}_{arch}.deb");
    let dest = out.join(&filename);
    fs_err::create_dir_all(dest.parent().expect("pool path has a parent"))?;
    let (size, md5, sha256) = copy_hashing(deb, &dest)?;
    Ok(Entry {
        package,
        version,
        arch,
        control,
        filename,
        size,
        md5,
        sha256,
    })
}

/// Copy `from` to `to` (created new, 0644), returning size, md5 and sha256.
fn copy_hashing(from: &Path, to: &Path) -> Result<(u64, String, String), Error> {
    let mut src = relkit_core::hash::open_regular(from)?;
    if to.exists() {
        // The same pool path twice: hash this copy; the caller compares it
        // with the one already there.
        return Ok(hash_copy(&mut src, &mut io::sink())?);
    }
    let mut dst = fs_err::File::create(to)?;
    let r = hash_copy(&mut src, &mut dst)?;
    dst.sync_all()?;
    Ok(r)
}

fn hash_copy(src: &mut impl Read, dst: &mut impl Write) -> io::Result<(u64, String, String)> {
    let mut md5 = md5::Md5::new();
    let mut sha = Algo::Sha256.hasher();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        size += n as u64;
    }
    let md5 = md5.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok((size, md5, sha.finish_hex()))
}

/// The `control` file of a `.deb`, read through the `ar` container and the
/// control tarball (bounded: 1 MiB).
fn read_control(deb: &Path) -> io::Result<String> {
    let file = relkit_core::hash::open_regular(deb).map_err(io::Error::other)?;
    let mut r = io::BufReader::new(file);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| io::Error::other("is not a Debian package (too short)"))?;
    if &magic != b"!<arch>\n" {
        return Err(io::Error::other("is not a Debian package (no ar header)"));
    }
    loop {
        let mut header = [0u8; 60];
        if r.read_exact(&mut header).is_err() {
            return Err(io::Error::other(
                "is not a Debian package (no control.tar member)",
            ));
        }
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_owned();
        let size: u64 = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| io::Error::other("has a damaged ar member header"))?;
        if name.starts_with("control.tar") {
            let member = (&mut r).take(size);
            let reader: Box<dyn Read + '_> = match name.as_str() {
                "control.tar.gz" => Box::new(flate2::read::GzDecoder::new(member)),
                "control.tar.xz" => Box::new(liblzma::read::XzDecoder::new(member)),
                "control.tar.zst" => Box::new(zstd::Decoder::new(member)?),
                "control.tar" => Box::new(member),
                other => {
                    return Err(io::Error::other(format!(
                        "has a control member `{other}` in an unknown compression"
                    )));
                }
            };
            return control_from_tar(reader);
        }
        io::copy(&mut (&mut r).take(size + size % 2), &mut io::sink())?;
    }
}

fn control_from_tar(reader: impl Read) -> io::Result<String> {
    const LIMIT: u64 = 1 << 20;
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries()? {
        let entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if path.trim_start_matches("./") == "control" {
            if entry.size() > LIMIT {
                return Err(io::Error::other("has a control file over 1 MiB"));
            }
            let mut text = String::new();
            entry.take(LIMIT).read_to_string(&mut text)?;
            let text = text.trim_end_matches('\n').to_owned();
            if text.is_empty() || text.contains("\n\n") {
                return Err(io::Error::other(
                    "has a control file that is not one paragraph",
                ));
            }
            return Ok(text);
        }
    }
    Err(io::Error::other("has no control file"))
}

/// The value of a single-line field of a control paragraph.
fn control_field(control: &str, name: &str) -> Option<String> {
    control.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.eq_ignore_ascii_case(name) && !l.starts_with([' ', '\t'])).then(|| v.trim().to_owned())
    })
}

/// Only the newest version of each package and architecture; the older
/// ones leave the pool.
fn newest_only(entries: Vec<Entry>, out: &Path) -> Result<Vec<Entry>, Error> {
    let mut best: BTreeMap<(String, String), Entry> = BTreeMap::new();
    for e in entries {
        let key = (e.package.clone(), e.arch.clone());
        match best.get(&key) {
            Some(b) if compare_versions(&b.version, &e.version).is_ge() => {
                fs_err::remove_file(out.join(&e.filename))?;
            }
            _ => {
                if let Some(old) = best.insert(key, e) {
                    fs_err::remove_file(out.join(&old.filename))?;
                }
            }
        }
    }
    Ok(best.into_values().collect())
}

/// Debian's version order (dpkg's `verrevcmp`): epoch, then upstream
/// version, then revision; `~` sorts before anything, even the end.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) => (e.parse().unwrap_or(0), r),
            None => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub).cmp(&0))
        .then_with(|| verrevcmp(ra, rb).cmp(&0))
}

fn verrevcmp(a: &str, b: &str) -> i32 {
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(b'~') => -1,
            Some(c) => i32::from(c) + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac - bc;
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = 0;
        while digit(a, i) && digit(b, j) {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return 1;
        }
        if digit(b, j) {
            return -1;
        }
        if first_diff != 0 {
            return first_diff;
        }
    }
    0
}

/// `Packages` and `Packages.gz` per architecture, then `Release`.
fn write_indexes(opts: &RepoOptions, entries: &[Entry], out: &Path) -> Result<PathBuf, Error> {
    let dists = out.join("dists").join(&opts.suite);
    let mut arches: Vec<&str> = entries
        .iter()
        .map(|e| e.arch.as_str())
        .filter(|a| *a != "all")
        .collect();
    arches.sort_unstable();
    arches.dedup();
    let mut sums = String::new();
    for arch in &arches {
        let mut sorted: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.arch == *arch || e.arch == "all")
            .collect();
        sorted.sort_by(|a, b| {
            a.package
                .cmp(&b.package)
                .then_with(|| compare_versions(&a.version, &b.version))
                .then_with(|| a.filename.cmp(&b.filename))
        });
        let mut text = String::new();
        for e in sorted {
            let _ = write!(
                text,
                "{}\nFilename: {}\nSize: {}\nMD5sum: {}\nSHA256: {}\n\n",
                e.control, e.filename, e.size, e.md5, e.sha256
            );
        }
        let rel = format!("{}/binary-{arch}/Packages", opts.component);
        let path = dists.join(&rel);
        fs_err::create_dir_all(path.parent().expect("has a parent"))?;
        fs_err::write(&path, text.as_bytes())?;
        let gz = gzip(text.as_bytes())?;
        fs_err::write(dists.join(format!("{rel}.gz")), &gz)?;
        for (name, bytes) in [
            (rel.clone(), text.as_bytes()),
            (format!("{rel}.gz"), &gz[..]),
        ] {
            let mut h = Algo::Sha256.hasher();
            h.update(bytes);
            let _ = writeln!(sums, " {} {:>16} {name}", h.finish_hex(), bytes.len());
        }
    }
    let date = release_date(opts.epoch)?;
    let release = format!(
        "Origin: {o}\nLabel: {o}\nSuite: {s}\nCodename: {s}\nDate: {date}\nArchitectures: {a}\nComponents: {c}\nDescription: {o} packages\nSHA256:\n{sums}",
        o = opts.origin,
        s = opts.suite,
        a = arches.join(" "),
        c = opts.component,
    );
    let path = dists.join("Release");
    fs_err::write(&path, release.as_bytes())?;
    Ok(path)
}

/// Gzip without a name or time, so the same text gives the same bytes.
fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    enc.finish()
}

/// `Date:` as Debian's archive writes it: `Tue, 14 Nov 2023 22:13:20 UTC`.
fn release_date(epoch: i64) -> Result<String, Error> {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch)
        .map_err(|e| CoreError::invalid("SOURCE_DATE_EPOCH", e.to_string()))?;
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] UTC"
    );
    t.format(&f)
        .map_err(|e| CoreError::invalid("SOURCE_DATE_EPOCH", e.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_debians() {
        assert_eq!(
            release_date(1_700_000_000).unwrap(),
            "Tue, 14 Nov 2023 22:13:20 UTC"
        );
    }

    #[test]
    fn fields_of_a_paragraph() {
        let c = "Package: tool\nVersion: 1:2.0\nDescription: x\n Version: no\nArchitecture: amd64";
        assert_eq!(control_field(c, "Version").as_deref(), Some("1:2.0"));
        assert_eq!(control_field(c, "architecture").as_deref(), Some("amd64"));
        assert_eq!(control_field(c, "Depends"), None);
    }

    #[test]
    fn versions_sort_as_dpkg_sorts_them() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc.1", "1.0", Less),
            ("1.0", "1.0-1", Less),
            ("1:0.1", "9.9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0+b1", "1.0", Greater),
            ("1.01", "1.1", Equal),
            ("2.0-1", "2.0-10", Less),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn gzip_is_stable() {
        assert_eq!(gzip(b"abc").unwrap(), gzip(b"abc").unwrap());
        assert_eq!(&gzip(b"abc").unwrap()[4..8], &[0, 0, 0, 0]);
    }
}

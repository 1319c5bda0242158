//! `.deb` writing: an `ar` archive of `debian-binary`, `control.tar.gz` and
//! `data.tar.gz`, in that order, laid out as `dpkg-deb --build` lays them
//! out (`./`-relative paths, folders before their contents, owner
//! root:root), with every time from SOURCE_DATE_EPOCH and every member
//! sorted, so the same inputs give the same bytes. The data tar is
//! compressed on all cores into an unnamed temporary file, so memory stays
//! bounded whatever the binaries weigh.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::Path;

use md5::Digest as _;
use relkit_core::atomic::Staging;
use relkit_core::hash::{Algo, HashingWriter};
use relkit_package::archive::GZIP_LEVEL;
use relkit_package::pargz::ParGzEncoder;

use crate::{Error, File, Package, Source, Written, debian, invalid, layout, scripts};

/// Debian-specific settings.
#[derive(Debug, Clone, Default)]
pub struct DebOptions {
    /// The packaging revision (`1` gives version `1.2.3-1`); none by default.
    pub revision: Option<String>,
}

/// The checked Debian names of a package.
#[derive(Debug, Clone)]
pub struct Names {
    /// Debian version.
    pub version: String,
    /// Debian architecture.
    pub arch: &'static str,
    /// `NAME_VERSION_ARCH.deb`.
    pub file: String,
}

/// Check everything about `p` that Debian has rules for, and name its file.
pub fn names(p: &Package, opts: &DebOptions) -> Result<Names, Error> {
    debian::check(p)?;
    let version = debian::version("version", &p.version, opts.revision.as_deref())?;
    let arch = debian::arch(&p.target)?;
    let file = format!("{}_{version}_{arch}.deb", p.name);
    relkit_core::names::check_file_name("package.name", &file)?;
    Ok(Names {
        version,
        arch,
        file,
    })
}

/// Write `p` as a `.deb` into `out_dir`; nothing is left there on failure.
pub fn build(p: &Package, opts: &DebOptions, out_dir: &Path) -> Result<Written, Error> {
    let names = names(p, opts)?;
    let files = with_generated(p, &names)?;
    let mtime =
        u64::try_from(p.epoch).map_err(|_| invalid("SOURCE_DATE_EPOCH", "is before 1970"))?;

    let mut staging = Staging::new();
    staging.ensure_dir(out_dir)?;
    // The data tar goes to an unnamed file: the ar header needs its size first.
    let mut data =
        tempfile::tempfile_in(out_dir).map_err(|source| relkit_core::Error::Unwritable {
            path: out_dir.to_path_buf(),
            source,
        })?;
    let summary = write_data(&mut data, &files, mtime)?;
    let data_size = data.stream_position()?;
    data.rewind()?;
    let control = control_tar(p, &names, &files, &summary, mtime)?;

    let dest = out_dir.join(&names.file);
    let tmp = staging.create(&dest)?;
    let hashing = HashingWriter::new(
        BufWriter::with_capacity(1 << 20, tmp.as_file_mut()),
        Algo::Sha256,
    );
    let mut ar = crate::ar::ArWriter::new(hashing, mtime)?;
    ar.append("debian-binary", 4, &mut &b"2.0\n"[..])?;
    ar.append(
        "control.tar.gz",
        control.len() as u64,
        &mut control.as_slice(),
    )?;
    ar.append("data.tar.gz", data_size, &mut io::BufReader::new(&mut data))?;
    let (buffered, digest) = ar.into_inner().finish()?;
    buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    staging.commit()?;
    Ok(Written {
        path: dest,
        sha256: digest.hex,
        size: digest.size,
    })
}

/// The package's files plus what Debian requires of every package: the
/// copyright file and a changelog.
fn with_generated(p: &Package, names: &Names) -> Result<Vec<File>, Error> {
    let mut files = p.files.clone();
    let doc = format!("/usr/share/doc/{}", p.name);
    let generated = [
        (format!("{doc}/copyright"), copyright(p).into_bytes()),
        (
            format!("{doc}/changelog.gz"),
            layout::gzip_max(changelog(p, names)?.as_bytes(), p.epoch)?,
        ),
    ];
    for (dest, bytes) in generated {
        if files.iter().any(|f| f.dest == dest) {
            return Err(invalid(
                "package.docs",
                format!("`{dest}` is written by relkit; do not list it"),
            ));
        }
        files.push(File {
            dest,
            source: Source::Bytes(bytes),
            mode: 0o644,
            conffile: false,
        });
    }
    files.sort_by(|a, b| components(&a.dest).cmp(&components(&b.dest)));
    Ok(files)
}

fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty()).collect()
}

/// A machine-readable copyright file (DEP-5) from the license fields.
fn copyright(p: &Package) -> String {
    let license = p.license.as_deref().unwrap_or("UNKNOWN");
    let mut s = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: {}\n",
        p.name
    );
    if let Some(h) = &p.homepage {
        let _ = writeln!(s, "Source: {h}");
    }
    let notice = p.copyright.clone().unwrap_or_else(|| {
        let year = time::OffsetDateTime::from_unix_timestamp(p.epoch)
            .map_or(1970, time::OffsetDateTime::year);
        format!("{year} {} contributors", p.name)
    });
    let _ = write!(s, "\nFiles: *\nCopyright: {notice}\nLicense: {license}\n");
    match &p.license_text {
        Some(text) => s.push_str(&debian::continued(text)),
        None => s.push_str(" The license text is distributed with the source code.\n"),
    }
    s
}

/// A one-entry Debian changelog for this version.
fn changelog(p: &Package, names: &Names) -> Result<String, Error> {
    let date = time::OffsetDateTime::from_unix_timestamp(p.epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .ok_or_else(|| {
            invalid(
                "SOURCE_DATE_EPOCH",
                format!("`{}` is out of range", p.epoch),
            )
        })?;
    Ok(format!(
        "{} ({}) stable; urgency=medium\n\n  * Release {}.\n\n -- {}  {date}\n",
        p.name, names.version, p.version, p.maintainer
    ))
}

/// What the data tar held, for the control files.
struct DataSummary {
    /// `md5sums` lines, in archive order.
    md5sums: String,
    /// Installed size in KiB, counted as dpkg-gencontrol does (each file
    /// rounded up to a KiB, one per folder).
    installed_kib: u64,
}

/// Every folder of `files` (parents first) and then the files, as tar
/// paths in `dpkg-deb`'s spelling.
fn write_data(out: &mut std::fs::File, files: &[File], mtime: u64) -> Result<DataSummary, Error> {
    let mut tar = tar::Builder::new(ParGzEncoder::new(
        BufWriter::with_capacity(1 << 20, out),
        GZIP_LEVEL,
    ));
    let mut dirs: BTreeSet<Vec<&str>> = BTreeSet::new();
    for f in files {
        let c = components(&f.dest);
        for i in 0..c.len() {
            dirs.insert(c[..i].to_vec());
        }
    }
    let mut md5sums = String::new();
    let mut installed_kib = dirs.len() as u64;
    // Folders and files, in one component-wise order (a folder before its contents).
    let mut order: Vec<(Vec<&str>, Option<&File>)> = dirs.into_iter().map(|d| (d, None)).collect();
    order.extend(files.iter().map(|f| (components(&f.dest), Some(f))));
    order.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, file) in order {
        let Some(f) = file else {
            let name = if path.is_empty() {
                "./".to_owned()
            } else {
                format!("./{}/", path.join("/"))
            };
            append(
                &mut tar,
                &name,
                tar::EntryType::Directory,
                0o755,
                0,
                mtime,
                &mut io::empty(),
            )?;
            continue;
        };
        let name = format!("./{}", path.join("/"));
        let mut md5 = md5::Md5::new();
        let size = match &f.source {
            Source::Bytes(b) => {
                md5.update(b);
                append(
                    &mut tar,
                    &name,
                    tar::EntryType::Regular,
                    f.mode,
                    b.len() as u64,
                    mtime,
                    &mut b.as_slice(),
                )?;
                b.len() as u64
            }
            Source::Path(src) => {
                let (file, size) = relkit_core::input::open_regular(src)?;
                let mut r = Md5Reader {
                    inner: file,
                    md5: &mut md5,
                    read: 0,
                };
                append(
                    &mut tar,
                    &name,
                    tar::EntryType::Regular,
                    f.mode,
                    size,
                    mtime,
                    &mut (&mut r).take(size),
                )?;
                if r.read != size {
                    return Err(invalid(
                        format!("`{}`", src.display()),
                        "changed size while being packaged",
                    ));
                }
                size
            }
        };
        installed_kib += size.div_ceil(1024);
        let _ = writeln!(md5sums, "{}  {}", hex(&md5.finalize()), &name[2..]);
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(DataSummary {
        md5sums,
        installed_kib,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

struct Md5Reader<'a, R> {
    inner: R,
    md5: &'a mut md5::Md5,
    read: u64,
}

impl<R: Read> Read for Md5Reader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.md5.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Append one entry named exactly `name` (the tar crate would drop the
/// leading `./` that dpkg-deb writes), owned by root:root.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    kind: tar::EntryType,
    mode: u32,
    size: u64,
    mtime: u64,
    data: &mut impl Read,
) -> io::Result<()> {
    let header = |name: &[u8], kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        let gnu = h.as_gnu_mut().expect("a GNU header");
        gnu.uname[..4].copy_from_slice(b"root");
        gnu.gname[..4].copy_from_slice(b"root");
        let n = name.len().min(gnu.name.len());
        gnu.name[..n].copy_from_slice(&name[..n]);
        h.set_cksum();
        h
    };
    let bytes = name.as_bytes();
    if bytes.len() > 100 {
        // GNU long name: a `././@LongLink` entry of type L holding the name.
        let mut long = bytes.to_vec();
        long.push(0);
        let h = header(
            b"././@LongLink",
            tar::EntryType::GNULongName,
            0o644,
            long.len() as u64,
        );
        tar.append(&h, long.as_slice())?;
    }
    let h = header(bytes, kind, mode, size);
    tar.append(&h, data)
}

/// `control.tar.gz`: control, md5sums, conffiles and the maintainer scripts.
fn control_tar(
    p: &Package,
    names: &Names,
    files: &[File],
    data: &DataSummary,
    mtime: u64,
) -> Result<Vec<u8>, Error> {
    let mut members: Vec<(&str, u32, Vec<u8>)> = vec![
        (
            "control",
            0o644,
            control(p, names, data.installed_kib).into_bytes(),
        ),
        ("md5sums", 0o644, data.md5sums.clone().into_bytes()),
    ];
    let conffiles = files
        .iter()
        .filter(|f| f.conffile)
        .fold(String::new(), |mut s, f| {
            let _ = writeln!(s, "{}", f.dest);
            s
        });
    if !conffiles.is_empty() {
        members.push(("conffiles", 0o644, conffiles.into_bytes()));
    }
    if let Some(unit) = &p.systemd_unit {
        members.push(("postinst", 0o755, scripts::postinst(unit).into_bytes()));
        members.push(("prerm", 0o755, scripts::prerm(unit).into_bytes()));
        members.push(("postrm", 0o755, scripts::postrm(unit).into_bytes()));
    }
    members.sort_by(|a, b| a.0.cmp(b.0));
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::new(9));
    let mut tar = tar::Builder::new(gz);
    append(
        &mut tar,
        "./",
        tar::EntryType::Directory,
        0o755,
        0,
        mtime,
        &mut io::empty(),
    )?;
    for (name, mode, bytes) in &members {
        append(
            &mut tar,
            &format!("./{name}"),
            tar::EntryType::Regular,
            *mode,
            bytes.len() as u64,
            mtime,
            &mut bytes.as_slice(),
        )?;
    }
    Ok(tar.into_inner()?.finish()?)
}

/// The `control` file.
fn control(p: &Package, names: &Names, installed_kib: u64) -> String {
    let mut s = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {installed_kib}\n",
        p.name, names.version, names.arch, p.maintainer
    );
    let r = &p.relations;
    for (field, list) in [
        ("Depends", &r.depends),
        ("Recommends", &r.recommends),
        ("Conflicts", &r.conflicts),
        ("Provides", &r.provides),
    ] {
        if !list.is_empty() {
            let _ = writeln!(s, "{field}: {}", list.join(", "));
        }
    }
    let _ = write!(s, "Section: {}\nPriority: {}\n", p.section, p.priority);
    if let Some(h) = &p.homepage {
        let _ = writeln!(s, "Homepage: {h}");
    }
    let _ = writeln!(s, "Description: {}", p.summary);
    if let Some(d) = &p.description {
        s.push_str(&debian::continued(d));
    }
    s
}

//! `.rpm` writing, streamed: the lead, the signature header, the main header
//! and a gzip-compressed cpio (newc) payload, laid out as rpm 4 reads them.
//! The payload is compressed on all cores into an unnamed temporary file
//! while each file's sha256 is taken; the header (which lists those digests
//! and the payload's) is then built, signed with OpenPGP through a caller's
//! signer (gpg), and everything is copied into place. Memory stays bounded
//! whatever the binaries weigh; every time is SOURCE_DATE_EPOCH, every file
//! root-owned, the build host fixed and the file list sorted, so the same
//! inputs give the same bytes (an OpenPGP signature carries its own
//! creation time).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::Path;

use md5::Digest as _;
use relkit_core::atomic::Staging;
use relkit_core::hash::{Algo, Hasher, HashingWriter};
use relkit_package::archive::GZIP_LEVEL;
use relkit_package::pargz::ParGzEncoder;

use crate::rpm_rules::{self, Dependency, EQUAL, LESS};
use crate::{Error, File, Package, Source, Written, debian, invalid};

/// RPM-specific settings (`[package.rpm]`).
#[derive(Debug, Clone)]
pub struct RpmOptions {
    /// The packaging release: `1` gives `NAME-1.2.3-1.ARCH.rpm`.
    pub release: String,
    /// The package group (`Applications/System`) [default: `Unspecified`].
    pub group: Option<String>,
    /// Who distributes the package.
    pub vendor: Option<String>,
    /// Dependencies in rpm's syntax (`glibc >= 2.28`).
    pub requires: Vec<String>,
    /// Weak dependencies.
    pub recommends: Vec<String>,
    /// Packages that cannot be installed together with this one.
    pub conflicts: Vec<String>,
    /// Capabilities this package provides besides its own name.
    pub provides: Vec<String>,
}

impl Default for RpmOptions {
    fn default() -> Self {
        RpmOptions {
            release: "1".to_owned(),
            group: None,
            vendor: None,
            requires: Vec::new(),
            recommends: Vec::new(),
            conflicts: Vec::new(),
            provides: Vec::new(),
        }
    }
}

/// Signs the main header: given the path of a file holding the header's
/// bytes, returns a binary OpenPGP signature packet (as `gpg
/// --detach-sign --no-armor` writes it).
pub type Sign<'a> = &'a dyn Fn(&Path) -> Result<Vec<u8>, relkit_core::Error>;

/// The checked RPM names of a package.
#[derive(Debug, Clone)]
pub struct Names {
    /// RPM Version.
    pub version: String,
    /// RPM Release.
    pub release: String,
    /// RPM architecture.
    pub arch: &'static str,
    /// `NAME-VERSION-RELEASE.ARCH.rpm`.
    pub file: String,
    requires: Vec<Dependency>,
    recommends: Vec<Dependency>,
    conflicts: Vec<Dependency>,
    provides: Vec<Dependency>,
}

/// Check everything about `p` that RPM has rules for, and name its file.
pub fn names(p: &Package, opts: &RpmOptions) -> Result<Names, Error> {
    rpm_rules::check_name("package.name", &p.name)?;
    debian::check_maintainer("package.maintainer", &p.maintainer)?;
    rpm_rules::check_line("package.description", &p.summary, 200)?;
    let license = p.license.as_deref().ok_or_else(|| {
        invalid(
            "package.license",
            "is required for RPM packages (an SPDX expression such as `MIT`)",
        )
    })?;
    rpm_rules::check_line("package.license", license, 256)?;
    if let Some(h) = &p.homepage {
        rpm_rules::check_line("package.homepage", h, 1024)?;
    }
    if let Some(g) = &opts.group {
        rpm_rules::check_line("package.rpm.group", g, 128)?;
    }
    if let Some(v) = &opts.vendor {
        rpm_rules::check_line("package.rpm.vendor", v, 256)?;
    }
    if let Some(d) = &p.description {
        if d.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid(
                "package.long-description",
                "holds a control character",
            ));
        }
    }
    rpm_rules::check_release("package.rpm.release", &opts.release)?;
    let version = rpm_rules::version("version", &p.version)?;
    let arch = rpm_rules::arch(&p.target)?;
    let deps = |field: &str, list: &[String]| {
        list.iter()
            .map(|c| rpm_rules::dependency(field, c))
            .collect::<Result<Vec<_>, _>>()
    };
    let file = format!("{}-{version}-{}.{arch}.rpm", p.name, opts.release);
    relkit_core::names::check_file_name("package.name", &file)?;
    Ok(Names {
        version,
        release: opts.release.clone(),
        arch,
        file,
        requires: deps("package.rpm.requires", &opts.requires)?,
        recommends: deps("package.rpm.recommends", &opts.recommends)?,
        conflicts: deps("package.rpm.conflicts", &opts.conflicts)?,
        provides: deps("package.rpm.provides", &opts.provides)?,
    })
}

/// Write `p` as an `.rpm` into `out_dir`, its header signed by `sign` when
/// given; nothing is left there on failure.
pub fn build(
    p: &Package,
    opts: &RpmOptions,
    out_dir: &Path,
    sign: Option<Sign<'_>>,
) -> Result<Written, Error> {
    let names = names(p, opts)?;
    let files = with_generated(p)?;
    let mtime = u32::try_from(p.epoch).map_err(|_| {
        invalid(
            "SOURCE_DATE_EPOCH",
            "is outside 1970–2106 (RPM keeps 32 bits)",
        )
    })?;

    let mut staging = Staging::new();
    staging.ensure_dir(out_dir)?;
    let unwritable = |source| relkit_core::Error::Unwritable {
        path: out_dir.to_path_buf(),
        source,
    };
    let mut payload = tempfile::tempfile_in(out_dir).map_err(unwritable)?;
    let summary = write_payload(&mut payload, &files, mtime)?;
    payload.rewind()?;
    let header = main_header(p, opts, &names, &files, &summary, mtime);

    let mut sig = BTreeMap::new();
    let mut sha = Algo::Sha256.hasher();
    sha.update(&header);
    sig.insert(SIG_SHA256, Val::Str(sha.finish_hex()));
    let total = header.len() as u64 + summary.payload_size;
    sig.insert(SIG_SIZE, Val::I32(vec![u32_or_too_big(total)?]));
    sig.insert(
        SIG_PAYLOADSIZE,
        Val::I32(vec![u32_or_too_big(summary.archive_size)?]),
    );
    let mut md5 = md5::Md5::new();
    md5.update(&header);
    io::copy(
        &mut io::BufReader::new(&mut payload),
        &mut DigestWriter(&mut md5),
    )?;
    payload.rewind()?;
    sig.insert(SIG_MD5, Val::Bin(md5.finalize().to_vec()));
    if let Some(sign) = sign {
        let mut h = tempfile::NamedTempFile::new_in(out_dir).map_err(unwritable)?;
        h.write_all(&header)?;
        h.flush()?;
        let packet = sign(h.path())?;
        sig.insert(signature_tag(&packet)?, Val::Bin(packet));
    }
    let mut sig_header = header_bytes(HEADER_SIGNATURES, &sig);
    sig_header.resize(sig_header.len().next_multiple_of(8), 0);

    let dest = out_dir.join(&names.file);
    let tmp = staging.create(&dest)?;
    let mut out = HashingWriter::new(
        BufWriter::with_capacity(1 << 20, tmp.as_file_mut()),
        Algo::Sha256,
    );
    out.write_all(&lead(&p.name, &names))?;
    out.write_all(&sig_header)?;
    out.write_all(&header)?;
    io::copy(&mut io::BufReader::new(&mut payload), &mut out)?;
    let (buffered, digest) = out.finish()?;
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

fn u32_or_too_big(n: u64) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| {
        invalid(
            "package.binaries",
            "the package would pass 4 GiB, which RPM's 32-bit size fields cannot hold",
        )
    })
}

struct DigestWriter<'a>(&'a mut md5::Md5);

impl Write for DigestWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The package's files plus the license text where Fedora keeps licenses,
/// sorted by path as rpm's file lookups require.
fn with_generated(p: &Package) -> Result<Vec<File>, Error> {
    let mut files = p.files.clone();
    if let Some(text) = &p.license_text {
        let dest = format!("/usr/share/licenses/{}/LICENSE", p.name);
        if files.iter().any(|f| f.dest == dest) {
            return Err(invalid(
                "package.docs",
                format!("`{dest}` is written by relkit; do not list it"),
            ));
        }
        files.push(File {
            dest,
            source: Source::Bytes(text.clone().into_bytes()),
            mode: 0o644,
            conffile: false,
        });
    }
    files.sort_by(|a, b| a.dest.cmp(&b.dest));
    Ok(files)
}

/// What the payload held, for the headers.
struct PayloadSummary {
    /// sha256 hex of each file, in `files` order.
    digests: Vec<String>,
    /// Size of each file.
    sizes: Vec<u32>,
    /// Uncompressed cpio size.
    archive_size: u64,
    /// Compressed payload size and sha256 hex.
    payload_size: u64,
    payload_sha256: String,
}

/// A cpio "newc" archive of `files` (paths `./usr/…`, inode = index + 1),
/// gzipped on all cores.
fn write_payload(
    out: &mut std::fs::File,
    files: &[File],
    mtime: u32,
) -> Result<PayloadSummary, Error> {
    let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, out), Algo::Sha256);
    let mut cpio = Counting {
        inner: ParGzEncoder::new(hashing, GZIP_LEVEL),
        count: 0,
    };
    let mut digests = Vec::with_capacity(files.len());
    let mut sizes = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let ino = u32::try_from(i + 1).map_err(|_| invalid("package", "holds too many files"))?;
        let mut sha = Algo::Sha256.hasher();
        let size = match &f.source {
            Source::Bytes(b) => {
                let size = u32_or_too_big(b.len() as u64)?;
                cpio_header(&mut cpio, &f.dest, ino, 0o100_000 | f.mode, mtime, size)?;
                sha.update(b);
                cpio.write_all(b)?;
                size
            }
            Source::Path(src) => {
                let (file, size) = relkit_core::input::open_regular(src)?;
                let size = u32_or_too_big(size)?;
                cpio_header(&mut cpio, &f.dest, ino, 0o100_000 | f.mode, mtime, size)?;
                let mut r = HashReader {
                    inner: file,
                    sha: &mut sha,
                    read: 0,
                };
                io::copy(&mut (&mut r).take(u64::from(size)), &mut cpio)?;
                if r.read != u64::from(size) {
                    return Err(invalid(
                        format!("`{}`", src.display()),
                        "changed size while being packaged",
                    ));
                }
                size
            }
        };
        pad4(&mut cpio)?;
        digests.push(sha.finish_hex());
        sizes.push(size);
    }
    cpio_header(&mut cpio, "TRAILER!!!", 0, 0, 0, 0)?;
    pad4(&mut cpio)?;
    let archive_size = cpio.count;
    let (buffered, digest) = cpio.inner.finish()?.finish()?;
    buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    Ok(PayloadSummary {
        digests,
        sizes,
        archive_size,
        payload_size: digest.size,
        payload_sha256: digest.hex,
    })
}

struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct HashReader<'a, R> {
    inner: R,
    sha: &'a mut Hasher,
    read: u64,
}

impl<R: Read> Read for HashReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

fn pad4<W: Write>(w: &mut Counting<W>) -> io::Result<()> {
    let pad = w.count.next_multiple_of(4) - w.count;
    w.write_all(&[0; 3][..usize::try_from(pad).unwrap_or(0)])
}

/// One newc header and name (`./` + path without its leading `/`, or the
/// trailer), padded to 4 bytes.
fn cpio_header<W: Write>(
    w: &mut Counting<W>,
    dest: &str,
    ino: u32,
    mode: u32,
    mtime: u32,
    size: u32,
) -> io::Result<()> {
    let name = if dest.starts_with('/') {
        format!(".{dest}")
    } else {
        dest.to_owned()
    };
    let nlink = u32::from(ino != 0);
    let namesize = name.len() + 1;
    write!(
        w,
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{mtime:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
        0, 0, 0, 0, 0, 0, 0
    )?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    pad4(w)
}

// Header tags (rpmtag.h).
pub(crate) const HEADER_SIGNATURES: u32 = 62;
pub(crate) const HEADER_IMMUTABLE: u32 = 63;
pub(crate) const I18NTABLE: u32 = 100;
pub(crate) const SIG_DSA: u32 = 267;
pub(crate) const SIG_RSA: u32 = 268;
pub(crate) const SIG_SHA256: u32 = 273;
pub(crate) const SIG_SIZE: u32 = 1000;
pub(crate) const SIG_MD5: u32 = 1004;
pub(crate) const SIG_PAYLOADSIZE: u32 = 1007;
pub(crate) const NAME: u32 = 1000;
pub(crate) const VERSION: u32 = 1001;
pub(crate) const RELEASE: u32 = 1002;
pub(crate) const SUMMARY: u32 = 1004;
pub(crate) const DESCRIPTION: u32 = 1005;
pub(crate) const BUILDTIME: u32 = 1006;
pub(crate) const BUILDHOST: u32 = 1007;
pub(crate) const SIZE: u32 = 1009;
pub(crate) const VENDOR: u32 = 1011;
pub(crate) const LICENSE: u32 = 1014;
pub(crate) const PACKAGER: u32 = 1015;
pub(crate) const GROUP: u32 = 1016;
pub(crate) const URL: u32 = 1020;
pub(crate) const OS: u32 = 1021;
pub(crate) const ARCH: u32 = 1022;
pub(crate) const POSTIN: u32 = 1024;
pub(crate) const PREUN: u32 = 1025;
pub(crate) const POSTUN: u32 = 1026;
pub(crate) const FILESIZES: u32 = 1028;
pub(crate) const FILEMODES: u32 = 1030;
pub(crate) const FILERDEVS: u32 = 1033;
pub(crate) const FILEMTIMES: u32 = 1034;
pub(crate) const FILEDIGESTS: u32 = 1035;
pub(crate) const FILELINKTOS: u32 = 1036;
pub(crate) const FILEFLAGS: u32 = 1037;
pub(crate) const FILEUSERNAME: u32 = 1039;
pub(crate) const FILEGROUPNAME: u32 = 1040;
pub(crate) const SOURCERPM: u32 = 1044;
pub(crate) const FILEVERIFYFLAGS: u32 = 1045;
pub(crate) const PROVIDENAME: u32 = 1047;
pub(crate) const REQUIREFLAGS: u32 = 1048;
pub(crate) const REQUIRENAME: u32 = 1049;
pub(crate) const REQUIREVERSION: u32 = 1050;
pub(crate) const CONFLICTFLAGS: u32 = 1053;
pub(crate) const CONFLICTNAME: u32 = 1054;
pub(crate) const CONFLICTVERSION: u32 = 1055;
pub(crate) const CHANGELOGTIME: u32 = 1080;
pub(crate) const CHANGELOGNAME: u32 = 1081;
pub(crate) const CHANGELOGTEXT: u32 = 1082;
pub(crate) const POSTINPROG: u32 = 1086;
pub(crate) const PREUNPROG: u32 = 1087;
pub(crate) const POSTUNPROG: u32 = 1088;
pub(crate) const FILEDEVICES: u32 = 1095;
pub(crate) const FILEINODES: u32 = 1096;
pub(crate) const FILELANGS: u32 = 1097;
pub(crate) const PROVIDEFLAGS: u32 = 1112;
pub(crate) const PROVIDEVERSION: u32 = 1113;
pub(crate) const DIRINDEXES: u32 = 1116;
pub(crate) const BASENAMES: u32 = 1117;
pub(crate) const DIRNAMES: u32 = 1118;
pub(crate) const PAYLOADFORMAT: u32 = 1124;
pub(crate) const PAYLOADCOMPRESSOR: u32 = 1125;
pub(crate) const PAYLOADFLAGS: u32 = 1126;
pub(crate) const FILEDIGESTALGO: u32 = 5011;
pub(crate) const RECOMMENDNAME: u32 = 5046;
pub(crate) const RECOMMENDVERSION: u32 = 5047;
pub(crate) const RECOMMENDFLAGS: u32 = 5048;
pub(crate) const ENCODING: u32 = 5062;
pub(crate) const PAYLOADDIGEST: u32 = 5092;
pub(crate) const PAYLOADDIGESTALGO: u32 = 5093;

/// PGP hash algorithm id of SHA-256 (file and payload digests).
pub(crate) const DIGEST_SHA256: u32 = 8;
/// File flags (rpmfiles.h).
pub(crate) const FILE_CONFIG: u32 = 1;
// Read back by dnf_repo only. (The archive size is not in relkit's main
// header; dnf_repo writes 0 as createrepo_c does when the signature
// header's PAYLOADSIZE is absent.)
pub(crate) const EPOCH: u32 = 1003;
pub(crate) const SIG_PAYLOADSIZE_MAIN: u32 = 1046;
pub(crate) const FILE_DOC: u32 = 1 << 1;
pub(crate) const FILE_NOREPLACE: u32 = 1 << 4;
pub(crate) const FILE_LICENSE: u32 = 1 << 7;
/// A dependency on a feature of rpm itself.
pub(crate) const SENSE_RPMLIB: u32 = 1 << 24;

/// A header entry's value.
enum Val {
    I16(Vec<u16>),
    I32(Vec<u32>),
    Str(String),
    Bin(Vec<u8>),
    Arr(Vec<String>),
    I18n(String),
}

/// A header: magic, index entries sorted by tag behind the region entry,
/// then the data store ending with the region trailer.
fn header_bytes(region: u32, entries: &BTreeMap<u32, Val>) -> Vec<u8> {
    let mut index: Vec<[u32; 4]> = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (&tag, val) in entries {
        let align = match val {
            Val::I16(_) => 2,
            Val::I32(_) => 4,
            _ => 1,
        };
        data.resize(data.len().next_multiple_of(align), 0);
        let offset = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let (kind, count) = match val {
            Val::I16(v) => {
                for x in v {
                    data.extend(x.to_be_bytes());
                }
                (3, v.len())
            }
            Val::I32(v) => {
                for x in v {
                    data.extend(x.to_be_bytes());
                }
                (4, v.len())
            }
            Val::Str(s) => {
                data.extend(s.as_bytes());
                data.push(0);
                (6, 1)
            }
            Val::Bin(b) => {
                data.extend(b);
                (7, b.len())
            }
            Val::Arr(v) => {
                for s in v {
                    data.extend(s.as_bytes());
                    data.push(0);
                }
                (8, v.len())
            }
            Val::I18n(s) => {
                data.extend(s.as_bytes());
                data.push(0);
                (9, 1)
            }
        };
        index.push([tag, kind, offset, u32::try_from(count).unwrap_or(u32::MAX)]);
    }
    let n = index.len() + 1;
    let trailer_at = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let back = -(i32::try_from(n * 16).unwrap_or(i32::MAX));
    data.extend(region.to_be_bytes());
    data.extend(7u32.to_be_bytes());
    data.extend(back.to_be_bytes());
    data.extend(16u32.to_be_bytes());
    index.insert(0, [region, 7, trailer_at, 16]);
    let mut out = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
    out.extend(u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    out.extend(u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    for e in index {
        for x in e {
            out.extend(x.to_be_bytes());
        }
    }
    out.extend(data);
    out
}

/// The 96-byte lead rpm still expects in front (binary package, signature
/// type 5 = a header-style signature follows).
fn lead(name: &str, names: &Names) -> Vec<u8> {
    let mut out = vec![0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0];
    let archnum: u16 = match names.arch {
        "aarch64" => 19,
        "armv7hl" => 12,
        _ => 1,
    };
    out.extend(archnum.to_be_bytes());
    let full = format!("{name}-{}-{}", names.version, names.release);
    let mut field = [0u8; 66];
    let n = full.len().min(65);
    field[..n].copy_from_slice(&full.as_bytes()[..n]);
    out.extend(field);
    out.extend(1u16.to_be_bytes());
    out.extend(5u16.to_be_bytes());
    out.extend([0; 16]);
    out
}

/// Which signature-header tag a signature packet goes in: DSA keys have
/// their own, every other key (RSA, EdDSA) uses the RSA tag, as rpmsign does.
fn signature_tag(packet: &[u8]) -> Result<u32, Error> {
    let bad = || {
        invalid(
            "sign",
            "the signer did not return one binary OpenPGP signature packet",
        )
    };
    let first = *packet.first().ok_or_else(bad)?;
    // Packet tag 2 (signature), old or new format; then the body's header.
    let body = match first {
        0x88 => packet.get(2..),
        0x89 => packet.get(3..),
        0x8a => packet.get(5..),
        0xc2 => match packet.get(1) {
            Some(&l) if l < 192 => packet.get(2..),
            Some(&l) if l < 224 => packet.get(3..),
            Some(&255) => packet.get(6..),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(bad)?;
    match body {
        [4, _, 17, ..] => Ok(SIG_DSA),
        [4, ..] => Ok(SIG_RSA),
        _ => Err(bad()),
    }
}

fn file_flags(f: &File) -> u32 {
    if f.conffile {
        FILE_CONFIG | FILE_NOREPLACE
    } else if f.dest.starts_with("/usr/share/licenses/") {
        FILE_LICENSE
    } else if f.dest.starts_with("/usr/share/doc/") || f.dest.starts_with("/usr/share/man/") {
        FILE_DOC
    } else {
        0
    }
}

/// Dependencies as three parallel arrays, sorted and without duplicates.
fn put_deps(h: &mut BTreeMap<u32, Val>, tags: [u32; 3], deps: BTreeSet<Dependency>) {
    if deps.is_empty() {
        return;
    }
    let [name, flags, version] = tags;
    h.insert(
        name,
        Val::Arr(deps.iter().map(|d| d.name.clone()).collect()),
    );
    h.insert(flags, Val::I32(deps.iter().map(|d| d.flags).collect()));
    h.insert(
        version,
        Val::Arr(deps.iter().map(|d| d.version.clone()).collect()),
    );
}

/// The main header: what `rpm -qpi` shows, the file list with digests,
/// dependencies, scriptlets and the payload's digest.
fn main_header(
    p: &Package,
    opts: &RpmOptions,
    names: &Names,
    files: &[File],
    payload: &PayloadSummary,
    mtime: u32,
) -> Vec<u8> {
    let mut h = BTreeMap::new();
    let evr = format!("{}-{}", names.version, names.release);
    h.insert(I18NTABLE, Val::Arr(vec!["C".to_owned()]));
    h.insert(NAME, Val::Str(p.name.clone()));
    h.insert(VERSION, Val::Str(names.version.clone()));
    h.insert(RELEASE, Val::Str(names.release.clone()));
    h.insert(SUMMARY, Val::I18n(p.summary.clone()));
    let description = p.description.as_deref().unwrap_or(&p.summary);
    h.insert(DESCRIPTION, Val::I18n(description.trim_end().to_owned()));
    h.insert(BUILDTIME, Val::I32(vec![mtime]));
    // Fixed, so the bytes do not depend on the machine that built them.
    h.insert(BUILDHOST, Val::Str("relkit.invalid".to_owned()));
    let total: u64 = payload.sizes.iter().map(|&s| u64::from(s)).sum();
    h.insert(
        SIZE,
        Val::I32(vec![u32::try_from(total).unwrap_or(u32::MAX)]),
    );
    if let Some(v) = &opts.vendor {
        h.insert(VENDOR, Val::Str(v.clone()));
    }
    h.insert(LICENSE, Val::Str(p.license.clone().unwrap_or_default()));
    h.insert(PACKAGER, Val::Str(p.maintainer.clone()));
    h.insert(
        GROUP,
        Val::I18n(
            opts.group
                .clone()
                .unwrap_or_else(|| "Unspecified".to_owned()),
        ),
    );
    if let Some(u) = &p.homepage {
        h.insert(URL, Val::Str(u.clone()));
    }
    h.insert(OS, Val::Str("linux".to_owned()));
    h.insert(ARCH, Val::Str(names.arch.to_owned()));
    if let Some(unit) = &p.systemd_unit {
        let sh = || Val::Arr(vec!["/bin/sh".to_owned()]);
        h.insert(POSTIN, Val::Str(post(unit)));
        h.insert(POSTINPROG, sh());
        h.insert(PREUN, Val::Str(preun(unit)));
        h.insert(PREUNPROG, sh());
        h.insert(POSTUN, Val::Str(postun(unit)));
        h.insert(POSTUNPROG, sh());
    }
    file_list(&mut h, files, payload, mtime);
    h.insert(SOURCERPM, Val::Str(format!("{}-{evr}.src.rpm", p.name)));
    dependencies(&mut h, p, names, &evr);
    h.insert(CHANGELOGTIME, Val::I32(vec![mtime]));
    h.insert(
        CHANGELOGNAME,
        Val::Arr(vec![format!("{} - {evr}", p.maintainer)]),
    );
    h.insert(
        CHANGELOGTEXT,
        Val::Arr(vec![format!("- Release {}.", p.version)]),
    );
    h.insert(PAYLOADFORMAT, Val::Str("cpio".to_owned()));
    h.insert(PAYLOADCOMPRESSOR, Val::Str("gzip".to_owned()));
    h.insert(PAYLOADFLAGS, Val::Str(GZIP_LEVEL.to_string()));
    h.insert(ENCODING, Val::Str("utf-8".to_owned()));
    h.insert(
        PAYLOADDIGEST,
        Val::Arr(vec![payload.payload_sha256.clone()]),
    );
    h.insert(PAYLOADDIGESTALGO, Val::I32(vec![DIGEST_SHA256]));
    header_bytes(HEADER_IMMUTABLE, &h)
}

/// The file list: sizes, modes, owners, digests, flags and the names split
/// into folders and base names, in payload order.
fn file_list(h: &mut BTreeMap<u32, Val>, files: &[File], payload: &PayloadSummary, mtime: u32) {
    let n = files.len();
    if n == 0 {
        return;
    }
    {
        h.insert(FILESIZES, Val::I32(payload.sizes.clone()));
        h.insert(
            FILEMODES,
            Val::I16(
                files
                    .iter()
                    .map(|f| u16::try_from(0o100_000 | (f.mode & 0o7777)).unwrap_or(0))
                    .collect(),
            ),
        );
        h.insert(FILERDEVS, Val::I16(vec![0; n]));
        h.insert(FILEMTIMES, Val::I32(vec![mtime; n]));
        h.insert(FILEDIGESTS, Val::Arr(payload.digests.clone()));
        h.insert(FILELINKTOS, Val::Arr(vec![String::new(); n]));
        h.insert(FILEFLAGS, Val::I32(files.iter().map(file_flags).collect()));
        h.insert(FILEUSERNAME, Val::Arr(vec!["root".to_owned(); n]));
        h.insert(FILEGROUPNAME, Val::Arr(vec!["root".to_owned(); n]));
        h.insert(FILEVERIFYFLAGS, Val::I32(vec![u32::MAX; n]));
        h.insert(FILEDEVICES, Val::I32(vec![1; n]));
        h.insert(
            FILEINODES,
            Val::I32((1..=u32::try_from(n).unwrap_or(u32::MAX)).collect()),
        );
        h.insert(FILELANGS, Val::Arr(vec![String::new(); n]));
        let mut dirs: Vec<String> = Vec::new();
        let mut indexes = Vec::with_capacity(n);
        let mut bases = Vec::with_capacity(n);
        let split: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                let (d, b) = f.dest.rsplit_once('/').unwrap_or(("", &f.dest));
                (format!("{d}/"), b.to_owned())
            })
            .collect();
        let unique: BTreeSet<&String> = split.iter().map(|(d, _)| d).collect();
        dirs.extend(unique.into_iter().cloned());
        for (d, b) in split {
            let i = dirs.binary_search(&d).unwrap_or(0);
            indexes.push(u32::try_from(i).unwrap_or(0));
            bases.push(b);
        }
        h.insert(DIRINDEXES, Val::I32(indexes));
        h.insert(BASENAMES, Val::Arr(bases));
        h.insert(DIRNAMES, Val::Arr(dirs));
        h.insert(FILEDIGESTALGO, Val::I32(vec![DIGEST_SHA256]));
    }
}

/// What the package provides (its name, per architecture too), requires
/// (the rpm features its header uses, and the configured ones), conflicts
/// with and recommends.
fn dependencies(h: &mut BTreeMap<u32, Val>, p: &Package, names: &Names, evr: &str) {
    let dep = |name: &str, flags: u32, version: &str| Dependency {
        name: name.to_owned(),
        flags,
        version: version.to_owned(),
    };
    let mut provides: BTreeSet<Dependency> = names.provides.iter().cloned().collect();
    provides.insert(dep(&p.name, EQUAL, evr));
    provides.insert(dep(
        &format!("{}({})", p.name, rpm_rules::isa(names.arch)),
        EQUAL,
        evr,
    ));
    put_deps(h, [PROVIDENAME, PROVIDEFLAGS, PROVIDEVERSION], provides);
    let mut requires: BTreeSet<Dependency> = names.requires.iter().cloned().collect();
    let rpmlib = LESS | EQUAL | SENSE_RPMLIB;
    requires.insert(dep("rpmlib(CompressedFileNames)", rpmlib, "3.0.4-1"));
    requires.insert(dep("rpmlib(FileDigests)", rpmlib, "4.6.0-1"));
    requires.insert(dep("rpmlib(PayloadFilesHavePrefix)", rpmlib, "4.0-1"));
    put_deps(h, [REQUIRENAME, REQUIREFLAGS, REQUIREVERSION], requires);
    put_deps(
        h,
        [CONFLICTNAME, CONFLICTFLAGS, CONFLICTVERSION],
        names.conflicts.iter().cloned().collect(),
    );
    put_deps(
        h,
        [RECOMMENDNAME, RECOMMENDFLAGS, RECOMMENDVERSION],
        names.recommends.iter().cloned().collect(),
    );
}

/// Shared start of every scriptlet: is systemd running here (not in a
/// chroot, a container build or `rpm --root`)?
const RUNNING: &str = "[ -d /run/systemd/system ]";

/// `%post`, as `%systemd_post`: on first install apply the preset policy
/// (enable or not, as the distribution or the administrator decides).
pub fn post(unit: &str) -> String {
    format!(
        "if [ \"$1\" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then\n\
         \t# Initial installation: the preset policy decides whether it is enabled.\n\
         \tsystemctl --no-reload preset '{unit}' >/dev/null 2>&1 || :\n\
         fi\n\
         if {RUNNING}; then\n\
         \tsystemctl daemon-reload >/dev/null 2>&1 || :\n\
         fi\n\
         exit 0\n"
    )
}

/// `%preun`, as `%systemd_preun`: on erase (not upgrade) disable the unit
/// and stop it if systemd runs.
pub fn preun(unit: &str) -> String {
    format!(
        "if [ \"$1\" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then\n\
         \t# Package removal, not upgrade.\n\
         \tsystemctl --no-reload disable '{unit}' >/dev/null 2>&1 || :\n\
         \tif {RUNNING}; then\n\
         \t\tsystemctl stop '{unit}' >/dev/null 2>&1 || :\n\
         \tfi\n\
         fi\n\
         exit 0\n"
    )
}

/// `%postun`, as `%systemd_postun_with_restart`: reload systemd, and on
/// upgrade restart the unit if it was running.
pub fn postun(unit: &str) -> String {
    format!(
        "if {RUNNING}; then\n\
         \tsystemctl daemon-reload >/dev/null 2>&1 || :\n\
         \tif [ \"$1\" -ge 1 ]; then\n\
         \t\t# Package upgrade, not removal.\n\
         \t\tsystemctl try-restart '{unit}' >/dev/null 2>&1 || :\n\
         \tfi\n\
         fi\n\
         exit 0\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_region_trailer_points_back_over_the_index() {
        let mut e = BTreeMap::new();
        e.insert(1000, Val::Str("x".into()));
        e.insert(1009, Val::I32(vec![7]));
        let h = header_bytes(HEADER_IMMUTABLE, &e);
        assert_eq!(&h[..8], &[0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0]);
        assert_eq!(&h[8..12], &3u32.to_be_bytes());
        // "x\0", two bytes of alignment, the int, then the 16-byte trailer.
        assert_eq!(&h[12..16], &24u32.to_be_bytes());
        let trailer = &h[h.len() - 16..];
        assert_eq!(&trailer[..8], &[0, 0, 0, 63, 0, 0, 0, 7]);
        assert_eq!(&trailer[8..12], &(-48i32).to_be_bytes());
    }

    #[test]
    fn signature_tags_follow_the_key_algorithm() {
        assert_eq!(signature_tag(&[0x89, 0, 9, 4, 0, 1]).unwrap(), SIG_RSA);
        assert_eq!(signature_tag(&[0x88, 9, 4, 0, 17]).unwrap(), SIG_DSA);
        assert_eq!(signature_tag(&[0xc2, 9, 4, 0, 22]).unwrap(), SIG_RSA);
        assert!(signature_tag(b"-----BEGIN PGP SIGNATURE-----").is_err());
        assert!(signature_tag(&[]).is_err());
    }
}

//! Deterministic archive writing: entries sorted, times fixed, owners 0 with
//! empty names, modes 0755/0644, compressed in the same pass that hashes the
//! archive bytes. Zip archives are deflated on every core by
//! [`crate::parzip`] (provider zips keep relkit-core's writer).

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use relkit_core::hash::{Algo, Digest, HashingWriter};
use relkit_core::target::ArchiveFormat;

use crate::compress::{self, Compression};
use crate::pargz::ParGzEncoder;
use crate::parzip::ParZip;

pub use crate::compress::{GZIP_LEVEL, XZ_LEVEL};
/// zstd's default level, as the `i32` the zstd crate takes (for crates that
/// write zstd streams of their own).
#[allow(clippy::cast_possible_wrap)] // 3 fits.
pub const ZSTD_LEVEL: i32 = crate::compress::ZSTD_LEVEL as i32;

/// One entry of an archive, below the top-level folder.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the archive, `/`-separated, including the top folder.
    pub path: String,
    /// Where the bytes come from; `None` for a folder.
    pub source: Option<PathBuf>,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Whether to mark it executable (0755) rather than 0644.
    pub executable: bool,
}

impl Entry {
    fn mode(&self) -> u32 {
        if self.source.is_none() || self.executable {
            0o755
        } else {
            0o644
        }
    }
}

/// What was written for one file entry.
#[derive(Debug, Clone)]
pub struct Written {
    /// The entry's archive path.
    pub path: String,
    /// Digest of its content.
    pub digest: Digest,
    /// Executable bit.
    pub executable: bool,
}

/// Reads a source and hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: relkit_core::hash::Hasher,
    size: u64,
    on_read: Box<dyn FnMut(u64)>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

fn open_source(
    entry: &Entry,
    progress: &indicatif::ProgressBar,
) -> io::Result<HashingReader<fs_err::File>> {
    let path = entry.source.as_ref().expect("file entries have a source");
    let bar = progress.clone();
    Ok(HashingReader {
        inner: fs_err::File::open(path)?,
        hasher: Algo::Sha256.hasher(),
        size: 0,
        on_read: Box::new(move |n| bar.inc(n)),
    })
}

fn finish_entry(entry: &Entry, r: HashingReader<fs_err::File>) -> io::Result<Written> {
    if r.size != entry.size {
        return Err(io::Error::other(format!(
            "`{}` changed size while being archived",
            entry.source.as_ref().expect("file").display()
        )));
    }
    Ok(Written {
        path: entry.path.clone(),
        digest: Digest {
            hex: r.hasher.finish_hex(),
            size: r.size,
        },
        executable: entry.executable,
    })
}

/// Write `entries` (already sorted) as `format` into `out`, returning the
/// archive's sha256 and size (from the same pass) and each file's digest.
/// The bytes depend on the level, never on `compression.threads`.
pub fn write_archive<W: Write + Send>(
    out: W,
    format: ArchiveFormat,
    entries: &[Entry],
    mtime: i64,
    compression: Compression,
    progress: &indicatif::ProgressBar,
) -> io::Result<(W, Digest, Vec<Written>)> {
    compression.check(format).map_err(io::Error::other)?;
    let level = compression.level_for(format);
    let threads = compression.threads;
    let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, out), Algo::Sha256);
    let (hashing, written) = match format {
        ArchiveFormat::TarGz => compress::with_gzip_threads(threads, |workers| {
            let mut tar = tar::Builder::new(ParGzEncoder::with_workers(hashing, level, workers));
            let written = append_tar(&mut tar, entries, mtime, progress)?;
            io::Result::Ok((tar.into_inner()?.finish()?, written))
        })??,
        ArchiveFormat::TarXz => {
            let enc = compress::xz_encoder(hashing, level, threads)?;
            let mut tar = tar::Builder::new(enc);
            let written = append_tar(&mut tar, entries, mtime, progress)?;
            (tar.into_inner()?.finish()?, written)
        }
        ArchiveFormat::TarZst => {
            let enc = compress::zstd_encoder(hashing, level, threads)?;
            let mut tar = tar::Builder::new(enc);
            let written = append_tar(&mut tar, entries, mtime, progress)?;
            (tar.into_inner()?.finish()?, written)
        }
        ArchiveFormat::Zip => compress::with_gzip_threads(threads, |workers| {
            write_zip(hashing, level, workers, entries, mtime, progress)
        })??,
    };
    let (buffered, digest) = hashing.finish()?;
    let out = buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    Ok((out, digest, written))
}

/// Append `entries` (already sorted) to `tar` with the archives' fixed
/// times, owners and modes, and finish it. relkit-image writes its image
/// layers through this too, so a layer holds the same tar as the archive.
pub fn append_tar<W: Write>(
    tar: &mut tar::Builder<W>,
    entries: &[Entry],
    mtime: i64,
    progress: &indicatif::ProgressBar,
) -> io::Result<Vec<Written>> {
    let mtime = u64::try_from(mtime).map_err(|_| io::Error::other("build time before 1970"))?;
    let mut written = Vec::new();
    for entry in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mode(entry.mode());
        if entry.source.is_none() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, &entry.path, io::empty())?;
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(entry.size);
            let mut r = open_source(entry, progress)?;
            tar.append_data(&mut h, &entry.path, &mut r)?;
            written.push(finish_entry(entry, r)?);
        }
    }
    tar.finish()?;
    Ok(written)
}

/// Zip archives deflate on every thread of `workers` (see [`ParZip`]); the
/// bytes do not depend on the thread count.
fn write_zip<W: Write>(
    out: W,
    level: u32,
    workers: crate::blocks::Workers,
    entries: &[Entry],
    mtime: i64,
    progress: &indicatif::ProgressBar,
) -> io::Result<(W, Vec<Written>)> {
    // Streamed: the archive is hashed as it is written, so it cannot seek.
    let mut zip = ParZip::with_workers(out, level, mtime, workers);
    let mut written = Vec::new();
    for entry in entries {
        if entry.source.is_none() {
            zip.add_directory(&entry.path, entry.mode())?;
        } else {
            zip.start_file(&entry.path, entry.mode(), entry.size)?;
            let mut r = open_source(entry, progress)?;
            io::copy(&mut r, &mut zip)?;
            written.push(finish_entry(entry, r)?);
        }
    }
    Ok((zip.finish()?, written))
}

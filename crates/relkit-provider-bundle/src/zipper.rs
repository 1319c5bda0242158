//! Deterministic provider zips: one entry (the provider binary), unix mode
//! 0755, a fixed DOS time, deflate, no directory entries and no extra
//! fields, so the same binary and time give the same bytes everywhere
//! (relkit-core's deterministic zip writer, shared with relkit-package). The
//! platforms compress in parallel; see scripts/bench.d/provider-bundle.sh.

use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use relkit_core::hash::{Algo, BUF_SIZE, Digest, Hasher, hash_reader, open_regular};
use relkit_core::zip::DeterministicZip;

use crate::Error;

/// What writing one provider zip produced.
#[derive(Debug, Clone)]
pub struct ZipOutcome {
    /// sha256 and size of the binary inside, from the same read that compressed it.
    pub binary: Digest,
    /// sha256 and size of the zip.
    pub zip: Digest,
}

/// An open output file and its final path (for error messages).
#[derive(Debug)]
pub struct OutFile {
    /// The file, opened for reading and writing, empty.
    pub file: std::fs::File,
    /// The path it will have.
    pub path: PathBuf,
}

/// One provider zip to write: the binary goes into `zip` (and byte-identical
/// `zip_copies`) as `entry`, and is copied as is into `binary_copies`, all
/// from a single read of the binary.
#[derive(Debug)]
pub struct ZipJob<'a> {
    /// The provider binary.
    pub binary: &'a Path,
    /// Its name inside the zip.
    pub entry: &'a str,
    /// The build time, seconds since 1970 (the entry's DOS time).
    pub epoch: i64,
    /// The zip.
    pub zip: OutFile,
    /// Further copies of the zip (the packed mirror).
    pub zip_copies: Vec<OutFile>,
    /// Plain copies of the binary (the unpacked mirror).
    pub binary_copies: Vec<OutFile>,
}

/// Tag an I/O error with the path it happened at, so the one-line message names it.
fn at_path(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("`{}`: {e}", path.display()))
}

/// Writes go to every file; seeks move them all (the zip writer patches the
/// entry header once the data is written).
struct Tee<'a>(&'a mut [OutFile]);

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for out in self.0.iter_mut() {
            out.file
                .write_all(buf)
                .map_err(|e| at_path(&out.path, &e))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        for out in self.0.iter_mut() {
            out.file.flush().map_err(|e| at_path(&out.path, &e))?;
        }
        Ok(())
    }
}

impl Seek for Tee<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let mut first = None;
        for out in self.0.iter_mut() {
            let at = out.file.seek(pos).map_err(|e| at_path(&out.path, &e))?;
            first.get_or_insert(at);
        }
        Ok(first.unwrap_or(0))
    }
}

/// A reader that hashes what passes through it and copies it to
/// `copies`, so the binary is read once for compressing, hashing and
/// copying.
struct TeeReader<'a, R> {
    inner: R,
    path: &'a Path,
    hasher: Hasher,
    size: u64,
    copies: Tee<'a>,
    progress: &'a dyn Fn(u64),
}

impl<R: Read> Read for TeeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| at_path(self.path, &e))?;
        self.hasher.update(&buf[..n]);
        self.copies.write_all(&buf[..n])?;
        self.size += n as u64;
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// Write one provider zip (mode 0755, fixed time, deflate) and its copies.
/// The zip's sha256 is taken by reading it back: the zip format patches the
/// entry header after the data, so the bytes are final only at the end (they
/// are still in the page cache, so this is cheap).
pub fn write_provider_zip(job: ZipJob<'_>, progress: &dyn Fn(u64)) -> Result<ZipOutcome, Error> {
    let ZipJob {
        binary,
        entry,
        epoch,
        zip,
        zip_copies,
        mut binary_copies,
    } = job;
    let zip_path = zip.path.clone();
    let input = open_regular(binary)?;
    let size = input.metadata().map_err(|e| at_path(binary, &e))?.len();
    let zip_err = |source| Error::Zip {
        path: zip_path.clone(),
        source,
    };
    let mut zips: Vec<OutFile> = std::iter::once(zip).chain(zip_copies).collect();
    let mut writer =
        DeterministicZip::new(BufWriter::with_capacity(BUF_SIZE, Tee(&mut zips)), epoch);
    writer.start_file(entry, 0o755, size).map_err(zip_err)?;
    let mut reader = TeeReader {
        inner: BufReader::with_capacity(BUF_SIZE, input),
        path: binary,
        hasher: Algo::Sha256.hasher(),
        size: 0,
        copies: Tee(&mut binary_copies),
        progress,
    };
    io::copy(&mut reader, &mut writer).map_err(|e| Error::Core(relkit_core::Error::Io(e)))?;
    let binary_digest = Digest {
        hex: reader.hasher.finish_hex(),
        size: reader.size,
    };
    let buffered = writer.finish().map_err(zip_err)?;
    buffered
        .into_inner()
        .map_err(|e| Error::Core(relkit_core::Error::Io(e.into_error())))?;
    let first = &mut zips[0];
    first
        .file
        .seek(SeekFrom::Start(0))
        .map_err(|e| at_path(&first.path, &e))?;
    let zip =
        hash_reader(&mut first.file, Algo::Sha256, |_| {}).map_err(|e| at_path(&first.path, &e))?;
    Ok(ZipOutcome {
        binary: binary_digest,
        zip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(path: &Path) -> OutFile {
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .unwrap()
            .into_parts()
            .0;
        OutFile {
            file,
            path: path.to_path_buf(),
        }
    }

    #[test]
    fn same_input_same_bytes_and_identical_copies() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        fs_err::write(&bin, &data).unwrap();
        let mut outs = Vec::new();
        for n in 0..2 {
            let path = dir.path().join(format!("{n}.zip"));
            let job = ZipJob {
                binary: &bin,
                entry: "terraform-provider-x_v1.0.0",
                epoch: 1_700_000_000,
                zip: out(&path),
                zip_copies: vec![out(&dir.path().join(format!("{n}-copy.zip")))],
                binary_copies: vec![out(&dir.path().join(format!("{n}-bin")))],
            };
            let o = write_provider_zip(job, &|_| {}).unwrap();
            assert_eq!(o.binary.size, 200_000);
            let bytes = fs_err::read(&path).unwrap();
            assert_eq!(o.zip.size, bytes.len() as u64);
            assert_eq!(
                fs_err::read(dir.path().join(format!("{n}-copy.zip"))).unwrap(),
                bytes
            );
            assert_eq!(
                fs_err::read(dir.path().join(format!("{n}-bin"))).unwrap(),
                data
            );
            outs.push(bytes);
        }
        assert_eq!(outs[0], outs[1]);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&outs[0])).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "terraform-provider-x_v1.0.0");
        assert_eq!(entry.unix_mode(), Some(0o100_755));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        assert!(entry.extra_data().is_none_or(|d| d.is_empty()));
    }
}

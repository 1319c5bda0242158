//! Deterministic provider zips: one entry (the provider binary), unix mode
//! 0755, a fixed DOS time, deflate, no directory entries and no extra
//! fields, so the same binary and time give the same bytes everywhere.

use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;

use relkit_core::hash::{Algo, BUF_SIZE, Digest, Hasher, hash_reader, open_regular};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::Error;

/// The deflate level. zlib-rs (zlib-ng's algorithms) at level 6 writes
/// zips about 3% larger than Info-ZIP's `zip -6`; at level 9 they come out
/// slightly smaller than `zip -6` for the same CPU time per byte (measured on
/// 30 MB of ELF code: 13.57 MB in 1.3 s user vs 13.68 MB in 1.35 s), and the
/// platforms compress in parallel. See scripts/bench.d/provider-bundle.sh.
pub const DEFLATE_LEVEL: i64 = 9;

/// Seconds since 1970 of 1980-01-01T00:00:00Z, the earliest DOS time.
pub const DOS_EPOCH: i64 = 315_532_800;

/// The DOS date and time for `epoch` (UTC), clamped to what zip can hold
/// (1980 to 2107). DOS times have two-second resolution; odd seconds round down.
pub fn dos_time(epoch: i64) -> DateTime {
    let max = time::macros::datetime!(2107-12-31 23:59:58 UTC).unix_timestamp();
    let t = time::OffsetDateTime::from_unix_timestamp(epoch.clamp(DOS_EPOCH, max))
        .expect("clamped into range");
    DateTime::from_date_and_time(
        u16::try_from(t.year()).expect("clamped into range"),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .expect("clamped into range")
}

/// What writing one provider zip produced.
#[derive(Debug, Clone)]
pub struct ZipOutcome {
    /// sha256 and size of the binary inside, from the same read that compressed it.
    pub binary: Digest,
    /// sha256 and size of the zip.
    pub zip: Digest,
}

/// A reader that hashes what passes through it, so the binary is read once
/// for both compressing and hashing.
struct HashingReader<'a, R> {
    inner: R,
    hasher: Hasher,
    size: u64,
    progress: &'a dyn Fn(u64),
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// Write a zip holding `binary` as `entry` (mode 0755, time `mtime`) to
/// `out`, which must be empty. The zip's sha256 is taken by reading it back:
/// the zip format patches the entry header after the data, so the bytes are
/// final only at the end (it is still in the page cache, so this is cheap).
pub fn write_provider_zip(
    binary: &Path,
    entry: &str,
    mtime: DateTime,
    out: std::fs::File,
    out_name: &Path,
    progress: &dyn Fn(u64),
) -> Result<ZipOutcome, Error> {
    let input = open_regular(binary)?;
    let size = input.metadata().map_err(relkit_core::Error::Io)?.len();
    let zip_err = |source| Error::Zip {
        path: out_name.to_path_buf(),
        source,
    };
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .unix_permissions(0o755)
        .last_modified_time(mtime)
        // Zip64 only when the binary needs it, so ordinary zips stay plain.
        .large_file(size >= u64::from(u32::MAX) - (1 << 20));
    let mut writer = ZipWriter::new(BufWriter::with_capacity(BUF_SIZE, out));
    writer.start_file(entry, options).map_err(zip_err)?;
    let mut reader = HashingReader {
        inner: BufReader::with_capacity(BUF_SIZE, input),
        hasher: Algo::Sha256.hasher(),
        size: 0,
        progress,
    };
    io::copy(&mut reader, &mut writer)
        .map_err(|e| Error::Core(relkit_core::atomic::io_at(binary, e)))?;
    let binary_digest = Digest {
        hex: reader.hasher.finish_hex(),
        size: reader.size,
    };
    let buffered = writer.finish().map_err(zip_err)?;
    let mut file = buffered
        .into_inner()
        .map_err(|e| Error::Core(relkit_core::atomic::io_at(out_name, e.into_error())))?;
    let at = |e| Error::Core(relkit_core::atomic::io_at(out_name, e));
    file.seek(SeekFrom::Start(0)).map_err(at)?;
    let zip = hash_reader(&mut file, Algo::Sha256, |_| {}).map_err(at)?;
    Ok(ZipOutcome {
        binary: binary_digest,
        zip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times_clamp_and_round() {
        let min = dos_time(0);
        assert_eq!(
            (min.year(), min.month(), min.day(), min.hour()),
            (1980, 1, 1, 0)
        );
        let t = dos_time(1_700_000_001); // 2023-11-14T22:13:21Z
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2023, 11, 14, 22, 13, 20)
        );
        assert_eq!(dos_time(i64::MAX).year(), 2107);
    }

    #[test]
    fn same_input_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        fs_err::write(&bin, &data).unwrap();
        let mut outs = Vec::new();
        for n in 0..2 {
            let path = dir.path().join(format!("{n}.zip"));
            let f = fs_err::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap()
                .into_parts()
                .0;
            let o = write_provider_zip(
                &bin,
                "terraform-provider-x_v1.0.0",
                dos_time(1_700_000_000),
                f,
                &path,
                &|_| {},
            )
            .unwrap();
            assert_eq!(o.binary.size, 200_000);
            let bytes = fs_err::read(&path).unwrap();
            assert_eq!(o.zip.size, bytes.len() as u64);
            outs.push(bytes);
        }
        assert_eq!(outs[0], outs[1]);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&outs[0])).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "terraform-provider-x_v1.0.0");
        assert_eq!(entry.unix_mode(), Some(0o100_755));
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        assert!(entry.extra_data().is_none_or(|d| d.is_empty()));
    }
}

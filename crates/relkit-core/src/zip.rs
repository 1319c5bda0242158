//! Deterministic zip archives, the one writer behind relkit-package's zip
//! archives and relkit-provider-bundle's provider zips: every entry carries
//! the same DOS time, an explicit unix mode and deflate at [`DEFLATE_LEVEL`],
//! with no extra fields, so the same inputs and build time give the same
//! bytes on every machine.

use std::io::{self, Seek, Write};

use ::zip::write::{SimpleFileOptions, StreamWriter};
use ::zip::{CompressionMethod, DateTime, ZipWriter};

pub use ::zip::result::{ZipError, ZipResult};

/// The deflate level. The workspace deflates with zlib itself (statically
/// linked, see the workspace Cargo.toml), whose level 6 writes zips the size
/// of Info-ZIP's `zip -6` at less CPU per byte.
pub const DEFLATE_LEVEL: i64 = 6;

/// Seconds since 1970 of 1980-01-01T00:00:00Z, the earliest DOS time.
pub const DOS_EPOCH: i64 = 315_532_800;

/// Entries at least this large are written with Zip64 sizes: deflate can
/// grow incompressible data slightly, so the margin keeps a compressed size
/// that crosses 4 GiB from failing the entry. Smaller entries stay plain.
const ZIP64_FROM: u64 = u32::MAX as u64 - (1 << 20);

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

/// A zip writer that writes entries one way only (see the module docs).
/// Entries are written in the order given: sorting them is the caller's job.
pub struct DeterministicZip<W: Write + Seek> {
    zip: ZipWriter<W>,
    mtime: DateTime,
}

impl<W: Write + Seek> DeterministicZip<W> {
    /// A zip written to a seekable `out`: each local header is patched with
    /// the entry's sizes once its data is written.
    pub fn new(out: W, epoch: i64) -> Self {
        DeterministicZip {
            zip: ZipWriter::new(out),
            mtime: dos_time(epoch),
        }
    }

    fn options(&self, mode: u32, size: u64) -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .unix_permissions(mode)
            .last_modified_time(self.mtime)
            .large_file(size >= ZIP64_FROM)
    }

    /// Start a file entry at `path` of `size` bytes (which decides Zip64);
    /// its bytes follow through [`Write`].
    pub fn start_file(&mut self, path: &str, mode: u32, size: u64) -> ZipResult<()> {
        let options = self.options(mode, size);
        self.zip.start_file(path, options)
    }

    /// Add a folder entry (`path`, with or without a trailing `/`).
    pub fn add_directory(&mut self, path: &str, mode: u32) -> ZipResult<()> {
        let options = self.options(mode, 0);
        self.zip.add_directory(path.trim_end_matches('/'), options)
    }

    /// Write the central directory and hand back the output.
    pub fn finish(self) -> ZipResult<W> {
        self.zip.finish()
    }
}

impl<W: Write> DeterministicZip<StreamWriter<W>> {
    /// A zip streamed to `out`, which need not seek (a hashing writer, a
    /// pipe): entry sizes follow each entry's data in a data descriptor.
    /// Its bytes differ from [`DeterministicZip::new`]'s for the same input.
    pub fn new_stream(out: W, epoch: i64) -> Self {
        DeterministicZip {
            zip: ZipWriter::new_stream(out),
            mtime: dos_time(epoch),
        }
    }
}

impl<W: Write + Seek> Write for DeterministicZip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.zip.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.zip.flush()
    }
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
        assert_eq!(dos_time(4_102_444_800 * 2).year(), 2107);
        assert_eq!(dos_time(i64::MAX).year(), 2107);
        assert_eq!(dos_time(-1).year(), 1980);
    }

    fn fill<W: Write + Seek>(z: &mut DeterministicZip<W>) {
        let data = b"hello, hello, hello".repeat(100);
        z.add_directory("top/", 0o755).unwrap();
        z.start_file("top/a", 0o644, data.len() as u64).unwrap();
        z.write_all(&data).unwrap();
        z.start_file("top/b", 0o755, 0).unwrap();
    }

    fn zip_bytes(stream: bool) -> Vec<u8> {
        if stream {
            let mut z = DeterministicZip::new_stream(Vec::new(), 1_700_000_000);
            fill(&mut z);
            z.finish().unwrap().into_inner()
        } else {
            let mut z = DeterministicZip::new(io::Cursor::new(Vec::new()), 1_700_000_000);
            fill(&mut z);
            z.finish().unwrap().into_inner()
        }
    }

    #[test]
    fn same_input_same_bytes_and_fixed_metadata() {
        for stream in [false, true] {
            let bytes = zip_bytes(stream);
            assert_eq!(bytes, zip_bytes(stream));
            let mut archive = ::zip::ZipArchive::new(io::Cursor::new(&bytes)).unwrap();
            let names: Vec<String> = archive
                .file_names()
                .map(|n| n.unwrap().into_owned())
                .collect();
            assert_eq!(names, ["top/", "top/a", "top/b"]);
            for (i, mode) in [(0, 0o40_755), (1, 0o100_644), (2, 0o100_755)] {
                let e = archive.by_index(i).unwrap();
                assert_eq!(e.unix_mode(), Some(mode), "{}", e.name().unwrap());
                assert_eq!(e.last_modified(), Some(dos_time(1_700_000_000)));
                assert!(e.extra_data().is_none_or(|d| d.is_empty()));
            }
            let a = archive.by_index(1).unwrap();
            assert_eq!(a.compression(), CompressionMethod::Deflated);
        }
        assert_ne!(zip_bytes(false), zip_bytes(true));
    }
}

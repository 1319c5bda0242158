//! Compression settings of the tar formats: the level (each format's own
//! scale), the number of threads, and the encoders built from them.
//!
//! Every encoder cuts its input into blocks (jobs) whose size depends only
//! on the level, never on the thread count, so 1 or 64 threads write the
//! same bytes. Threads are capped so that the encoder's memory stays within
//! [`MEMORY_BUDGET`] at the default levels, whatever the input size and the
//! number of cores.

use std::io::{self, Write};

use relkit_core::target::ArchiveFormat;

/// The memory the compressor may use at a format's default level (relkit's
/// own buffers, the tar stream and the binary itself come on top: the whole
/// process stays under 64 MB, which the tests check on a 1 GiB input).
pub const MEMORY_BUDGET: u64 = 48 << 20;

/// gzip level. zlib's level 5 is within 1.5% of `gzip -6`'s size on real
/// binaries at about 60% of its CPU time; spread over the cores by
/// [`crate::pargz::ParGzEncoder`] that is several times faster than `tar czf`.
pub const GZIP_LEVEL: u32 = 5;
/// xz preset: 6, xz's own default, but with the dictionary capped at
/// [`XZ_DICT`] so that each thread needs about 20 MiB rather than 94 (plus
/// its blocks).
pub const XZ_LEVEL: u32 = 6;
/// zstd level: zstd's own default. Fast (about as fast as `zstd -3 -T0`),
/// a little smaller than gzip; `--level 19` is about 20% smaller and two
/// orders of magnitude slower.
pub const ZSTD_LEVEL: u32 = 3;
/// zip (deflate) level: fixed, the one relkit-core's zip writer uses.
pub const ZIP_LEVEL: u32 = 6;

/// Largest xz dictionary: the match finder (bt4) needs about 9.5 times the
/// dictionary, per thread.
pub const XZ_DICT: u32 = 1 << 20;
/// Uncompressed bytes per xz block. liblzma holds about 3 blocks per
/// thread, so with the 1 MiB dictionary a thread needs about 20 MiB and
/// the budget allows two threads.
pub const XZ_BLOCK: u64 = 2 << 20;
/// Uncompressed bytes per zstd job (levels up to 9; 4 MiB above).
pub const ZSTD_JOB: u32 = 2 << 20;

/// How hard and on how many threads to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Level on the format's own scale; `None` for its default.
    pub level: Option<u32>,
    /// Threads to use at most (memory may allow fewer).
    pub threads: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            level: None,
            threads: default_threads(),
        }
    }
}

/// One thread per core this process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The default level of `format`.
pub fn default_level(format: ArchiveFormat) -> u32 {
    match format {
        ArchiveFormat::TarGz => GZIP_LEVEL,
        ArchiveFormat::TarXz => XZ_LEVEL,
        ArchiveFormat::TarZst => ZSTD_LEVEL,
        ArchiveFormat::Zip => ZIP_LEVEL,
    }
}

/// The levels `format` takes, for `--level` checks and messages.
pub fn level_range(format: ArchiveFormat) -> std::ops::RangeInclusive<u32> {
    match format {
        ArchiveFormat::TarGz => 1..=9,
        ArchiveFormat::TarXz => 0..=9,
        ArchiveFormat::TarZst => 1..=19,
        ArchiveFormat::Zip => ZIP_LEVEL..=ZIP_LEVEL,
    }
}

impl Compression {
    /// The level to use for `format`.
    pub fn level_for(&self, format: ArchiveFormat) -> u32 {
        self.level.unwrap_or_else(|| default_level(format))
    }

    /// Check the level against `format`'s range: the message is for
    /// `--level`.
    pub fn check(&self, format: ArchiveFormat) -> Result<(), String> {
        let range = level_range(format);
        match self.level {
            Some(l) if !range.contains(&l) => Err(if range.start() == range.end() {
                format!(
                    "{} archives are always written at level {}",
                    format.extension(),
                    range.start()
                )
            } else {
                format!(
                    "{l} is not a {} level (expected {} to {})",
                    format.extension(),
                    range.start(),
                    range.end()
                )
            }),
            _ if self.threads == 0 => Err("threads must be at least 1".to_owned()),
            _ => Ok(()),
        }
    }
}

/// Threads an encoder may use: at most `threads`, and no more than the
/// memory budget allows at `per_thread` bytes each (never fewer than one).
pub fn capped_threads(threads: usize, per_thread: u64) -> u32 {
    let by_memory = (MEMORY_BUDGET / per_thread.max(1)).max(1);
    let n = u64::try_from(threads.max(1))
        .unwrap_or(u64::MAX)
        .min(by_memory);
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Memory one zstd worker takes at `level`, as measured with the bundled
/// zstd 1.5.7 (window, tables, the job's input and output): the basis of
/// its thread cap.
fn zstd_per_worker(level: u32) -> u64 {
    match level {
        0..=5 => 5 << 20,
        6..=9 => 20 << 20,
        10..=15 => 40 << 20,
        _ => 110 << 20,
    }
}

fn zstd_job(level: u32) -> u32 {
    if level <= 9 { ZSTD_JOB } else { 2 * ZSTD_JOB }
}

/// A zstd encoder at `level` on up to `threads` workers. Always in
/// multi-threaded mode (at least one worker): zstd's single-threaded mode
/// writes other bytes than its workers do, and the workers' bytes do not
/// depend on their number.
pub fn zstd_encoder<W: Write>(
    out: W,
    level: u32,
    threads: usize,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let workers = capped_threads(threads, zstd_per_worker(level));
    zstd_encoder_exact(out, level, workers, zstd_job(level))
}

/// A zstd encoder with exactly `workers` workers and jobs of `job` bytes
/// (tests use it uncapped, with small jobs).
pub fn zstd_encoder_exact<W: Write>(
    out: W,
    level: u32,
    workers: u32,
    job: u32,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    use zstd::stream::raw::CParameter;
    let level = i32::try_from(level).map_err(io::Error::other)?;
    let mut enc = zstd::stream::write::Encoder::new(out, level)?;
    enc.multithread(workers.max(1))?;
    enc.set_parameter(CParameter::JobSize(job))?;
    enc.include_checksum(true)?;
    enc.include_contentsize(false)?;
    Ok(enc)
}

/// xz options at `level`: the preset, its dictionary capped at [`XZ_DICT`].
fn xz_filters(level: u32) -> io::Result<liblzma::stream::Filters> {
    let mut opts = liblzma::stream::LzmaOptions::new_preset(level).map_err(io::Error::other)?;
    // Presets 0-1 have smaller dictionaries than the cap: keep theirs.
    let preset_dict = [256 << 10, 1 << 20];
    let dict = usize::try_from(level)
        .ok()
        .and_then(|l| preset_dict.get(l).copied())
        .unwrap_or(XZ_DICT);
    opts.dict_size(dict.min(XZ_DICT));
    let mut filters = liblzma::stream::Filters::new();
    filters.lzma2(&opts);
    Ok(filters)
}

fn xz_builder(
    level: u32,
    threads: u32,
    block: u64,
) -> io::Result<liblzma::stream::MtStreamBuilder> {
    let mut b = liblzma::stream::MtStreamBuilder::new();
    b.threads(threads)
        .filters(xz_filters(level)?)
        .block_size(block)
        .check(liblzma::stream::Check::Crc64);
    Ok(b)
}

/// An xz encoder at `level` on up to `threads` threads (fewer when the
/// memory budget says so: liblzma reports each thread's needs).
pub fn xz_encoder<W: Write>(
    out: W,
    level: u32,
    threads: usize,
) -> io::Result<liblzma::write::XzEncoder<W>> {
    let per_thread = xz_builder(level, 1, XZ_BLOCK)?.memusage();
    xz_encoder_exact(out, level, capped_threads(threads, per_thread), XZ_BLOCK)
}

/// An xz encoder with exactly `threads` threads and blocks of `block`
/// bytes (tests use it uncapped, with small blocks). Always liblzma's
/// multi-threaded encoder, even for one thread: its block layout is what
/// makes the bytes independent of the thread count.
pub fn xz_encoder_exact<W: Write>(
    out: W,
    level: u32,
    threads: u32,
    block: u64,
) -> io::Result<liblzma::write::XzEncoder<W>> {
    let stream = xz_builder(level, threads.max(1), block)?
        .encoder()
        .map_err(io::Error::other)?;
    Ok(liblzma::write::XzEncoder::new_stream(out, stream))
}

/// Memory one gzip thread takes: the blocks it has in flight (input, and
/// output as large as the input when the data does not compress, see
/// [`crate::pargz`]) and zlib's state.
fn gzip_per_thread() -> u64 {
    let block = crate::pargz::BLOCK_SIZE as u64;
    crate::pargz::BLOCKS_PER_THREAD as u64 * 2 * block + (512 << 10)
}

/// Call `f` with a pool of up to `threads` threads, as many as the memory
/// budget allows, for the gzip and zip encoders: `f` runs on the calling
/// thread, which reads the input and writes the output while the pool
/// compresses (see [`crate::blocks`]).
pub fn with_gzip_threads<T>(
    threads: usize,
    f: impl FnOnce(crate::blocks::Workers) -> T,
) -> io::Result<T> {
    let threads = capped_threads(threads, gzip_per_thread());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(usize::try_from(threads).unwrap_or(1))
        .thread_name(|i| format!("relkit-gz-{i}"))
        .build()
        .map_err(io::Error::other)?;
    Ok(f(crate::blocks::Workers::Pool(std::sync::Arc::new(pool))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Half text-like, half noise, so that every part of the match finder
    /// is exercised.
    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9u32;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if (i / 3000) % 2 == 0 {
                    b"relkit packs releases "[i % 22]
                } else {
                    x.to_le_bytes()[1]
                }
            })
            .collect()
    }

    /// zstd's smallest job (ZSTDMT_JOBSIZE_MIN): several jobs in a small
    /// input keep the test fast.
    const TEST_JOB: u32 = 512 << 10;
    /// Small xz blocks for the same reason (xz runs at a few MB/s per core).
    const TEST_BLOCK: u64 = 128 << 10;

    fn zstd_bytes(data: &[u8], workers: u32) -> Vec<u8> {
        let mut enc = zstd_encoder_exact(Vec::new(), ZSTD_LEVEL, workers, TEST_JOB).unwrap();
        for chunk in data.chunks(65_537) {
            enc.write_all(chunk).unwrap();
        }
        enc.finish().unwrap()
    }

    fn xz_bytes(data: &[u8], threads: u32) -> Vec<u8> {
        let mut enc = xz_encoder_exact(Vec::new(), XZ_LEVEL, threads, TEST_BLOCK).unwrap();
        for chunk in data.chunks(65_537) {
            enc.write_all(chunk).unwrap();
        }
        enc.finish().unwrap()
    }

    // The claim the thread counts rest on (issue 15): with a fixed job or
    // block size, zstd's workers and liblzma's threads write the same bytes
    // whatever their number. Several jobs/blocks, so the threads really
    // split the work.
    #[test]
    fn zstd_bytes_do_not_depend_on_workers() {
        let data = sample(5 * TEST_JOB as usize + 12_345);
        let one = zstd_bytes(&data, 1);
        assert_eq!(one, zstd_bytes(&data, 2), "1 vs 2 workers");
        assert_eq!(one, zstd_bytes(&data, 7), "1 vs 7 workers");
        let back = zstd::decode_all(&one[..]).unwrap();
        assert!(back == data, "zstd round trip differs");
    }

    #[test]
    fn xz_bytes_do_not_depend_on_threads() {
        let data = sample(usize::try_from(5 * TEST_BLOCK).unwrap() + 12_345);
        let one = xz_bytes(&data, 1);
        assert_eq!(one, xz_bytes(&data, 2), "1 vs 2 threads");
        assert_eq!(one, xz_bytes(&data, 7), "1 vs 7 threads");
        let mut back = Vec::new();
        liblzma::read::XzDecoder::new(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data, "xz round trip differs");
    }

    #[test]
    fn threads_are_capped_by_memory_not_below_one() {
        assert_eq!(capped_threads(64, 5 << 20), 9);
        assert_eq!(capped_threads(2, 5 << 20), 2);
        assert_eq!(capped_threads(8, 200 << 20), 1);
        assert_eq!(capped_threads(0, 1), 1);
        let per_thread = xz_builder(XZ_LEVEL, 1, XZ_BLOCK).unwrap().memusage();
        assert_eq!(capped_threads(64, per_thread), 2, "{per_thread} bytes");
        assert!(
            per_thread < 24 << 20,
            "xz needs {per_thread} bytes per thread"
        );
    }

    #[test]
    fn levels_are_checked_per_format() {
        let c = |level| Compression {
            level: Some(level),
            threads: 1,
        };
        assert!(c(19).check(ArchiveFormat::TarZst).is_ok());
        assert_eq!(
            c(20).check(ArchiveFormat::TarZst).unwrap_err(),
            "20 is not a tar.zst level (expected 1 to 19)"
        );
        assert!(c(0).check(ArchiveFormat::TarGz).is_err());
        assert!(c(0).check(ArchiveFormat::TarXz).is_ok());
        assert_eq!(
            c(9).check(ArchiveFormat::Zip).unwrap_err(),
            "zip archives are always written at level 6"
        );
        assert!(c(6).check(ArchiveFormat::Zip).is_ok());
    }
}

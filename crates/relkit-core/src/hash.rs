//! Streaming hashing: sha256 (with the CPU's SHA extensions where present),
//! sha512 and blake3, over readers, files and writers, in bounded memory.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::Digest as _;

use crate::Error;
use crate::atomic::io_at;

/// Size of the read buffer: large enough to amortise syscalls, small enough
/// to stay in cache.
pub const BUF_SIZE: usize = 1 << 20;

/// Chunks at least this large are hashed by BLAKE3 on every core (its
/// tree splits them across rayon's threads; below this, threads cost more
/// than they give).
pub const BLAKE3_PARALLEL_MIN: usize = 128 << 10;

thread_local! {
    /// One read buffer per thread, reused for every file: allocating (and
    /// zeroing) a fresh 1 MiB buffer per file cost more than hashing a 4 KiB
    /// file (issue 15).
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A hash algorithm relkit can write and check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algo {
    /// SHA-256, the default everywhere.
    #[default]
    Sha256,
    /// SHA-512.
    Sha512,
    /// BLAKE3 with 256-bit output.
    Blake3,
}

impl Algo {
    /// Lower-case name, as in `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
            Algo::Blake3 => "blake3",
        }
    }

    /// The conventional name of the combined checksum file.
    pub fn sums_file(self) -> &'static str {
        match self {
            Algo::Sha256 => "SHA256SUMS",
            Algo::Sha512 => "SHA512SUMS",
            Algo::Blake3 => "B3SUMS",
        }
    }

    /// Length of a digest in hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algo::Sha256 | Algo::Blake3 => 64,
            Algo::Sha512 => 128,
        }
    }

    /// The tag BSD-style lines use (`SHA256 (file) = …`).
    pub fn bsd_tag(self) -> &'static str {
        match self {
            Algo::Sha256 => "SHA256",
            Algo::Sha512 => "SHA512",
            Algo::Blake3 => "BLAKE3",
        }
    }

    /// Start a streaming hash.
    pub fn hasher(self) -> Hasher {
        match self {
            Algo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            Algo::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

impl std::str::FromStr for Algo {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "sha256" => Ok(Algo::Sha256),
            "sha512" => Ok(Algo::Sha512),
            "blake3" | "b3" => Ok(Algo::Blake3),
            _ => Err(Error::invalid(
                "--algo",
                format!("`{s}` is not a known algorithm (expected sha256, sha512 or blake3)"),
            )),
        }
    }
}

/// A running hash of one of the [`Algo`]s.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
    /// BLAKE3 state (boxed: it is large).
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            // Identical digest either way; update_rayon spreads a large
            // chunk over every core.
            Hasher::Blake3(h) if data.len() >= BLAKE3_PARALLEL_MIN => {
                h.update_rayon(data);
            }
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// Finish and return the lower-case hex digest.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
        }
    }
}

/// A digest and the number of bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Lower-case hex digest.
    pub hex: String,
    /// Bytes hashed.
    pub size: u64,
}

/// Hash everything `reader` yields, calling `progress` with each chunk size.
pub fn hash_reader(reader: impl Read, algo: Algo, progress: impl FnMut(u64)) -> io::Result<Digest> {
    READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < BUF_SIZE {
                buf.resize(BUF_SIZE, 0);
            }
            hash_with(reader, algo, progress, &mut buf)
        }
        // This thread is already hashing (rayon ran another file's hash
        // while waiting inside BLAKE3's update_rayon): a buffer of its own.
        Err(_) => hash_with(reader, algo, progress, &mut vec![0u8; BUF_SIZE]),
    })
}

fn hash_with(
    mut reader: impl Read,
    algo: Algo,
    mut progress: impl FnMut(u64),
    buf: &mut [u8],
) -> io::Result<Digest> {
    let mut hasher = algo.hasher();
    let mut size = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        progress(n as u64);
    }
    Ok(Digest {
        hex: hasher.finish_hex(),
        size,
    })
}

/// Hash a regular file. A missing path, a folder or a special file is an
/// input error naming the path.
pub fn hash_file(path: &Path, algo: Algo, progress: impl FnMut(u64)) -> Result<Digest, Error> {
    let file = open_regular(path)?;
    hash_reader(file, algo, progress).map_err(|e| io_at(path, e))
}

/// Open `path` for reading, insisting that it is a regular file (following
/// symlinks); see [`crate::input::open_regular`].
pub fn open_regular(path: &Path) -> Result<fs_err::File, Error> {
    crate::input::open_regular(path).map(|(file, _)| file)
}

/// A writer that hashes (sha256) and counts everything written through it,
/// so an output's digest comes from the same pass that writes it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`, hashing with `algo`.
    pub fn new(inner: W, algo: Algo) -> Self {
        Self {
            inner,
            hasher: algo.hasher(),
            size: 0,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flush, then return the inner writer and the digest of what passed.
    pub fn finish(mut self) -> io::Result<(W, Digest)> {
        self.inner.flush()?;
        Ok((
            self.inner,
            Digest {
                hex: self.hasher.finish_hex(),
                size: self.size,
            },
        ))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let d = hash_reader(&b"abc"[..], Algo::Sha256, |_| {}).unwrap();
        assert_eq!(
            d.hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size, 3);
        let d = hash_reader(&b"abc"[..], Algo::Sha512, |_| {}).unwrap();
        assert!(d.hex.starts_with("ddaf35a193617aba"), "{}", d.hex);
        let d = hash_reader(&b""[..], Algo::Blake3, |_| {}).unwrap();
        assert_eq!(
            d.hex,
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn blake3_on_every_core_gives_the_same_digest() {
        // Large enough for update_rayon, not a multiple of BLAKE3's chunks.
        let data: Vec<u8> = (0..3_000_017u32).map(|i| (i * 31 % 253) as u8).collect();
        let mut one = blake3::Hasher::new();
        one.update(&data);
        let expected = one.finalize().to_hex().to_string();
        for threads in [1, 2, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let d = pool
                .install(|| hash_reader(&data[..], Algo::Blake3, |_| {}))
                .unwrap();
            assert_eq!(d.hex, expected, "{threads} threads");
        }
        // Small writes through the writer take the one-thread path.
        let mut w = HashingWriter::new(io::sink(), Algo::Blake3);
        for chunk in data.chunks(1000) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.finish().unwrap().1.hex, expected);
    }

    #[test]
    fn nested_hashing_on_one_thread_gets_its_own_buffer() {
        // A reader that hashes something else while being read, as rayon
        // may do on a thread that waits inside update_rayon.
        struct Nested<'a>(&'a [u8], bool);
        impl Read for Nested<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if !self.1 {
                    self.1 = true;
                    let inner = hash_reader(&b"abc"[..], Algo::Sha256, |_| {})?;
                    assert!(inner.hex.starts_with("ba7816bf"));
                }
                self.0.read(buf)
            }
        }
        let d = hash_reader(Nested(b"abc", false), Algo::Sha256, |_| {}).unwrap();
        assert!(d.hex.starts_with("ba7816bf"), "{}", d.hex);
    }

    #[test]
    fn writer_matches_reader() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut w = HashingWriter::new(Vec::new(), Algo::Sha256);
        for chunk in data.chunks(777) {
            w.write_all(chunk).unwrap();
        }
        let (out, d) = w.finish().unwrap();
        assert_eq!(out, data);
        assert_eq!(d, hash_reader(&data[..], Algo::Sha256, |_| {}).unwrap());
    }

    #[test]
    fn files_must_be_regular() {
        let dir = tempfile::tempdir().unwrap();
        let e = hash_file(&dir.path().join("nope"), Algo::Sha256, |_| {}).unwrap_err();
        assert!(e.to_string().ends_with("nope`: no such file"), "{e}");
        let e = hash_file(dir.path(), Algo::Sha256, |_| {}).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
    }
}

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

/// Files at least this large are hashed by BLAKE3 as a tree of
/// [`BLAKE3_LEAF`] subtrees, each read and hashed by whichever thread takes
/// it (see [`hash_file`]); smaller ones are streamed.
pub const BLAKE3_TREE_MIN: u64 = 4 << 20;
/// Bytes of one BLAKE3 subtree read and hashed on one thread: a power of
/// two, small enough to stay in a core's L2 cache between the read and the
/// hash.
pub const BLAKE3_LEAF: u64 = 256 << 10;
/// Bytes hashed between two progress reports in the tree: a power of two.
const BLAKE3_WINDOW: u64 = 64 << 20;

/// Alignment of read buffers: the kernel copies into a page-aligned buffer
/// several times faster than into one that is not (on this project's AMD
/// EPYC, `read` of a cached 1 GiB file took 0.21 s of system time into a
/// page-aligned buffer and 0.70 s into the same buffer 16 bytes off, which
/// is where a large `Vec` from malloc starts).
const READ_ALIGN: usize = 4096;

/// A zeroed byte buffer whose start is page-aligned (without `unsafe`: a
/// `Vec` one page larger, used from its first aligned byte).
#[derive(Default)]
pub struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `len` bytes.
    pub fn new(len: usize) -> Self {
        let mut buf = AlignedBuf::default();
        buf.ensure(len);
        buf
    }

    /// Grow to at least `len` bytes (never shrinks).
    pub fn ensure(&mut self, len: usize) {
        if self.len >= len {
            return;
        }
        self.raw = vec![0u8; len + READ_ALIGN];
        self.start = self.raw.as_ptr().align_offset(READ_ALIGN);
        self.len = len;
    }

    /// The whole buffer.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

thread_local! {
    /// One read buffer per thread, reused for every file: allocating (and
    /// zeroing) a fresh 1 MiB buffer per file cost more than hashing a 4 KiB
    /// file (issue 15).
    static READ_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
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
            Algo::Blake3 => Hasher::Blake3(Box::default()),
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
            buf.ensure(BUF_SIZE);
            hash_with(reader, algo, progress, buf.as_mut_slice())
        }
        // This thread is already hashing (rayon ran another file's hash
        // while waiting inside BLAKE3's update_rayon): a buffer of its own.
        Err(_) => hash_with(
            reader,
            algo,
            progress,
            AlignedBuf::new(BUF_SIZE).as_mut_slice(),
        ),
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
///
/// BLAKE3 hashes a large file on every core without mapping it (mapped
/// pages would count in RSS: `b3sum` peaks at the file's size): the file
/// is cut into [`BLAKE3_LEAF`] subtrees of BLAKE3's own tree, each read
/// with a positional read into its thread's buffer and hashed there, and
/// their chaining values are merged as the tree prescribes. Reads and
/// hashing both spread over the cores, with one fork-join per
/// [`BLAKE3_WINDOW`] rather than one per read; memory stays one leaf per
/// thread. The digest is BLAKE3's, whatever the thread count (tested).
pub fn hash_file(path: &Path, algo: Algo, progress: impl FnMut(u64)) -> Result<Digest, Error> {
    let (file, len) = crate::input::open_regular(path)?;
    if algo == Algo::Blake3 && len >= BLAKE3_TREE_MIN {
        return blake3_tree::hash(file.file(), len, progress).map_err(|e| io_at(path, e));
    }
    hash_reader(file, algo, progress).map_err(|e| io_at(path, e))
}

/// BLAKE3 over a file as a tree of subtrees hashed in parallel (see
/// [`hash_file`]), through the crate's `hazmat` API, whose tree rules
/// (`left_subtree_len`, offsets, non-root chaining values, one root merge)
/// this follows; the tests compare with `blake3::hash` on lengths around
/// every boundary.
mod blake3_tree {
    use std::io;

    use blake3::hazmat::{
        ChainingValue, HasherExt as _, Mode, left_subtree_len, merge_subtrees_non_root,
        merge_subtrees_root,
    };

    use super::{AlignedBuf, BLAKE3_LEAF, BLAKE3_WINDOW, Digest, READ_BUF};

    /// Digest of the first `len` bytes of `file` (`len` > one BLAKE3
    /// chunk). A file that got shorter meanwhile is an error.
    pub(super) fn hash(
        file: &std::fs::File,
        len: u64,
        progress: impl FnMut(u64),
    ) -> io::Result<Digest> {
        Tree {
            file,
            leaf: BLAKE3_LEAF,
            window: BLAKE3_WINDOW,
        }
        .hash(len, progress)
    }

    /// A file and the sizes its tree is cut at (both powers of two, the
    /// leaf at least one BLAKE3 chunk; small in tests).
    pub(super) struct Tree<'a> {
        pub(super) file: &'a std::fs::File,
        pub(super) leaf: u64,
        pub(super) window: u64,
    }

    impl Tree<'_> {
        pub(super) fn hash(&self, len: u64, mut progress: impl FnMut(u64)) -> io::Result<Digest> {
            assert!(len > blake3::CHUNK_LEN as u64, "small inputs have no tree");
            let left = left_subtree_len(len);
            let a = self.windows(0, left, &mut progress)?;
            let b = self.windows(left, len - left, &mut progress)?;
            Ok(Digest {
                hex: merge_subtrees_root(&a, &b, Mode::Hash).to_hex().to_string(),
                size: len,
            })
        }

        /// The subtree at `offset`: above a window, its halves one after
        /// the other (so progress is reported in order, on this thread); a
        /// window on every core.
        fn windows(
            &self,
            offset: u64,
            len: u64,
            progress: &mut impl FnMut(u64),
        ) -> io::Result<ChainingValue> {
            if len <= self.window {
                let cv = self.parallel(offset, len)?;
                progress(len);
                return Ok(cv);
            }
            let left = left_subtree_len(len);
            let a = self.windows(offset, left, progress)?;
            let b = self.windows(offset + left, len - left, progress)?;
            Ok(merge_subtrees_non_root(&a, &b, Mode::Hash))
        }

        fn parallel(&self, offset: u64, len: u64) -> io::Result<ChainingValue> {
            if len <= self.leaf {
                return self.leaf(offset, len);
            }
            let left = left_subtree_len(len);
            let (a, b) = rayon::join(
                || self.parallel(offset, left),
                || self.parallel(offset + left, len - left),
            );
            Ok(merge_subtrees_non_root(&a?, &b?, Mode::Hash))
        }

        fn leaf(&self, offset: u64, len: u64) -> io::Result<ChainingValue> {
            let n = usize::try_from(len).expect("a leaf fits in memory");
            let hash = |buf: &mut [u8]| {
                read_exact_at(self.file, &mut buf[..n], offset)?;
                let mut h = blake3::Hasher::new();
                h.set_input_offset(offset);
                h.update(&buf[..n]);
                Ok(h.finalize_non_root())
            };
            READ_BUF.with(|cell| match cell.try_borrow_mut() {
                Ok(mut buf) => {
                    buf.ensure(super::BUF_SIZE.max(n));
                    hash(buf.as_mut_slice())
                }
                Err(_) => hash(AlignedBuf::new(n).as_mut_slice()),
            })
        }
    }

    #[cfg(unix)]
    fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset).map_err(shorter)
    }

    #[cfg(windows)]
    fn read_exact_at(file: &std::fs::File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        use std::os::windows::fs::FileExt as _;
        while !buf.is_empty() {
            match file.seek_read(buf, offset) {
                Ok(0) => return Err(shorter(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn shorter(e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "the file got shorter while being hashed")
        } else {
            e
        }
    }
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
    fn blake3_tree_of_a_file_is_blake3() {
        // Small leaves and windows, so a few hundred KiB cross every kind
        // of boundary: lengths at and around leaf, window and chunk edges.
        let data: Vec<u8> = (0..600_000u32).map(|i| (i * 131 % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs_err::write(&path, &data).unwrap();
        let file = fs_err::File::open(&path).unwrap();
        let file = file.file();
        let (leaf, window) = (4096, 32 << 10);
        let mut lens = vec![1025, 2048, 4095, 4097, 600_000];
        for edge in [
            leaf,
            2 * leaf,
            3 * leaf,
            window,
            2 * window,
            5 * window,
            16 * window,
        ] {
            lens.extend([edge - 1, edge, edge + 1, edge + 1024]);
        }
        for len in lens {
            let want = blake3::hash(&data[..usize::try_from(len).unwrap()]);
            for threads in [1, 2, 7] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut reported = 0;
                let tree = blake3_tree::Tree { file, leaf, window };
                let d = pool.install(|| tree.hash(len, |n| reported += n)).unwrap();
                assert_eq!(
                    d.hex,
                    want.to_hex().as_str(),
                    "{len} bytes, {threads} threads"
                );
                assert_eq!((d.size, reported), (len, len), "{len} bytes");
            }
        }
        // A file shorter than announced (it shrank) is an error, not a digest.
        let tree = blake3_tree::Tree { file, leaf, window };
        let e = tree.hash(700_000, |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "the file got shorter while being hashed");
    }

    #[test]
    fn large_files_take_the_tree_through_hash_file() {
        let len = usize::try_from(BLAKE3_TREE_MIN).unwrap() + 12_345;
        let data: Vec<u8> = (0..u32::try_from(len).unwrap())
            .map(|i| (i % 249) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs_err::write(&path, &data).unwrap();
        let mut reported = 0;
        let d = hash_file(&path, Algo::Blake3, |n| reported += n).unwrap();
        assert_eq!(d.hex, blake3::hash(&data).to_hex().as_str());
        assert_eq!((d.size, reported), (len as u64, len as u64));
        let d = hash_file(&path, Algo::Sha256, |_| {}).unwrap();
        assert_eq!(d, hash_reader(&data[..], Algo::Sha256, |_| {}).unwrap());
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
    fn read_buffers_start_on_a_page() {
        for len in [1, 4096, BUF_SIZE] {
            let mut b = AlignedBuf::new(len);
            let s = b.as_mut_slice();
            assert_eq!((s.len(), s.as_ptr() as usize % READ_ALIGN), (len, 0));
            assert!(s.iter().all(|&x| x == 0));
        }
        let mut b = AlignedBuf::new(10);
        b.ensure(5);
        assert_eq!(b.as_mut_slice().len(), 10, "never shrinks");
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

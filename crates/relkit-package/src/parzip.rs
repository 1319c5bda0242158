//! A streaming zip writer that deflates on every core: each member is cut
//! into the same 1 MiB blocks as [`crate::pargz`] (raw deflate primed with
//! the previous 32 KiB, sync-flushed), and blocks of several members are
//! compressed together, so both one large binary and many small files keep
//! every thread busy. Block boundaries depend only on each member's bytes,
//! never on the thread count, and deflate is the statically linked zlib, so
//! the archive is the same on 1 or 64 cores. Memory is bounded by the
//! blocks in flight (a few per thread), whatever the input size.
//!
//! The layout is fixed: local headers with a data descriptor (the archive
//! is written as a stream, hashed as it goes), one DOS time for every
//! entry, unix modes in the external attributes, no extra fields except
//! Zip64 sizes for members of 4 GiB and more.

use std::collections::VecDeque;
use std::io::{self, Write};

use crate::blocks::{Block, Pending, Workers};
use crate::pargz::{BLOCK_SIZE, BLOCKS_PER_THREAD, tail};

/// Members at least this large get Zip64 sizes: deflate can grow
/// incompressible data slightly, so the margin keeps a compressed size that
/// crosses 4 GiB from overflowing. (Same margin as relkit-core's zip.)
const ZIP64_FROM: u64 = u32::MAX as u64 - (1 << 20);
/// Jobs in flight at most, however small the members: bounds the headers
/// and descriptors waiting beside the blocks.
const MAX_JOBS: usize = 4096;

const LOCAL_SIG: u32 = 0x0403_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const ZIP64_END_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const END_SIG: u32 = 0x0605_4b50;
/// General purpose flags: sizes follow the data (bit 3); UTF-8 name (bit 11).
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// "Made by" unix (3), in the high byte beside the spec version.
const UNIX: u16 = 3 << 8;
/// Spec version needed: 2.0 (deflate, folders), 4.5 with Zip64 fields.
const VERSION: u16 = 20;
const VERSION_ZIP64: u16 = 45;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
/// MS-DOS directory attribute.
const DOS_DIR: u32 = 0x10;

/// One entry of the central directory, known once its data is written.
struct Central {
    name: Vec<u8>,
    deflated: bool,
    zip64: bool,
    crc: u32,
    compressed: u64,
    size: u64,
    offset: u64,
    external: u32,
}

/// The member being filled through [`Write`].
struct Member {
    index: usize,
    size: u64,
    written: u64,
    crc: crc32fast::Hasher,
    /// The block being filled.
    block: Vec<u8>,
    /// The last 32 KiB before `block`.
    dict: Vec<u8>,
}

/// Work in archive order: blocks compressed as soon as they are full,
/// everything written in turn.
enum Job {
    /// Bytes written as they are (a local header, a folder entry).
    Raw(Vec<u8>),
    /// A block of `member` being deflated (`len` input bytes).
    Block {
        pending: Pending,
        len: usize,
        member: usize,
    },
    /// The member's data descriptor (its compressed size is tallied as its
    /// blocks are written).
    Descriptor { member: usize },
    /// Record where a member's local header starts.
    Offset { member: usize },
}

/// Parallel deterministic zip writer; call [`ParZip::finish`] to write the
/// central directory.
pub struct ParZip<W: Write> {
    out: W,
    written: u64,
    level: u32,
    time: u16,
    date: u16,
    zip64_from: u64,
    entries: Vec<Central>,
    member: Option<Member>,
    workers: Workers,
    /// Jobs not yet written, oldest first.
    jobs: VecDeque<Job>,
    /// Input bytes of the blocks among them.
    queued_bytes: usize,
    max_queued_bytes: usize,
}

impl<W: Write> ParZip<W> {
    /// A zip streamed to `out`, deflating at `level`, every entry dated
    /// `epoch` (clamped to what DOS times hold). Uses the current rayon pool.
    pub fn new(out: W, level: u32, epoch: i64) -> Self {
        Self::with_workers(out, level, epoch, Workers::Current)
    }

    /// [`ParZip::new`] deflating on `workers`.
    pub fn with_workers(out: W, level: u32, epoch: i64, workers: Workers) -> Self {
        let t = relkit_core::zip::dos_time(epoch);
        ParZip {
            out,
            written: 0,
            level,
            time: t.timepart(),
            date: t.datepart(),
            zip64_from: ZIP64_FROM,
            entries: Vec::new(),
            member: None,
            max_queued_bytes: workers.threads() * BLOCKS_PER_THREAD * BLOCK_SIZE,
            workers,
            jobs: VecDeque::new(),
            queued_bytes: 0,
        }
    }

    /// Start a file entry at `path` of `size` bytes (which decides Zip64)
    /// with unix `mode`; its bytes follow through [`Write`].
    pub fn start_file(&mut self, path: &str, mode: u32, size: u64) -> io::Result<()> {
        self.end_member()?;
        let zip64 = size >= self.zip64_from;
        let index = self.entries.len();
        self.entries.push(Central {
            name: path.as_bytes().to_vec(),
            deflated: true,
            zip64,
            crc: 0,
            compressed: 0,
            size: 0,
            offset: 0,
            external: (S_IFREG | (mode & 0o7777)) << 16,
        });
        let header = self.local_header(index);
        self.push(Job::Offset { member: index })?;
        self.push(Job::Raw(header))?;
        self.member = Some(Member {
            index,
            size,
            written: 0,
            crc: crc32fast::Hasher::new(),
            block: Vec::new(),
            dict: Vec::new(),
        });
        Ok(())
    }

    /// Add a folder entry (`path`, with or without a trailing `/`).
    pub fn add_directory(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.end_member()?;
        let index = self.entries.len();
        self.entries.push(Central {
            name: format!("{}/", path.trim_end_matches('/')).into_bytes(),
            deflated: false,
            zip64: false,
            crc: 0,
            compressed: 0,
            size: 0,
            offset: 0,
            external: ((S_IFDIR | (mode & 0o7777)) << 16) | DOS_DIR,
        });
        let header = self.local_header(index);
        self.push(Job::Offset { member: index })?;
        self.push(Job::Raw(header))
    }

    fn flags(name: &[u8], deflated: bool) -> u16 {
        let utf8 = if name.is_ascii() { 0 } else { FLAG_UTF8 };
        utf8 | if deflated { FLAG_DESCRIPTOR } else { 0 }
    }

    fn needed(zip64: bool) -> u16 {
        if zip64 { VERSION_ZIP64 } else { VERSION }
    }

    /// The local header of entry `index`: sizes and CRC follow the data in
    /// a descriptor (zero here), or are all zero for a folder.
    fn local_header(&self, index: usize) -> Vec<u8> {
        let e = &self.entries[index];
        let mut h = Vec::with_capacity(30 + e.name.len() + 20);
        put32(&mut h, LOCAL_SIG);
        put16(&mut h, Self::needed(e.zip64));
        put16(&mut h, Self::flags(&e.name, e.deflated));
        put16(&mut h, if e.deflated { 8 } else { 0 });
        put16(&mut h, self.time);
        put16(&mut h, self.date);
        put32(&mut h, 0);
        let (sizes, extra) = if e.zip64 { (u32::MAX, 20) } else { (0, 0) };
        put32(&mut h, sizes);
        put32(&mut h, sizes);
        put16(&mut h, name_len(&e.name));
        put16(&mut h, extra);
        h.extend_from_slice(&e.name);
        if e.zip64 {
            put16(&mut h, 1);
            put16(&mut h, 16);
            put64(&mut h, 0);
            put64(&mut h, 0);
        }
        h
    }

    fn push(&mut self, job: Job) -> io::Result<()> {
        if let Job::Block { len, .. } = &job {
            self.queued_bytes += len;
        }
        self.jobs.push_back(job);
        while self.queued_bytes > self.max_queued_bytes || self.jobs.len() > MAX_JOBS {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Queue the current member's filled block (its last when `last`).
    fn queue_block(&mut self, last: bool) -> io::Result<()> {
        let m = self.member.as_mut().expect("a member is open");
        let data = std::mem::take(&mut m.block);
        // The next block of this member is primed with this one's tail.
        let next_dict = if last {
            Vec::new()
        } else {
            tail(&data).to_vec()
        };
        let dict = std::mem::replace(&mut m.dict, next_dict);
        let member = m.index;
        let len = data.len();
        let pending = self.workers.deflate(Block {
            data,
            dict,
            level: self.level,
            last,
            crc: false,
        });
        self.push(Job::Block {
            pending,
            len,
            member,
        })
    }

    /// Close the open member: its last block and its descriptor.
    fn end_member(&mut self) -> io::Result<()> {
        let Some(m) = self.member.as_ref() else {
            return Ok(());
        };
        if m.written != m.size {
            let name = String::from_utf8_lossy(&self.entries[m.index].name).into_owned();
            return Err(io::Error::other(format!(
                "zip entry `{name}`: {} bytes written, {} announced",
                m.written, m.size
            )));
        }
        self.queue_block(true)?;
        let m = self.member.take().expect("a member is open");
        let e = &mut self.entries[m.index];
        e.crc = m.crc.finalize();
        e.size = m.written;
        self.push(Job::Descriptor { member: m.index })
    }

    /// Write the oldest job (waiting for its block to be compressed).
    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(job) = self.jobs.pop_front() else {
            return Ok(());
        };
        match job {
            Job::Raw(bytes) => self.emit(&bytes)?,
            Job::Block {
                pending,
                len,
                member,
            } => {
                self.queued_bytes -= len;
                let bytes = pending.wait()?.bytes;
                self.entries[member].compressed += bytes.len() as u64;
                self.emit(&bytes)?;
            }
            Job::Offset { member } => self.entries[member].offset = self.written,
            Job::Descriptor { member } => {
                let e = &self.entries[member];
                let mut d = Vec::with_capacity(24);
                put32(&mut d, DESCRIPTOR_SIG);
                put32(&mut d, e.crc);
                if e.zip64 {
                    put64(&mut d, e.compressed);
                    put64(&mut d, e.size);
                } else {
                    put32(&mut d, small(e.compressed)?);
                    put32(&mut d, small(e.size)?);
                }
                self.emit(&d)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Write the central directory (Zip64 records when it needs them) and
    /// hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.end_member()?;
        while !self.jobs.is_empty() {
            self.write_oldest()?;
        }
        let start = self.written;
        let mut cd = Vec::new();
        for e in &self.entries {
            central_header(&mut cd, e, self.time, self.date);
            if cd.len() >= 1 << 20 {
                self.out.write_all(&cd)?;
                self.written += cd.len() as u64;
                cd.clear();
            }
        }
        self.out.write_all(&cd)?;
        self.written += cd.len() as u64;
        let cd_size = self.written - start;
        let count = self.entries.len() as u64;
        let mut end = Vec::new();
        let zip64 =
            count >= 0xffff || start >= u64::from(u32::MAX) || cd_size >= u64::from(u32::MAX);
        if zip64 {
            let at = self.written;
            put32(&mut end, ZIP64_END_SIG);
            put64(&mut end, 44);
            put16(&mut end, UNIX | VERSION_ZIP64);
            put16(&mut end, VERSION_ZIP64);
            put32(&mut end, 0);
            put32(&mut end, 0);
            put64(&mut end, count);
            put64(&mut end, count);
            put64(&mut end, cd_size);
            put64(&mut end, start);
            put32(&mut end, ZIP64_LOCATOR_SIG);
            put32(&mut end, 0);
            put64(&mut end, at);
            put32(&mut end, 1);
        }
        put32(&mut end, END_SIG);
        put16(&mut end, 0);
        put16(&mut end, 0);
        // With Zip64 records, the classic fields say "see Zip64" (all ones).
        let count16 = if zip64 {
            u16::MAX
        } else {
            u16::try_from(count).unwrap_or(u16::MAX)
        };
        put16(&mut end, count16);
        put16(&mut end, count16);
        put32(&mut end, u32::try_from(cd_size).unwrap_or(u32::MAX));
        put32(&mut end, if zip64 { u32::MAX } else { small(start)? });
        put16(&mut end, 0);
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A central directory header; Zip64 extra field for the values that do
/// not fit in 32 bits.
fn central_header(cd: &mut Vec<u8>, e: &Central, time: u16, date: u16) {
    let big_offset = e.offset >= u64::from(u32::MAX);
    let mut extra = Vec::new();
    if e.zip64 {
        put64(&mut extra, e.size);
        put64(&mut extra, e.compressed);
    }
    if big_offset {
        put64(&mut extra, e.offset);
    }
    let zip64 = e.zip64 || big_offset;
    let version = ParZip::<Vec<u8>>::needed(zip64);
    put32(cd, CENTRAL_SIG);
    put16(cd, UNIX | version);
    put16(cd, version);
    put16(cd, ParZip::<Vec<u8>>::flags(&e.name, e.deflated));
    put16(cd, if e.deflated { 8 } else { 0 });
    put16(cd, time);
    put16(cd, date);
    put32(cd, e.crc);
    let (compressed, size) = if e.zip64 {
        (u32::MAX, u32::MAX)
    } else {
        // Checked when the descriptor was written.
        (
            u32::try_from(e.compressed).unwrap_or(u32::MAX),
            u32::try_from(e.size).unwrap_or(u32::MAX),
        )
    };
    put32(cd, compressed);
    put32(cd, size);
    put16(cd, name_len(&e.name));
    put16(
        cd,
        if extra.is_empty() {
            0
        } else {
            4 + name_len(&extra)
        },
    );
    put16(cd, 0); // comment
    put16(cd, 0); // disk
    put16(cd, 0); // internal attributes
    put32(cd, e.external);
    put32(
        cd,
        if big_offset {
            u32::MAX
        } else {
            u32::try_from(e.offset).unwrap_or(u32::MAX)
        },
    );
    cd.extend_from_slice(&e.name);
    if !extra.is_empty() {
        put16(cd, 1);
        put16(cd, name_len(&extra));
        cd.extend_from_slice(&extra);
    }
}

fn small(v: u64) -> io::Result<u32> {
    u32::try_from(v).map_err(|_| io::Error::other("zip entry passed 4 GiB without Zip64 sizes"))
}

/// Names are checked by the caller (relkit_core::names); a path longer than
/// 64 KiB cannot reach here.
fn name_len(name: &[u8]) -> u16 {
    u16::try_from(name.len()).unwrap_or(u16::MAX)
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

impl<W: Write> Write for ParZip<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        let m = self
            .member
            .as_ref()
            .ok_or_else(|| io::Error::other("zip data written outside a file entry"))?;
        if m.written + n as u64 > m.size {
            let name = String::from_utf8_lossy(&self.entries[m.index].name).into_owned();
            return Err(io::Error::other(format!(
                "zip entry `{name}`: more than the {} bytes announced",
                m.size
            )));
        }
        while !buf.is_empty() {
            let m = self.member.as_mut().expect("checked above");
            if m.block.capacity() == 0 {
                // Small members get a buffer of their own size, not 1 MiB.
                let left = usize::try_from(m.size - m.written).unwrap_or(BLOCK_SIZE);
                m.block.reserve_exact(BLOCK_SIZE.min(left));
            }
            let take = (BLOCK_SIZE - m.block.len()).min(buf.len());
            m.block.extend_from_slice(&buf[..take]);
            m.crc.update(&buf[..take]);
            m.written += take as u64;
            buf = &buf[take..];
            if m.block.len() == BLOCK_SIZE && m.written < m.size {
                self.queue_block(false)?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Block boundaries must not depend on when callers flush.
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};
    use std::process::Command;

    /// Half text-like, half noise (the same generator as pargz's tests).
    fn sample(len: usize, seed: u32) -> Vec<u8> {
        let mut x = 0x1234_5678u32 ^ seed;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if (i / 4096) % 2 == 0 {
                    b"relkit "[i % 7]
                } else {
                    x.to_le_bytes()[0]
                }
            })
            .collect()
    }

    /// Members at block edges, a folder, an empty file, a non-ASCII name.
    fn members() -> Vec<(String, Option<Vec<u8>>)> {
        let mut m = vec![("top/".to_owned(), None)];
        for (i, len) in [0, 1, 5000, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 17]
            .into_iter()
            .enumerate()
        {
            m.push((
                format!("top/f{i}"),
                Some(sample(len, u32::try_from(i).unwrap())),
            ));
        }
        // Many small members, so that blocks of several members share a batch.
        for i in 0..300 {
            m.push((format!("top/small/{i:03}"), Some(sample(100 + i * 37, 99))));
        }
        m.push(("top/naïve.txt".to_owned(), Some(b"caf\xc3\xa9\n".to_vec())));
        m
    }

    fn zip_on(threads: usize, zip64_from: u64) -> Vec<u8> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let mut z = ParZip::new(Vec::new(), 6, 1_700_000_000);
                z.zip64_from = zip64_from;
                for (name, data) in members() {
                    match data {
                        None => z.add_directory(&name, 0o755).unwrap(),
                        Some(d) => {
                            z.start_file(&name, 0o644, d.len() as u64).unwrap();
                            for chunk in d.chunks(100_003) {
                                z.write_all(chunk).unwrap();
                            }
                        }
                    }
                }
                z.finish().unwrap()
            })
    }

    fn check_with_zip_crate(bytes: &[u8]) {
        let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let want = members();
        assert_eq!(archive.len(), want.len());
        for (i, (name, data)) in want.iter().enumerate() {
            let mut e = archive.by_index(i).unwrap();
            assert_eq!(e.name().unwrap(), name.as_str());
            assert_eq!(
                e.last_modified(),
                Some(relkit_core::zip::dos_time(1_700_000_000))
            );
            match data {
                None => assert_eq!(e.unix_mode(), Some(0o40_755)),
                Some(d) => {
                    assert_eq!(e.unix_mode(), Some(0o100_644), "{name}");
                    let mut back = Vec::new();
                    e.read_to_end(&mut back).unwrap();
                    assert!(back == *d, "{name}: contents differ");
                }
            }
        }
    }

    /// Python's zipfile (CRC of every member) and Info-ZIP's `unzip -t`:
    /// a missing tool fails the test.
    fn check_with_tools(bytes: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        fs_err::write(&path, bytes).unwrap();
        let py = Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(len(z.namelist()))",
            ])
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert!(
            py.status.success(),
            "{}",
            String::from_utf8_lossy(&py.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&py.stdout).trim(),
            members().len().to_string()
        );
        let unzip = Command::new("unzip")
            .arg("-tq")
            .arg(&path)
            .output()
            .expect("unzip runs");
        assert!(
            unzip.status.success(),
            "unzip -t: {}{}",
            String::from_utf8_lossy(&unzip.stdout),
            String::from_utf8_lossy(&unzip.stderr)
        );
    }

    // Issue 15: zip on every core, the same bytes on 1, 2 and 7 threads.
    #[test]
    fn same_bytes_on_one_two_and_seven_threads_and_tools_read_them() {
        let one = zip_on(1, ZIP64_FROM);
        assert!(one == zip_on(2, ZIP64_FROM), "1 vs 2 threads");
        assert!(one == zip_on(7, ZIP64_FROM), "1 vs 7 threads");
        check_with_zip_crate(&one);
        check_with_tools(&one);
    }

    // Zip64 sizes (members of 4 GiB and more) without writing 4 GiB: the
    // threshold is lowered so that every non-empty member takes them.
    #[test]
    fn zip64_members_are_read_back() {
        let bytes = zip_on(2, 1);
        check_with_zip_crate(&bytes);
        check_with_tools(&bytes);
    }

    #[test]
    fn wrong_sizes_are_refused() {
        let mut z = ParZip::new(Vec::new(), 6, 0);
        z.start_file("a", 0o644, 3).unwrap();
        let err = z.write_all(b"four").unwrap_err();
        assert_eq!(
            err.to_string(),
            "zip entry `a`: more than the 3 bytes announced"
        );
        let mut z = ParZip::new(Vec::new(), 6, 0);
        z.start_file("a", 0o644, 3).unwrap();
        z.write_all(b"ab").unwrap();
        let err = z.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "zip entry `a`: 2 bytes written, 3 announced"
        );
        let mut z = ParZip::new(Vec::new(), 6, 0);
        assert!(z.write_all(b"x").is_err(), "data before any entry");
    }
}

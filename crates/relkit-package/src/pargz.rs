//! A gzip encoder that compresses fixed-size blocks on all cores, in the
//! manner of pigz: each block is raw deflate primed with the previous 32 KiB
//! as a dictionary and ended with a sync flush, so the blocks concatenate
//! into one valid deflate stream. Block boundaries depend only on the input,
//! never on the thread count, so the output is byte-reproducible; memory is
//! bounded by the blocks in flight.

use std::collections::VecDeque;
use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::blocks::{Block, Pending, Workers};

/// Input bytes per block.
pub const BLOCK_SIZE: usize = 1 << 20;
/// Blocks in flight per thread (queued, being compressed, or compressed and
/// waiting for their turn to be written): enough that no thread runs out of
/// work while the oldest block is still being compressed.
pub const BLOCKS_PER_THREAD: usize = 4;
/// Deflate's window: the dictionary each block is primed with.
const WINDOW: usize = 32 * 1024;

/// Streaming parallel gzip writer. Call [`ParGzEncoder::finish`] to write
/// the trailer; dropping without it leaves a truncated stream.
pub struct ParGzEncoder<W: Write> {
    out: W,
    level: u32,
    workers: Workers,
    /// Blocks submitted and not yet written, oldest first.
    in_flight: VecDeque<Pending>,
    max_in_flight: usize,
    /// The block being filled.
    current: Vec<u8>,
    /// The last `WINDOW` bytes before `current`.
    dict: Vec<u8>,
    crc: crc32fast::Hasher,
    total: u64,
    header_written: bool,
}

impl<W: Write> ParGzEncoder<W> {
    /// A new encoder at `level` (0–9) compressing on the calling thread's
    /// rayon pool.
    pub fn new(out: W, level: u32) -> Self {
        Self::with_workers(out, level, Workers::Current)
    }

    /// A new encoder at `level` (0–9) compressing on `workers`.
    pub fn with_workers(out: W, level: u32, workers: Workers) -> Self {
        Self {
            out,
            level,
            max_in_flight: workers.threads() * BLOCKS_PER_THREAD,
            workers,
            in_flight: VecDeque::new(),
            current: Vec::with_capacity(BLOCK_SIZE),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
            header_written: false,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            // Magic, deflate, no flags, mtime 0, xfl by level, OS unknown (255).
            let xfl = match self.level {
                9 => 2,
                0 | 1 => 4,
                _ => 0,
            };
            self.out
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Hand the current block to the workers (as the stream's final block
    /// when `last`: then it may be short or empty, so the last block does
    /// not depend on how blocks were grouped), then write finished blocks
    /// while too many are in flight.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        let capacity = if last { 0 } else { BLOCK_SIZE };
        let data = std::mem::replace(&mut self.current, Vec::with_capacity(capacity));
        let next_dict = tail(&data).to_vec();
        let dict = std::mem::replace(&mut self.dict, next_dict);
        self.in_flight.push_back(self.workers.deflate(Block {
            data,
            dict,
            level: self.level,
            last,
            crc: true,
        }));
        while self.in_flight.len() > self.max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Wait for the oldest block in flight and write it.
    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(pending) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let done = pending.wait()?;
        self.write_header()?;
        self.out.write_all(&done.bytes)?;
        self.crc.combine(&done.crc);
        Ok(())
    }

    /// Finish the stream: compress what is left, write the gzip trailer,
    /// and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.write_header()?;
        let crc = self.crc.clone().finalize();
        let isize = (self.total & 0xffff_ffff) as u32;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&isize.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

pub(crate) fn tail(block: &[u8]) -> &[u8] {
    &block[block.len().saturating_sub(WINDOW)..]
}

/// Raw-deflate one block primed with `dict`, ending with a sync flush (or
/// the final block when `last`).
pub(crate) fn deflate_block(
    block: &[u8],
    dict: &[u8],
    level: u32,
    last: bool,
) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(block.len() / 2 + 1024);
    loop {
        let consumed = usize::try_from(c.total_in()).expect("block fits in memory");
        if out.len() == out.capacity() {
            out.reserve(block.len() / 4 + 1024);
        }
        let status = c
            .compress_vec(&block[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done_input =
            usize::try_from(c.total_in()).expect("block fits in memory") == block.len();
        match status {
            Status::StreamEnd => break,
            // With Sync, deflate is done once all input is in and it left
            // spare room in `out` (so the flush marker was written).
            _ if !last && done_input && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(out)
}

impl<W: Write> Write for ParGzEncoder<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            let room = BLOCK_SIZE - self.current.len();
            let take = room.min(buf.len());
            self.current.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.current.len() == BLOCK_SIZE {
                self.submit(false)?;
            }
        }
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Block boundaries must not depend on when callers flush, so a
        // flush only pushes out what is already compressed.
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(data: &[u8], level: u32) -> Vec<u8> {
        let mut enc = ParGzEncoder::new(Vec::new(), level);
        for chunk in data.chunks(100_003) {
            enc.write_all(chunk).unwrap();
        }
        let gz = enc.finish().unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data, "round trip differs");
        gz
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x1234_5678u32;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Half compressible text-like bytes, half noise.
                if (i / 4096) % 2 == 0 {
                    b"relkit "[i % 7]
                } else {
                    x.to_le_bytes()[0]
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_at_block_edges() {
        for len in [
            0,
            1,
            WINDOW,
            BLOCK_SIZE - 1,
            BLOCK_SIZE,
            BLOCK_SIZE + 1,
            3 * BLOCK_SIZE + 17,
        ] {
            roundtrip(&sample(len), 6);
        }
        roundtrip(&sample(2 * BLOCK_SIZE), 1);
        roundtrip(&sample(2 * BLOCK_SIZE), 9);
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let data = sample(5 * BLOCK_SIZE + 5);
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| roundtrip(&data, 6))
        };
        let one = on(1);
        assert_eq!(one, on(2), "1 vs 2 threads");
        assert_eq!(one, on(7), "1 vs 7 threads");
    }

    #[test]
    fn header_has_no_name_or_time() {
        let gz = roundtrip(b"hello", 6);
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    }
}

//! Deflate blocks compressed on worker threads while the caller keeps
//! feeding input, handed back in the order they were submitted (pigz's
//! pipeline): the thread that reads the input and writes the output never
//! waits for a whole batch, only for the oldest block when too many are in
//! flight.

use std::io;
use std::sync::{Arc, mpsc};

use crate::pargz::deflate_block;

/// Where blocks are compressed.
#[derive(Clone)]
pub enum Workers {
    /// The rayon pool of the calling thread (the global pool outside any).
    /// A caller that is itself a thread of that pool compresses queued
    /// blocks while it waits, so even a one-thread pool makes progress.
    Current,
    /// A pool of its own; the caller stays outside it, reading and
    /// writing while every thread of the pool compresses.
    Pool(Arc<rayon::ThreadPool>),
}

impl Workers {
    /// Threads that compress.
    pub fn threads(&self) -> usize {
        match self {
            Workers::Current => rayon::current_num_threads(),
            Workers::Pool(pool) => pool.current_num_threads(),
        }
        .max(1)
    }

    /// Start compressing `block` (see [`deflate_block`]) on a worker.
    pub(crate) fn deflate(&self, block: Block) -> Pending {
        let (tx, rx) = mpsc::sync_channel(1);
        let job = move || {
            let result =
                deflate_block(&block.data, &block.dict, block.level, block.last).map(|bytes| {
                    let mut crc = crc32fast::Hasher::new();
                    if block.crc {
                        crc.update(&block.data);
                    }
                    Deflated { bytes, crc }
                });
            // The receiver is gone only when the writer was dropped
            // unfinished: nobody wants the bytes.
            let _ = tx.send(result);
        };
        match self {
            Workers::Current => rayon::spawn(job),
            Workers::Pool(pool) => pool.spawn(job),
        }
        Pending(rx)
    }
}

/// One block to compress.
pub(crate) struct Block {
    pub data: Vec<u8>,
    /// The 32 KiB before `data` in its stream (empty at its start).
    pub dict: Vec<u8>,
    pub level: u32,
    /// The stream's final block.
    pub last: bool,
    /// Compute the CRC-32 of `data` on the worker too.
    pub crc: bool,
}

/// A compressed block.
pub(crate) struct Deflated {
    pub bytes: Vec<u8>,
    /// CRC-32 of the input (of nothing unless asked).
    pub crc: crc32fast::Hasher,
}

/// A block being compressed.
pub(crate) struct Pending(mpsc::Receiver<io::Result<Deflated>>);

impl Pending {
    /// Wait for the block. On a thread of a rayon pool, run queued work
    /// while waiting rather than block it: with [`Workers::Current`] the
    /// block may be queued behind this very thread. Once nothing is queued,
    /// the block is being compressed by another thread and blocking is safe.
    pub(crate) fn wait(self) -> io::Result<Deflated> {
        loop {
            match self.0.try_recv() {
                Ok(result) => return result,
                Err(mpsc::TryRecvError::Disconnected) => return Err(stopped()),
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                return self.0.recv().map_err(|_| stopped())?;
            }
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("a compression thread stopped before finishing its block")
}

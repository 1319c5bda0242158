//! Issue 15: every format compresses on every core it is given, yet the
//! bytes do not depend on the thread count; and the whole process stays
//! under 64 MB whatever the input size.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;

use crate::{BIN, FORMATS};

/// Peak RSS the issue allows for the whole relkit-package process: 64 MB
/// (10^6 bytes), in the KiB GNU time reports.
const RSS_LIMIT_KB: u64 = 64_000_000 / 1024;

/// A binary of `len` bytes: runs of zeros (sparse, so the file costs no
/// disk and reads fast) with a `chunk`-byte block of noise every `every`
/// bytes, so the compressors' tables and buffers are all really touched.
fn sparse_binary(path: &Path, len: u64, every: u64, chunk: usize) {
    let mut f = fs_err::File::create(path).unwrap();
    f.set_len(len).unwrap();
    let mut seed = 1;
    let mut at = 0;
    while at + chunk as u64 <= len {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&kit::bytes(chunk, seed)).unwrap();
        seed += 1;
        at += every;
    }
    kit::set_mode(path, 0o755);
}

fn package(dir: &Path, format: &str, out: &str, extra: &[&str]) -> Command {
    let mut cmd = kit::command(BIN);
    cmd.current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["--name", "big", "--version", "1.0.0", "--target"])
        .args(["x86_64-unknown-linux-gnu", "--format", format, "-o", out])
        .args(extra)
        .arg("big");
    cmd
}

// Several zstd jobs and xz blocks (2 MiB each) and gzip blocks (1 MiB), so
// that 2 and 7 threads really split the work.
#[test]
fn one_two_and_seven_threads_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    sparse_binary(&dir.path().join("big"), 5 << 20, 1 << 20, 256 << 10);
    for format in FORMATS {
        let mut first: Option<Vec<u8>> = None;
        for threads in ["1", "2", "7"] {
            let out = format!("out-{threads}");
            kit::run_ok(&mut package(
                dir.path(),
                format,
                &out,
                &["--threads", threads],
            ));
            let bytes = fs_err::read(
                dir.path()
                    .join(format!("{out}/big-1.0.0-x86_64-unknown-linux-gnu.{format}")),
            )
            .unwrap();
            match &first {
                None => first = Some(bytes),
                Some(one) => assert!(
                    *one == bytes,
                    "{format}: --threads {threads} wrote other bytes than --threads 1"
                ),
            }
        }
    }
}

/// Peak RSS in KB of `cmd`, from GNU time (getrusage of its child). A
/// missing /usr/bin/time fails the test: scripts/install-test-tools
/// installs it.
fn peak_rss_kb(cmd: &Command, dir: &Path) -> u64 {
    let report = dir.join("time.txt");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .current_dir(cmd.get_current_dir().unwrap())
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    kit::run_ok(&mut timed);
    let text = fs_err::read_to_string(&report).unwrap();
    text.trim().lines().last().unwrap().parse().unwrap()
}

// The promise: at each format's default level, peak RSS stays
// under 64 MB whatever the input size, even when asked for more threads
// than memory allows (the thread cap, not the core count, bounds it).
// Inputs are zeros (sparse, so cheap to make and read) with `noise` bytes
// of random data every 128 MiB, so that the compressors' tables and their
// output buffers (incompressible blocks come out full size) are really
// touched.
fn peak_rss_on(format: &str, len: u64, noise: usize) {
    peak_rss_on_with(format, len, 128 << 20, noise);
}

/// [`peak_rss_on`] with `noise` bytes every `every` bytes.
fn peak_rss_on_with(format: &str, len: u64, every: u64, noise: usize) {
    let dir = tempfile::tempdir().unwrap();
    sparse_binary(&dir.path().join("big"), len, every, noise);
    let cmd = package(dir.path(), format, "out", &["--threads", "64"]);
    let kb = peak_rss_kb(&cmd, dir.path());
    eprintln!("{format}: {} MiB input, peak RSS {kb} KB", len >> 20);
    assert!(
        kb < RSS_LIMIT_KB,
        "{format}: peak RSS {kb} KB on a {} MiB input (limit {RSS_LIMIT_KB} KB)",
        len >> 20
    );
}

#[test]
fn peak_rss_under_64_mb_tar_gz_1_gib() {
    peak_rss_on("tar.gz", 1 << 30, 32 << 20);
}

#[test]
fn peak_rss_under_64_mb_tar_zst_1_gib() {
    peak_rss_on("tar.zst", 1 << 30, 32 << 20);
}

#[test]
fn peak_rss_under_64_mb_zip_1_gib() {
    peak_rss_on("zip", 1 << 30, 32 << 20);
}

// tar.xz on 1 GiB like the others, kept fast enough for CI by its input:
// zeros are what liblzma's preset 6 gets through fastest (about 20 s of CPU
// for 1 GiB, spread over its two threads), and noise costs it about 0.7 s
// of CPU per MiB, so only the first two 2 MiB blocks are noise: both
// threads then write incompressible, full-size blocks at the same time,
// the most memory its output queue can hold. Every other block is full
// (2 MiB of zeros). About 12 s on two idle cores.
#[test]
fn peak_rss_under_64_mb_tar_xz_1_gib() {
    peak_rss_on_with("tar.xz", 1 << 30, 1 << 30, 4 << 20);
}

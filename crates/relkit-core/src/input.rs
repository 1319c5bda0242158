//! Bounded reads of the small inputs a helper loads whole: config files,
//! keys, signatures, manifests and parts, checksum files and release notes.
//!
//! Every read checks the path's metadata before opening it, so a fifo never
//! blocks and `/dev/zero`, a folder or a socket is refused in one line; a file
//! over its kind's [`Limit`] is refused before it is read, and the read itself
//! stops one byte past the limit, so a file that grows while we read it is
//! still bounded. Artifacts (archives, binaries) are never read whole: they
//! are streamed through [`crate::hash`].

use std::io::{self, Read};
use std::path::Path;

use crate::Error;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// How large one kind of small input may be, and what to call it in errors.
///
/// The limits are far above any real input of the kind and far below what
/// would strain memory: each bounds the memory of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    what: &'static str,
    max: u64,
}

impl Limit {
    /// `relkit.toml` and other configuration, 1 MiB: hand-written files that
    /// in the largest real projects hold a few KiB.
    pub const CONFIG: Limit = Limit::new("config file", MIB);
    /// Keys, 1 MiB: a minisign key is about 200 bytes and an armored OpenPGP
    /// secret key a few KiB, but an OpenPGP certificate carrying many
    /// third-party certifications can reach hundreds of KiB.
    pub const KEY: Limit = Limit::new("key", MIB);
    /// Detached signatures, 64 KiB: a minisign signature is about 300 bytes
    /// and an OpenPGP one under 1 KiB.
    pub const SIGNATURE: Limit = Limit::new("signature", 64 * KIB);
    /// Manifests and manifest parts, 64 MiB: a release holds at most 1000
    /// assets (GitHub's limit), and even archives listing 100,000 entries
    /// each (about 200 bytes of JSON per entry) stay well under this.
    pub const MANIFEST: Limit = Limit::new("manifest", 64 * MIB);
    /// Checksum files (`SHA256SUMS`), 64 MiB: about 100 bytes a line, so
    /// room for over 500,000 files — a whole distribution mirror.
    pub const SUMS: Limit = Limit::new("checksum file", 64 * MIB);
    /// Release notes, 1 MiB: GitHub caps a release body at 125,000
    /// characters (at most 500 KB of UTF-8).
    pub const NOTES: Limit = Limit::new("notes file", MIB);

    /// A limit of `max` bytes for inputs called `what` in error messages.
    pub const fn new(what: &'static str, max: u64) -> Limit {
        Limit { what, max }
    }

    /// The largest size accepted, in bytes.
    pub fn max(self) -> u64 {
        self.max
    }

    /// What this kind of input is called in error messages.
    pub fn what(self) -> &'static str {
        self.what
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} limit for a {}", human_size(self.max), self.what)
    }
}

/// `n` bytes in the largest binary unit that divides it (`64 KiB`, `1 MiB`).
fn human_size(n: u64) -> String {
    for (unit, size) in [("GiB", 1 << 30), ("MiB", MIB), ("KiB", KIB)] {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// Read a whole small text input: a regular file of at most `limit` bytes
/// holding valid UTF-8. Every refusal is one line naming `path`.
pub fn read_text(path: &Path, limit: Limit) -> Result<String, Error> {
    let bytes = read_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Read a whole small binary input: a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: Limit) -> Result<Vec<u8>, Error> {
    let (file, size) = open_regular(path)?;
    if size > limit.max {
        return Err(too_large(path, Some(size), limit));
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past the limit tells a file that grew since `metadata`.
    file.take(limit.max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| crate::atomic::io_at(path, e))?;
    if buf.len() as u64 > limit.max {
        return Err(too_large(path, None, limit));
    }
    Ok(buf)
}

fn too_large(path: &Path, size: Option<u64>, limit: Limit) -> Error {
    Error::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    }
}

/// Open `path` for reading (following symlinks), insisting that it is a
/// regular file, and return it with its size. The type is checked before
/// opening, so a fifo never blocks; the open is non-blocking and the opened
/// handle is checked again, so a path swapped for a fifo in between fails
/// too instead of hanging.
pub fn open_regular(path: &Path) -> Result<(fs_err::File, u64), Error> {
    let meta = match fs_err::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(Error::Io(e)),
    };
    check_regular(path, &meta)?;
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    check_regular(path, &meta)?;
    Ok((file, meta.len()))
}

fn check_regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    if meta.is_file() {
        return Ok(());
    }
    Err(Error::NotAFile {
        path: path.to_path_buf(),
        what: describe_type(meta.file_type()),
    })
}

/// What a non-regular file is, for "`PATH`: is a fifo, not a regular file".
fn describe_type(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "is a fifo, not a regular file";
        }
        if t.is_socket() {
            return "is a socket, not a regular file";
        }
        if t.is_char_device() {
            return "is a character device, not a regular file";
        }
        if t.is_block_device() {
            return "is a block device, not a regular file";
        }
    }
    if t.is_dir() {
        "is a folder, not a file"
    } else {
        "is not a regular file"
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt as _;
    // Regular files ignore O_NONBLOCK; it only keeps a fifo from hanging open().
    fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<fs_err::File> {
    fs_err::File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(path: &Path, limit: Limit) -> String {
        let e = read_text(path, limit).unwrap_err();
        assert_eq!(crate::HasFailure::failure(&e), crate::Failure::Input, "{e}");
        let line = crate::error::one_line(&e);
        assert!(!line.contains('\n'), "{line}");
        line
    }

    #[test]
    fn reads_small_text_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        fs_err::write(&p, "name = \"x\"\n").unwrap();
        assert_eq!(read_text(&p, Limit::CONFIG).unwrap(), "name = \"x\"\n");
        fs_err::write(&p, [0xff, 0, 1]).unwrap();
        assert_eq!(read_bytes(&p, Limit::SIGNATURE).unwrap(), [0xff, 0, 1]);
        fs_err::write(&p, "").unwrap();
        assert_eq!(read_text(&p, Limit::CONFIG).unwrap(), "");
    }

    #[test]
    fn refuses_missing_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = err(&missing, Limit::CONFIG);
        assert_eq!(e, format!("`{}`: no such file", missing.display()));
        let e = err(dir.path(), Limit::CONFIG);
        assert_eq!(
            e,
            format!("`{}`: is a folder, not a file", dir.path().display())
        );
    }

    // issue 10.2: /dev/zero was read until memory ran out.
    #[cfg(unix)]
    #[test]
    fn refuses_dev_zero() {
        let e = err(Path::new("/dev/zero"), Limit::KEY);
        assert_eq!(e, "`/dev/zero`: is a character device, not a regular file");
    }

    // issue 10.2: a fifo blocked the read forever.
    #[cfg(unix)]
    #[test]
    fn refuses_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let e = err(&fifo, Limit::SUMS);
        assert!(e.ends_with("fifo`: is a fifo, not a regular file"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = err(&sock, Limit::MANIFEST);
        assert!(e.ends_with("sock`: is a socket, not a regular file"), "{e}");
    }

    // issue 10.2: a huge file was read whole before being refused.
    #[test]
    fn refuses_over_the_limit_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let f = fs_err::File::create(&p).unwrap();
        // Sparse: 5 GiB of size, no data written.
        f.set_len(5 << 30).unwrap();
        let e = err(&p, Limit::NOTES);
        assert_eq!(
            e,
            format!(
                "`{}`: 5368709120 bytes is over the 1 MiB limit for a notes file",
                p.display()
            )
        );
        fs_err::write(&p, vec![b'a'; 1025]).unwrap();
        let e = err(&p, Limit::new("test input", 1024));
        assert!(
            e.ends_with("is over the 1 KiB limit for a test input"),
            "{e}"
        );
        fs_err::write(&p, vec![b'a'; 1024]).unwrap();
        assert_eq!(read_text(&p, Limit::new("t", 1024)).unwrap().len(), 1024);
    }

    #[test]
    fn refuses_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.md");
        fs_err::write(&p, b"ok\n\xff\xfe").unwrap();
        let e = err(&p, Limit::NOTES);
        assert_eq!(
            e,
            format!(
                "`{}`: is not UTF-8 text (invalid byte at offset 3)",
                p.display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_unreadable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.key");
        fs_err::write(&p, "k").unwrap();
        fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        if fs_err::File::open(&p).is_ok() {
            // Root reads anything; the integration corpus covers this as `nobody`.
            return;
        }
        let e = err(&p, Limit::KEY);
        assert!(e.contains(&format!("`{}`", p.display())), "{e}");
        assert!(e.contains("Permission denied"), "{e}");
    }

    #[test]
    fn limits_render_in_binary_units() {
        assert_eq!(human_size(64 * KIB), "64 KiB");
        assert_eq!(human_size(MIB), "1 MiB");
        assert_eq!(human_size(1000), "1000 bytes");
        assert_eq!(
            Limit::SIGNATURE.to_string(),
            "the 64 KiB limit for a signature"
        );
    }
}

//! The common `ar` format a `.deb` is wrapped in: a global header, then per
//! member a 60-byte header (name, time, owner, mode, size) and the bytes,
//! padded to an even length. Owners are 0 and times fixed, so the same
//! members give the same bytes.

use std::io::{self, Read, Write};

/// Writes an `ar` archive member by member.
pub struct ArWriter<W: Write> {
    out: W,
    mtime: u64,
}

impl<W: Write> ArWriter<W> {
    /// Start an archive; every member gets `mtime`.
    pub fn new(mut out: W, mtime: u64) -> io::Result<Self> {
        out.write_all(b"!<arch>\n")?;
        Ok(ArWriter { out, mtime })
    }

    /// Append a member of `size` bytes read from `data` (which must hold
    /// exactly that many).
    pub fn append(&mut self, name: &str, size: u64, data: &mut impl Read) -> io::Result<()> {
        if name.len() > 15 || name.is_empty() || name.contains('/') || !name.is_ascii() {
            return Err(io::Error::other(format!(
                "`{name}` cannot be an ar member name"
            )));
        }
        let header = format!(
            "{name:<16}{mtime:<12}{uid:<6}{gid:<6}{mode:<8o}{size:<10}`\n",
            mtime = self.mtime,
            uid = 0,
            gid = 0,
            mode = 0o100_644,
        );
        if header.len() != 60 {
            return Err(io::Error::other("ar member header overflows its fields"));
        }
        self.out.write_all(header.as_bytes())?;
        let copied = io::copy(&mut data.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::other(format!(
                "ar member `{name}` ended after {copied} of {size} bytes"
            )));
        }
        if size % 2 == 1 {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_fixed_width_and_members_padded() {
        let mut w = ArWriter::new(Vec::new(), 1_700_000_000).unwrap();
        w.append("debian-binary", 4, &mut &b"2.0\n"[..]).unwrap();
        w.append("odd", 3, &mut &b"abc"[..]).unwrap();
        let bytes = w.into_inner();
        assert!(bytes.starts_with(
            b"!<arch>\ndebian-binary   1700000000  0     0     100644  4         `\n2.0\n"
        ));
        assert!(bytes.ends_with(b"`\nabc\n"));
        assert_eq!(bytes.len(), 8 + 60 + 4 + 60 + 4);
    }

    #[test]
    fn refuses_short_data_and_long_names() {
        let mut w = ArWriter::new(Vec::new(), 0).unwrap();
        assert!(w.append("x", 5, &mut &b"abc"[..]).is_err());
        assert!(
            w.append("a-very-long-member-name", 0, &mut io::empty())
                .is_err()
        );
    }
}

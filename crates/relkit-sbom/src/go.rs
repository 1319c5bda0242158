//! The module list a Go binary carries (what `go version -m` prints), read
//! from the binary itself: Go 1.18 and later write a build-info blob that
//! starts with the 14-byte magic `\xff Go buildinf:` on a 16-byte boundary,
//! followed by the pointer size, a flags byte (bit 2: strings inline) and,
//! at offset 32, two varint-prefixed strings: the Go version and the module
//! info. The file is scanned in fixed-size blocks, so memory stays bounded.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Checksum, Component, Ecosystem, Error};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const BLOCK: usize = 64 * 1024;
/// The most module info read (Go's own limit is far smaller in practice).
const MAX_STRING: u64 = 16 * 1024 * 1024;

/// What a Go binary says about its own build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The Go toolchain version (`go1.19.8`).
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module.
    pub main: Component,
    /// Every dependency module (after `=>` replacements), in the binary's order.
    pub deps: Vec<Component>,
}

/// Read the build info of the Go binary at `path`; `Ok(None)` when the file
/// is not a Go binary (no build info).
pub fn read(path: &Path) -> Result<Option<BuildInfo>, Error> {
    let (mut file, _) = relkit_core::input::open_regular(path)?;
    let io_err = |e: io::Error| Error::Core(relkit_core::atomic::io_at(path, e));
    let Some(at) = find_magic(&mut file).map_err(io_err)? else {
        return Ok(None);
    };
    file.seek(SeekFrom::Start(at + 14)).map_err(io_err)?;
    let mut head = [0u8; 18];
    file.read_exact(&mut head).map_err(io_err)?;
    if head[1] & 2 == 0 {
        return Err(Error::input(
            path,
            "was built by Go before 1.18 (pointer-format build info), which relkit cannot read",
        ));
    }
    let bad = |what: &str| Error::input(path, format!("has a corrupt Go build info ({what})"));
    let version = read_string(&mut file).map_err(|_| bad("toolchain version"))?;
    let modinfo = read_string(&mut file).map_err(|_| bad("module info"))?;
    let go_version = String::from_utf8(version).map_err(|_| bad("toolchain version"))?;
    let modinfo = std::str::from_utf8(strip_sentinels(&modinfo)).map_err(|_| bad("module info"))?;
    parse_modinfo(&go_version, modinfo)
        .map(Some)
        .map_err(|m| Error::input(path, format!("has Go build info relkit cannot read: {m}")))
}

/// The offset of the build-info magic, scanning blocks that overlap by the
/// magic's length.
fn find_magic(file: &mut impl Read) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; BLOCK + MAGIC.len()];
    let mut base: u64 = 0; // file offset of buf[0]
    let mut kept = 0; // bytes carried over from the last block
    loop {
        let n = read_full(file, &mut buf[kept..])?;
        let len = kept + n;
        // Go aligns the blob to 16 bytes; an unaligned copy of the magic is
        // a string constant (debug/buildinfo's own), not the blob.
        let hit = buf[..len]
            .windows(MAGIC.len())
            .enumerate()
            .find(|(i, w)| *w == MAGIC && (base + *i as u64) % 16 == 0);
        if let Some((i, _)) = hit {
            return Ok(Some(base + i as u64));
        }
        if n == 0 {
            return Ok(None);
        }
        let carry = (MAGIC.len() - 1).min(len);
        buf.copy_within(len - carry..len, 0);
        base += (len - carry) as u64;
        kept = carry;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A uvarint-length-prefixed string.
fn read_string(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        len |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err(io::Error::other("varint too long"));
        }
    }
    if len > MAX_STRING {
        return Err(io::Error::other("string too long"));
    }
    let mut out = Vec::new();
    r.take(len).read_to_end(&mut out)?;
    if out.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(out)
}

/// The module info is framed by two 16-byte binary sentinels; the one
/// before the end follows a newline.
fn strip_sentinels(b: &[u8]) -> &[u8] {
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        &b[16..b.len() - 16]
    } else {
        b
    }
}

/// Parse `go version -m`'s lines: `path`, `mod`, `dep`, `=>`, `build`.
pub fn parse_modinfo(go_version: &str, text: &str) -> Result<BuildInfo, String> {
    let mut path = None;
    let mut main = None;
    let mut deps: Vec<Component> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let module = |f: &[&str]| -> Result<Component, String> {
            let name = f
                .get(1)
                .filter(|s| !s.is_empty())
                .ok_or("a module without a path")?;
            let version = f.get(2).copied().unwrap_or("(devel)");
            let mut c = Component::new(Ecosystem::Go, name, version);
            c.checksum = f
                .get(3)
                .filter(|s| s.starts_with("h1:"))
                .map(|s| Checksum::GoSum((*s).to_owned()));
            Ok(c)
        };
        match f[0] {
            "path" => path = f.get(1).map(|s| (*s).to_owned()),
            "mod" => main = Some(module(&f)?),
            "dep" => deps.push(module(&f)?),
            "=>" => {
                let replacement = module(&f)?;
                let last = deps.last_mut().ok_or("`=>` before any `dep` line")?;
                *last = replacement;
            }
            _ => {}
        }
    }
    let path = path.ok_or("no `path` line")?;
    let main = main.unwrap_or_else(|| Component::new(Ecosystem::Go, &path, "(devel)"));
    Ok(BuildInfo {
        go_version: go_version.to_owned(),
        path,
        main,
        deps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_module_lines_and_replacements() {
        let text = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n\
                    dep\tgolang.org/x/text\tv0.3.7\th1:abc=\n\
                    dep\trsc.io/quote\tv1.5.2\th1:x=\n=>\t../quote\t(devel)\t\n\
                    build\t-compiler=gc\n";
        let b = parse_modinfo("go1.19", text).unwrap();
        assert_eq!(b.path, "example.com/hello");
        assert_eq!(b.main.version, "(devel)");
        assert_eq!(b.deps.len(), 2);
        assert_eq!(b.deps[0].checksum, Some(Checksum::GoSum("h1:abc=".into())));
        assert_eq!(b.deps[1].name, "../quote");
        assert!(parse_modinfo("go", "=>\ta\tv1\n").is_err());
        assert!(parse_modinfo("go", "mod\tx\tv1\n").is_err());
    }

    #[test]
    fn finds_the_magic_across_block_edges() {
        for at in [0usize, 16, BLOCK - 16, BLOCK, 3 * BLOCK + 48] {
            let mut data = vec![0u8; at];
            data.extend_from_slice(MAGIC);
            data.extend_from_slice(&[0u8; 40]);
            let got = find_magic(&mut io::Cursor::new(&data)).unwrap();
            assert_eq!(got, Some(at as u64), "at {at}");
        }
        let mut unaligned = vec![0u8; 5];
        unaligned.extend_from_slice(MAGIC);
        unaligned.extend_from_slice(&[0u8; 40]);
        assert_eq!(find_magic(&mut io::Cursor::new(&unaligned)).unwrap(), None);
        let plain = vec![7u8; 3 * BLOCK];
        assert_eq!(find_magic(&mut io::Cursor::new(&plain)).unwrap(), None);
    }

    #[test]
    fn a_truncated_blob_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin");
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&[8, 2]);
        data.extend_from_slice(&[0u8; 16]);
        data.extend_from_slice(&[0xff, 0xff, 0x03]); // a length past the end
        fs_err::write(&p, &data).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("has a corrupt Go build info (toolchain version)"),
            "{e}"
        );
        fs_err::write(&p, b"\x7fELF not go").unwrap();
        assert_eq!(read(&p).unwrap(), None);
    }
}

//! Reading files back out of a release archive, each checked against the
//! sha256 its manifest entry records: finalize stages ship exactly the bytes
//! that were packaged, and `relkit verify --reproduce` and `relkit install`
//! never trust an archive's contents before they match the manifest.
//!
//! Only entries the manifest lists are written, only below the destination
//! folder, only as regular files (no links, devices or absolute paths).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use relkit_core::Error;
use relkit_core::hash::{Algo, HashingWriter};
use relkit_core::manifest::{Content, check_relative};
use relkit_core::target::ArchiveFormat;

/// The archive format of `archive`, from its file name.
pub fn format_of(archive: &Path) -> Result<ArchiveFormat, Error> {
    let name = archive.to_string_lossy();
    ArchiveFormat::ALL
        .into_iter()
        .find(|f| name.ends_with(&format!(".{}", f.extension())))
        .ok_or_else(|| {
            Error::invalid(
                format!("`{}`", archive.display()),
                "is not a known archive format (tar.gz, tar.xz, tar.zst or zip)",
            )
        })
}

/// Extract one entry of an archive to `dest` (mode 0755 when the entry is
/// executable) and check its sha256.
pub fn extract_entry(archive: &Path, entry: &Content, dest: &Path) -> Result<(), Error> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map_or_else(|| entry.path.clone(), |n| n.to_string_lossy().into_owned());
    extract(archive, vec![(entry.clone(), name)], dir)
}

/// Extract every entry of `contents` from `archive` into `dest_dir` at its
/// archive path, checking each sha256; fails if any is missing.
pub fn extract_all(archive: &Path, contents: &[Content], dest_dir: &Path) -> Result<(), Error> {
    let wanted = contents
        .iter()
        .map(|c| (c.clone(), c.path.clone()))
        .collect();
    extract(archive, wanted, dest_dir)
}

/// Extract each `(manifest entry, path below dest_dir)`.
fn extract(archive: &Path, wanted: Vec<(Content, String)>, dest_dir: &Path) -> Result<(), Error> {
    let shown = || format!("`{}`", archive.display());
    let mut by_path: BTreeMap<String, (Content, String)> = BTreeMap::new();
    for (entry, to) in wanted {
        check_relative(&to)
            .and_then(|()| check_relative(&entry.path))
            .map_err(|m| Error::invalid(shown(), m))?;
        by_path.insert(entry.path.clone(), (entry, to));
    }
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let format = format_of(archive)?;
    let file = relkit_core::hash::open_regular(archive)?;
    let mut sink = |path: &str, reader: &mut dyn Read| -> io::Result<()> {
        let Some((entry, to)) = by_path.get(path) else {
            return Ok(());
        };
        if found.contains_key(path) {
            return Err(io::Error::other(format!("`{path}` is in it twice")));
        }
        let dest = dest_dir.join(to);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let out = fs_err::File::create(&dest)?;
        let mut writer = HashingWriter::new(out, Algo::Sha256);
        // Never more than the manifest says: a lying archive cannot fill the disk.
        let copied = io::copy(&mut reader.take(entry.size + 1), &mut writer)?;
        let (_, digest) = writer.finish()?;
        if copied > entry.size {
            return Err(io::Error::other(format!(
                "`{path}` is larger than the {} bytes its manifest entry says",
                entry.size
            )));
        }
        set_mode(&dest, entry.executable)?;
        found.insert(path.to_owned(), digest.hex);
        Ok(())
    };
    match format {
        ArchiveFormat::TarGz => each_tar(flate2::read::GzDecoder::new(file), &mut sink),
        ArchiveFormat::TarXz => each_tar(liblzma::read::XzDecoder::new(file), &mut sink),
        ArchiveFormat::TarZst => zstd::Decoder::new(file).and_then(|d| each_tar(d, &mut sink)),
        ArchiveFormat::Zip => each_zip(file, &mut sink),
    }
    .map_err(|e| Error::invalid(shown(), format!("cannot be read: {e}")))?;
    for (path, (entry, _)) in &by_path {
        match found.get(path) {
            None => {
                return Err(Error::invalid(
                    shown(),
                    format!("holds no `{path}`, which its manifest entry lists"),
                ));
            }
            Some(hex) if *hex != entry.sha256 => {
                return Err(Error::invalid(
                    shown(),
                    format!(
                        "`{path}` has sha256 {hex}, but the manifest says {}",
                        entry.sha256
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

type Sink<'s> = dyn FnMut(&str, &mut dyn Read) -> io::Result<()> + 's;

fn each_tar(reader: impl Read, sink: &mut Sink<'_>) -> io::Result<()> {
    let mut tar = tar::Archive::new(reader);
    for e in tar.entries()? {
        let mut e = e?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        sink(&path, &mut e)?;
    }
    Ok(())
}

fn each_zip(file: fs_err::File, sink: &mut Sink<'_>) -> io::Result<()> {
    let mut zip = zip::ZipArchive::new(file).map_err(io::Error::other)?;
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).map_err(io::Error::other)?;
        if !e.is_file() {
            continue;
        }
        let path = e.name().map_err(io::Error::other)?.into_owned();
        sink(&path, &mut e)?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: bool) -> io::Result<()> {
    Ok(())
}

/// Extract a whole tar archive (tar.gz, tar.xz or tar.zst) whose entries all
/// sit below the one folder `top` into `dest_dir` (which gets `top/`): only
/// folders and regular files, at relative paths without `..`, each once, at
/// most `max_bytes` in all. Any link, device or stray path fails the whole
/// extraction; the caller extracts into scratch space and moves the result.
pub fn extract_tree(
    archive: &Path,
    top: &str,
    dest_dir: &Path,
    max_bytes: u64,
) -> Result<(), Error> {
    let shown = || format!("`{}`", archive.display());
    let file = relkit_core::hash::open_regular(archive)?;
    let each = |reader: &mut dyn Read| tree_entries(reader, top, dest_dir, max_bytes);
    match format_of(archive)? {
        ArchiveFormat::TarGz => each(&mut flate2::read::GzDecoder::new(file)),
        ArchiveFormat::TarXz => each(&mut liblzma::read::XzDecoder::new(file)),
        ArchiveFormat::TarZst => zstd::Decoder::new(file).and_then(|mut d| each(&mut d)),
        ArchiveFormat::Zip => Err(io::Error::other("is a zip, not a tar archive")),
    }
    .map_err(|e| Error::invalid(shown(), format!("cannot be extracted: {e}")))
}

fn tree_entries(
    reader: &mut dyn Read,
    top: &str,
    dest_dir: &Path,
    max_bytes: u64,
) -> io::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    let mut left = max_bytes;
    let mut tar = tar::Archive::new(reader);
    for e in tar.entries()? {
        let mut e = e?;
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let path = raw.trim_end_matches('/');
        check_relative(path).map_err(io::Error::other)?;
        if path != top && !path.starts_with(&format!("{top}/")) {
            return Err(io::Error::other(format!("`{raw}` is outside `{top}/`")));
        }
        if !seen.insert(path.to_owned()) {
            return Err(io::Error::other(format!("`{path}` is in it twice")));
        }
        let dest = dest_dir.join(path);
        let kind = e.header().entry_type();
        if kind.is_dir() {
            fs_err::create_dir_all(&dest)?;
            continue;
        }
        if !kind.is_file() {
            return Err(io::Error::other(format!(
                "`{path}` is a link or special file, not a regular file"
            )));
        }
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let mut out = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)?;
        let copied = io::copy(&mut (&mut e).take(left + 1), &mut out)?;
        if copied > left {
            return Err(io::Error::other(format!(
                "holds more than {max_bytes} bytes"
            )));
        }
        left -= copied;
        set_mode(&dest, false)?;
    }
    Ok(())
}

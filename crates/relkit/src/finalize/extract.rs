//! Reading binaries back out of the release's own archives, so every later
//! stage (provider bundle today; packages and images next) ships exactly
//! the bytes that were packaged, checksummed and signed. Each extracted
//! file is checked against the sha256 the archive's manifest entry records.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use relkit_core::Error as CoreError;
use relkit_core::hash::{Algo, HashingWriter};
use relkit_core::manifest::{ArtifactKind, Content, Manifest};
use relkit_core::target::ArchiveFormat;

use crate::Error;

/// For each archive of the release holding a binary named `binary` (or
/// `binary.exe`), extract it to `scratch/TARGET/` and return
/// `(target, path)`, sorted by target.
pub(super) fn binaries_named(
    manifest: &Manifest,
    dir: &Path,
    binary: &str,
    scratch: &Path,
) -> Result<Vec<(String, PathBuf)>, Error> {
    let mut out = Vec::new();
    for a in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Archive)
    {
        let Some(target) = &a.target else { continue };
        let Some(entry) = a.contents.iter().find(|c| {
            let base = c.path.rsplit('/').next().unwrap_or(&c.path);
            c.executable && (base == binary || base == format!("{binary}.exe"))
        }) else {
            continue;
        };
        let base = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let dest_dir = scratch.join(target.replace('/', "-"));
        fs_err::create_dir_all(&dest_dir).map_err(CoreError::from)?;
        let dest = dest_dir.join(base);
        extract_entry(&dir.join(&a.file), entry, &dest)?;
        out.push((target.clone(), dest));
    }
    out.sort();
    Ok(out)
}

/// Extract one entry of an archive to `dest` and check its sha256.
pub(super) fn extract_entry(archive: &Path, entry: &Content, dest: &Path) -> Result<(), Error> {
    let format = format_of(archive)?;
    let file = relkit_core::hash::open_regular(archive)?;
    let out = fs_err::File::create(dest).map_err(CoreError::from)?;
    let mut writer = HashingWriter::new(out, Algo::Sha256);
    let found = match format {
        ArchiveFormat::TarGz => from_tar(flate2::read::GzDecoder::new(file), entry, &mut writer),
        ArchiveFormat::TarXz => from_tar(liblzma::read::XzDecoder::new(file), entry, &mut writer),
        ArchiveFormat::TarZst => {
            zstd::Decoder::new(file).and_then(|d| from_tar(d, entry, &mut writer))
        }
        ArchiveFormat::Zip => from_zip(file, entry, &mut writer),
    }
    .map_err(|e| {
        CoreError::invalid(
            format!("`{}`", archive.display()),
            format!("cannot be read: {e}"),
        )
    })?;
    if !found {
        return Err(CoreError::invalid(
            format!("`{}`", archive.display()),
            format!("holds no `{}`, which its manifest entry lists", entry.path),
        )
        .into());
    }
    let (_, digest) = writer.finish().map_err(CoreError::from)?;
    if digest.hex != entry.sha256 {
        return Err(CoreError::invalid(
            format!("`{}`", archive.display()),
            format!(
                "`{}` has sha256 {}, but the manifest says {}",
                entry.path, digest.hex, entry.sha256
            ),
        )
        .into());
    }
    set_executable(dest)?;
    Ok(())
}

fn format_of(archive: &Path) -> Result<ArchiveFormat, Error> {
    let name = archive.to_string_lossy();
    ArchiveFormat::ALL
        .into_iter()
        .find(|f| name.ends_with(&format!(".{}", f.extension())))
        .ok_or_else(|| {
            CoreError::invalid(
                format!("`{}`", archive.display()),
                "is not a known archive format",
            )
            .into()
        })
}

fn from_tar(reader: impl Read, entry: &Content, out: &mut impl io::Write) -> io::Result<bool> {
    let mut tar = tar::Archive::new(reader);
    for e in tar.entries()? {
        let mut e = e?;
        if e.path_bytes().as_ref() == entry.path.as_bytes() {
            io::copy(&mut e, out)?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn from_zip(file: fs_err::File, entry: &Content, out: &mut impl io::Write) -> io::Result<bool> {
    let mut zip = zip::ZipArchive::new(file).map_err(io::Error::other)?;
    let Ok(mut e) = zip.by_name(&entry.path) else {
        return Ok(false);
    };
    io::copy(&mut e, out)?;
    Ok(true)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(CoreError::from)?;
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<(), Error> {
    Ok(())
}

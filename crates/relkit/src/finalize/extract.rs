//! Reading binaries back out of the release's own archives, so every later
//! stage (provider bundle today; packages and images next) ships exactly
//! the bytes that were packaged, checksummed and signed. Each extracted
//! file is checked against the sha256 the archive's manifest entry records.

use std::path::{Path, PathBuf};

use relkit_core::Error as CoreError;
use relkit_core::manifest::{ArtifactKind, Content, Manifest};

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
    Ok(relkit_package::unpack::extract_entry(archive, entry, dest)?)
}

//! `relkit verify --reproduce`: take the files out of each archive (each
//! checked against the manifest's sha256), package them again with the
//! release's recorded build time, and compare the bytes. A match shows the
//! archive holds exactly those files, packaged by relkit's deterministic
//! writer, with nothing added on the way.

use std::collections::BTreeSet;
use std::path::Path;

use relkit_core::manifest::{Artifact, Manifest};
use relkit_package::archive::{Entry, write_archive};
use relkit_package::unpack;

use crate::Error;

/// Rebuild `archive` (an artifact of `m` in `dir`): `Ok(Ok(detail))` when
/// the bytes are identical, `Ok(Err(why))` when they differ.
pub fn reproduce(
    dir: &Path,
    m: &Manifest,
    archive: &Artifact,
) -> Result<Result<String, String>, Error> {
    let path = dir.join(&archive.file);
    if !path.is_file() {
        return Ok(Err("the archive is missing".to_owned()));
    }
    let Some(epoch) = relkit_core::buildtime::parse_rfc3339(&m.build_timestamp) else {
        return Ok(Err(format!(
            "the manifest's build_timestamp `{}` is not an RFC 3339 time",
            m.build_timestamp
        )));
    };
    let format = unpack::format_of(&path)?;
    let scratch = tempfile::Builder::new()
        .prefix(".relkit-reproduce")
        .tempdir()
        .map_err(relkit_core::Error::from)?;
    if let Err(e) = unpack::extract_all(&path, &archive.contents, scratch.path()) {
        return Ok(Err(relkit_core::error::one_line(&e)));
    }
    let entries = entries(&archive.contents, scratch.path());
    let bar = indicatif::ProgressBar::hidden();
    let level = relkit_package::compress::Compression::default();
    let (_, digest, _) = write_archive(std::io::sink(), format, &entries, epoch, level, &bar)
        .map_err(|e| Error::Internal(format!("re-packaging `{}`: {e}", archive.name)))?;
    if digest.hex == archive.sha256 && digest.size == archive.size {
        Ok(Ok(format!(
            "re-packaged {} files with SOURCE_DATE_EPOCH={epoch}: identical bytes",
            archive.contents.len()
        )))
    } else {
        Ok(Err(format!(
            "re-packaged with SOURCE_DATE_EPOCH={epoch}: {} bytes, sha256 {}; the release has {} bytes, sha256 {}",
            digest.size, digest.hex, archive.size, archive.sha256
        )))
    }
}

/// The archive's entries as relkit-package writes them: a folder entry for
/// every folder, then files, sorted by path.
fn entries(contents: &[relkit_core::manifest::Content], root: &Path) -> Vec<Entry> {
    let mut folders = BTreeSet::new();
    for c in contents {
        let mut at = 0;
        while let Some(i) = c.path[at..].find('/') {
            at += i + 1;
            folders.insert(c.path[..at].to_owned());
        }
    }
    let mut entries: Vec<Entry> = folders
        .into_iter()
        .map(|path| Entry {
            path,
            source: None,
            size: 0,
            executable: true,
        })
        .chain(contents.iter().map(|c| Entry {
            path: c.path.clone(),
            source: Some(root.join(&c.path)),
            size: c.size,
            executable: c.executable,
        }))
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

//! Keeping the signatures a release already publishes for unchanged files
//! (see [`crate::keep_published_signatures`]).

use std::path::PathBuf;

use relkit_core::input::Limit;
use tracing::info;

use crate::Error;
use crate::flow::{index_by_name, pick};
use crate::github::{Asset, GitHub};

/// A signature relkit is about to publish, and the file it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepCandidate {
    /// The signature's asset name, e.g. `SHA256SUMS.minisig`.
    pub signature_name: String,
    /// The signed file's asset name, e.g. `SHA256SUMS`.
    pub signed_name: String,
    /// Lower-case hex sha256 of the local signed file.
    pub signed_sha256: String,
    /// Where to write the published signature when it is kept.
    pub dest: PathBuf,
}

pub(crate) async fn keep(
    gh: &GitHub,
    tag: &str,
    candidates: &[KeepCandidate],
) -> Result<Vec<String>, Error> {
    let releases = gh.list_releases(tag).await?;
    let Some(release) = pick(&releases) else {
        return Ok(Vec::new());
    };
    let assets = gh.list_assets(release.id).await?;
    let by_name = index_by_name(&assets).map_err(|dups| Error::Unexpected {
        what: format!("reading release `{tag}` (id {})", release.id),
        problem: format!("GitHub lists {} more than once", dups.join(", ")),
    })?;
    let mut kept = Vec::new();
    for c in candidates {
        let uploaded = |name: &str| by_name.get(name).copied().filter(|a| a.is_uploaded());
        let (Some(signed), Some(sig)) = (uploaded(&c.signed_name), uploaded(&c.signature_name))
        else {
            continue;
        };
        if !unchanged(gh, signed, &c.signed_sha256).await? {
            continue;
        }
        let bytes = gh.download_bytes(sig, Limit::SIGNATURE.max()).await?;
        relkit_core::atomic::write_file(&c.dest, &bytes)?;
        info!(
            "release `{tag}` already holds this `{}`; keeping its `{}`",
            c.signed_name, c.signature_name
        );
        kept.push(c.signature_name.clone());
    }
    Ok(kept)
}

/// Whether the published `signed` asset holds the file of `sha256`: by its
/// digest, or (a server that reports none) by downloading it.
async fn unchanged(gh: &GitHub, signed: &Asset, sha256: &str) -> Result<bool, Error> {
    let theirs = match signed.sha256() {
        Some(h) => h.to_owned(),
        None => gh.download_sha256(signed).await?,
    };
    Ok(theirs.eq_ignore_ascii_case(sha256))
}

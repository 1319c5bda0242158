//! The local side of an upload: which files become which assets, and the
//! checks GitHub would otherwise fail half-way through (size, count, names
//! GitHub silently renames, two files with one name), all made before any
//! request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use relkit_core::manifest::{Manifest, SignatureKind};
use tokio::sync::OnceCell;

use crate::Error;

/// GitHub refuses assets of 2 GiB or more.
pub const MAX_ASSET_SIZE: u64 = 2 * 1024 * 1024 * 1024;
/// GitHub refuses more than 1000 assets in one release.
pub const MAX_ASSETS: usize = 1000;

/// One file to publish as a release asset.
#[derive(Debug, Clone)]
pub struct LocalAsset {
    /// The asset name on GitHub.
    pub name: String,
    /// The file on disk.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Target from the manifest, for the summary table.
    pub target: Option<String>,
    /// Lower-case hex sha256: given by the manifest, else computed while
    /// uploading or, when a remote asset must be compared, on demand.
    sha256: Arc<OnceCell<String>>,
}

impl LocalAsset {
    /// An asset whose digest will be computed when first needed.
    pub fn new(
        name: String,
        path: PathBuf,
        size: u64,
        target: Option<String>,
        sha256: Option<String>,
    ) -> Self {
        let cell = match sha256 {
            Some(h) => OnceCell::new_with(Some(h)),
            None => OnceCell::new(),
        };
        LocalAsset {
            name,
            path,
            size,
            target,
            sha256: Arc::new(cell),
        }
    }

    /// The digest if already known.
    pub fn known_sha256(&self) -> Option<&str> {
        self.sha256.get().map(String::as_str)
    }

    /// Record the digest computed while streaming the file. Returns the
    /// digest that holds (an earlier value wins: it is checked later).
    pub fn record_sha256(&self, hex: String) -> &str {
        let _ = self.sha256.set(hex);
        self.sha256.get().map_or("", String::as_str)
    }

    /// The digest, hashing the file now if nobody has yet.
    pub async fn sha256(&self) -> Result<String, Error> {
        let path = self.path.clone();
        let size = self.size;
        self.sha256
            .get_or_try_init(|| async move {
                let digest = tokio::task::spawn_blocking(move || {
                    relkit_core::hash::hash_file(&path, relkit_core::hash::Algo::Sha256, |_| {})
                })
                .await
                .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))??;
                if digest.size != size {
                    return Err(Error::Changed {
                        path: self.path.clone(),
                    });
                }
                Ok(digest.hex)
            })
            .await
            .cloned()
    }
}

pub use relkit_core::names::github_name;

/// Whether an artifact of this kind is published as a release asset: the
/// rule of relkit-core's one kind table (mirror trees are not).
pub fn is_release_asset(kind: relkit_core::manifest::ArtifactKind) -> bool {
    kind.rules().uploaded
}

/// Collect the assets listed by a manifest; each `file` is relative to the
/// manifest's folder and must exist with the recorded size. Kinds that are
/// not release assets are skipped (see [`is_release_asset`]); the manifest
/// itself and its signatures (`manifest.json.minisig`, `.sig`) are added, so
/// a user who downloads the release has the manifest to verify against.
pub fn from_manifest(path: &Path) -> Result<(Manifest, Vec<LocalAsset>), Error> {
    let manifest = Manifest::read(path)?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut out = Vec::with_capacity(manifest.artifacts.len());
    for a in manifest
        .artifacts
        .iter()
        .filter(|a| is_release_asset(a.kind))
    {
        let file = base.join(&a.file);
        let size = regular_size(&file)?;
        if size != a.size {
            return Err(Error::SizeMismatch {
                path: file,
                actual: size,
                expected: a.size,
                manifest: path.to_path_buf(),
            });
        }
        out.push(LocalAsset::new(
            a.name.clone(),
            file,
            size,
            a.target.clone(),
            Some(a.sha256.clone()),
        ));
    }
    let mut own = vec![path.to_path_buf()];
    for kind in [SignatureKind::Minisign, SignatureKind::Openpgp] {
        let mut sig = path.as_os_str().to_owned();
        sig.push(kind.suffix());
        let sig = PathBuf::from(sig);
        if sig.is_file() {
            own.push(sig);
        }
    }
    out.extend(from_files(&own)?);
    Ok((manifest, out))
}

/// Collect assets from file paths; each asset is named after its file.
pub fn from_files(files: &[PathBuf]) -> Result<Vec<LocalAsset>, Error> {
    files
        .iter()
        .map(|file| {
            let size = regular_size(file)?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    relkit_core::Error::invalid(
                        "FILE",
                        format!("`{}` has no file name", file.display()),
                    )
                })?;
            Ok(LocalAsset::new(name, file.clone(), size, None, None))
        })
        .collect()
}

fn regular_size(path: &Path) -> Result<u64, Error> {
    // open_regular gives the standard messages for missing files and folders.
    let file = relkit_core::hash::open_regular(path)?;
    Ok(file.metadata().map_err(relkit_core::Error::Io)?.len())
}

/// Refuse what GitHub would refuse or silently change, before any request.
pub fn check(assets: &[LocalAsset]) -> Result<(), Error> {
    if assets.len() > MAX_ASSETS {
        return Err(Error::TooManyAssets {
            count: assets.len(),
        });
    }
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for a in assets {
        if let Some(first) = seen.insert(&a.name, &a.path) {
            return Err(Error::DuplicateName {
                name: a.name.clone(),
                first: first.to_path_buf(),
                second: a.path.clone(),
            });
        }
        let stored = github_name(&a.name);
        if stored != a.name {
            return Err(Error::WouldRename {
                path: a.path.clone(),
                name: a.name.clone(),
                becomes: stored,
            });
        }
        if a.size >= MAX_ASSET_SIZE {
            return Err(Error::TooLarge {
                path: a.path.clone(),
                size: a.size,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_renames_like_github() {
        assert_eq!(
            github_name("tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz"),
            "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz"
        );
        assert_eq!(github_name("My App (x64).msi"), "My.App..x64..msi");
        assert_eq!(github_name(".hidden"), "default.hidden");
        assert_eq!(github_name("a~b"), "a.b");
        assert_eq!(github_name("crème.zip"), "cr.me.zip");
        assert_eq!(github_name("v1.0.0+build.5.zip"), "v1.0.0.build.5.zip");
    }

    #[test]
    fn check_refuses_before_any_request() {
        let a = |name: &str, path: &str, size| {
            LocalAsset::new(name.into(), path.into(), size, None, None)
        };
        assert!(check(&[a("x.tar.gz", "d/x.tar.gz", 3)]).is_ok());
        let e = check(&[a("x", "a/x", 1), a("x", "b/x", 1)])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "asset name `x` is used by two files: `a/x` and `b/x`");
        let e = check(&[a("my file", "my file", 1)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("GitHub would store it as `my.file`"), "{e}");
        let e = check(&[a("big", "big", MAX_ASSET_SIZE)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 GiB"), "{e}");
        let many: Vec<_> = (0..=MAX_ASSETS)
            .map(|i| a(&format!("f{i}"), "f", 1))
            .collect();
        assert!(
            check(&many)
                .unwrap_err()
                .to_string()
                .contains("1001 assets")
        );
    }
}

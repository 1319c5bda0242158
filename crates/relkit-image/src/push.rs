//! Pushing an OCI image layout to a registry: every blob first (skipped
//! when the registry has it, mounted when another repository does, else
//! uploaded), then each image manifest by digest, then the index by
//! digest, and the tags last, so no tag ever points at something missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use futures_util::TryStreamExt;
use serde::Serialize;
use tracing::info;

use crate::Error;
use crate::registry::{MANIFEST_MAX, Registry};
use crate::spec::{self, Descriptor};

/// Blob uploads in flight at once.
const CONCURRENCY: usize = 4;

/// An image layout read back for pushing: documents verified against
/// their digests, blobs listed.
#[derive(Debug)]
pub struct ReadLayout {
    /// The layout folder.
    pub root: PathBuf,
    /// The index's descriptor and bytes.
    pub index: (Descriptor, Vec<u8>),
    /// Each image manifest's descriptor and bytes.
    pub manifests: Vec<(Descriptor, Vec<u8>)>,
    /// Every config and layer blob, once each.
    pub blobs: Vec<Descriptor>,
}

fn bad(root: &Path, problem: impl Into<String>) -> Error {
    Error::Layout {
        path: root.to_path_buf(),
        problem: problem.into(),
    }
}

/// Read a blob of the layout (at most `MANIFEST_MAX` bytes) and check its
/// digest and size.
fn read_doc(root: &Path, desc: &Descriptor) -> Result<Vec<u8>, Error> {
    let hex = spec::sha256_hex(&desc.digest)
        .ok_or_else(|| bad(root, format!("`{}` is not a sha256 digest", desc.digest)))?;
    let path = root.join("blobs/sha256").join(hex);
    let limit = relkit_core::input::Limit::new("image manifest", MANIFEST_MAX as u64);
    let bytes = relkit_core::input::read_bytes(&path, limit)?;
    let got = relkit_core::hash::hash_reader(&bytes[..], relkit_core::hash::Algo::Sha256, |_| {})
        .map_err(relkit_core::Error::Io)?;
    if got.hex != hex || got.size != desc.size {
        return Err(bad(
            root,
            format!("blob {} does not match its digest or size", desc.digest),
        ));
    }
    Ok(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(
    root: &Path,
    what: &str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| bad(root, format!("{what}: {e}")))
}

/// Read the layout at `root`: its `index.json` must name one image index.
pub fn read_layout(root: &Path) -> Result<ReadLayout, Error> {
    let top_path = root.join("index.json");
    let top = relkit_core::input::read_bytes(&top_path, relkit_core::input::Limit::MANIFEST)?;
    let top: spec::Index = parse(root, "index.json", &top)?;
    let [index_desc] = top.manifests.as_slice() else {
        return Err(bad(root, "index.json must list exactly one image index"));
    };
    if index_desc.media_type != spec::INDEX {
        return Err(bad(
            root,
            format!(
                "index.json lists a `{}`, not an image index",
                index_desc.media_type
            ),
        ));
    }
    let index_bytes = read_doc(root, index_desc)?;
    let index: spec::Index = parse(root, &index_desc.digest, &index_bytes)?;
    let mut manifests = Vec::new();
    let mut blobs: BTreeMap<String, Descriptor> = BTreeMap::new();
    for desc in &index.manifests {
        if desc.media_type != spec::MANIFEST {
            return Err(bad(
                root,
                format!(
                    "the index lists a `{}`, not an image manifest",
                    desc.media_type
                ),
            ));
        }
        let bytes = read_doc(root, desc)?;
        let m: spec::Manifest = parse(root, &desc.digest, &bytes)?;
        for b in std::iter::once(&m.config).chain(&m.layers) {
            let hex = spec::sha256_hex(&b.digest)
                .ok_or_else(|| bad(root, format!("`{}` is not a sha256 digest", b.digest)))?;
            let path = root.join("blobs/sha256").join(hex);
            let size = fs_err::metadata(&path)
                .map_err(relkit_core::Error::Io)?
                .len();
            if size != b.size {
                return Err(bad(
                    root,
                    format!(
                        "blob {} is {size} bytes, its descriptor says {}",
                        b.digest, b.size
                    ),
                ));
            }
            blobs.entry(b.digest.clone()).or_insert_with(|| b.clone());
        }
        manifests.push((desc.clone(), bytes));
    }
    Ok(ReadLayout {
        root: root.to_path_buf(),
        index: (index_desc.clone(), index_bytes),
        manifests,
        blobs: blobs.into_values().collect(),
    })
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// `registry/repository`.
    pub image: String,
    /// The index digest.
    pub index: String,
    /// Platform → image manifest digest.
    pub platforms: BTreeMap<String, String>,
    /// Tags set.
    pub tags: Vec<String>,
    /// Blobs uploaded.
    pub uploaded_blobs: u64,
    /// Bytes of blobs uploaded.
    pub uploaded_bytes: u64,
    /// Blobs mounted from another repository.
    pub mounted_blobs: u64,
    /// Blobs the registry already had.
    pub present_blobs: u64,
}

/// Push `layout` through `registry`, tagging the index with `tags`.
pub async fn push(
    registry: &Registry,
    layout: &ReadLayout,
    tags: &[String],
    mount_from: &[String],
) -> Result<Pushed, Error> {
    registry.login().await?;
    futures_util::stream::iter(layout.blobs.iter().map(Ok))
        .try_for_each_concurrent(CONCURRENCY, |b| {
            push_blob(registry, &layout.root, b, mount_from)
        })
        .await?;
    let mut platforms = BTreeMap::new();
    for (desc, bytes) in &layout.manifests {
        registry
            .put_manifest(&desc.digest, spec::MANIFEST, bytes)
            .await?;
        if let Some(p) = &desc.platform {
            platforms.insert(p.name(), desc.digest.clone());
        }
    }
    let (index, bytes) = &layout.index;
    registry
        .put_manifest(&index.digest, spec::INDEX, bytes)
        .await?;
    for tag in tags {
        registry.put_manifest(tag, spec::INDEX, bytes).await?;
        info!(
            "{}/{}:{tag} -> {}",
            registry.image().registry,
            registry.image().repository,
            index.digest
        );
    }
    let s = &registry.stats;
    Ok(Pushed {
        image: format!(
            "{}/{}",
            registry.image().registry,
            registry.image().repository
        ),
        index: index.digest.clone(),
        platforms,
        tags: tags.to_vec(),
        uploaded_blobs: s.uploaded.load(Ordering::Relaxed),
        uploaded_bytes: s.uploaded_bytes.load(Ordering::Relaxed),
        mounted_blobs: s.mounted.load(Ordering::Relaxed),
        present_blobs: s.present.load(Ordering::Relaxed),
    })
}

async fn push_blob(
    registry: &Registry,
    root: &Path,
    blob: &Descriptor,
    mount_from: &[String],
) -> Result<(), Error> {
    if registry.has_blob(&blob.digest).await? {
        registry.stats.present.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    for from in mount_from {
        if registry.mount(&blob.digest, from).await? {
            info!("mounted {} from {from}", blob.digest);
            return Ok(());
        }
    }
    let hex = spec::sha256_hex(&blob.digest).expect("checked when read");
    let path = root.join("blobs/sha256").join(hex);
    info!("uploading {} ({} bytes)", blob.digest, blob.size);
    registry.upload(&path, &blob.digest, blob.size).await
}

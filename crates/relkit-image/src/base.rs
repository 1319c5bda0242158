//! Base images: a reference (`scratch`, or `REGISTRY/REPO@sha256:…` /
//! `REGISTRY/REPO:TAG`), resolved per platform through an image index (OCI
//! or Docker's manifest list), its layers downloaded into the layout and
//! verified, its config kept under ours.

use std::collections::BTreeMap;

use crate::Error;
use crate::build::Layout;
use crate::registry::{ImageRef, Registry};
use crate::spec::{self, Descriptor, ImageConfig, Platform};

/// Docker's gzip layer media type (the same bytes as OCI's).
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A base image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRef {
    /// Registry and repository.
    pub image: ImageRef,
    /// A tag, or `sha256:…`.
    pub reference: String,
}

impl BaseRef {
    /// Parse `--base`: None for `scratch`. With `require_digest`, a
    /// reference not pinned by digest is refused.
    pub fn parse(raw: &str, require_digest: bool) -> Result<Option<BaseRef>, Error> {
        if raw == "scratch" {
            return Ok(None);
        }
        let bad = |why: String| -> Error { relkit_core::Error::invalid("--base", why).into() };
        let (name, reference) = if let Some((name, digest)) = raw.split_once('@') {
            if spec::sha256_hex(digest).is_none() {
                return Err(bad(format!("`{raw}`: `{digest}` is not a sha256 digest")));
            }
            (name, digest.to_owned())
        } else {
            if require_digest {
                return Err(bad(format!(
                    "`{raw}` is not pinned by digest (REFERENCE@sha256:…) and --require-digest is set"
                )));
            }
            match raw.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => (name, tag.to_owned()),
                _ => (raw, "latest".to_owned()),
            }
        };
        let image = ImageRef::parse(name).map_err(|_| {
            bad(format!(
                "`{raw}` is not REGISTRY/REPOSITORY@sha256:DIGEST or REGISTRY/REPOSITORY:TAG"
            ))
        })?;
        if !reference.starts_with("sha256:") && !crate::registry::valid_tag(&reference) {
            return Err(bad(format!("`{raw}`: `{reference}` is not a valid tag")));
        }
        Ok(Some(BaseRef { image, reference }))
    }
}

/// One platform's base: its config and its layers (blobs in the layout).
#[derive(Debug, Clone)]
pub struct Base {
    /// The base image's config.
    pub config: ImageConfig,
    /// Its layers, bottom first.
    pub layers: Vec<Descriptor>,
}

/// Where a base comes from: its reference and a read-only client.
pub struct BaseSource {
    /// The reference.
    pub reference: BaseRef,
    /// A client for its repository.
    pub registry: Registry,
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        relkit_core::Error::invalid("--base", format!("{what} is not an image document: {e}"))
            .into()
    })
}

fn matches(want: &Platform, have: &Platform) -> bool {
    want.os == have.os
        && want.architecture == have.architecture
        && (want.variant.is_none() || want.variant == have.variant)
}

/// Resolve the base for every platform and download its layers into
/// `layout`. Returns platform name → base.
pub fn fetch(
    src: &BaseSource,
    platforms: &[Platform],
    layout: &Layout,
) -> Result<BTreeMap<String, Base>, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(fetch_async(src, platforms, layout))
}

async fn fetch_async(
    src: &BaseSource,
    platforms: &[Platform],
    layout: &Layout,
) -> Result<BTreeMap<String, Base>, Error> {
    let reg = &src.registry;
    let name = format!(
        "{}/{}@{}",
        src.reference.image.registry, src.reference.image.repository, src.reference.reference
    );
    reg.login().await?;
    let (media_type, top) = reg.get_manifest(&src.reference.reference).await?;
    let is_index = media_type.starts_with(spec::INDEX)
        || media_type.starts_with(spec::DOCKER_LIST)
        || (media_type.is_empty() && top.windows(11).any(|w| w == b"\"manifests\""));
    let mut out = BTreeMap::new();
    for platform in platforms {
        let manifest_bytes = if is_index {
            let index: spec::Index = parse(&name, &top)?;
            let desc = index
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| matches(platform, p)))
                .ok_or_else(|| {
                    relkit_core::Error::invalid(
                        "--base",
                        format!("`{name}` has no image for {}", platform.name()),
                    )
                })?;
            reg.get_manifest(&desc.digest).await?.1
        } else {
            top.clone()
        };
        let base = fetch_one(reg, &name, &manifest_bytes, platform, layout).await?;
        out.insert(platform.name(), base);
    }
    Ok(out)
}

async fn fetch_one(
    reg: &Registry,
    name: &str,
    manifest: &[u8],
    platform: &Platform,
    layout: &Layout,
) -> Result<Base, Error> {
    let manifest: spec::Manifest = parse(name, manifest)?;
    let config_hex = spec::sha256_hex(&manifest.config.digest).ok_or_else(|| {
        relkit_core::Error::invalid("--base", format!("`{name}`: config digest is not sha256"))
    })?;
    if manifest.config.size > crate::registry::MANIFEST_MAX as u64 {
        return Err(
            relkit_core::Error::invalid("--base", format!("`{name}`: config over 4 MiB")).into(),
        );
    }
    let tmp = layout.blob_path(&format!("{config_hex}.config"));
    reg.get_blob(&manifest.config.digest, manifest.config.size, &tmp)
        .await?;
    let limit =
        relkit_core::input::Limit::new("image config", crate::registry::MANIFEST_MAX as u64);
    let bytes = relkit_core::input::read_bytes(&tmp, limit)?;
    fs_err::remove_file(&tmp).map_err(relkit_core::Error::Io)?;
    let config: ImageConfig = parse(name, &bytes)?;
    let have = Platform {
        architecture: config.architecture.clone(),
        os: config.os.clone(),
        variant: config.variant.clone(),
    };
    if !matches(platform, &have) {
        return Err(relkit_core::Error::invalid(
            "--base",
            format!(
                "`{name}` is a {} image, not {}",
                have.name(),
                platform.name()
            ),
        )
        .into());
    }
    let mut layers = Vec::new();
    for layer in &manifest.layers {
        let media_type = match layer.media_type.as_str() {
            DOCKER_LAYER_GZIP => spec::LAYER_GZIP,
            spec::LAYER_GZIP | spec::LAYER_ZSTD | "application/vnd.oci.image.layer.v1.tar" => {
                layer.media_type.as_str()
            }
            other => {
                return Err(relkit_core::Error::invalid(
                    "--base",
                    format!("`{name}` has a layer of type `{other}`, which relkit does not copy"),
                )
                .into());
            }
        };
        let hex = spec::sha256_hex(&layer.digest).ok_or_else(|| {
            relkit_core::Error::invalid("--base", format!("`{name}`: layer digest is not sha256"))
        })?;
        let dest = layout.blob_path(hex);
        if !dest.is_file() {
            let part = layout.blob_path(&format!("{hex}.partial"));
            reg.get_blob(&layer.digest, layer.size, &part).await?;
            fs_err::rename(&part, &dest).map_err(relkit_core::Error::Io)?;
        }
        layers.push(Descriptor {
            media_type: media_type.to_owned(),
            digest: layer.digest.clone(),
            size: layer.size,
            platform: None,
            annotations: BTreeMap::new(),
        });
    }
    if layers.len() != config.rootfs.diff_ids.len() {
        return Err(relkit_core::Error::invalid(
            "--base",
            format!(
                "`{name}`: {} layers but {} diff ids in its config",
                layers.len(),
                config.rootfs.diff_ids.len()
            ),
        )
        .into());
    }
    Ok(Base { config, layers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base_references() {
        assert_eq!(BaseRef::parse("scratch", true).unwrap(), None);
        let d = format!("sha256:{}", "a".repeat(64));
        let b = BaseRef::parse(&format!("gcr.io/distroless/static@{d}"), true)
            .unwrap()
            .unwrap();
        assert_eq!(
            (b.image.repository.as_str(), b.reference.as_str()),
            ("distroless/static", d.as_str())
        );
        let b = BaseRef::parse("127.0.0.1:5000/base/img:v1", false)
            .unwrap()
            .unwrap();
        assert_eq!(
            (b.image.registry.as_str(), b.reference.as_str()),
            ("127.0.0.1:5000", "v1")
        );
        let b = BaseRef::parse("debian", false).unwrap().unwrap();
        assert_eq!(
            (b.image.repository.as_str(), b.reference.as_str()),
            ("library/debian", "latest")
        );
        assert!(BaseRef::parse("debian:bookworm-slim", true).is_err());
        assert!(BaseRef::parse("debian@sha256:abc", false).is_err());
    }
}

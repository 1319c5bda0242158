//! Building the images: one reproducible layer per Linux binary (the same
//! deterministic tar as the release archives, compressed with the same
//! deflate), a config and a manifest per platform, one image index over
//! them, all written as an OCI image layout folder that replaces the old
//! one only when complete.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use relkit_core::atomic::io_at;
use relkit_core::hash::{Algo, Digest, HashingWriter};
use relkit_core::target::Target;
use relkit_package::archive::{Entry, GZIP_LEVEL, ZSTD_LEVEL, append_tar};
use relkit_package::pargz::ParGzEncoder;
use serde::Serialize;
use tracing::info;

use crate::Error;
use crate::base::{Base, BaseSource};
use crate::spec::{self, Descriptor, Platform};

/// Where the binary lives inside the image.
pub const BIN_DIR: &str = "usr/local/bin";

/// How layers are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    /// gzip through zlib, as the `.tar.gz` archives (every runtime reads it).
    Gzip,
    /// zstd (containerd 1.5+, podman; not older Docker).
    Zstd,
}

/// What goes into the images besides the binaries.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The binary's name inside the image (`/usr/local/bin/NAME`).
    pub name: String,
    /// `uid:gid` to run as.
    pub user: String,
    /// Working directory.
    pub workdir: String,
    /// `NAME=value` environment.
    pub env: Vec<String>,
    /// Exposed ports (`8080/tcp`).
    pub ports: Vec<String>,
    /// Default arguments.
    pub cmd: Vec<String>,
    /// The entrypoint [default, when empty: `/usr/local/bin/NAME`].
    pub entrypoint: Vec<String>,
    /// Labels, the `org.opencontainers.image.*` ones included.
    pub labels: BTreeMap<String, String>,
    /// Layer compression.
    pub compression: Compression,
    /// Build time, seconds since 1970.
    pub epoch: i64,
}

/// One image to build.
#[derive(Debug, Clone)]
pub struct Input {
    /// The build target the binary is for.
    pub target: Target,
    /// The binary.
    pub binary: PathBuf,
}

/// What was built: the digests a release records.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    /// The image index's digest (what a multi-arch pull resolves).
    pub index: String,
    /// Platform (`linux/amd64`) → that image manifest's digest.
    pub platforms: BTreeMap<String, String>,
    /// Target → platform, for the targets that made an image.
    pub targets: BTreeMap<String, String>,
}

/// The Linux inputs with their platforms, sorted by platform; non-Linux
/// targets are dropped (with a note), none left or two binaries for one
/// platform is an error.
pub fn platforms(inputs: &[Input]) -> Result<Vec<(Platform, &Input)>, Error> {
    let mut out: Vec<(Platform, &Input)> = Vec::new();
    for input in inputs {
        let Some(p) = Platform::of(&input.target) else {
            info!(
                "`{}` is not a Linux target: no image for it",
                input.target.name()
            );
            continue;
        };
        if let Some((_, other)) = out.iter().find(|(q, _)| *q == p) {
            return Err(relkit_core::Error::invalid(
                "--binary",
                format!(
                    "`{}` and `{}` are both {}; an index holds one image per platform",
                    other.target.name(),
                    input.target.name(),
                    p.name()
                ),
            )
            .into());
        }
        out.push((p, input));
    }
    if out.is_empty() {
        let given: Vec<&str> = inputs.iter().map(|i| i.target.name()).collect();
        return Err(relkit_core::Error::invalid(
            "--binary",
            format!(
                "no Linux target among `{}`: images hold Linux binaries only",
                given.join("`, `")
            ),
        )
        .into());
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Build every image and the index into the layout folder `out`, tagged
/// `tag` in its `index.json`. The folder is replaced only when complete.
pub fn build(
    out: &Path,
    tag: &str,
    spec: &ImageSpec,
    inputs: &[Input],
    base: Option<&BaseSource>,
) -> Result<Built, Error> {
    let plats = platforms(inputs)?;
    check_name(&spec.name)?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent).map_err(relkit_core::Error::Io)?;
    let (tmp, _guard) =
        relkit_core::cleanup::tempdir_in(parent, ".relkit-image-").map_err(|e| {
            relkit_core::Error::Unwritable {
                path: parent.to_path_buf(),
                source: e,
            }
        })?;
    let layout = Layout::create(tmp.path())?;
    let bases = match base {
        Some(src) => {
            let wanted: Vec<Platform> = plats.iter().map(|(p, _)| p.clone()).collect();
            crate::base::fetch(src, &wanted, &layout)?
        }
        None => BTreeMap::new(),
    };
    let created = relkit_core::buildtime::rfc3339(spec.epoch)?;
    let mut manifests = Vec::new();
    let mut built = Built {
        index: String::new(),
        platforms: BTreeMap::new(),
        targets: BTreeMap::new(),
    };
    for (platform, input) in &plats {
        let base = bases.get(&platform.name());
        let desc = build_one(&layout, spec, &created, platform, &input.binary, base)?;
        info!("{}: image {}", platform.name(), desc.digest);
        built.platforms.insert(platform.name(), desc.digest.clone());
        built
            .targets
            .insert(input.target.name().to_owned(), platform.name());
        manifests.push(desc);
    }
    let index = spec::Index {
        schema_version: 2,
        media_type: Some(spec::INDEX.to_owned()),
        manifests,
        annotations: BTreeMap::new(),
    };
    let mut index_desc = layout.put_json(spec::INDEX, &index)?;
    built.index.clone_from(&index_desc.digest);
    index_desc
        .annotations
        .insert(spec::REF_NAME.to_owned(), tag.to_owned());
    layout.finish(&index_desc)?;
    replace_dir(tmp, out)?;
    Ok(built)
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(relkit_core::Error::invalid(
            "--name",
            format!("`{name}` is not a file name of letters, digits and `-_.+`"),
        )
        .into())
    }
}

/// How to run the image: the base's settings (if any) under ours. Our
/// entrypoint, arguments, user and working directory replace the base's;
/// environment, ports and labels are merged, ours winning.
fn run_config(spec: &ImageSpec, base: Option<&Base>) -> spec::RunConfig {
    let mut run = base.map(|b| b.config.config.clone()).unwrap_or_default();
    let name_of = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_owned();
    let ours: Vec<String> = spec.env.iter().map(|e| name_of(e)).collect();
    run.env.retain(|e| !ours.contains(&name_of(e)));
    run.env.extend(spec.env.iter().cloned());
    run.user = Some(spec.user.clone());
    run.exposed_ports
        .extend(spec.ports.iter().map(|p| (p.clone(), spec::Empty {})));
    run.entrypoint = if spec.entrypoint.is_empty() {
        vec![format!("/{BIN_DIR}/{}", spec.name)]
    } else {
        spec.entrypoint.clone()
    };
    run.cmd.clone_from(&spec.cmd);
    run.working_dir = Some(spec.workdir.clone());
    run.labels
        .extend(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    run
}

/// One platform's layer, config and manifest (on top of `base`'s layers);
/// returns the manifest's descriptor with its platform.
fn build_one(
    layout: &Layout,
    spec: &ImageSpec,
    created: &str,
    platform: &Platform,
    binary: &Path,
    base: Option<&Base>,
) -> Result<Descriptor, Error> {
    let (layer, diff_id) = layout.put_layer(spec, binary)?;
    let mut layers = base.map(|b| b.layers.clone()).unwrap_or_default();
    layers.push(layer);
    let mut diff_ids = base
        .map(|b| b.config.rootfs.diff_ids.clone())
        .unwrap_or_default();
    diff_ids.push(diff_id);
    let mut history = base.map(|b| b.config.history.clone()).unwrap_or_default();
    history.push(spec::History {
        created: Some(created.to_owned()),
        created_by: Some(format!("relkit image: /{BIN_DIR}/{}", spec.name)),
    });
    let config = spec::ImageConfig {
        created: Some(created.to_owned()),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: run_config(spec, base),
        rootfs: spec::RootFs {
            kind: "layers".to_owned(),
            diff_ids,
        },
        history,
    };
    let config = layout.put_json(spec::CONFIG, &config)?;
    let manifest = spec::Manifest {
        schema_version: 2,
        media_type: Some(spec::MANIFEST.to_owned()),
        config,
        layers,
        annotations: BTreeMap::new(),
    };
    let mut desc = layout.put_json(spec::MANIFEST, &manifest)?;
    desc.platform = Some(platform.clone());
    Ok(desc)
}

/// An OCI image layout being written.
pub struct Layout {
    root: PathBuf,
    blobs: PathBuf,
}

impl Layout {
    /// Start a layout in the (empty) folder `root`.
    pub fn create(root: &Path) -> Result<Layout, Error> {
        let blobs = root.join("blobs").join("sha256");
        fs_err::create_dir_all(&blobs).map_err(relkit_core::Error::Io)?;
        Ok(Layout {
            root: root.to_path_buf(),
            blobs,
        })
    }

    /// The path of a blob in this layout.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.blobs.join(hex)
    }

    /// Store a JSON document as a blob.
    pub fn put_json<T: Serialize>(&self, media_type: &str, doc: &T) -> Result<Descriptor, Error> {
        let bytes = spec::to_bytes(doc);
        let hex = relkit_core::hash::hash_reader(&bytes[..], Algo::Sha256, |_| {})
            .map_err(relkit_core::Error::Io)?
            .hex;
        let path = self.blob_path(&hex);
        write_blob(&path, &bytes)?;
        Ok(Descriptor {
            media_type: media_type.to_owned(),
            digest: format!("sha256:{hex}"),
            size: bytes.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        })
    }

    /// Write the binary's layer; returns its descriptor and its diff id.
    fn put_layer(&self, spec: &ImageSpec, binary: &Path) -> Result<(Descriptor, String), Error> {
        let (file, size) = relkit_core::input::open_regular(binary)?;
        drop(file);
        let mut entries: Vec<Entry> = ["usr", "usr/local", BIN_DIR]
            .iter()
            .map(|d| Entry {
                path: format!("{d}/"),
                source: None,
                size: 0,
                executable: true,
            })
            .collect();
        entries.push(Entry {
            path: format!("{BIN_DIR}/{}", spec.name),
            source: Some(binary.to_path_buf()),
            size,
            executable: true,
        });
        let tmp =
            tempfile::NamedTempFile::new_in(&self.blobs).map_err(|e| io_at(&self.blobs, e))?;
        let packed = HashingWriter::new(BufWriter::with_capacity(1 << 20, tmp), Algo::Sha256);
        let progress = relkit_core::progress::bytes(size, "layer");
        let io = |e| io_at(binary, e);
        let (packed, diff) = match spec.compression {
            Compression::Gzip => {
                let mut tar = tar::Builder::new(HashingWriter::new(
                    ParGzEncoder::new(packed, GZIP_LEVEL),
                    Algo::Sha256,
                ));
                append_tar(&mut tar, &entries, spec.epoch, &progress).map_err(io)?;
                let (enc, diff) = tar.into_inner().map_err(io)?.finish().map_err(io)?;
                (enc.finish().map_err(io)?, diff)
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(packed, ZSTD_LEVEL).map_err(io)?;
                enc.include_checksum(true).map_err(io)?;
                enc.include_contentsize(false).map_err(io)?;
                let mut tar = tar::Builder::new(HashingWriter::new(enc, Algo::Sha256));
                append_tar(&mut tar, &entries, spec.epoch, &progress).map_err(io)?;
                let (enc, diff) = tar.into_inner().map_err(io)?.finish().map_err(io)?;
                (enc.finish().map_err(io)?, diff)
            }
        };
        progress.finish_and_clear();
        let (buffered, digest) = packed.finish().map_err(io)?;
        let tmp = buffered
            .into_inner()
            .map_err(|e| io_at(&self.blobs, e.into_error()))?;
        let dest = self.blob_path(&digest.hex);
        persist(tmp, &dest)?;
        let media_type = match spec.compression {
            Compression::Gzip => spec::LAYER_GZIP,
            Compression::Zstd => spec::LAYER_ZSTD,
        };
        Ok((
            descriptor(media_type, &digest),
            format!("sha256:{}", diff.hex),
        ))
    }

    /// Write `oci-layout` and `index.json` naming `top`.
    fn finish(&self, top: &Descriptor) -> Result<(), Error> {
        let layout = spec::LayoutFile {
            image_layout_version: "1.0.0".to_owned(),
        };
        write_blob(&self.root.join("oci-layout"), &spec::to_bytes(&layout))?;
        let index = spec::Index {
            schema_version: 2,
            media_type: Some(spec::INDEX.to_owned()),
            manifests: vec![top.clone()],
            annotations: BTreeMap::new(),
        };
        write_blob(&self.root.join("index.json"), &spec::to_bytes(&index))
    }
}

/// A descriptor for a blob of `media_type` with `digest`.
pub fn descriptor(media_type: &str, digest: &Digest) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: format!("sha256:{}", digest.hex),
        size: digest.size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

fn write_blob(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().expect("blobs have a folder");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_at(dir, e))?;
    tmp.write_all(bytes).map_err(|e| io_at(path, e))?;
    persist(tmp, path)
}

/// Rename a finished temp file into place, readable by everyone (a layout
/// is read by other tools and other users; the mode does not touch digests).
fn persist(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| io_at(dest, e))?;
    tmp.persist(dest).map_err(|e| io_at(dest, e.error))?;
    Ok(())
}

/// Put the finished layout `tmp` at `out`, replacing an earlier layout
/// there; anything else at `out` is refused rather than deleted.
fn replace_dir(tmp: tempfile::TempDir, out: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(relkit_core::Error::Io)?;
    for d in ["blobs", "blobs/sha256"] {
        fs_err::set_permissions(tmp.path().join(d), std::fs::Permissions::from_mode(0o755))
            .map_err(relkit_core::Error::Io)?;
    }
    if out.exists() {
        let is_layout = out.join("oci-layout").is_file();
        let is_empty = out.is_dir()
            && fs_err::read_dir(out)
                .map_err(relkit_core::Error::Io)?
                .next()
                .is_none();
        if !is_layout && !is_empty {
            return Err(relkit_core::Error::invalid(
                "--out",
                format!(
                    "`{}` exists and is not an OCI image layout; refusing to replace it",
                    out.display()
                ),
            )
            .into());
        }
        let old = tmp.path().with_extension("old");
        let _pause = relkit_core::cleanup::pause();
        fs_err::rename(out, &old).map_err(relkit_core::Error::Io)?;
        fs_err::rename(tmp.keep(), out).map_err(relkit_core::Error::Io)?;
        fs_err::remove_dir_all(&old).map_err(relkit_core::Error::Io)?;
    } else {
        let _pause = relkit_core::cleanup::pause();
        fs_err::rename(tmp.keep(), out).map_err(relkit_core::Error::Io)?;
    }
    Ok(())
}

//! `relkit image save`: one platform's image of a layout as a tarball that
//! `docker load` reads, in the form `docker save` writes since Docker 25:
//! an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) plus
//! Docker's `manifest.json` (`Config`, `RepoTags`, `Layers`), so older
//! Docker, podman and skopeo (`docker-archive:` and `oci-archive:`) read it
//! too. Byte-reproducible: entries sorted, owner 0, mode 0644, the mtime
//! given; blobs are streamed from the layout, not re-compressed.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
use crate::push::read_layout;
use crate::spec::{self, Descriptor};

/// One entry of Docker's `manifest.json`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry<'a> {
    config: String,
    repo_tags: Vec<&'a str>,
    layers: Vec<String>,
}

fn blob_name(desc: &Descriptor) -> Result<String, Error> {
    spec::sha256_hex(&desc.digest)
        .map(|hex| format!("blobs/sha256/{hex}"))
        .ok_or_else(|| Error::Internal(format!("`{}` is not a sha256 digest", desc.digest)))
}

/// Write the `platform` image (`linux/amd64`) of the layout at `layout` to
/// `out` (atomically), tagged `repo_tag` (`ghcr.io/me/tool:v1.2.3`), with
/// every entry's mtime `epoch`. Returns the image manifest's digest.
pub fn save(
    layout: &Path,
    platform: &str,
    repo_tag: &str,
    epoch: i64,
    out: &Path,
) -> Result<String, Error> {
    let read = read_layout(layout)?;
    let (desc, bytes) = read
        .manifests
        .iter()
        .find(|(d, _)| d.platform.as_ref().is_some_and(|p| p.name() == platform))
        .ok_or_else(|| {
            let have: Vec<String> = read
                .manifests
                .iter()
                .filter_map(|(d, _)| d.platform.as_ref().map(spec::Platform::name))
                .collect();
            relkit_core::Error::invalid(
                "--platform",
                format!("the layout has no `{platform}` image (it has {have:?})"),
            )
        })?;
    let manifest: spec::Manifest = serde_json::from_slice(bytes)
        .map_err(|e| Error::Internal(format!("image manifest: {e}")))?;
    let tag = repo_tag.rsplit_once(':').map_or("latest", |(_, t)| t);
    let mut top = desc.clone();
    top.annotations = BTreeMap::from([
        ("io.containerd.image.name".to_owned(), repo_tag.to_owned()),
        (spec::REF_NAME.to_owned(), tag.to_owned()),
    ]);
    let index = spec::Index {
        schema_version: 2,
        media_type: Some(spec::INDEX.to_owned()),
        manifests: vec![top],
        annotations: BTreeMap::new(),
    };
    let docker = [DockerEntry {
        config: blob_name(&manifest.config)?,
        repo_tags: vec![repo_tag],
        layers: manifest
            .layers
            .iter()
            .map(blob_name)
            .collect::<Result<_, _>>()?,
    }];
    // Every file of the tarball: path → where its bytes come from.
    let mut files: BTreeMap<String, Source> = BTreeMap::new();
    for d in std::iter::once(desc)
        .chain(std::iter::once(&manifest.config))
        .chain(&manifest.layers)
    {
        let name = blob_name(d)?;
        files.insert(name.clone(), Source::File(layout.join(&name)));
    }
    files.insert("index.json".into(), Source::Bytes(spec::to_bytes(&index)));
    files.insert(
        "manifest.json".into(),
        Source::Bytes(serde_json::to_vec(&docker).expect("serialisable")),
    );
    files.insert(
        "oci-layout".into(),
        Source::Bytes(spec::to_bytes(&spec::LayoutFile {
            image_layout_version: "1.0.0".to_owned(),
        })),
    );
    write_tar(&files, epoch, out)?;
    Ok(desc.digest.clone())
}

enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

fn write_tar(files: &BTreeMap<String, Source>, epoch: i64, out: &Path) -> Result<(), Error> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |p: &Path, e: std::io::Error| {
        relkit_core::Error::Io(std::io::Error::new(
            e.kind(),
            format!("`{}`: {e}", p.display()),
        ))
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, tmp));
    tar.mode(tar::HeaderMode::Deterministic);
    let mtime = u64::try_from(epoch).unwrap_or(0);
    for (name, source) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        match source {
            Source::File(p) => {
                let f = fs_err::File::open(p).map_err(relkit_core::Error::Io)?;
                let len = f.metadata().map_err(relkit_core::Error::Io)?.len();
                h.set_size(len);
                tar.append_data(&mut h, name, f).map_err(|e| io(p, e))?;
            }
            Source::Bytes(b) => {
                h.set_size(b.len() as u64);
                tar.append_data(&mut h, name, b.as_slice())
                    .map_err(|e| io(out, e))?;
            }
        }
    }
    let mut buf = tar.into_inner().map_err(|e| io(out, e))?;
    buf.flush().map_err(|e| io(out, e))?;
    let tmp = buf.into_inner().map_err(|e| io(out, e.into_error()))?;
    // A release file: readable by all, whatever the umask.
    fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(relkit_core::Error::Io)?;
    tmp.persist(out).map_err(|e| io(out, e.error))?;
    Ok(())
}

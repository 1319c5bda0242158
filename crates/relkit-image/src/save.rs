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

/// `REPOSITORY:TAG` in the forms `docker save` writes them (Docker 25,
/// moby `image/tarexport/save.go`): the index annotation
/// `io.containerd.image.name` holds the fully qualified name
/// (`docker.io/library/app:1.0`), `org.opencontainers.image.ref.name` the
/// tag alone, and `RepoTags` the familiar form (`app:1.0`); names on any
/// other registry are the same in all of them.
#[derive(Debug, PartialEq, Eq)]
struct DockerName {
    full: String,
    familiar: String,
    tag: String,
}

impl DockerName {
    fn parse(repo_tag: &str) -> Result<DockerName, Error> {
        let bad = || -> Error {
            relkit_core::Error::invalid(
                "--tag",
                format!(
                    "`{repo_tag}` is not REPOSITORY:TAG (a lower-case repository, a tag of letters, digits and `._-`)"
                ),
            )
            .into()
        };
        let (repo, tag) = repo_tag.rsplit_once(':').ok_or_else(bad)?;
        if repo.contains('@') || !crate::registry::valid_tag(tag) {
            return Err(bad());
        }
        let image = crate::registry::ImageRef::parse(repo).map_err(|_| bad())?;
        let full = format!("{}/{}:{tag}", image.registry, image.repository);
        let familiar = if image.registry == "docker.io" {
            let path = image.repository.as_str();
            let path = path
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(path);
            format!("{path}:{tag}")
        } else {
            full.clone()
        };
        Ok(DockerName {
            full,
            familiar,
            tag: tag.to_owned(),
        })
    }
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
    let name = DockerName::parse(repo_tag)?;
    let mut top = desc.clone();
    top.annotations = BTreeMap::from([
        ("io.containerd.image.name".to_owned(), name.full),
        (spec::REF_NAME.to_owned(), name.tag),
    ]);
    let index = spec::Index {
        schema_version: 2,
        media_type: Some(spec::INDEX.to_owned()),
        manifests: vec![top],
        annotations: BTreeMap::new(),
    };
    let docker = [DockerEntry {
        config: blob_name(&manifest.config)?,
        repo_tags: vec![&name.familiar],
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use serde_json::{Value, json};

    use super::DockerName;
    use crate::build::{Compression, ImageSpec, Input, build};

    /// The members of a tarball: name → bytes.
    fn members(tarball: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut ar = tar::Archive::new(fs_err::File::open(tarball).unwrap());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            out.insert(name, bytes);
        }
        out
    }

    // Docker 25's `docker save` layout (moby image/tarexport/save.go, and
    // load.go, which reads manifest.json, follows Config and Layers as
    // paths in the tarball and decompresses each layer): index.json names
    // the image manifest with its platform, the qualified name and the
    // tag; manifest.json's Config and Layers are blobs of the tarball,
    // RepoTags the familiar name. skopeo reading it is in tests/it.
    #[test]
    fn the_tarball_has_docker_saves_layout() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        fs_err::write(&bin, b"#!/bin/sh\necho tool\n").unwrap();
        let spec = ImageSpec {
            name: "tool".into(),
            user: "65532:65532".into(),
            workdir: "/".into(),
            env: Vec::new(),
            ports: Vec::new(),
            cmd: Vec::new(),
            entrypoint: Vec::new(),
            labels: BTreeMap::new(),
            compression: Compression::Gzip,
            epoch: 1_700_000_000,
        };
        let inputs: Vec<Input> = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
            .iter()
            .map(|t| Input {
                target: t.parse().unwrap(),
                binary: bin.clone(),
            })
            .collect();
        let layout = dir.path().join("layout");
        let built = build(&layout, "1.0.0", &spec, &inputs, None).unwrap();
        for (repo_tag, full, familiar) in [
            (
                "ghcr.io/me/tool:v1.0.0",
                "ghcr.io/me/tool:v1.0.0",
                "ghcr.io/me/tool:v1.0.0",
            ),
            ("tool:1.0.0", "docker.io/library/tool:1.0.0", "tool:1.0.0"),
        ] {
            let out = dir.path().join("tool.tar");
            let digest =
                super::save(&layout, "linux/arm64", repo_tag, 1_700_000_000, &out).unwrap();
            assert_eq!(digest, built.platforms["linux/arm64"]);
            let m = members(&out);
            let doc = |name: &str| -> Value { serde_json::from_slice(&m[name]).unwrap() };
            assert_eq!(doc("oci-layout"), json!({"imageLayoutVersion": "1.0.0"}));
            let index = doc("index.json");
            assert_eq!(index["mediaType"], crate::spec::INDEX);
            let [top] = index["manifests"].as_array().unwrap().as_slice() else {
                panic!("one image in {index}");
            };
            assert_eq!(top["digest"], digest.as_str());
            assert_eq!(
                top["platform"],
                json!({"architecture": "arm64", "os": "linux"})
            );
            assert_eq!(
                top["annotations"],
                json!({"io.containerd.image.name": full, "org.opencontainers.image.ref.name": repo_tag.rsplit_once(':').unwrap().1})
            );
            let manifest = doc(&format!("blobs/sha256/{}", &digest[7..]));
            let path = |d: &Value| format!("blobs/sha256/{}", &d["digest"].as_str().unwrap()[7..]);
            let layers: Vec<String> = manifest["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(path)
                .collect();
            assert_eq!(
                doc("manifest.json"),
                json!([{"Config": path(&manifest["config"]), "RepoTags": [familiar], "Layers": layers}])
            );
            // Exactly the layout, the two documents and the image's blobs.
            let mut want: Vec<String> = layers.clone();
            want.extend([
                path(&manifest["config"]),
                format!("blobs/sha256/{}", &digest[7..]),
            ]);
            want.extend(["index.json", "manifest.json", "oci-layout"].map(String::from));
            want.sort();
            assert_eq!(m.keys().cloned().collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn names_take_the_forms_docker_save_writes() {
        let n = |s: &str| {
            DockerName::parse(s)
                .ok()
                .map(|d| (d.full, d.familiar, d.tag))
        };
        let owned = |a: &str, b: &str, c: &str| Some((a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(
            n("ghcr.io/me/tool:v1.2.3"),
            owned("ghcr.io/me/tool:v1.2.3", "ghcr.io/me/tool:v1.2.3", "v1.2.3")
        );
        assert_eq!(
            n("tool:1.0"),
            owned("docker.io/library/tool:1.0", "tool:1.0", "1.0")
        );
        assert_eq!(
            n("me/tool:1.0"),
            owned("docker.io/me/tool:1.0", "me/tool:1.0", "1.0")
        );
        assert_eq!(
            n("docker.io/library/tool:1.0"),
            owned("docker.io/library/tool:1.0", "tool:1.0", "1.0")
        );
        assert_eq!(
            n("localhost:5000/tool:1"),
            owned("localhost:5000/tool:1", "localhost:5000/tool:1", "1")
        );
        for bad in [
            "tool",
            "ghcr.io/Me/tool:1",
            "ghcr.io/me/tool:",
            "ghcr.io/me/tool@sha256:00:1",
            ":1",
            "localhost:5000/tool",
        ] {
            assert!(n(bad).is_none(), "{bad}");
        }
    }
}

//! `[image]` in relkit.toml: a multi-platform container image built by
//! finalize from the Linux binaries inside the release's archives (one
//! image per Linux target under one OCI image index), recorded by digest
//! in manifest.json, and pushed after the release is published.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[image]`: where the image goes and how it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Image {
    /// Registry host [default: `ghcr.io`].
    #[serde(default = "default_registry")]
    pub registry: String,
    /// Repository on the registry, `owner/name` [default: $GITHUB_REPOSITORY,
    /// lower-cased; required outside GitHub Actions].
    pub repository: Option<String>,
    /// Which of `binaries` the image runs [default: the first].
    pub binary: Option<String>,
    /// Linux targets to make images for [default: every Linux target of
    /// the release].
    pub platforms: Option<Vec<String>>,
    /// `scratch` (for static binaries) or `REGISTRY/REPO@sha256:DIGEST`.
    #[serde(default = "default_base")]
    pub base: String,
    /// Refuse a base named by tag only [default: true: a tag can move, and
    /// then the same release no longer builds the same image].
    #[serde(default = "yes")]
    pub require_digest: bool,
    /// `UID:GID` the process runs as [default: `65532:65532`, non-root].
    #[serde(default = "default_user")]
    pub user: String,
    /// Entrypoint [default: `["/usr/local/bin/BINARY"]`].
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// Default arguments after the entrypoint.
    #[serde(default)]
    pub args: Vec<String>,
    /// Working directory [default: `/`].
    #[serde(default = "default_workdir")]
    pub workdir: String,
    /// Environment of the process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Exposed ports: `8080`, `53/udp`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// More labels; they may override the `org.opencontainers.image.*` ones.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Label `org.opencontainers.image.source` [default: the GitHub
    /// repository's URL in Actions].
    pub source: Option<String>,
    /// Label `org.opencontainers.image.licenses` (SPDX).
    pub licenses: Option<String>,
    /// Tags set on the index when pushed; `{version}`, `{major}`, `{minor}`,
    /// `{patch}` and `{tag}` are replaced. A prerelease gets only the tags
    /// that name its full version [default: `["{tag}", "{major}.{minor}",
    /// "latest"]`].
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// Push after publishing (`relkit image push --release DIR`)
    /// [default: true]; false builds and records the image only.
    #[serde(default = "yes")]
    pub push: bool,
    /// Layer compression: `gzip` or `zstd` [default: `gzip`].
    #[serde(default)]
    pub compression: ImageCompression,
    /// Also write each platform's image as a `docker load` tarball,
    /// `NAME-VERSION-OS-ARCH.image.tar`, a release file [default: false].
    #[serde(default)]
    pub docker_archive: bool,
    /// CA certificates (PEM) to trust for the base image's registry.
    pub ca_file: Option<PathBuf>,
}

/// Layer compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageCompression {
    /// gzip, the same deterministic deflate as the archives.
    #[default]
    Gzip,
    /// zstd.
    Zstd,
}

fn default_registry() -> String {
    "ghcr.io".to_owned()
}

fn default_base() -> String {
    "scratch".to_owned()
}

fn default_user() -> String {
    "65532:65532".to_owned()
}

fn default_workdir() -> String {
    "/".to_owned()
}

fn default_tags() -> Vec<String> {
    ["{tag}", "{major}.{minor}", "latest"]
        .map(str::to_owned)
        .to_vec()
}

fn yes() -> bool {
    true
}

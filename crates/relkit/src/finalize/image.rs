//! The image stage: relkit.toml's `[image]` becomes an OCI image layout
//! (`.relkit/image` in the output folder) holding one image per Linux
//! target, built from the binaries read back out of the release's archives
//! (so the image ships exactly the packaged, checksummed bytes), and the
//! digests go into manifest.json and the release notes.
//!
//! Nothing is pushed here: finalize runs before the release is published,
//! and a registry tag must never point at a release that failed to
//! publish. `relkit image push --release DIR` pushes the recorded image
//! after publishing (release.yml's publish job does).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use relkit_core::Error as CoreError;
use relkit_core::atomic;
use relkit_core::manifest::Image;
use relkit_core::target::Target;
use relkit_core::version::Version;
use relkit_image::build::Compression;

use super::stages::Stage;
use super::{Context, extract};
use crate::Error;
use crate::config::{ImageCompression, ImageConfig};

/// The release notes' image section, appended by `write_notes`.
pub const IMAGE_NOTES: &str = ".relkit/image.md";

/// The multi-platform image of the release's Linux binaries.
pub(super) struct Images;

impl Stage for Images {
    fn name(&self) -> &'static str {
        "image"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.image.is_some()
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let cfg = cx.config.image.clone().expect("enabled only with [image]");
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let repository = repository(&cfg, &env)?;
        let binary = cfg
            .binary
            .clone()
            .or_else(|| cx.config.binaries.first().cloned())
            .ok_or_else(|| {
                CoreError::invalid("image.binary", "names no binary to put in the image")
            })?;
        let tags = tags(&cfg.tags, &cx.release.version, &cx.release.tag)?;
        let scratch = tempfile::tempdir().map_err(CoreError::from)?;
        let binaries = linux_binaries(cx, &cfg, &binary, scratch.path())?;
        let args = build_args(cx, &cfg, &binary, &binaries, &env);
        let built = relkit_image::build_layout(&args, cx.release.epoch, &|k| env(k))
            .map_err(|e| Error::Image(Box::new(e)))?;
        let image = Image {
            repository,
            index_digest: built.index,
            platforms: built.platforms,
            tags,
        };
        if cfg.docker_archive {
            docker_archives(cx, &image, &built.targets)?;
        }
        if !cfg.push {
            atomic::write_file(&cx.dir.join(relkit_image::release::NO_PUSH), b"")?;
        }
        atomic::write_file(
            &cx.dir.join(IMAGE_NOTES),
            notes(&image, cfg.push).as_bytes(),
        )?;
        cx.manifest.images = vec![image];
        Ok(())
    }
}

/// `[image]` settings from flags or the environment (release.yml's
/// inputs), over relkit.toml's; any of them makes an `[image]` table when
/// relkit.toml has none. Empty values are ignored.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImageArgs {
    /// Image registry host [default: relkit.toml's `image.registry`, else ghcr.io].
    #[arg(long, value_name = "HOST", env = "RELKIT_IMAGE_REGISTRY")]
    pub image_registry: Option<String>,
    /// Image repository, `owner/name` [default: relkit.toml's, else $GITHUB_REPOSITORY].
    #[arg(long, value_name = "OWNER/NAME", env = "RELKIT_IMAGE_NAME")]
    pub image_name: Option<String>,
    /// Linux targets to make images for, separated by commas, spaces or newlines.
    #[arg(long, value_name = "TARGETS", env = "RELKIT_IMAGE_PLATFORMS")]
    pub image_platforms: Option<String>,
    /// Base image: `scratch` or `REGISTRY/REPO@sha256:DIGEST`.
    #[arg(long, value_name = "REF", env = "RELKIT_IMAGE_BASE")]
    pub image_base: Option<String>,
    /// Tag templates, separated by commas, spaces or newlines.
    #[arg(long, value_name = "TAGS", env = "RELKIT_IMAGE_TAGS")]
    pub image_tags: Option<String>,
    /// More labels, one `KEY=VALUE` per line.
    #[arg(long, value_name = "LINES", env = "RELKIT_IMAGE_LABELS")]
    pub image_labels: Option<String>,
    /// Whether the image is to be pushed after publishing (`true`/`false`).
    #[arg(long, value_name = "BOOL", env = "RELKIT_IMAGE_PUSH")]
    pub image_push: Option<String>,
}

fn list(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ImageArgs {
    /// Apply the overrides to relkit.toml's `[image]`.
    pub fn apply(&self, config: &mut crate::config::Config) -> Result<(), Error> {
        let set = |o: &Option<String>| o.clone().filter(|v| !v.trim().is_empty());
        let fields = [
            &self.image_registry,
            &self.image_name,
            &self.image_platforms,
            &self.image_base,
            &self.image_tags,
            &self.image_labels,
            &self.image_push,
        ];
        if fields.iter().all(|f| set(f).is_none()) {
            return Ok(());
        }
        let image = match &mut config.image {
            Some(i) => i,
            None => config.image.insert(
                toml::from_str("")
                    .map_err(|e| Error::Internal(format!("[image] defaults: {e}")))?,
            ),
        };
        if let Some(v) = set(&self.image_registry) {
            v.trim().clone_into(&mut image.registry);
        }
        if let Some(v) = set(&self.image_name) {
            image.repository = Some(v.trim().to_owned());
        }
        if let Some(v) = set(&self.image_platforms) {
            image.platforms = Some(list(&v));
        }
        if let Some(v) = set(&self.image_base) {
            v.trim().clone_into(&mut image.base);
        }
        if let Some(v) = set(&self.image_tags) {
            image.tags = list(&v);
        }
        if let Some(v) = set(&self.image_labels) {
            for line in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (k, val) = line
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        CoreError::invalid("--image-labels", format!("`{line}` is not KEY=VALUE"))
                    })?;
                image.labels.insert(k.trim().to_owned(), val.to_owned());
            }
        }
        if let Some(v) = set(&self.image_push) {
            image.push = match v.trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(CoreError::invalid(
                        "--image-push",
                        format!("`{other}` is not true or false"),
                    )
                    .into());
                }
            };
        }
        Ok(())
    }
}

/// The image files a previous finalize left in `out` (the layout, the
/// notes section, the no-push mark): removed before the new ones move in,
/// so a stale blob or mark never outlives its release.
pub(crate) fn previous_files(out: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = fs_err::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&p, files),
                Ok(_) => files.push(p),
                Err(_) => {}
            }
        }
    }
    let mut files = Vec::new();
    walk(&out.join(relkit_image::release::LAYOUT), &mut files);
    for f in [relkit_image::release::NO_PUSH, IMAGE_NOTES] {
        let p = out.join(f);
        if p.is_file() {
            files.push(p);
        }
    }
    files
}

/// Remove [`previous_files`].
pub(crate) fn clear_previous(out: &Path) -> Result<(), Error> {
    for f in previous_files(out) {
        fs_err::remove_file(&f).map_err(CoreError::from)?;
    }
    Ok(())
}

/// One `docker load` tarball per platform, listed as release files of its
/// target: `NAME-VERSION-OS-ARCH.image.tar`, named `REPOSITORY:VERSION`.
fn docker_archives(
    cx: &mut Context<'_>,
    image: &Image,
    targets: &std::collections::BTreeMap<String, String>,
) -> Result<(), Error> {
    let layout = cx.dir.join(relkit_image::release::LAYOUT);
    let version = cx.release.version.to_string().replace('+', "_");
    let repo_tag = format!("{}:{version}", image.repository);
    for (target, platform) in targets {
        let file = format!(
            "{}-{}-{}.image.tar",
            cx.release.name,
            cx.release.version,
            platform.replace('/', "-")
        );
        let path = cx.dir.join(&file);
        relkit_image::save::save(&layout, platform, &repo_tag, cx.release.epoch, &path)
            .map_err(|e| Error::Image(Box::new(e)))?;
        cx.add_files(&[path])?;
        if let Some(m) = cx.manifest.artifacts.iter_mut().find(|m| m.file == file) {
            m.target = Some(target.clone());
        }
    }
    Ok(())
}

/// `REGISTRY/REPOSITORY`, the repository defaulting to $GITHUB_REPOSITORY.
fn repository(cfg: &ImageConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
    let repo = cfg
        .repository
        .clone()
        .or_else(|| env("GITHUB_REPOSITORY").map(|r| r.to_ascii_lowercase()))
        .ok_or_else(|| {
            CoreError::invalid("image.repository", "is required outside GitHub Actions")
        })?;
    let full = format!("{}/{repo}", cfg.registry.trim_end_matches('/'));
    relkit_image::registry::ImageRef::parse(&full).map_err(|e| {
        CoreError::invalid(
            "image.repository",
            format!("`{full}` is not REGISTRY/REPOSITORY: {e}"),
        )
    })?;
    Ok(full)
}

/// The configured tags with `{version}`, `{major}`, `{minor}`, `{patch}`
/// and `{tag}` filled in. A prerelease keeps only the tags that name its
/// full version, so `1.3.0-rc.1` never moves `latest` or `1.3`.
pub(crate) fn tags(
    templates: &[String],
    version: &Version,
    tag: &str,
) -> Result<Vec<String>, Error> {
    let v = version.semver();
    // Build metadata (`+build.5`) is not allowed in a tag; `_` is the usual stand-in.
    let full = version.to_string().replace('+', "_");
    let mut out: Vec<String> = Vec::new();
    for t in templates {
        if version.is_prerelease() && !(t.contains("{version}") || t.contains("{tag}")) {
            continue;
        }
        let filled = t
            .replace("{version}", &full)
            .replace("{tag}", &tag.replace('+', "_"))
            .replace("{major}", &v.major.to_string())
            .replace("{minor}", &v.minor.to_string())
            .replace("{patch}", &v.patch.to_string());
        if !relkit_image::registry::valid_tag(&filled) {
            return Err(CoreError::invalid(
                "image.tags",
                format!("`{t}` gives `{filled}`, which is not a valid image tag"),
            )
            .into());
        }
        if !out.contains(&filled) {
            out.push(filled);
        }
    }
    Ok(out)
}

/// The image's binary from each Linux archive (or from the targets
/// `image.platforms` names), extracted and checked against its recorded sha256.
fn linux_binaries(
    cx: &Context<'_>,
    cfg: &ImageConfig,
    binary: &str,
    scratch: &Path,
) -> Result<Vec<(String, PathBuf)>, Error> {
    let all = extract::binaries_named(&cx.manifest, cx.dir, binary, scratch)?;
    let linux: Vec<(String, PathBuf)> = all
        .into_iter()
        .filter(|(t, _)| Target::parse(t).is_ok_and(|t| t.os() == "linux"))
        .collect();
    let chosen: Vec<(String, PathBuf)> = match &cfg.platforms {
        None => linux,
        Some(wanted) => {
            let mut chosen = Vec::new();
            for w in wanted {
                let want = Target::parse(w)?;
                if want.os() != "linux" {
                    return Err(CoreError::invalid(
                        "image.platforms",
                        format!("`{w}` is not a Linux target"),
                    )
                    .into());
                }
                let found = linux
                    .iter()
                    .find(|(t, _)| Target::parse(t).is_ok_and(|t| t.name() == want.name()))
                    .ok_or_else(|| {
                        CoreError::invalid(
                            "image.platforms",
                            format!("no archive of the release holds `{binary}` for `{w}`"),
                        )
                    })?;
                chosen.push(found.clone());
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(CoreError::invalid(
            "image",
            format!("the release has no Linux archive holding `{binary}` to build an image from"),
        )
        .into());
    }
    Ok(chosen)
}

/// relkit-image's build arguments for this release.
fn build_args(
    cx: &Context<'_>,
    cfg: &ImageConfig,
    binary: &str,
    binaries: &[(String, PathBuf)],
    env: &dyn Fn(&str) -> Option<String>,
) -> relkit_image::BuildArgs {
    let source = cfg.source.clone().or_else(|| {
        let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_owned());
        env("GITHUB_REPOSITORY").map(|r| format!("{server}/{r}"))
    });
    relkit_image::BuildArgs {
        out: cx.dir.join(relkit_image::release::LAYOUT),
        binaries: binaries
            .iter()
            .map(|(t, p)| format!("{t}={}", p.display()))
            .collect(),
        name: Some(binary.to_owned()),
        version: cx.release.version.to_string(),
        source,
        revision: None,
        licenses: cfg.licenses.clone(),
        labels: cfg.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        env: cfg.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        ports: cfg.ports.clone(),
        entrypoint: cfg.entrypoint.clone(),
        cmd: cfg.args.clone(),
        user: cfg.user.clone(),
        workdir: cfg.workdir.clone(),
        compression: match cfg.compression {
            ImageCompression::Gzip => Compression::Gzip,
            ImageCompression::Zstd => Compression::Zstd,
        },
        base: cfg.base.clone(),
        require_digest: cfg.require_digest,
        base_username: env("RELKIT_BASE_USERNAME"),
        base_password_env: "RELKIT_BASE_PASSWORD".to_owned(),
        ca_file: cfg.ca_file.clone(),
        plain_http: false,
    }
}

/// The release notes' section: pull by digest, every platform's digest.
fn notes(image: &Image, push: bool) -> String {
    let pull = if push {
        format!(
            "```sh\ndocker pull {}@{}\n```\n\n",
            image.repository, image.index_digest
        )
    } else {
        String::new()
    };
    let tags: Vec<String> = image.tags.iter().map(|t| format!("`{t}`")).collect();
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!(", tags {}", tags.join(", "))
    };
    let mut rows = String::new();
    for (platform, digest) in &image.platforms {
        // Writing to a String cannot fail.
        let _ = writeln!(rows, "| {platform} | `{digest}` |");
    }
    format!(
        "## Container image\n\n{pull}`{}` (image index `{}`{tags}):\n\n| platform | image digest |\n|---|---|\n{rows}",
        image.repository, image.index_digest
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(templates: &[&str], v: &str) -> Result<Vec<String>, Error> {
        let version = Version::parse("--version", v).unwrap();
        let templates: Vec<String> = templates.iter().map(|s| (*s).to_owned()).collect();
        tags(&templates, &version, &version.tag())
    }

    #[test]
    fn tags_fill_templates_and_spare_latest_on_prereleases() {
        let d = ["{tag}", "{major}.{minor}", "latest"];
        assert_eq!(t(&d, "1.2.3").unwrap(), ["v1.2.3", "1.2", "latest"]);
        assert_eq!(t(&d, "1.3.0-rc.1").unwrap(), ["v1.3.0-rc.1"]);
        assert_eq!(
            t(&["{version}", "{major}", "{major}"], "2.0.0+b.5").unwrap(),
            ["2.0.0_b.5", "2"]
        );
        let e = t(&["v {version}"], "1.0.0").unwrap_err().to_string();
        assert!(e.contains("image.tags") && e.contains("`v 1.0.0`"), "{e}");
    }

    #[test]
    fn workflow_inputs_make_or_override_the_image_table() {
        let mut config = crate::config::Config::default();
        ImageArgs::default().apply(&mut config).unwrap();
        assert!(config.image.is_none(), "no input, no image");
        let args = ImageArgs {
            image_name: Some("acme/tool".into()),
            image_platforms: Some("x86_64-unknown-linux-musl,\naarch64-unknown-linux-musl".into()),
            image_tags: Some("{tag} latest".into()),
            image_labels: Some("a=1\n\nb=x=y\n".into()),
            image_push: Some("false".into()),
            image_base: Some(String::new()),
            ..ImageArgs::default()
        };
        args.apply(&mut config).unwrap();
        let i = config.image.unwrap();
        assert_eq!(i.registry, "ghcr.io");
        assert_eq!(i.repository.as_deref(), Some("acme/tool"));
        assert_eq!(
            i.platforms.unwrap(),
            ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
        );
        assert_eq!(i.tags, ["{tag}", "latest"]);
        assert_eq!(i.labels["b"], "x=y");
        assert!(!i.push);
        assert_eq!(i.base, "scratch", "an empty input keeps the default");
        let bad = ImageArgs {
            image_push: Some("yes".into()),
            ..ImageArgs::default()
        };
        let e = bad
            .apply(&mut crate::config::Config::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--image-push") && e.contains("`yes`"), "{e}");
        let bad = ImageArgs {
            image_labels: Some("novalue".into()),
            ..ImageArgs::default()
        };
        let e = bad
            .apply(&mut crate::config::Config::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--image-labels") && e.contains("`novalue`"),
            "{e}"
        );
    }
}

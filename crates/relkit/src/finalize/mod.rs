//! `relkit finalize`: the second half of every release, written once. It
//! takes the per-target build outputs (archives, sidecars and manifest
//! parts, from one folder or several) and runs the finalize stages in one
//! fixed order:
//!
//! 1. bundles: the Terraform provider bundle, from the binaries inside the
//!    archives (so it holds exactly what was packaged);
//! 2. `SHA256SUMS`: every file whose kind is checksummed (relkit-core's kind table);
//! 3. signatures: every file whose kind is signed, with every configured
//!    signer (minisign, gpg), reusing an already-published signature of an
//!    unchanged file;
//! 4. the manifest: `manifest.json` listing every file, signed, then
//!    verified against the files.
//!
//! `relkit dist` runs the same [`finalize`] after building and packaging;
//! release.yml's finalize job runs `relkit finalize` on the downloaded build
//! artifacts. A new kind of release file is a new [`Stage`] plus a row in
//! the kind table.

mod brew;
mod extract;
pub mod image;
pub mod installer;
mod linux_pkg;
mod recipes;
pub mod repos;
mod sbom;
mod scoop;
mod stages;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use relkit_core::manifest::{Artifact, Manifest, SignatureKind};
use relkit_core::version::Version;
use relkit_core::{Error as CoreError, atomic, buildtime, gha};
use relkit_sign::signer::Signer;

use crate::Error;
use crate::config::{self, Config};

pub use stages::{Stage, stages};

/// Run every finalize stage over per-target build outputs.
#[derive(Debug, Clone, Args)]
pub struct FinalizeArgs {
    /// Config file (`[sign]`, `[provider]`).
    #[arg(long, default_value = config::FILE, env = "RELKIT_CONFIG")]
    pub config: PathBuf,
    /// A folder holding build outputs (archives and `*.part.json`, searched
    /// recursively); repeatable [default: the output folder].
    #[arg(long = "input", value_name = "DIR")]
    pub inputs: Vec<PathBuf>,
    /// Where the release files go [default: relkit.toml's `output-dir`, else dist].
    #[arg(long, short)]
    pub output_dir: Option<PathBuf>,
    /// The release tag [default: from GITHUB_REF, else v + version].
    #[arg(long, env = "RELKIT_TAG")]
    pub tag: Option<String>,
    #[command(flatten)]
    pub provider: ProviderArgs,
    #[command(flatten)]
    pub image: image::ImageArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub repos: repos::RepoArgs,
    #[command(flatten)]
    pub publish: PublishedArgs,
    /// Write this version's section of a Keep a Changelog file as the
    /// release notes (`.relkit/notes.md` in the output folder).
    #[arg(long, value_name = "FILE", env = "RELKIT_CHANGELOG")]
    pub changelog: Option<PathBuf>,
    /// Release notes from this Markdown file (instead of --changelog).
    /// Either way `.relkit/notes.md` ends with how to install and verify.
    #[arg(
        long,
        value_name = "FILE",
        env = "RELKIT_NOTES_FILE",
        conflicts_with = "changelog"
    )]
    pub notes_file: Option<PathBuf>,
    /// Record each stage's duration in the manifest (makes it non-reproducible).
    #[arg(long)]
    pub timings: bool,
}

/// Terraform provider settings that override relkit.toml's `[provider]`.
#[derive(Debug, Clone, Default, Args)]
pub struct ProviderArgs {
    /// Build a Terraform provider bundle for provider type NAME.
    #[arg(long = "provider", value_name = "NAME", env = "RELKIT_PROVIDER")]
    pub name: Option<String>,
    /// The provider's registry namespace [default: relkit.toml, else the repository owner].
    #[arg(
        long = "provider-namespace",
        value_name = "NS",
        env = "RELKIT_PROVIDER_NAMESPACE"
    )]
    pub namespace: Option<String>,
    /// Plugin protocol version [default: relkit.toml, else 6.0].
    #[arg(
        long = "provider-protocol",
        value_name = "V",
        env = "RELKIT_PROVIDER_PROTOCOL"
    )]
    pub protocol: Option<String>,
}

/// Which environment variables hold the minisign key, overriding
/// relkit.toml's `[sign]` (the action passes its `minisign-key` input so).
#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// Environment variable holding the minisign secret key [default:
    /// relkit.toml's `sign.minisign-key-env`, else RELKIT_MINISIGN_KEY].
    #[arg(long, value_name = "NAME")]
    pub minisign_key_env: Option<String>,
    /// Environment variable holding its password [default: relkit.toml's, else RELKIT_MINISIGN_PASSWORD].
    #[arg(long, value_name = "NAME")]
    pub minisign_password_env: Option<String>,
}

impl KeyArgs {
    /// Apply the overrides to relkit.toml's `[sign]`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(k) = &self.minisign_key_env {
            config.sign.minisign_key_env = Some(k.clone());
        }
        if let Some(p) = &self.minisign_password_env {
            config.sign.minisign_password_env = Some(p.clone());
        }
    }
}

/// Where already-published signatures are looked up (GitHub).
#[derive(Debug, Clone, Default, Args)]
pub struct PublishedArgs {
    /// Reuse the signatures the release on GitHub already holds for files
    /// that have not changed, so a re-run uploads nothing (signatures differ
    /// on every signing).
    #[arg(long, env = "RELKIT_KEEP_PUBLISHED")]
    pub keep_published: bool,
    /// Repository as OWNER/NAME [default: $GITHUB_REPOSITORY].
    #[arg(long, value_name = "OWNER/NAME", requires = "keep_published")]
    pub repo: Option<String>,
    /// Environment variable holding the token [default: GITHUB_TOKEN, else GH_TOKEN].
    #[arg(long, value_name = "NAME", requires = "keep_published")]
    pub token_env: Option<String>,
}

/// The release being finalized.
#[derive(Debug, Clone)]
pub struct Release {
    /// Project name.
    pub name: String,
    /// Version.
    pub version: Version,
    /// Tag.
    pub tag: String,
    /// Build time (SOURCE_DATE_EPOCH or the commit time).
    pub epoch: i64,
}

/// Reuses signatures a published release already holds.
pub trait Published {
    /// For each candidate whose signed file is published unchanged together
    /// with its signature, write the published signature to `dest`; return
    /// the names kept.
    fn keep(
        &self,
        candidates: &[relkit_release_upload::KeepCandidate],
    ) -> Result<Vec<String>, Error>;
}

/// A GitHub release, through relkit-release-upload's client.
pub struct GitHubPublished {
    remote: relkit_release_upload::Remote,
    tag: String,
}

impl Published for GitHubPublished {
    fn keep(
        &self,
        candidates: &[relkit_release_upload::KeepCandidate],
    ) -> Result<Vec<String>, Error> {
        relkit_release_upload::keep_published_signatures(&self.remote, &self.tag, candidates)
            .map_err(|e| Error::ReleaseUpload(Box::new(e)))
    }
}

/// What the stages share: the release, the config, the folder being
/// written, and the manifest so far.
pub struct Context<'a> {
    /// The release.
    pub release: &'a Release,
    /// relkit.toml, with flag overrides applied.
    pub config: &'a Config,
    /// The folder every release file is written to.
    pub dir: &'a Path,
    /// Every file so far (paths relative to `dir`).
    pub manifest: Manifest,
    /// The configured signers.
    pub signers: &'a [Box<dyn Signer>],
    /// Published signatures to reuse, when asked.
    pub published: Option<&'a dyn Published>,
    /// Key id of each signature file written.
    pub key_ids: BTreeMap<String, String>,
    /// Step durations to record in the manifest, when asked (`--timings`).
    pub timings: Option<BTreeMap<String, u64>>,
}

impl Context<'_> {
    /// Describe `files` (inside `dir`) and add them.
    pub fn add_files(&mut self, files: &[PathBuf]) -> Result<Vec<Artifact>, Error> {
        let manifest_path = self.dir.join("manifest.json");
        let added = relkit_manifest::describe_files(
            files,
            &manifest_path,
            &self.release.name,
            &self.release.version.to_string(),
        )?;
        self.add(added.clone())?;
        Ok(added)
    }

    /// Add described artifacts; a file listed twice must be the same bytes.
    pub fn add(&mut self, artifacts: Vec<Artifact>) -> Result<(), Error> {
        for a in artifacts {
            if let Some(prev) = self
                .manifest
                .artifacts
                .iter_mut()
                .find(|p| p.file == a.file)
            {
                if prev.sha256 != a.sha256 {
                    return Err(CoreError::invalid(
                        format!("`{}`", a.file),
                        "is written twice with different content",
                    )
                    .into());
                }
                continue;
            }
            self.manifest.artifacts.push(a);
        }
        Ok(())
    }

    /// Merge a manifest part written inside `dir`, then delete the part.
    pub fn add_part(&mut self, part: &Path) -> Result<(), Error> {
        let m = relkit_manifest::merge(
            &[part.to_path_buf()],
            &[],
            &self.dir.join("manifest.json"),
            &relkit_manifest::ReleaseArgs::default(),
        )?;
        for a in &m.artifacts {
            for s in &a.signatures {
                if let Some(id) = &s.key_id {
                    self.key_ids.insert(s.file.clone(), id.clone());
                }
            }
        }
        self.add(m.artifacts)?;
        fs_err::remove_file(part).map_err(CoreError::from)?;
        Ok(())
    }
}

/// Finalize the build outputs already in `dir` (archives, sidecars and the
/// `parts` describing them): run every stage, write `manifest.json` and
/// verify it. Returns the manifest.
pub fn finalize(
    release: &Release,
    config: &Config,
    dir: &Path,
    parts: &[PathBuf],
    published: Option<&dyn Published>,
    timings: Option<BTreeMap<String, u64>>,
) -> Result<Manifest, Error> {
    let signers = signers(config, release.epoch)?;
    let merged = merge_parts(release, dir, parts)?;
    let mut cx = Context {
        release,
        config,
        dir,
        manifest: merged,
        signers: &signers,
        published,
        key_ids: BTreeMap::new(),
        timings,
    };
    for part in parts {
        fs_err::remove_file(part).map_err(CoreError::from)?;
    }
    for stage in stages() {
        if !stage.enabled(&cx) {
            continue;
        }
        let _g = gha::group(stage.name());
        let started = Instant::now();
        stage.run(&mut cx)?;
        if let Some(t) = &mut cx.timings {
            t.insert(
                format!("finalize:{}", stage.name()),
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            );
        }
    }
    write_attestation_subjects(dir, &cx.manifest)?;
    Ok(cx.manifest)
}

/// `.relkit/attest.sha256`: every file that is uploaded (the kind table's
/// rule, plus manifest.json and its signatures), in `sha256sum` format, for
/// `actions/attest-build-provenance`'s `subject-checksums`.
fn write_attestation_subjects(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
    let mut lines: Vec<(String, String)> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind.rules().uploaded)
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    for name in [
        "manifest.json",
        "manifest.json.minisig",
        "manifest.json.sig",
    ] {
        let p = dir.join(name);
        if p.is_file() {
            let d = relkit_core::hash::hash_file(&p, relkit_core::hash::Algo::Sha256, |_| {})?;
            lines.push((name.to_owned(), d.hex));
        }
    }
    lines.sort();
    let text: String = lines
        .iter()
        .map(|(name, sha)| relkit_checksum::format_line(sha, name))
        .collect();
    atomic::write_file(&dir.join(ATTEST_SUBJECTS), text.as_bytes())?;
    Ok(())
}

/// The release-wide SBOM for `actions/attest-sbom`: CycloneDX if written,
/// else SPDX (the SBOM stage names it after the release).
pub fn release_sbom(m: &Manifest) -> Option<&str> {
    sbom::release_files(&m.name, &m.version)
        .into_iter()
        .find_map(|f| m.artifacts.iter().find(|a| a.file == f))
        .map(|a| a.file.as_str())
}

/// Where finalize lists the attestation subjects, relative to the output folder.
pub const ATTEST_SUBJECTS: &str = ".relkit/attest.sha256";
/// Where finalize writes the release notes from `--changelog`.
pub const NOTES: &str = ".relkit/notes.md";

/// `.relkit/notes.md`: the notes (the changelog's section or the notes
/// file), then how to install and verify (the installer stage's snippet).
pub(crate) fn write_notes(dir: &Path, notes: Option<String>) -> Result<(), Error> {
    let install = dir.join(installer::INSTALL_NOTES);
    let snippet = if install.is_file() {
        Some(relkit_core::input::read_text(
            &install,
            relkit_core::input::Limit::NOTES,
        )?)
    } else {
        None
    };
    let mut text = match (notes, snippet) {
        (Some(n), Some(s)) => Some(format!("{}\n\n{s}", n.trim_end())),
        (n, s) => n.or(s),
    };
    let image = dir.join(image::IMAGE_NOTES);
    if image.is_file() {
        let section = relkit_core::input::read_text(&image, relkit_core::input::Limit::NOTES)?;
        text = Some(match text {
            Some(t) => format!("{}\n\n{section}", t.trim_end()),
            None => section,
        });
    }
    if let Some(text) = text {
        atomic::write_file(&dir.join(NOTES), text.as_bytes())?;
    }
    Ok(())
}

/// Read and merge the parts; every part must be for this release.
fn merge_parts(release: &Release, dir: &Path, parts: &[PathBuf]) -> Result<Manifest, Error> {
    if parts.is_empty() {
        return Err(CoreError::invalid(
            "--input",
            format!(
                "`{}` holds no manifest parts (`*.part.json` from `relkit package`)",
                dir.display()
            ),
        )
        .into());
    }
    let args = relkit_manifest::ReleaseArgs {
        tag: Some(release.tag.clone()),
        commit: None,
    };
    let mut m = relkit_manifest::merge(parts, &[], &dir.join("manifest.json"), &args)?;
    let version = release.version.to_string();
    if m.name != release.name || m.version != version {
        return Err(CoreError::invalid(
            "--input",
            format!(
                "the parts are for `{} {}`, not `{} {version}`",
                m.name, m.version, release.name
            ),
        )
        .into());
    }
    m.build_timestamp = buildtime::rfc3339(release.epoch)?;
    Ok(m)
}

/// Every signer relkit.toml configures whose key is present. OpenPGP
/// signatures are made at the build time `epoch`, so they are as
/// reproducible as the files they sign with an RSA or EdDSA key
/// (minisign's are not: the minisign crate mixes random noise into each).
fn signers(config: &Config, epoch: i64) -> Result<Vec<Box<dyn Signer>>, Error> {
    let sign_err = |e| Error::Sign(Box::new(e));
    let mut out: Vec<Box<dyn Signer>> = Vec::new();
    let s = &config.sign;
    let key_env = s
        .minisign_key_env
        .as_deref()
        .unwrap_or(config::MINISIGN_KEY_ENV);
    if std::env::var_os(key_env).is_some_and(|v| !v.is_empty()) {
        let password_env = s
            .minisign_password_env
            .as_deref()
            .or(Some(config::MINISIGN_PASSWORD_ENV))
            .filter(|e| std::env::var_os(e).is_some_and(|v| !v.is_empty()));
        out.push(Box::new(
            relkit_sign::minisig::MinisignSigner::from_env(key_env, password_env)
                .map_err(sign_err)?,
        ));
    } else if s.minisign_key_env.is_some() {
        tracing::warn!(
            "not signing with minisign: `sign.minisign-key-env` names a variable that is not set"
        );
    } else {
        tracing::info!("not signing with minisign: {key_env} is not set");
    }
    if s.gpg_key_id.is_some() || s.gpg_import_key_env.is_some() {
        out.push(Box::new(
            relkit_sign::openpgp::GpgSigner::new(
                s.gpg_key_id.as_deref(),
                s.gpg_passphrase_env.as_deref(),
                s.gpg_import_key_env.as_deref(),
            )
            .and_then(|g| g.at_time(epoch))
            .map_err(sign_err)?,
        ));
    }
    Ok(out)
}

/// The minisign public key of the configured signer, to verify with.
pub fn minisign_public_key(signers: &[Box<dyn Signer>]) -> Option<String> {
    signers
        .iter()
        .find(|s| s.kind() == SignatureKind::Minisign)
        .and_then(|s| s.public_key())
}

/// Find the manifest parts under `dirs` (recursively, sorted).
pub fn find_parts(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
        for e in fs_err::read_dir(dir).map_err(CoreError::from)? {
            let e = e.map_err(CoreError::from)?;
            let p = e.path();
            let ty = e.file_type().map_err(CoreError::from)?;
            if ty.is_dir() {
                if !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    walk(&p, out)?;
                }
            } else if ty.is_file() && p.to_string_lossy().ends_with(".part.json") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            return Err(CoreError::invalid(
                "--input",
                format!("`{}` is not a folder", d.display()),
            )
            .into());
        }
        walk(d, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Run `relkit finalize`.
pub fn run(args: &FinalizeArgs) -> Result<(), Error> {
    let explicit = args.config.as_os_str() != config::FILE;
    let mut config = Config::load(&args.config, explicit)?;
    apply_provider_args(&mut config, &args.provider);
    args.image.apply(&mut config)?;
    args.keys.apply(&mut config);
    args.repos.apply(&mut config)?;
    let out = args
        .output_dir
        .clone()
        .or_else(|| config.output_dir.clone())
        .unwrap_or_else(|| PathBuf::from("dist"));
    let inputs = if args.inputs.is_empty() {
        vec![out.clone()]
    } else {
        args.inputs.clone()
    };
    let parts = find_parts(&inputs)?;
    let first = parts.first().map(|p| Manifest::read(p)).transpose()?;
    let Some(first) = first else {
        return merge_parts_error(&inputs);
    };
    let version = Version::parse("the manifest parts' version", &first.version)?;
    let release = Release {
        name: first.name.clone(),
        tag: crate::version::tag(args.tag.as_deref(), &version)?,
        version,
        epoch: buildtime::build_epoch(Path::new("."))?,
    };
    let notes = match (&args.changelog, &args.notes_file) {
        (Some(path), _) => Some(crate::changelog::section(path, &release.version)?),
        (None, Some(path)) => Some(relkit_core::input::read_text(
            path,
            relkit_core::input::Limit::NOTES,
        )?),
        (None, None) => None,
    };
    let published = if args.publish.keep_published {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let remote = relkit_release_upload::Remote::from_env(
            args.publish.repo.as_deref(),
            args.publish.token_env.as_deref(),
            None,
            &env,
        )
        .map_err(|e| Error::ReleaseUpload(Box::new(e)))?;
        Some(GitHubPublished {
            remote,
            tag: release.tag.clone(),
        })
    } else {
        None
    };

    let mut guard = atomic::Staging::new();
    guard.ensure_dir(&out)?;
    // Registered with relkit-core's cleanup: removed on SIGINT/TERM/HUP too.
    let (staging, _cleanup) =
        relkit_core::cleanup::tempdir_in(&out, ".relkit-finalize-").map_err(|source| {
            CoreError::Unwritable {
                path: out.clone(),
                source,
            }
        })?;
    let stage_dir = staging.path();
    let staged_parts = gather(&parts, stage_dir)?;
    let manifest = finalize(
        &release,
        &config,
        stage_dir,
        &staged_parts,
        published.as_ref().map(|p| p as &dyn Published),
        args.timings.then(BTreeMap::new),
    )?;
    write_notes(stage_dir, notes)?;
    image::clear_previous(&out)?;
    crate::dist::move_into_place(stage_dir, &out)?;
    // The parts are folded into manifest.json; those in the output folder go.
    for p in &parts {
        if p.starts_with(&out) {
            fs_err::remove_file(p).map_err(CoreError::from)?;
        }
    }
    drop(guard.commit());
    crate::dist::report(&manifest, &out)
}

fn merge_parts_error(inputs: &[PathBuf]) -> Result<(), Error> {
    let shown: Vec<String> = inputs
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect();
    Err(CoreError::invalid(
        "--input",
        format!(
            "{} holds no manifest parts (`*.part.json` from `relkit package`)",
            shown.join(", ")
        ),
    )
    .into())
}

fn apply_provider_args(config: &mut Config, p: &ProviderArgs) {
    let Some(name) = p.name.clone().filter(|n| !n.is_empty()) else {
        return;
    };
    // The project may be named after the binary (`terraform-provider-NAME`).
    let name = name
        .strip_prefix("terraform-provider-")
        .map_or(name.clone(), str::to_owned);
    let provider = config.provider.get_or_insert_with(Default::default);
    provider.name = name;
    if let Some(ns) = p.namespace.clone().filter(|n| !n.is_empty()) {
        provider.namespace = Some(ns);
    }
    if let Some(proto) = p.protocol.clone().filter(|n| !n.is_empty()) {
        provider.protocol = Some(proto);
    }
}

/// Link (or copy) every part and the files it lists into `stage`, flat;
/// returns the staged parts. A file two parts list is staged once: the
/// merge refuses parts that disagree about its digest, and the final verify
/// checks the bytes against the manifest.
fn gather(parts: &[PathBuf], stage: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut staged = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let m = Manifest::read(part)?;
        let dir = relkit_manifest::manifest_dir(part);
        for a in &m.artifacts {
            let to = stage.join(&a.file);
            if to.exists() {
                continue;
            }
            if let Some(parent) = to.parent() {
                fs_err::create_dir_all(parent).map_err(CoreError::from)?;
            }
            link_or_copy(&dir.join(&a.file), &to)?;
        }
        // Parts of different jobs may share a name; each is staged apart.
        let to = stage.join(format!(".part-{i}.part.json"));
        link_or_copy(part, &to)?;
        staged.push(to);
    }
    Ok(staged)
}

fn link_or_copy(from: &Path, to: &Path) -> Result<(), Error> {
    if fs_err::hard_link(from, to).is_err() {
        fs_err::copy(from, to).map_err(CoreError::from)?;
    }
    Ok(())
}

//! The package repositories stage. With `[package] repositories`, the
//! release's `.deb` files become a signed APT repository and its `.rpm`
//! files a signed DNF repository, each built from the previously published
//! tree (`--previous-repo DIR`: `DIR/apt`, `DIR/dnf`) plus this release's
//! packages, and each written as ONE release file through relkit-package's
//! deterministic tar.gz writer: `NAME-VERSION-apt-repo.tar.gz` holding
//! `apt/` and `NAME-VERSION-dnf-repo.tar.gz` holding `dnf/`, so extracting
//! both into the hosted folder (a GitHub Pages branch) gives `apt/` and
//! `dnf/`, and that folder is the next release's `--previous-repo`. The
//! OpenPGP public key that signs the repositories and the `.rpm` packages is
//! published beside them as `NAME-VERSION-release-key.asc`. Runs after the
//! Linux packages and before `SHA256SUMS`: every file is checksummed,
//! signed and listed like any other release file.

use std::path::{Path, PathBuf};

use relkit_core::Error as CoreError;
use relkit_core::atomic::Staging;
use relkit_core::manifest::ArtifactKind;
use relkit_core::target::ArchiveFormat;
use relkit_linux_pkg::apt_repo::RepoOptions;
use relkit_package::archive::{self, Entry};
use relkit_sign::openpgp::GpgSigner;

use super::Context;
use super::stages::Stage;
use crate::Error;
use crate::config::{LinuxPackage, PackageFormat, Repository};

/// The repository archives and the release key.
pub(super) struct Repositories;

impl Stage for Repositories {
    fn name(&self) -> &'static str {
        "package repositories"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.package.as_ref().is_some_and(|p| {
            !p.repositories.is_empty()
                || (p.formats.contains(&PackageFormat::Rpm) && signer(cx).is_some())
        })
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let cfg = cx
            .config
            .package
            .clone()
            .expect("enabled only with [package]");
        let mut repos = cfg.repositories.clone();
        repos.sort();
        repos.dedup();
        // Every check before the first file is written.
        let signer = signer(cx);
        if signer.is_none() && !repos.is_empty() {
            return Err(CoreError::invalid(
                "package.repositories",
                "a repository must be signed: set [sign] gpg-key-id or gpg-import-key-env",
            )
            .into());
        }
        let mut inputs = Vec::new();
        for &repo in &repos {
            inputs.push((repo, packages(cx, repo)?, previous_tree(&cfg, repo)?));
        }
        let Some(signer) = signer else {
            return Ok(());
        };
        let (scratch, _guard) = relkit_core::cleanup::tempdir_in(cx.dir, ".relkit-repos-")
            .map_err(|source| CoreError::Unwritable {
                path: cx.dir.to_path_buf(),
                source,
            })?;
        let stem = format!("{}-{}", cx.release.name, cx.release.version);
        let mut written = Vec::new();
        for (repo, packages, previous) in inputs {
            let folder = folder(repo);
            let tree = scratch.path().join(folder);
            fs_err::create_dir(&tree).map_err(CoreError::from)?;
            match repo {
                Repository::Apt => {
                    let opts = RepoOptions {
                        suite: "stable".to_owned(),
                        component: "main".to_owned(),
                        origin: cfg.name.clone().unwrap_or_else(|| cx.release.name.clone()),
                        epoch: cx.release.epoch,
                        keep_older: cfg.repositories_keep_older,
                    };
                    crate::repo::build_apt(signer, &opts, previous.as_deref(), &packages, &tree)?;
                }
                Repository::Dnf => {
                    crate::repo::build_dnf(
                        signer,
                        previous.as_deref(),
                        &packages,
                        &tree,
                        cfg.repositories_keep_older,
                        cx.release.epoch,
                    )?;
                }
            }
            let file = cx.dir.join(format!("{stem}-{folder}-repo.tar.gz"));
            write_tree_archive(&tree, folder, &file, cx.release.epoch)?;
            written.push(file);
        }
        let key = signer
            .public_key_armored()
            .map_err(|e| Error::Sign(Box::new(e)))?;
        let key_file = cx.dir.join(format!("{stem}-release-key.asc"));
        relkit_core::atomic::write_file(&key_file, key.as_bytes())?;
        written.push(key_file);
        drop(scratch);
        cx.add_files(&written)?;
        Ok(())
    }
}

/// The release's OpenPGP signer (`[sign] gpg-…`), if any.
fn signer<'a>(cx: &Context<'a>) -> Option<&'a GpgSigner> {
    cx.signers.iter().find_map(|s| s.openpgp())
}

/// The folder a repository's tree has in its archive and under `--previous-repo`.
fn folder(repo: Repository) -> &'static str {
    match repo {
        Repository::Apt => "apt",
        Repository::Dnf => "dnf",
    }
}

/// This release's packages for `repo`, by path.
fn packages(cx: &Context<'_>, repo: Repository) -> Result<Vec<PathBuf>, Error> {
    let (kind, format, what) = match repo {
        Repository::Apt => (ArtifactKind::DebPackage, "deb", ".deb"),
        Repository::Dnf => (ArtifactKind::RpmPackage, "rpm", ".rpm"),
    };
    let found: Vec<PathBuf> = cx
        .manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == kind && !a.file.contains('/'))
        .map(|a| cx.dir.join(&a.file))
        .collect();
    if found.is_empty() {
        return Err(CoreError::invalid(
            "package.repositories",
            format!(
                "`{}` needs {what} packages: add \"{format}\" to [package] formats",
                folder(repo)
            ),
        )
        .into());
    }
    Ok(found)
}

/// `DIR/apt` or `DIR/dnf` of `--previous-repo DIR`. A repository that
/// has no tree there yet (the release that first turns it on) starts
/// fresh, and says so; a `DIR` that is not a folder is refused.
fn previous_tree(cfg: &LinuxPackage, repo: Repository) -> Result<Option<PathBuf>, Error> {
    let Some(dir) = &cfg.previous_repo else {
        return Ok(None);
    };
    if !dir.is_dir() {
        return Err(CoreError::invalid(
            "--previous-repo",
            format!("`{}` is not a folder", dir.display()),
        )
        .into());
    }
    let tree = dir.join(folder(repo));
    if fs_err::symlink_metadata(&tree).is_err() {
        tracing::warn!(
            "no previous {} repository at `{}`: it starts with this release's packages",
            folder(repo),
            tree.display()
        );
        return Ok(None);
    }
    Ok(Some(tree))
}

/// `tree` as a tar.gz whose one top-level folder is `top`: entries sorted,
/// owner 0, folders 0755 and files 0644, times from `epoch` (relkit-package's
/// archive writer), written atomically.
fn write_tree_archive(tree: &Path, top: &str, dest: &Path, epoch: i64) -> Result<(), Error> {
    let mut entries = vec![Entry {
        path: format!("{top}/"),
        source: None,
        size: 0,
        executable: false,
    }];
    add_entries(tree, top, &mut entries)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let total = entries.iter().map(|e| e.size).sum();
    let bar = relkit_core::progress::bytes(total, "archiving repository");
    let mut staging = Staging::new();
    let tmp = staging.create(dest)?;
    archive::write_archive(
        tmp.as_file_mut(),
        ArchiveFormat::TarGz,
        &entries,
        epoch,
        relkit_package::compress::Compression::default(),
        &bar,
    )
    .map_err(|e| relkit_core::atomic::io_at(dest, e))?;
    bar.finish_and_clear();
    staging.commit()?;
    Ok(())
}

fn add_entries(dir: &Path, prefix: &str, entries: &mut Vec<Entry>) -> Result<(), Error> {
    for e in fs_err::read_dir(dir).map_err(CoreError::from)? {
        let e = e.map_err(CoreError::from)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let meta = fs_err::symlink_metadata(&path).map_err(CoreError::from)?;
        if meta.is_dir() {
            entries.push(Entry {
                path: format!("{prefix}/{name}/"),
                source: None,
                size: 0,
                executable: false,
            });
            add_entries(&path, &format!("{prefix}/{name}"), entries)?;
        } else {
            entries.push(Entry {
                path: format!("{prefix}/{name}"),
                source: Some(path),
                size: meta.len(),
                executable: false,
            });
        }
    }
    Ok(())
}

/// Where the previously published repositories are.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RepoArgs {
    /// The published repositories (`DIR/apt`, `DIR/dnf`, as extracted from
    /// the last release's repository archives) to build this release's on,
    /// keeping their packages [default: start fresh].
    // An empty value (release.yml's env when the option is off) means
    // none; PathBuf's own parser would refuse it.
    #[arg(
        long,
        value_name = "DIR",
        env = "RELKIT_PREVIOUS_REPO",
        value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from)
    )]
    pub previous_repo: Option<PathBuf>,
}

impl RepoArgs {
    /// Hand `--previous-repo` to relkit.toml's `[package]`, which must
    /// publish repositories.
    pub fn apply(&self, config: &mut crate::config::Config) -> Result<(), Error> {
        let Some(dir) = self
            .previous_repo
            .clone()
            .filter(|d| !d.as_os_str().is_empty())
        else {
            return Ok(());
        };
        match config.package.as_mut() {
            Some(p) if !p.repositories.is_empty() => {
                p.previous_repo = Some(dir);
                Ok(())
            }
            _ => Err(CoreError::invalid(
                "--previous-repo",
                "relkit.toml publishes no repository: set [package] repositories = [\"apt\", \"dnf\"]",
            )
            .into()),
        }
    }
}

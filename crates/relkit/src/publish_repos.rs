//! `relkit publish-repos`: put a release's APT and DNF repository trees
//! (the `NAME-VERSION-apt-repo.tar.gz` / `-dnf-repo.tar.gz` release files,
//! each checked against the sha256 `manifest.json` records) into a checkout
//! of the branch that hosts them (a GitHub Pages branch) as `PATH/apt` and
//! `PATH/dnf`, replacing the previous trees, then commit (and with
//! `--push`, push) them. release.yml checks the branch out, hands it to
//! finalize as `--previous-repo`, and calls this after publishing.

use std::path::{Path, PathBuf};

use clap::Args;
use relkit_core::Error as CoreError;
use relkit_core::manifest::{ArtifactKind, Manifest, check_relative};

use crate::{Error, checkout};

/// Most bytes one repository archive may extract to: far above any real
/// tree, low enough that a bad archive cannot fill the runner's disk.
const MAX_TREE_BYTES: u64 = 8 << 30;

/// Commit the release's APT and DNF repository trees to a checkout.
#[derive(Debug, Clone, Args)]
pub struct PublishReposArgs {
    /// The release folder (with manifest.json).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// A git checkout of the branch that hosts the repositories.
    #[arg(long, value_name = "DIR")]
    pub checkout: PathBuf,
    /// The folder inside the checkout that gets `apt/` and `dnf/`.
    #[arg(long, value_name = "SUBDIR", default_value = ".")]
    pub path: String,
    /// Push the commit to the checkout's upstream.
    #[arg(long)]
    pub push: bool,
    /// Env var holding a token for pushing over https (sent as the
    /// `x-access-token` basic-auth user, as GitHub expects).
    #[arg(long, value_name = "VAR", default_value = "RELKIT_REPOS_TOKEN")]
    pub token_env: String,
}

/// Run `relkit publish-repos`.
pub fn run(args: &PublishReposArgs) -> Result<(), Error> {
    // Every check before the checkout is touched.
    let manifest = Manifest::read(&args.dist.join("manifest.json"))?;
    let mut archives = Vec::new();
    for (kind, top) in [
        (ArtifactKind::AptRepository, "apt"),
        (ArtifactKind::DnfRepository, "dnf"),
    ] {
        for a in manifest
            .artifacts
            .iter()
            .filter(|a| a.kind == kind && !a.file.contains('/'))
        {
            archives.push((checkout::verified(&args.dist, a)?, top));
        }
    }
    if archives.is_empty() {
        return Err(CoreError::invalid(
            format!("`{}`", args.dist.join("manifest.json").display()),
            "lists no apt-repository or dnf-repository file (set [package] repositories in relkit.toml)",
        )
        .into());
    }
    checkout::require(&args.checkout, "--checkout")?;
    let sub = subdir(&args.checkout, &args.path)?;
    let site = args.checkout.join(&sub);
    fs_err::create_dir_all(&site).map_err(CoreError::from)?;
    // Extract everything into scratch space inside the checkout (same file
    // system), then swap each tree in: a bad archive leaves the old trees.
    let (scratch, _guard) =
        relkit_core::cleanup::tempdir_in(&site, ".relkit-repos-").map_err(|source| {
            CoreError::Unwritable {
                path: site.clone(),
                source,
            }
        })?;
    for (archive, top) in &archives {
        relkit_package::unpack::extract_tree(archive, top, scratch.path(), MAX_TREE_BYTES)?;
        if !scratch.path().join(top).is_dir() {
            return Err(CoreError::invalid(
                format!("`{}`", archive.display()),
                format!("holds no `{top}/` folder"),
            )
            .into());
        }
    }
    let mut paths = Vec::new();
    for (_, top) in &archives {
        let dest = site.join(top);
        if fs_err::symlink_metadata(&dest).is_ok() {
            remove(&dest)?;
        }
        fs_err::rename(scratch.path().join(top), &dest).map_err(CoreError::from)?;
        paths.push(if sub.as_os_str().is_empty() {
            (*top).to_owned()
        } else {
            format!("{}/{top}", sub.display())
        });
    }
    drop(scratch);
    let message = format!(
        "{} {}: package repositories",
        manifest.name, manifest.version
    );
    let dir = args.checkout.display();
    let shown = paths.join(", ");
    if !checkout::commit(&args.checkout, &paths, &message)? {
        eprintln!("{dir}: {shown} already hold this release's repositories");
        return Ok(());
    }
    if args.push {
        checkout::push(&args.checkout, checkout::token(&args.token_env).as_deref())?;
    }
    eprintln!("{dir}: committed {shown} ({message})");
    Ok(())
}

/// `--path` as a relative folder inside the checkout (`.` is its top),
/// never through a link that leads out of it.
fn subdir(checkout: &Path, path: &str) -> Result<PathBuf, Error> {
    let path = path.trim_end_matches('/');
    if path.is_empty() || path == "." {
        return Ok(PathBuf::new());
    }
    let path = path.strip_prefix("./").unwrap_or(path);
    check_relative(path).map_err(|_| {
        CoreError::invalid(
            "--path",
            format!("`{path}` must be a relative folder inside the checkout, without `..`"),
        )
    })?;
    let mut at = checkout.to_path_buf();
    for part in path.split('/') {
        at.push(part);
        let not_a_folder = fs_err::symlink_metadata(&at).is_ok_and(|m| !m.is_dir());
        if not_a_folder {
            return Err(CoreError::invalid(
                "--path",
                format!("`{}` is not a folder", at.display()),
            )
            .into());
        }
    }
    Ok(PathBuf::from(path))
}

/// Remove the previous tree (a link is removed, never followed).
fn remove(path: &Path) -> Result<(), Error> {
    let meta = fs_err::symlink_metadata(path).map_err(CoreError::from)?;
    if meta.is_dir() {
        fs_err::remove_dir_all(path)
    } else {
        fs_err::remove_file(path)
    }
    .map_err(|e| CoreError::from(e).into())
}

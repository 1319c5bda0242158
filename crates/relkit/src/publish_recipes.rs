//! `relkit publish-recipes`: put a release's Homebrew formula into a tap
//! checkout (`Formula/NAME.rb`) and its Scoop manifest into a bucket
//! checkout (`bucket/NAME.json`), each checked against the sha256
//! `manifest.json` records, then commit (and with `--push`, push) them.
//! release.yml only checks the repositories out and calls this. The push
//! token comes from an env var and reaches git through `GIT_CONFIG_*`
//! variables, never through arguments or logs (`crate::checkout`, shared
//! with `relkit publish-repos`).

use std::path::{Path, PathBuf};

use clap::Args;
use relkit_core::Error as CoreError;
use relkit_core::manifest::{ArtifactKind, Manifest};

use crate::{Error, checkout};

/// Commit the release's formula to a tap and its manifest to a bucket.
#[derive(Debug, Clone, Args)]
pub struct PublishRecipesArgs {
    /// The release folder (with manifest.json).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// A git checkout of the Homebrew tap: gets `Formula/NAME.rb`.
    #[arg(long, value_name = "DIR")]
    pub tap: Option<PathBuf>,
    /// A git checkout of the Scoop bucket: gets `bucket/NAME.json`.
    #[arg(long, value_name = "DIR")]
    pub bucket: Option<PathBuf>,
    /// Push each commit to the checkout's upstream.
    #[arg(long)]
    pub push: bool,
    /// Env var holding a token for pushing over https (sent as the
    /// `x-access-token` basic-auth user, as GitHub expects).
    #[arg(long, value_name = "VAR", default_value = "RELKIT_RECIPES_TOKEN")]
    pub token_env: String,
}

/// Run `relkit publish-recipes`.
pub fn run(args: &PublishRecipesArgs) -> Result<(), Error> {
    if args.tap.is_none() && args.bucket.is_none() {
        return Err(CoreError::invalid("publish-recipes", "give --tap, --bucket or both").into());
    }
    let manifest = Manifest::read(&args.dist.join("manifest.json"))?;
    let mut plans = Vec::new();
    for (checkout, kind, folder, flag) in [
        (&args.tap, ArtifactKind::HomebrewFormula, "Formula", "--tap"),
        (
            &args.bucket,
            ArtifactKind::ScoopManifest,
            "bucket",
            "--bucket",
        ),
    ] {
        let Some(checkout) = checkout else { continue };
        let file = checked_file(&manifest, &args.dist, kind, flag)?;
        checkout::require(checkout, flag)?;
        plans.push((checkout.clone(), file, folder));
    }
    let token = checkout::token(&args.token_env);
    let message = format!("{} {}", manifest.name, manifest.version);
    for (dir, file, folder) in plans {
        let name = file
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let rel = format!("{folder}/{name}");
        let dest = dir.join(&rel);
        fs_err::create_dir_all(dest.parent().expect("has a parent")).map_err(CoreError::from)?;
        let bytes = fs_err::read(&file).map_err(CoreError::from)?;
        relkit_core::atomic::write_file(&dest, &bytes)?;
        if !checkout::commit(&dir, std::slice::from_ref(&rel), &message)? {
            eprintln!("{}: {rel} is already this release's", dir.display());
            continue;
        }
        if args.push {
            checkout::push(&dir, token.as_deref())?;
        }
        eprintln!("{}: committed {rel} ({message})", dir.display());
    }
    Ok(())
}

/// The one release file of `kind`, checked against its recorded sha256.
fn checked_file(
    m: &Manifest,
    dist: &Path,
    kind: ArtifactKind,
    flag: &str,
) -> Result<PathBuf, Error> {
    let mut found = m
        .artifacts
        .iter()
        .filter(|a| a.kind == kind && !a.file.contains('/'));
    let (Some(a), None) = (found.next(), found.next()) else {
        return Err(CoreError::invalid(
            flag,
            format!(
                "`{}` lists not exactly one {kind:?} file (configure it in relkit.toml)",
                dist.join("manifest.json").display()
            ),
        )
        .into());
    };
    checkout::verified(dist, a)
}

//! `relkit publish-recipes`: put a release's Homebrew formula into a tap
//! checkout (`Formula/NAME.rb`) and its Scoop manifest into a bucket
//! checkout (`bucket/NAME.json`), each checked against the sha256
//! `manifest.json` records, then commit (and with `--push`, push) them.
//! release.yml only checks the repositories out and calls this. The push
//! token comes from an env var and reaches git through `GIT_CONFIG_*`
//! variables, never through arguments or logs.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use relkit_core::Error as CoreError;
use relkit_core::hash::Algo;
use relkit_core::manifest::{ArtifactKind, Manifest};

use crate::Error;

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
        if !checkout.join(".git").exists() {
            return Err(CoreError::invalid(
                flag,
                format!("`{}` is not a git checkout", checkout.display()),
            )
            .into());
        }
        plans.push((checkout.clone(), file, folder));
    }
    let token = std::env::var(&args.token_env)
        .ok()
        .filter(|t| !t.is_empty());
    let message = format!("{} {}", manifest.name, manifest.version);
    for (checkout, file, folder) in plans {
        let name = file
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let rel = format!("{folder}/{name}");
        let dest = checkout.join(&rel);
        fs_err::create_dir_all(dest.parent().expect("has a parent")).map_err(CoreError::from)?;
        let bytes = fs_err::read(&file).map_err(CoreError::from)?;
        relkit_core::atomic::write_file(&dest, &bytes)?;
        git(&checkout, &["add", "--", &rel], None)?;
        let unchanged = Command::new("git")
            .current_dir(&checkout)
            .args(["diff", "--cached", "--quiet", "--", &rel])
            .status()
            .map_err(|e| CoreError::invalid("git", e.to_string()))?
            .success();
        if unchanged {
            eprintln!("{}: {rel} is already this release's", checkout.display());
            continue;
        }
        git(
            &checkout,
            &[
                "-c",
                "user.name=github-actions[bot]",
                "-c",
                "user.email=41898282+github-actions[bot]@users.noreply.github.com",
                "commit",
                "--quiet",
                "-m",
                &message,
                "--",
                &rel,
            ],
            None,
        )?;
        if args.push {
            git(&checkout, &["push", "--quiet"], token.as_deref())?;
        }
        eprintln!("{}: committed {rel} ({message})", checkout.display());
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
    let path = dist.join(&a.file);
    let digest = relkit_core::hash::hash_file(&path, Algo::Sha256, |_| {})?;
    if digest.hex != a.sha256 {
        return Err(CoreError::invalid(
            format!("`{}`", path.display()),
            "does not match the sha256 manifest.json records",
        )
        .into());
    }
    Ok(path)
}

/// Run git in `dir`; a token goes in as an http header through git's
/// environment config, so no argument or log line carries it.
fn git(dir: &Path, args: &[&str], token: Option<&str>) -> Result<(), Error> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args(args);
    if let Some(t) = token {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{t}"));
        // Appended after any GIT_CONFIG_* entries the runner already has
        // (an `insteadOf`, a proxy), which a count of 1 would hide.
        let n = std::env::var("GIT_CONFIG_COUNT")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        cmd.env("GIT_CONFIG_COUNT", (n + 1).to_string())
            .env(format!("GIT_CONFIG_KEY_{n}"), "http.extraheader")
            .env(
                format!("GIT_CONFIG_VALUE_{n}"),
                format!("AUTHORIZATION: basic {basic}"),
            );
    }
    let out = cmd
        .output()
        .map_err(|e| CoreError::invalid("git", format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(CoreError::invalid(
            format!("`{}`", dir.display()),
            format!(
                "git {} failed: {last}",
                args.iter()
                    .find(|a| !a.starts_with('-') && !a.contains('='))
                    .unwrap_or(&"")
            ),
        )
        .into());
    }
    Ok(())
}

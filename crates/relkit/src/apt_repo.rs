//! `relkit apt-repo`: a signed static APT repository (any web server or
//! GitHub Pages can host it) from the previous tree plus this release's
//! `.deb` files. relkit-linux-pkg writes the pool and indexes; [`crate::repo`]
//! signs `Release` with the release's gpg key (`InRelease` clearsigned,
//! `Release.gpg` detached, both armored, made at SOURCE_DATE_EPOCH), exports
//! the public key as `key.asc`, and replaces `--output` only when everything
//! is written and signed.

use std::path::{Path, PathBuf};

use clap::Args;
use relkit_core::Error as CoreError;
use relkit_linux_pkg::apt_repo::RepoOptions;

use crate::Error;
use crate::repo::{self, GpgKeyArgs};

/// Build a signed static APT repository.
#[derive(Debug, Clone, Args)]
pub struct AptRepoArgs {
    /// The `.deb` packages to add.
    #[arg(required = true, value_name = "DEB")]
    pub debs: Vec<PathBuf>,
    /// The repository as published so far (its `pool/` is kept).
    #[arg(long, value_name = "DIR", env = "RELKIT_APT_PREVIOUS")]
    pub previous: Option<PathBuf>,
    /// Where the repository goes (replaced as a whole; may be `--previous`).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// Suite and codename.
    #[arg(long, default_value = "stable")]
    pub suite: String,
    /// Component.
    #[arg(long, default_value = "main")]
    pub component: String,
    /// `Origin` and `Label` [default: the first package's name].
    #[arg(long)]
    pub origin: Option<String>,
    /// Keep only the newest version of each package and architecture
    /// (default: keep every version of the previous tree).
    #[arg(long)]
    pub only_latest: bool,
    #[command(flatten)]
    pub key: GpgKeyArgs,
}

/// Run `relkit apt-repo`.
pub fn run(args: &AptRepoArgs) -> Result<(), Error> {
    let signer = args.key.signer("apt-repo", "an APT repository")?;
    let epoch = relkit_core::buildtime::build_epoch(Path::new("."))?;
    let origin = match &args.origin {
        Some(o) => o.clone(),
        None => first_package_name(&args.debs),
    };
    if origin.is_empty() || origin.chars().any(char::is_control) {
        return Err(CoreError::invalid("--origin", "must be one non-empty line").into());
    }
    let opts = RepoOptions {
        suite: args.suite.clone(),
        component: args.component.clone(),
        origin,
        epoch,
        keep_older: !args.only_latest,
    };
    let built = repo::replace_with(&args.output, ".relkit-apt-", |dir| {
        repo::build_apt(&signer, &opts, args.previous.as_deref(), &args.debs, dir)
    })?;
    for p in &built.packages {
        tracing::info!("{p}");
    }
    eprintln!(
        "wrote an APT repository of {} package(s) to {}",
        built.packages.len(),
        args.output.display()
    );
    Ok(())
}

/// The `Package` of the first `.deb`, else `packages`.
fn first_package_name(debs: &[PathBuf]) -> String {
    debs.first()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('_').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("packages")
        .to_owned()
}

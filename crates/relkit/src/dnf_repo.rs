//! `relkit dnf-repo`: a signed static DNF/YUM repository (any web server or
//! GitHub Pages can host it) from the previous tree plus this release's
//! `.rpm` files. relkit-linux-pkg writes the packages and `repodata/`;
//! [`crate::repo`] signs `repomd.xml` with the release's gpg key
//! (`repomd.xml.asc`, armored, made at SOURCE_DATE_EPOCH), exports the
//! public key as `key.asc`, and replaces `--output` only when everything is
//! written and signed.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::Error;
use crate::repo::{self, GpgKeyArgs};

/// Build a signed static DNF/YUM repository.
#[derive(Debug, Clone, Args)]
pub struct DnfRepoArgs {
    /// The `.rpm` packages to add.
    #[arg(required = true, value_name = "RPM")]
    pub rpms: Vec<PathBuf>,
    /// The repository as published so far (every package its repodata
    /// lists is kept, and must be there with the sha256 listed).
    #[arg(long, value_name = "DIR", env = "RELKIT_DNF_PREVIOUS")]
    pub previous: Option<PathBuf>,
    /// Where the repository goes (replaced as a whole; may be `--previous`).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// Keep only the newest version of each package and architecture
    /// (default: keep every version of the previous tree).
    #[arg(long)]
    pub only_latest: bool,
    #[command(flatten)]
    pub key: GpgKeyArgs,
}

/// Run `relkit dnf-repo`.
pub fn run(args: &DnfRepoArgs) -> Result<(), Error> {
    let signer = args.key.signer("dnf-repo", "a DNF repository")?;
    let epoch = relkit_core::buildtime::build_epoch(Path::new("."))?;
    let built = repo::replace_with(&args.output, ".relkit-dnf-", |dir| {
        repo::build_dnf(
            &signer,
            args.previous.as_deref(),
            &args.rpms,
            dir,
            !args.only_latest,
            epoch,
        )
    })?;
    for p in &built.packages {
        tracing::info!("{p}");
    }
    eprintln!(
        "wrote a DNF repository of {} package(s) to {}",
        built.packages.len(),
        args.output.display()
    );
    Ok(())
}

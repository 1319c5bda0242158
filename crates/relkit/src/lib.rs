//! relkit: one multi-call binary that runs every helper in-process
//! (`relkit package …` is exactly `relkit-package …`, and a link named
//! `relkit-package` to it runs the helper), plus the release pipeline:
//! `relkit plan` (the CI matrix), `relkit build` (one target),
//! `relkit finalize` (every finalize stage) and `relkit dist` (all of it).

pub mod apt_repo;
pub use relkit_config as config;
/// relkit.toml and changelog parsing live in relkit-config (the fuzz targets
/// build it without the rest of relkit); re-exported under their old paths.
pub use relkit_config::changelog;
pub mod build;
pub mod checkout;
pub mod dist;
pub mod dnf_repo;
pub mod finalize;
pub mod plan;
pub mod publish_recipes;
pub mod publish_repos;
pub mod repo;
pub mod version;

use clap::{Parser, Subcommand};
use relkit_core::{Failure, HasFailure};

/// Turn compiled binaries into a verifiable release.
#[derive(Debug, Parser)]
#[command(name = "relkit", version, max_term_width = 100)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// relkit's subcommands: each helper, plus dist and plan.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, package and finalize a whole release locally (see relkit.toml).
    Dist(dist::DistArgs),
    /// Print the CI build matrix (targets x runners x build tool) as JSON for `fromJSON`.
    Plan(plan::PlanArgs),
    /// Build one target the way release.yml does; print the binaries' paths.
    Build(build::BuildArgs),
    /// Run every finalize stage (bundles, SHA256SUMS, signatures, manifest)
    /// over per-target build outputs.
    Finalize(finalize::FinalizeArgs),
    /// Write or check checksum files (relkit-checksum).
    #[command(name = "checksum")]
    Checksum(relkit_checksum::Cli),
    /// Package binaries into a reproducible archive (relkit-package).
    #[command(name = "package")]
    Package(relkit_package::Cli),
    /// Create, merge and verify release manifests (relkit-manifest).
    #[command(name = "manifest")]
    Manifest(relkit_manifest::Cli),
    /// Build a Terraform provider bundle (relkit-provider-bundle).
    #[command(name = "provider-bundle")]
    ProviderBundle(relkit_provider_bundle::Cli),
    /// Sign and verify with minisign or gpg (relkit-sign).
    #[command(name = "sign")]
    Sign(relkit_sign::Cli),
    /// Publish a GitHub Release, race-safe and idempotent (relkit-release-upload).
    #[command(name = "release-upload")]
    ReleaseUpload(relkit_release_upload::Cli),
    /// Build reproducible OCI images and push them to a registry (relkit-image).
    #[command(name = "image")]
    Image(relkit_image::Cli),
    /// Verify a published release: signature, checksums, manifest, nothing extra.
    Verify(relkit_verify::VerifyArgs),
    /// Install a project's binaries for this machine from its GitHub release, verified.
    Install(relkit_verify::InstallArgs),
    /// Build a signed static APT repository from the previous tree plus `.deb` files.
    AptRepo(apt_repo::AptRepoArgs),
    /// Build a signed static DNF/YUM repository from the previous tree plus `.rpm` files.
    DnfRepo(dnf_repo::DnfRepoArgs),
    /// Commit the release's Homebrew formula to a tap and Scoop manifest to a bucket.
    PublishRecipes(publish_recipes::PublishRecipesArgs),
    /// Commit the release's APT and DNF repository trees to a Pages checkout.
    PublishRepos(publish_repos::PublishReposArgs),
}

/// An error from whichever helper ran.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// From relkit-checksum.
    #[error(transparent)]
    Checksum(#[from] relkit_checksum::Error),
    /// From relkit-package.
    #[error(transparent)]
    Package(#[from] relkit_package::Error),
    /// From relkit-manifest (boxed: its conflict errors name two sources).
    #[error(transparent)]
    Manifest(Box<relkit_manifest::Error>),
    /// relkit.toml is unreadable or invalid.
    #[error("`{}`: {message}", path.display())]
    Config {
        /// The config file.
        path: std::path::PathBuf,
        /// What is wrong (with the field, line and column).
        message: String,
    },
    /// From relkit-provider-bundle.
    #[error(transparent)]
    Provider(Box<relkit_provider_bundle::Error>),
    /// From relkit-sign.
    #[error(transparent)]
    Sign(Box<relkit_sign::Error>),
    /// From relkit-release-upload.
    #[error(transparent)]
    ReleaseUpload(Box<relkit_release_upload::Error>),
    /// From relkit-image.
    #[error(transparent)]
    Image(Box<relkit_image::Error>),
    /// From relkit verify or relkit install.
    #[error(transparent)]
    Verify(Box<relkit_verify::Error>),
    /// A fault inside relkit (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// The build command failed.
    #[error("build for `{target}` failed: `{command}` {status}")]
    Build {
        /// The target being built.
        target: String,
        /// The command.
        command: String,
        /// How it ended.
        status: String,
    },
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Checksum(e) => e.failure(),
            Error::Package(e) => e.failure(),
            Error::Manifest(e) => e.failure(),
            Error::Provider(e) => e.failure(),
            Error::Sign(e) => e.failure(),
            Error::ReleaseUpload(e) => e.failure(),
            Error::Image(e) => e.failure(),
            Error::Verify(e) => e.failure(),
            Error::Config { .. } | Error::Build { .. } => Failure::Input,
            Error::Internal(_) => Failure::Internal,
        }
    }
}

impl From<relkit_config::Error> for Error {
    fn from(e: relkit_config::Error) -> Self {
        match e {
            relkit_config::Error::Core(e) => Error::Core(e),
            relkit_config::Error::Config { path, message } => Error::Config { path, message },
        }
    }
}

impl From<relkit_manifest::Error> for Error {
    fn from(e: relkit_manifest::Error) -> Self {
        Error::Manifest(Box::new(e))
    }
}

/// Run a subcommand.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Dist(args) => dist::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Finalize(args) => finalize::run(&args),
        Command::Checksum(c) => Ok(relkit_checksum::run(c)?),
        Command::Package(c) => Ok(relkit_package::run(c)?),
        Command::Manifest(c) => Ok(relkit_manifest::run(c)?),
        Command::ProviderBundle(c) => {
            relkit_provider_bundle::run(c).map_err(|e| Error::Provider(Box::new(e)))
        }
        Command::Sign(c) => relkit_sign::run(c).map_err(|e| Error::Sign(Box::new(e))),
        Command::ReleaseUpload(c) => {
            relkit_release_upload::run(c).map_err(|e| Error::ReleaseUpload(Box::new(e)))
        }
        Command::Image(c) => relkit_image::run(c).map_err(|e| Error::Image(Box::new(e))),
        Command::Verify(a) => relkit_verify::verify(&a).map_err(|e| Error::Verify(Box::new(e))),
        Command::Install(a) => {
            relkit_verify::install::run(&a).map_err(|e| Error::Verify(Box::new(e)))
        }
        Command::AptRepo(a) => apt_repo::run(&a),
        Command::DnfRepo(a) => dnf_repo::run(&a),
        Command::PublishRecipes(a) => publish_recipes::run(&a),
        Command::PublishRepos(a) => publish_repos::run(&a),
    }
}

/// The helpers a link to the relkit binary may be named after
/// (`relkit-checksum` runs `relkit checksum`).
pub const HELPERS: [&str; 7] = [
    "checksum",
    "package",
    "manifest",
    "provider-bundle",
    "sign",
    "release-upload",
    "image",
];

/// The subcommand to run when the binary was started as `relkit-HELPER`
/// (a link or a copy), else None.
pub fn helper_for(argv0: &std::ffi::OsStr) -> Option<&'static str> {
    let name = std::path::Path::new(argv0).file_stem()?.to_str()?;
    let helper = name.strip_prefix("relkit-")?;
    HELPERS.iter().copied().find(|h| *h == helper)
}

/// The multi-call `main`: `relkit-HELPER ARGS…` runs exactly as
/// `relkit HELPER ARGS…` (same parsing, same help text).
pub fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(helper) = args.first().and_then(|a| helper_for(a)) {
        args[0] = "relkit".into();
        args.insert(1, helper.into());
    }
    relkit_core::cli::main_from(args, run)
}

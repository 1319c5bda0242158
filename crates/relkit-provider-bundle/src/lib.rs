//! relkit-provider-bundle: turns per-platform Terraform provider binaries
//! into the Registry release assets (deterministic zips, `_manifest.json`,
//! `_SHA256SUMS` and its OpenPGP signature), an unpacked and a packed
//! provider mirror, the lock-file hashes, and a relkit manifest part.

use std::path::PathBuf;

use clap::Parser;

pub mod address;
pub mod bundle;
pub mod hashes;
mod plan;
pub mod zipper;

pub use bundle::{
    BundleOptions, BundleReport, GpgOptions, PACKED_MIRROR_DIR, PlatformHashes,
    UNPACKED_MIRROR_DIR, WrittenFile, bundle,
};

/// Build Terraform provider release assets, filesystem and network mirrors,
/// and lock-file hashes from per-platform provider binaries.
///
/// Writes into DIR: the Registry assets
/// `terraform-provider-NAME_VERSION_OS_ARCH.zip`, `…_manifest.json`,
/// `…_SHA256SUMS` (and `…_SHA256SUMS.sig` when signing); the unpacked mirror
/// `terraform-providers/HOST/NS/NAME/VERSION/OS_ARCH/`; the packed mirror
/// `terraform-mirror/HOST/NS/NAME/`; `…terraform.lock.hcl`; and the manifest
/// part `…part.json`. The lock block is printed on stdout.
#[derive(Debug, Clone, Parser)]
#[command(name = "relkit-provider-bundle")]
pub struct Cli {
    /// Provider type: NAME in `terraform-provider-NAME` (lower-case letters,
    /// digits, dashes).
    #[arg(long, value_name = "NAME", env = "RELKIT_PROVIDER_NAME")]
    pub name: String,

    /// Version to release, semver (`1.2.3`; a leading `v` is dropped).
    #[arg(long, value_name = "VERSION", env = "RELKIT_VERSION")]
    pub version: String,

    /// Registry namespace [default: $GITHUB_REPOSITORY_OWNER, lower-cased].
    #[arg(long, value_name = "NS", env = "RELKIT_PROVIDER_NAMESPACE")]
    pub namespace: Option<String>,

    /// Registry host of the provider address, optionally with `:PORT`.
    #[arg(long, value_name = "HOST", env = "RELKIT_PROVIDER_HOSTNAME", default_value = address::DEFAULT_HOSTNAME)]
    pub hostname: String,

    /// Plugin protocol version(s) for `_manifest.json`; repeat or separate
    /// with commas.
    #[arg(
        long = "protocol",
        value_name = "X.Y",
        env = "RELKIT_PROVIDER_PROTOCOL",
        value_delimiter = ',',
        default_value = "6.0"
    )]
    pub protocols: Vec<String>,

    /// A provider binary and its target: a Rust triple
    /// (`x86_64-unknown-linux-gnu`), a Go pair (`linux/amd64`) or a Terraform
    /// platform (`linux_amd64`). Repeat for every platform.
    #[arg(long = "binary", value_name = "TARGET=PATH", required = true, value_parser = parse_binary)]
    pub binaries: Vec<(String, PathBuf)>,

    /// Folder to write into (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        env = "RELKIT_OUTPUT_DIR",
        default_value = "dist"
    )]
    pub output_dir: PathBuf,

    /// Sign `_SHA256SUMS` with this gpg key (id, fingerprint or email).
    #[arg(long, value_name = "ID", env = "RELKIT_GPG_KEY_ID")]
    pub gpg_key_id: Option<String>,

    /// Name of the environment variable holding the gpg key's passphrase.
    #[arg(long, value_name = "NAME", env = "RELKIT_GPG_PASSPHRASE_ENV")]
    pub gpg_passphrase_env: Option<String>,

    /// Name of the environment variable holding an ASCII-armored secret key
    /// to import into a private, temporary GNUPGHOME and sign with.
    #[arg(long, value_name = "NAME", env = "RELKIT_GPG_IMPORT_KEY_ENV")]
    pub gpg_import_key_env: Option<String>,
}

fn parse_binary(raw: &str) -> Result<(String, PathBuf), String> {
    match raw.split_once('=') {
        Some((t, p)) if !t.is_empty() && !p.is_empty() => Ok((t.to_owned(), PathBuf::from(p))),
        _ => Err(format!(
            "`{raw}` is not TARGET=PATH (e.g. linux_amd64=target/terraform-provider-x)"
        )),
    }
}

/// Errors of relkit-provider-bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, or an I/O failure naming its path.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// Writing a zip failed.
    #[error("`{}`: cannot write the zip: {source}", path.display())]
    Zip {
        /// The zip being written.
        path: PathBuf,
        /// What the zip writer reported.
        #[source]
        source: relkit_core::zip::ZipError,
    },
    /// Signing `_SHA256SUMS` failed or the signer settings are wrong.
    #[error("signing `_SHA256SUMS`: {0}")]
    Sign(#[from] relkit_sign::Error),
}

impl relkit_core::HasFailure for Error {
    fn failure(&self) -> relkit_core::Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Zip { .. } => relkit_core::Failure::Internal,
            Error::Sign(e) => e.failure(),
        }
    }
}

/// The namespace used when `--namespace` is not given: the GitHub
/// repository owner, lower-cased, in Actions.
pub fn default_namespace() -> Option<String> {
    std::env::var("GITHUB_REPOSITORY_OWNER")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
}

impl Cli {
    /// The library options this command line asks for.
    pub fn options(&self) -> Result<BundleOptions, Error> {
        let namespace = match &self.namespace {
            Some(ns) => ns.clone(),
            None => default_namespace().ok_or_else(|| {
                relkit_core::Error::invalid("--namespace", "is required outside GitHub Actions (the registry namespace, e.g. your organisation)")
            })?,
        };
        let mut opts = BundleOptions::new(
            self.name.clone(),
            self.version.clone(),
            namespace,
            self.binaries.clone(),
            self.output_dir.clone(),
        );
        opts.hostname.clone_from(&self.hostname);
        opts.protocols.clone_from(&self.protocols);
        if self.gpg_key_id.is_some() || self.gpg_import_key_env.is_some() {
            opts.gpg = Some(GpgOptions {
                key_id: self.gpg_key_id.clone(),
                passphrase_env: self.gpg_passphrase_env.clone(),
                import_key_env: self.gpg_import_key_env.clone(),
            });
        } else if self.gpg_passphrase_env.is_some() {
            return Err(relkit_core::Error::invalid(
                "--gpg-passphrase-env",
                "needs --gpg-key-id or --gpg-import-key-env to say which key to sign with",
            )
            .into());
        }
        Ok(opts)
    }
}

/// Run the command: build the bundle and print the lock block on stdout.
#[allow(clippy::needless_pass_by_value)] // the umbrella calls every helper's `run(cli)` by value
pub fn run(cli: Cli) -> Result<(), Error> {
    let report = bundle(&cli.options()?)?;
    print!("{}", report.lock_block);
    Ok(())
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Core(relkit_core::Error::Io(e))
    }
}

//! The other side of a release: `relkit verify` checks a published release
//! from the outside (signature, every checksum, the manifest against the
//! files, nothing extra, and with `--reproduce` the archives' bytes), and
//! `relkit install` installs the binaries for this machine from a GitHub
//! release after checking every byte. Both trust nothing they download
//! before it matches a signed file.

pub mod check;
pub mod host;
pub mod http;
pub mod install;
pub mod reproduce;
pub mod source;

use std::path::PathBuf;

use clap::Args;
use relkit_core::{Failure, HasFailure};

/// Verify a published release: its signature, every checksum, the manifest
/// against the files, and that it holds nothing the manifest does not list.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["repo", "dir", "url"])))]
pub struct VerifyArgs {
    /// The release's repository on GitHub (or GHES, see --api-url), OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// The release's tag [default: the latest release].
    #[arg(long, requires = "repo")]
    pub tag: Option<String>,
    /// A folder holding the downloaded release files.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The base URL of the release files on any static host (BASE/manifest.json, …).
    #[arg(long, value_name = "BASE")]
    pub url: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Also re-package the files in each archive with the recorded build
    /// time and check that the bytes are identical.
    #[arg(long)]
    pub reproduce: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The GitHub API [default: $GITHUB_API_URL, else https://api.github.com].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
}

/// The key a release must be signed with.
#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    /// The project's minisign public key (the `RW…` string).
    #[arg(long, value_name = "KEY", conflicts_with = "public_key_file")]
    pub public_key: Option<String>,
    /// A file holding the project's minisign public key (`.pub`).
    #[arg(long, value_name = "FILE")]
    pub public_key_file: Option<PathBuf>,
    /// Accept a release whose SHA256SUMS is not signed (checksums only).
    #[arg(long)]
    pub allow_unsigned: bool,
}

/// Install a project's binaries for this machine from its GitHub release,
/// after checking the signature and every checksum.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// The project, OWNER/NAME, with an optional @TAG [default: its latest release].
    #[arg(value_name = "OWNER/NAME[@TAG]")]
    pub project: String,
    /// Where to put the binaries [default: ~/.local/bin].
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Overwrite files relkit did not install.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The target to install [default: this machine's, with fallbacks].
    #[arg(long)]
    pub target: Option<String>,
    /// The GitHub API [default: $GITHUB_API_URL, else https://api.github.com].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// From relkit-sign.
    #[error(transparent)]
    Sign(Box<relkit_sign::Error>),
    /// From relkit-package.
    #[error(transparent)]
    Package(Box<relkit_package::Error>),
    /// A file the release must have is not there.
    #[error("{what}: not found at {url} (HTTP 404)")]
    NotFound {
        /// What was asked for.
        what: String,
        /// Where.
        url: String,
    },
    /// Refusing to go on, with the reason.
    #[error("{0}")]
    Refused(String),
    /// A server kept failing.
    #[error("{what}: {reason}")]
    Remote {
        /// What was asked for.
        what: String,
        /// The last failure.
        reason: String,
    },
    /// `relkit verify` found problems (each is in the report).
    #[error("{failed} of {total} checks failed")]
    Failed {
        /// Checks that failed.
        failed: usize,
        /// Checks run.
        total: usize,
    },
    /// A fault inside relkit.
    #[error("internal error: {0}")]
    Internal(String),
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Sign(e) => e.failure(),
            Error::Package(e) => e.failure(),
            Error::NotFound { .. } | Error::Refused(_) | Error::Failed { .. } => Failure::Input,
            Error::Remote { .. } => Failure::Remote,
            Error::Internal(_) => Failure::Internal,
        }
    }
}

impl From<relkit_sign::Error> for Error {
    fn from(e: relkit_sign::Error) -> Self {
        Error::Sign(Box::new(e))
    }
}

impl From<relkit_package::Error> for Error {
    fn from(e: relkit_package::Error) -> Self {
        Error::Package(Box::new(e))
    }
}

/// A runtime for the network calls.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

/// The token to send to the GitHub API: `GITHUB_TOKEN`, else `GH_TOKEN`.
pub(crate) fn token_from_env() -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().filter(|t| !t.is_empty()))
}

/// The GitHub API URL: `given`, else `GITHUB_API_URL`, else api.github.com.
pub(crate) fn api_url(given: Option<&str>) -> Result<url::Url, Error> {
    let raw = given
        .map(str::to_owned)
        .or_else(|| {
            std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "https://api.github.com".to_owned());
    let mut url = url::Url::parse(&raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            relkit_core::Error::invalid("--api-url", format!("`{raw}` is not an http(s) URL"))
        })?;
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

/// Run `relkit verify`: print the report (a table, or JSON with `--json`);
/// any failed check is an error (exit 1).
pub fn verify(args: &VerifyArgs) -> Result<(), Error> {
    let key = check::key_from(
        args.trust.public_key.as_deref(),
        args.trust.public_key_file.as_deref(),
    )?;
    let scratch = tempfile::Builder::new()
        .prefix(".relkit-verify")
        .tempdir()
        .map_err(relkit_core::Error::from)?;
    let local = if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            return Err(relkit_core::Error::invalid(
                "--dir",
                format!("`{}` is not a folder", dir.display()),
            )
            .into());
        }
        source::from_dir(dir)?
    } else {
        let api = api_url(args.api_url.as_deref())?;
        let http = http::Http::new(
            Some(api.clone()),
            token_from_env(),
            std::time::Duration::from_secs(60),
        )?;
        let rt = runtime()?;
        if let Some(base) = &args.url {
            rt.block_on(source::from_url(&http, base, scratch.path()))?
        } else {
            let repo = source::Repo::parse(args.repo.as_deref().unwrap_or_default(), api)?;
            rt.block_on(source::from_github(
                &http,
                &repo,
                args.tag.as_deref(),
                scratch.path(),
            ))?
        }
    };
    let opts = check::Options {
        key_text: key.as_ref().map(|(_, t)| t.clone()),
        key: key.map(|(k, _)| k),
        allow_unsigned: args.trust.allow_unsigned,
        reproduce: args.reproduce,
    };
    let report = check::verify(&local, &opts);
    if args.json {
        let mut json =
            serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
        json.push('\n');
        print!("{json}");
    } else {
        print!("{}", check::render(&report));
    }
    if report.ok {
        Ok(())
    } else {
        Err(Error::Failed {
            failed: report.checks.iter().filter(|r| !r.ok).count(),
            total: report.checks.len(),
        })
    }
}

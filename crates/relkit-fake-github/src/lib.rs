//! A stateful GitHub Releases API double for tests and local runs: releases,
//! assets, uploads and downloads with GitHub's JSON shapes and status codes,
//! plus seeded, scriptable fault injection (5xx, secondary rate limits, 429,
//! connections dropped mid-upload, slow responses, leftover `starter`
//! assets, immutable releases) and a request log tests can read.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use relkit_fake_github::{Config, Fault, FaultRule, FakeGitHub};
//! let fake = FakeGitHub::start(Config::default()).await?;
//! fake.add_fault(FaultRule::new(Fault::Status(503)).method(http::Method::POST).path("/assets"));
//! // point the client at fake.api_url() with token "test-token" …
//! assert!(fake.releases().is_empty());
//! # Ok(()) }
//! ```

mod api;
mod assets;
mod control;
mod download;
mod extract;
mod fault;
mod graphql;
mod model;
mod page;
mod reply;
mod server;
mod state;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use fault::{Fault, FaultRule};
pub use model::{
    AssetState, Config, DownloadQuirk, LoggedRequest, MAX_ASSET_SIZE, MAX_ASSETS, Pagination,
    ReleaseState, github_asset_name,
};
pub use server::FakeGitHub;

use relkit_core::{Failure, HasFailure};

/// Serve a fake GitHub Releases API on loopback until killed. The first line
/// on stdout is the base URL (what `GITHUB_API_URL` would be); the state is
/// at `GET /_fake/state`, the request log at `GET /_fake/log`.
// Each flag switches one independent GitHub behaviour.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Parser)]
#[command(name = "relkit-fake-github", version)]
pub struct Cli {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0", env = "RELKIT_FAKE_GITHUB_ADDR")]
    pub addr: SocketAddr,
    /// The token clients must send (`Authorization: Bearer <token>`).
    #[arg(
        long,
        default_value = "test-token",
        env = "RELKIT_FAKE_GITHUB_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// The one repository served, as OWNER/NAME.
    #[arg(long, default_value = "octo/demo", env = "GITHUB_REPOSITORY")]
    pub repo: String,
    /// Published releases are immutable: no uploads, asset edits or deletes.
    #[arg(long)]
    pub immutable: bool,
    /// Path prefix of `upload_url`, e.g. `/api/uploads` like GHES; empty for
    /// the API's own paths.
    #[arg(long, default_value = "/uploads")]
    pub upload_prefix: String,
    /// Path prefix of the REST API, e.g. `/api/v3` like GHES; the printed
    /// URL includes it.
    #[arg(long, default_value = "")]
    pub api_prefix: String,
    /// Serve GET requests without a token (drafts hidden), like a public
    /// repository.
    #[arg(long)]
    pub anonymous_reads: bool,
    /// Answer downloads with a 302 to a second loopback listener (GitHub's
    /// download host), which refuses requests carrying a token.
    #[arg(long)]
    pub redirect_downloads: bool,
    /// Leave `digest` out of asset JSON, like GitHub Enterprise Server.
    #[arg(long)]
    pub omit_digest: bool,
    /// Rename leading and trailing periods of asset names as GitHub does.
    #[arg(long)]
    pub rename_dots: bool,
    /// The repository is private: 404 for callers without the token.
    #[arg(long)]
    pub private: bool,
    /// Seed of the random fault RNG.
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Probability (0 to 1) that a request is hit by a random fault.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Retry-after (and rate-limit reset) seconds of random faults.
    #[arg(long, default_value_t = 1)]
    pub fault_retry_after: u64,
    /// Write the state (as `GET /_fake/state`) to this file after every
    /// change.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Keep asset bodies in this folder instead of a temporary one.
    #[arg(long)]
    pub blob_dir: Option<PathBuf>,
}

/// Why the fake could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value is invalid.
    #[error("`--{flag}`: {message}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The server could not start.
    #[error("cannot listen on `{addr}`: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing the URL to stdout or running the runtime failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Invalid { .. } | Error::Listen { .. } => Failure::Input,
            Error::Io(_) => Failure::Internal,
        }
    }
}

impl Cli {
    /// The server configuration these flags describe.
    pub fn config(&self) -> Result<Config, Error> {
        let (owner, repo) = self
            .repo
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| Error::Invalid {
                flag: "repo",
                message: format!("`{}` is not OWNER/NAME", self.repo),
            })?;
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(Error::Invalid {
                flag: "fault-rate",
                message: format!("`{}` is not between 0 and 1", self.fault_rate),
            });
        }
        for (flag, value) in [
            ("upload-prefix", &self.upload_prefix),
            ("api-prefix", &self.api_prefix),
        ] {
            let p = value.trim_end_matches('/');
            if !p.is_empty() && !p.starts_with('/') {
                return Err(Error::Invalid {
                    flag,
                    message: format!("`{value}` must start with `/`"),
                });
            }
        }
        if self.token.is_empty() {
            return Err(Error::Invalid {
                flag: "token",
                message: "must not be empty".to_owned(),
            });
        }
        Ok(Config {
            token: self.token.clone(),
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            immutable_releases: self.immutable,
            upload_prefix: self.upload_prefix.trim_end_matches('/').to_owned(),
            api_prefix: self.api_prefix.trim_end_matches('/').to_owned(),
            allow_anonymous_reads: self.anonymous_reads,
            blob_dir: self.blob_dir.clone(),
            redirect_downloads: self.redirect_downloads,
            omit_digest: self.omit_digest,
            rename_dots: self.rename_dots,
            private_repo: self.private,
            ..Config::default()
        })
    }
}

/// Run the bin: start the server, print its URL, serve until SIGINT or
/// SIGTERM.
pub fn run(cli: Cli) -> Result<(), Error> {
    let config = cli.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let fake = FakeGitHub::start_on(config, cli.addr)
            .await
            .map_err(|source| Error::Listen {
                addr: cli.addr,
                source,
            })?;
        if cli.fault_rate > 0.0 {
            fake.set_random_fault_mix(
                cli.fault_seed,
                cli.fault_rate,
                Fault::default_mix(cli.fault_retry_after),
            );
        } else {
            fake.set_fault_seed(cli.fault_seed);
        }
        fake.set_state_file(cli.state_file.clone());
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", fake.api_url())?;
            out.flush()?;
        }
        tracing::info!(
            "serving {}/{} at {} (uploads at {})",
            fake.config().owner,
            fake.config().repo,
            fake.api_url(),
            fake.upload_url_base()
        );
        wait_for_signal().await?;
        fake.set_state_file(cli.state_file);
        fake.shutdown();
        Ok(())
    })
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

//! relkit-release-upload: publish files as the assets of one GitHub Release,
//! safely under racing matrix jobs, re-runs, flaky networks and immutable
//! releases. See [`run`] for the whole flow.
//!
//! Besides the CLI, two blocking calls for `relkit finalize`, each against a
//! [`Remote`] resolved like the CLI resolves its flags:
//! - [`check_access`]: can the token see the repository? (one GET);
//! - [`keep_published_signatures`]: reuse the signatures a release already
//!   publishes for files that did not change, since a new signing would
//!   differ and a (possibly immutable) release would refuse it.

pub mod assets;
mod download;
mod flow;
pub mod github;
mod keep;
mod page;
mod remote;
pub mod retry;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use relkit_core::{Failure, HasFailure};

pub use download::redirect_target;
pub use flow::{Options, Outcome, execute};
pub use github::Token;
pub use keep::KeepCandidate;
pub use remote::Remote;
// For the fuzz target `link_header` only (issue 10): the Link-header parser.
#[doc(hidden)]
pub use page::next_page;

/// Upload release assets to GitHub: find or create the draft release for a
/// tag, upload what is missing, verify every digest, then publish.
///
/// Racing runs for one tag converge on one release; a re-run uploads
/// nothing; transient failures are retried with backoff, honouring
/// GitHub's rate limits, and after a bounded time the run exits 3.
#[derive(Debug, Parser)]
#[command(
    name = "relkit-release-upload",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    args_override_self = true
)]
pub struct Cli {
    /// Run only one phase (default: the whole upload).
    #[command(subcommand)]
    pub mode: Option<Mode>,
    #[command(flatten)]
    pub args: Args,
}

/// Phases that can run on their own, e.g. in different jobs.
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Find or create the draft release for the tag and print its id (for a
    /// plan job; later jobs pass it as `--release-id`).
    CreateDraft(Args),
    /// Check that the release holds every file with the local sha256, then
    /// publish it. Uploads nothing.
    Publish(Args),
}

/// Arguments shared by every mode.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Repository as OWNER/NAME [default: $GITHUB_REPOSITORY].
    #[arg(
        long,
        value_name = "OWNER/NAME",
        env = "RELKIT_REPO",
        hide_env_values = true
    )]
    pub repo: Option<String>,

    /// Release tag [default: the manifest's tag, else $GITHUB_REF when it is refs/tags/…].
    #[arg(long, env = "RELKIT_TAG", hide_env_values = true)]
    pub tag: Option<String>,

    /// API base URL, e.g. https://ghe.example.com/api/v3 [default: $GITHUB_API_URL, else https://api.github.com].
    #[arg(
        long,
        value_name = "URL",
        env = "RELKIT_API_URL",
        hide_env_values = true
    )]
    pub api_url: Option<String>,

    /// Environment variable holding the token [default: GITHUB_TOKEN, else GH_TOKEN].
    #[arg(
        long,
        value_name = "NAME",
        env = "RELKIT_TOKEN_ENV",
        hide_env_values = true
    )]
    pub token_env: Option<String>,

    /// Release manifest listing the files (each `file` relative to its folder).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "files",
        env = "RELKIT_MANIFEST",
        hide_env_values = true
    )]
    pub manifest: Option<PathBuf>,

    /// Files to upload (for `publish`: to verify), each named after its file name.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Leave the release a draft instead of publishing it.
    #[arg(long)]
    pub draft: bool,

    /// Mark the release a pre-release; `auto` follows the tag's semver suffix.
    #[arg(long, value_enum, default_value_t = Prerelease::Auto, value_name = "WHEN")]
    pub prerelease: Prerelease,

    /// Whether the published release becomes "latest" [default: GitHub's choice].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub make_latest: Option<MakeLatest>,

    /// Release notes from this Markdown file.
    #[arg(long, value_name = "FILE", conflicts_with = "generate_notes")]
    pub notes_file: Option<PathBuf>,

    /// Let GitHub generate the release notes.
    #[arg(long)]
    pub generate_notes: bool,

    /// Replace remote assets whose content differs from the local file.
    #[arg(long)]
    pub replace: bool,

    /// Uploads in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Use this release (from `create-draft`) instead of finding one by tag.
    #[arg(
        long,
        value_name = "ID",
        env = "RELKIT_RELEASE_ID",
        hide_env_values = true
    )]
    pub release_id: Option<u64>,

    /// First retry delay in milliseconds (doubles each retry, with jitter).
    #[arg(
        long,
        hide = true,
        default_value_t = 1000,
        env = "RELKIT_RETRY_BASE_MS"
    )]
    pub retry_base_ms: u64,

    /// Give up retrying after this many seconds in total (exit 3).
    #[arg(long, hide = true, default_value_t = 600, env = "RELKIT_GIVE_UP_SECS")]
    pub give_up_secs: u64,

    /// Per-request connect and read timeout in seconds.
    #[arg(long, hide = true, default_value_t = 60, env = "RELKIT_TIMEOUT_SECS")]
    pub timeout_secs: u64,
}

/// When a release is a pre-release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Prerelease {
    /// When the tag has a semver pre-release suffix (`v1.0.0-rc.1`).
    Auto,
    /// Always.
    True,
    /// Never.
    False,
}

/// GitHub's `make_latest` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MakeLatest {
    /// Make this the latest release.
    True,
    /// Do not.
    False,
    /// Latest by date and semver, GitHub's legacy rule.
    Legacy,
}

impl MakeLatest {
    fn as_str(self) -> &'static str {
        match self {
            MakeLatest::True => "true",
            MakeLatest::False => "false",
            MakeLatest::Legacy => "legacy",
        }
    }
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, reported by relkit-core (missing file, bad manifest…).
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// A file is at or over GitHub's 2 GiB limit.
    #[error("`{}`: {size} bytes is over GitHub's limit of 2 GiB per asset", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// More than 1000 assets.
    #[error("{count} assets is more than GitHub's limit of 1000 per release")]
    TooManyAssets {
        /// How many were given.
        count: usize,
    },
    /// GitHub would store the asset under another name.
    #[error("`{}`: GitHub would store it as `{becomes}`, not `{name}`; rename the file to `{becomes}`", path.display())]
    WouldRename {
        /// The file.
        path: PathBuf,
        /// The asset name we would send.
        name: String,
        /// The name GitHub would store.
        becomes: String,
    },
    /// Two files map to one asset name.
    #[error("asset name `{name}` is used by two files: `{}` and `{}`", first.display(), second.display())]
    DuplicateName {
        /// The name.
        name: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// A file's size differs from the manifest.
    #[error("`{}`: {actual} bytes, but `{}` says {expected}", path.display(), manifest.display())]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Size on disk.
        actual: u64,
        /// Size in the manifest.
        expected: u64,
        /// The manifest.
        manifest: PathBuf,
    },
    /// A file changed while it was being read.
    #[error("`{}` changed while it was being uploaded", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// Remote assets differ from the local files and `--replace` was not given.
    #[error("release `{tag}` already has assets that differ from the local files: {}; pass --replace to overwrite them", names.join(", "))]
    Differs {
        /// The tag.
        tag: String,
        /// The differing asset names.
        names: Vec<String>,
    },
    /// A published immutable release cannot take the missing assets.
    #[error(
        "release `{tag}` (id {id}) is published and immutable, so GitHub accepts no asset changes; {problems}"
    )]
    Immutable {
        /// The tag.
        tag: String,
        /// The release id.
        id: u64,
        /// What is missing or differs.
        problems: String,
    },
    /// Verification before publishing failed; nothing was published.
    #[error("release `{tag}` (id {id}) was not published: {problems}")]
    Verify {
        /// The tag.
        tag: String,
        /// The release id.
        id: u64,
        /// Every problem found.
        problems: String,
        /// Whether the fix is on our side (a missing upload) or remote.
        failure: Failure,
    },
    /// No release to work on.
    #[error("{0}")]
    NoRelease(String),
    /// The token cannot see the repository; GitHub answers 404 rather than
    /// 401 or 403 for a private repository the token has no access to.
    #[error(
        "the token cannot see `{repo}` (GitHub answered HTTP {status}; a private repository looks missing to a token without access): check the repository name and the token's permissions"
    )]
    NoAccess {
        /// `OWNER/NAME`.
        repo: String,
        /// The status GitHub answered.
        status: u16,
    },
    /// A listing did not end within its bounds, or its links were broken.
    #[error("{what}: {problem}")]
    Paging {
        /// What was being listed.
        what: String,
        /// What went wrong.
        problem: String,
    },
    /// A download did not deliver the asset's bytes.
    #[error("downloading asset `{name}`: {problem}")]
    Download {
        /// The asset name.
        name: String,
        /// What was wrong with the answer.
        problem: String,
    },
    /// GitHub answered something its API never sends.
    #[error("{what}: {problem}")]
    Unexpected {
        /// What we were doing.
        what: String,
        /// What was unexpected.
        problem: String,
    },
    /// GitHub accepted the publish, but the release stayed a draft.
    #[error("publishing release {id}: GitHub answered 200, but the release is still a draft")]
    StillDraft {
        /// The release id.
        id: u64,
    },
    /// A release's `upload_url` is not a URL.
    #[error("release {id}: its upload_url `{url}` is not a URL: {reason}")]
    BadUploadUrl {
        /// The release id.
        id: u64,
        /// The template as GitHub sent it.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// GitHub answered with an error that retrying will not fix.
    #[error("{what}: GitHub answered HTTP {status}: {message}")]
    Api {
        /// What we were doing.
        what: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// GitHub kept failing until the retry budget ran out.
    #[error("{what}: GitHub kept failing ({last}); gave up after {secs}s of retries")]
    GaveUp {
        /// What we were doing.
        what: String,
        /// The last failure.
        last: String,
        /// The retry budget in seconds.
        secs: u64,
    },
    /// A bug or a machine fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Api { status, .. }
                if (400..500).contains(status) && *status != 408 && *status != 429 =>
            {
                Failure::Input
            }
            Error::Api { .. }
            | Error::GaveUp { .. }
            | Error::Paging { .. }
            | Error::Download { .. }
            | Error::Unexpected { .. }
            | Error::StillDraft { .. }
            | Error::BadUploadUrl { .. } => Failure::Remote,
            Error::Verify { failure, .. } => *failure,
            Error::Internal(_) => Failure::Internal,
            _ => Failure::Input,
        }
    }
}

/// Run the helper with the process environment.
pub fn run(cli: Cli) -> Result<(), Error> {
    run_with_env(cli, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// Run the helper, reading `GITHUB_*` defaults and the token through `env`
/// (tests pass their own).
pub fn run_with_env(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let (mode, args) = match cli.mode {
        None => (flow::Mode::Upload, cli.args),
        Some(Mode::CreateDraft(a)) => (flow::Mode::CreateDraft, a),
        Some(Mode::Publish(a)) => (flow::Mode::Publish, a),
    };
    // Everything local is checked here, before any request.
    let opts = Options::resolve(mode, &args, env)?;
    let outcome = block_on(execute(&opts))?;
    outcome.report(&opts)
}

/// Check that `remote`'s token can see its repository: one GET of the
/// repository. A 401 (a bad token), 403 or 404 (GitHub's answer for a
/// private repository the token cannot see) is an input error, exit 1,
/// naming `OWNER/NAME` and never the token. Blocking: runs its own runtime.
pub fn check_access(remote: &Remote) -> Result<(), Error> {
    block_on(async { remote.client()?.check_access(&remote.full_name()).await })
}

/// For each candidate whose signed file the release for `tag` already
/// publishes unchanged (an `uploaded` asset `signed_name` whose digest is
/// `sha256:<signed_sha256>`) next to an `uploaded` asset `signature_name`,
/// download that signature (at most 64 KiB; redirects followed without the
/// token) and write it atomically to the candidate's `dest`. Returns the
/// signature names kept, in candidate order; no release for the tag keeps
/// nothing.
///
/// The release is found as the upload finds it: by listing (drafts
/// included), a published release first, else the lowest-id draft.
/// Signatures (minisign, OpenPGP) differ on every signing, so a re-run must
/// reuse the published one of an unchanged file, or the (possibly
/// immutable) release would refuse the new one. Blocking: runs its own
/// runtime.
pub fn keep_published_signatures(
    remote: &Remote,
    tag: &str,
    candidates: &[KeepCandidate],
) -> Result<Vec<String>, Error> {
    block_on(async { keep::keep(&remote.client()?, tag, candidates).await })
}

/// Run `fut` on a small runtime of its own.
fn block_on<T>(fut: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?
        .block_on(fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Umbrella {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        ReleaseUpload(Cli),
    }

    fn parse(args: &[&str]) -> Cli {
        let Sub::ReleaseUpload(cli) = Umbrella::try_parse_from(args).unwrap().command;
        cli
    }

    #[test]
    fn works_as_an_umbrella_subcommand() {
        let cli = parse(&[
            "relkit",
            "release-upload",
            "--tag",
            "v1.0.0",
            "a.tar.gz",
            "b.zip",
        ]);
        assert!(cli.mode.is_none());
        assert_eq!(cli.args.files.len(), 2);
        let cli = parse(&[
            "relkit",
            "release-upload",
            "publish",
            "--release-id",
            "7",
            "--manifest",
            "m.json",
        ]);
        let Some(Mode::Publish(args)) = cli.mode else {
            panic!("publish mode")
        };
        assert_eq!(args.release_id, Some(7));
        let cli = parse(&["relkit", "release-upload", "create-draft", "--tag", "v1"]);
        assert!(matches!(cli.mode, Some(Mode::CreateDraft(_))));
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("ghp_secret".into());
        assert_eq!(format!("{t:?}"), "Token(***)");
    }
}

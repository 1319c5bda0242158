//! The public data types of the fake: its configuration and the snapshots
//! tests read back (releases, assets, the request log).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

/// GitHub refuses assets of 2 GiB or more.
pub const MAX_ASSET_SIZE: u64 = 2 * 1024 * 1024 * 1024 - 1;
/// GitHub allows at most this many assets per release.
pub const MAX_ASSETS: usize = 1000;

/// How a [`crate::FakeGitHub`] behaves.
// Each flag is an independent switch of GitHub behaviour tests turn on.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone)]
pub struct Config {
    /// The token callers must send as `Authorization: Bearer <token>` (or
    /// `token <token>`).
    pub token: String,
    /// The one repository owner the fake serves (compared case-insensitively).
    pub owner: String,
    /// The one repository name the fake serves (compared case-insensitively).
    pub repo: String,
    /// Publishing a release makes it immutable: no more uploads, asset edits
    /// or deletions, and only its name and body may change.
    pub immutable_releases: bool,
    /// Path prefix of the upload endpoint, `""` for the API's own paths or
    /// e.g. `/api/uploads` like GHES. Clients must follow `upload_url`.
    /// Default `/uploads`, so a client that guesses the upload URL from the
    /// API URL gets a 404 or 405.
    pub upload_prefix: String,
    /// The largest `per_page` honoured (GitHub: 100).
    pub per_page_max: usize,
    /// Path prefix of the REST API, `""` like api.github.com or `/api/v3`
    /// like GHES; [`crate::FakeGitHub::api_url`] includes it, so clients
    /// must keep the path of `GITHUB_API_URL`.
    pub api_prefix: String,
    /// Serve `GET` requests that carry no `Authorization` header, hiding
    /// drafts, as GitHub does for a public repository. A wrong token is a 401
    /// either way. Off by default: every request needs the token.
    pub allow_anonymous_reads: bool,
    /// The `x-ratelimit-limit` advertised for the hourly window.
    pub rate_limit: u64,
    /// Where asset bodies are stored; `None` means a fresh temporary folder
    /// removed when the server goes away.
    pub blob_dir: Option<PathBuf>,
    /// Answer asset downloads (API with `Accept: application/octet-stream`,
    /// and browser downloads) with a 302 to a second listener on loopback
    /// standing for GitHub's download host, as GitHub does. That host
    /// refuses (400) any request carrying an `Authorization` header, as
    /// GitHub's storage does; its requests are logged with paths under
    /// `/cdn/`. Off by default: downloads are served directly.
    pub redirect_downloads: bool,
    /// Leave `digest` out of asset JSON, like GitHub Enterprise Server and
    /// assets uploaded before GitHub recorded digests.
    pub omit_digest: bool,
    /// Rename leading and trailing periods as GitHub does (`.config` becomes
    /// `default.config`, `tool.` becomes `tool`), besides turning special
    /// characters into `.`. Off by default: only special characters change.
    pub rename_dots: bool,
    /// How listings paginate; [`Pagination::Polite`] by default.
    pub pagination: Pagination,
    /// The repository is private: a request without a token gets 404 (not
    /// the public view [`Config::allow_anonymous_reads`] gives).
    pub private_repo: bool,
    /// Valid tokens whose owner cannot see the repository: GitHub answers
    /// 404 (not 401 or 403) to them for everything in it.
    pub tokens_without_access: Vec<String>,
    /// A broken download path, for clients that must notice one.
    pub download_quirk: Option<DownloadQuirk>,
}

/// How the fake paginates listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pagination {
    /// Like GitHub: `per_page` (capped) and `page` honoured, `Link` with
    /// `next` while more pages remain.
    #[default]
    Polite,
    /// Every page is the first one, and `Link` always names a next page: a
    /// client that trusts the server pages forever.
    IgnorePage,
    /// Every page holds every item, whatever `per_page` asked, and `Link`
    /// always names a next page.
    IgnorePerPage,
}

/// Ways a download path can be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownloadQuirk {
    /// The asset endpoint ignores `Accept: application/octet-stream` and
    /// answers the asset's JSON metadata (`application/json`).
    JsonMetadata,
    /// Downloads carry only the first half of the bytes (with a matching
    /// `Content-Length`, as `application/octet-stream`).
    ShortBody,
}

impl Config {
    /// The name GitHub stores for an uploaded `raw` name under this
    /// configuration (see [`github_asset_name`] and [`Config::rename_dots`]).
    pub fn asset_name(&self, raw: &str) -> String {
        let name = github_asset_name(raw);
        if !self.rename_dots {
            return name;
        }
        let name = name.trim_end_matches('.');
        match name.strip_prefix('.') {
            Some(rest) => format!("default.{}", rest.trim_start_matches('.')),
            None => name.to_owned(),
        }
    }

    /// Whether `token` is one of [`Config::tokens_without_access`].
    pub(crate) fn lacks_access(&self, token: &str) -> bool {
        self.tokens_without_access.iter().any(|t| t == token)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token: "test-token".to_owned(),
            owner: "octo".to_owned(),
            repo: "demo".to_owned(),
            immutable_releases: false,
            upload_prefix: "/uploads".to_owned(),
            per_page_max: 100,
            api_prefix: String::new(),
            allow_anonymous_reads: false,
            rate_limit: 5000,
            blob_dir: None,
            redirect_downloads: false,
            omit_digest: false,
            rename_dots: false,
            pagination: Pagination::Polite,
            private_repo: false,
            tokens_without_access: Vec::new(),
            download_quirk: None,
        }
    }
}

// Written by hand so the token never reaches a log line.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &"<redacted>")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("immutable_releases", &self.immutable_releases)
            .field("upload_prefix", &self.upload_prefix)
            .field("per_page_max", &self.per_page_max)
            .field("api_prefix", &self.api_prefix)
            .field("allow_anonymous_reads", &self.allow_anonymous_reads)
            .field("rate_limit", &self.rate_limit)
            .field("blob_dir", &self.blob_dir)
            .field("redirect_downloads", &self.redirect_downloads)
            .field("omit_digest", &self.omit_digest)
            .field("rename_dots", &self.rename_dots)
            .field("pagination", &self.pagination)
            .field("private_repo", &self.private_repo)
            .field(
                "tokens_without_access",
                &format!("<{} redacted>", self.tokens_without_access.len()),
            )
            .field("download_quirk", &self.download_quirk)
            .finish()
    }
}

/// A snapshot of one release, as [`crate::FakeGitHub::releases`] returns it.
// The flags mirror GitHub's release fields one to one.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseState {
    /// Release id.
    pub id: u64,
    /// Tag name.
    pub tag_name: String,
    /// Still a draft.
    pub draft: bool,
    /// Marked as a prerelease.
    pub prerelease: bool,
    /// Published while the fake was configured with immutable releases.
    pub immutable: bool,
    /// Title.
    pub name: Option<String>,
    /// Release notes.
    pub body: Option<String>,
    /// The last `make_latest` a create or update passed (`"true"`, `"false"`
    /// or `"legacy"`), if any.
    pub make_latest: Option<String>,
    /// This release is the repository's latest release
    /// (`GET /releases/latest` returns it).
    pub latest: bool,
    /// The commitish the tag points at.
    pub target_commitish: String,
    /// Assets in upload order.
    pub assets: Vec<AssetState>,
}

/// A snapshot of one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetState {
    /// Asset id.
    pub id: u64,
    /// Name after GitHub's renaming (see [`crate::github_asset_name`]).
    pub name: String,
    /// Label, if one was given.
    pub label: Option<String>,
    /// `"uploaded"`, or `"starter"` for an upload that never completed.
    pub state: String,
    /// Bytes stored (0 for a starter asset).
    pub size: u64,
    /// `"sha256:<hex>"` of the stored bytes; empty for a starter asset.
    pub digest: String,
    /// The Content-Type the upload carried.
    pub content_type: String,
    /// Where the body is stored (it may be removed once the asset is
    /// deleted or the server is gone).
    #[serde(skip)]
    pub path: PathBuf,
}

impl AssetState {
    /// Read the stored body.
    pub fn content(&self) -> std::io::Result<Vec<u8>> {
        if self.state != "uploaded" {
            return Ok(Vec::new());
        }
        fs_err::read(&self.path)
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path and query, e.g. `/repos/octo/demo/releases?per_page=100`.
    pub path: String,
    /// Status sent, or 0 when the connection was dropped without a response.
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
    /// The injected fault, e.g. `status 503` or `drop-mid-upload`, if any.
    pub fault: Option<String>,
    /// When the request arrived, measured from the server's start.
    pub since_start: Duration,
    /// The request carried the configured token.
    pub authenticated: bool,
}

/// The name GitHub gives an uploaded asset: every character outside
/// `[A-Za-z0-9._-]` becomes `.`. Clients can call this to refuse names that
/// would change.
pub fn github_asset_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '.'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_like_github() {
        assert_eq!(
            github_asset_name("app-1.0_x86.tar.gz"),
            "app-1.0_x86.tar.gz"
        );
        assert_eq!(github_asset_name("my file (1).zip"), "my.file..1..zip");
        assert_eq!(github_asset_name("é.bin"), "..bin");
    }

    #[test]
    fn debug_hides_the_token() {
        let c = Config {
            token: "canary-secret".into(),
            tokens_without_access: vec!["canary-other".into()],
            ..Config::default()
        };
        let text = format!("{c:?}");
        assert!(!text.contains("canary-secret") && !text.contains("canary-other"));
    }

    // issue 10.10: GitHub renames leading and trailing periods too.
    #[test]
    fn renames_dots_like_github_when_asked() {
        let polite = Config::default();
        assert_eq!(polite.asset_name(".config"), ".config");
        let dots = Config {
            rename_dots: true,
            ..Config::default()
        };
        assert_eq!(dots.asset_name(".config"), "default.config");
        assert_eq!(dots.asset_name("tool.tar.gz."), "tool.tar.gz");
        assert_eq!(dots.asset_name("..x y."), "default.x.y");
        assert_eq!(dots.asset_name("plain.zip"), "plain.zip");
    }
}

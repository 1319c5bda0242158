//! The public data types of the fake: its configuration and the snapshots
//! tests read back (releases, assets, the request log).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How a [`crate::FakeGitHub`] behaves.
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
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("canary-secret"));
    }
}

//! Where a release comes from — a folder, any static host, or a GitHub
//! release — brought into one local folder of files to check, with the list
//! of what the source publishes (when it can be listed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use relkit_core::input::Limit;
use relkit_core::manifest::Manifest;
use serde::Deserialize;
use url::Url;

use crate::Error;
use crate::http::{Expect, Http};

/// Release files in a local folder.
#[derive(Debug)]
pub struct Local {
    /// The folder.
    pub dir: PathBuf,
    /// Every file the source publishes; `None` when it cannot be listed
    /// (a static host).
    pub listing: Option<BTreeSet<String>>,
    /// Where the files came from, for the report.
    pub origin: String,
    /// Files that could not be fetched, with why.
    pub fetch_problems: Vec<(String, String)>,
}

/// A release asset as the API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiAsset {
    /// Asset name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// API URL of the asset (download with `Accept: application/octet-stream`).
    pub url: String,
    /// Public download URL.
    pub browser_download_url: String,
    /// `sha256:HEX`, when GitHub computed it.
    #[serde(default)]
    pub digest: Option<String>,
    /// `uploaded` once complete.
    #[serde(default)]
    pub state: Option<String>,
}

/// A release as the API returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiRelease {
    /// Release id.
    pub id: u64,
    /// Its tag.
    pub tag_name: String,
    /// Its assets (the first page).
    #[serde(default)]
    pub assets: Vec<ApiAsset>,
}

/// A GitHub repository through its API.
#[derive(Debug, Clone)]
pub struct Repo {
    /// API base, ending with `/`.
    pub api: Url,
    /// `OWNER`.
    pub owner: String,
    /// `NAME`.
    pub name: String,
}

/// Assets per page asked of the API.
const PER_PAGE: usize = 100;
/// Pages of assets read at most (GitHub allows 1000 assets per release).
const MAX_PAGES: usize = 11;

impl Repo {
    /// `OWNER/NAME`, checked.
    pub fn parse(full: &str, api: Url) -> Result<Repo, Error> {
        let bad =
            || relkit_core::Error::invalid("repository", format!("`{full}` is not OWNER/NAME"));
        let (owner, name) = full.split_once('/').ok_or_else(bad)?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !ok(owner) || !ok(name) {
            return Err(bad().into());
        }
        Ok(Repo {
            api,
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `OWNER/NAME`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn endpoint(&self, parts: &[&str]) -> Result<Url, Error> {
        let mut url = self.api.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|()| Error::Internal("API URL cannot have a path".into()))?;
            segs.pop_if_empty();
            segs.extend(["repos", self.owner.as_str(), self.name.as_str()]);
            segs.extend(parts);
        }
        Ok(url)
    }

    /// The release of `tag`, or the latest release, with all its assets.
    pub async fn release(&self, http: &Http, tag: Option<&str>) -> Result<ApiRelease, Error> {
        let (url, what) = match tag {
            Some(t) => (
                self.endpoint(&["releases", "tags", t])?,
                format!("release `{t}` of {}", self.full_name()),
            ),
            None => (
                self.endpoint(&["releases", "latest"])?,
                format!("the latest release of {}", self.full_name()),
            ),
        };
        let mut release: ApiRelease = http.json(&url, &what, 16 << 20).await?;
        if release.assets.len() >= PER_PAGE {
            release.assets = self.all_assets(http, release.id, &what).await?;
        }
        Ok(release)
    }

    async fn all_assets(&self, http: &Http, id: u64, what: &str) -> Result<Vec<ApiAsset>, Error> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut url = self.endpoint(&["releases", &id.to_string(), "assets"])?;
            url.query_pairs_mut()
                .append_pair("per_page", &PER_PAGE.to_string())
                .append_pair("page", &page.to_string());
            let assets: Vec<ApiAsset> = http.json(&url, what, 16 << 20).await?;
            let n = assets.len();
            all.extend(assets);
            if n < PER_PAGE {
                return Ok(all);
            }
        }
        Err(Error::Refused(format!(
            "{what}: more than {} assets",
            MAX_PAGES * PER_PAGE
        )))
    }

    /// Where to download an asset: through the API with a token (private
    /// repositories), else the public download URL.
    pub fn asset_url(&self, http: &Http, asset: &ApiAsset) -> Result<(Url, &'static str), Error> {
        let (raw, accept) = if http.has_token() {
            (&asset.url, "application/octet-stream")
        } else {
            (&asset.browser_download_url, "*/*")
        };
        let url = Url::parse(raw).map_err(|e| {
            Error::Refused(format!(
                "asset `{}`: its URL `{raw}` is not a URL: {e}",
                asset.name
            ))
        })?;
        Ok((url, accept))
    }
}

/// A release file name: one plain path component.
pub fn check_asset_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::Refused(format!(
            "the release lists a file named `{}`, which is not a plain file name",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Download every asset of a GitHub release into `dir`.
pub async fn from_github(
    http: &Http,
    repo: &Repo,
    tag: Option<&str>,
    dir: &Path,
) -> Result<Local, Error> {
    let release = repo.release(http, tag).await?;
    let mut listing = BTreeSet::new();
    let mut problems = Vec::new();
    for asset in &release.assets {
        check_asset_name(&asset.name)?;
        if asset.state.as_deref().is_some_and(|s| s != "uploaded") {
            problems.push((
                asset.name.clone(),
                "the asset is not fully uploaded".to_owned(),
            ));
            continue;
        }
        listing.insert(asset.name.clone());
        let (url, accept) = repo.asset_url(http, asset)?;
        let expect = Expect {
            what: format!("asset `{}`", asset.name),
            max: asset.size,
            size: Some(asset.size),
            sha256: asset
                .digest
                .as_deref()
                .and_then(|d| d.strip_prefix("sha256:"))
                .map(str::to_owned),
        };
        let bar = relkit_core::progress::bytes(asset.size, "downloading");
        if let Err(e) = http
            .to_file(&url, accept, &dir.join(&asset.name), &expect, &bar)
            .await
        {
            let _ = fs_err::remove_file(dir.join(&asset.name));
            problems.push((asset.name.clone(), relkit_core::error::one_line(&e)));
        }
        bar.finish_and_clear();
    }
    Ok(Local {
        dir: dir.to_path_buf(),
        listing: Some(listing),
        origin: format!("{} release {}", repo.full_name(), release.tag_name),
        fetch_problems: problems,
    })
}

/// Download `manifest.json` from a static host, then every file it lists.
pub async fn from_url(http: &Http, base: &str, dir: &Path) -> Result<Local, Error> {
    let mut base = Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            relkit_core::Error::invalid("--url", format!("`{base}` is not an http(s) URL"))
        })?;
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    let join = |name: &str| {
        base.join(name)
            .map_err(|e| Error::Internal(format!("cannot join `{name}` to the base URL: {e}")))
    };
    let manifest_path = dir.join("manifest.json");
    let bar = indicatif::ProgressBar::hidden();
    let small = |what: &str, max: u64| Expect {
        what: what.to_owned(),
        max,
        size: None,
        sha256: None,
    };
    http.to_file(
        &join("manifest.json")?,
        "*/*",
        &manifest_path,
        &small("manifest.json", Limit::MANIFEST.max()),
        &bar,
    )
    .await?;
    let manifest = Manifest::read(&manifest_path)?;
    let mut wanted: Vec<(String, u64)> = Vec::new();
    for a in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind.rules().uploaded)
    {
        wanted.push((a.file.clone(), a.size));
        for s in &a.signatures {
            wanted.push((s.file.clone(), Limit::SIGNATURE.max()));
        }
    }
    for sig in ["manifest.json.minisig", "manifest.json.sig"] {
        wanted.push((sig.to_owned(), Limit::SIGNATURE.max()));
    }
    wanted.sort();
    wanted.dedup();
    let mut problems = Vec::new();
    for (file, size) in wanted {
        check_asset_name(&file)?;
        let optional = file.starts_with("manifest.json.");
        let expect = small(&file, size);
        let dest = dir.join(&file);
        match http
            .to_file(&join(&file)?, "*/*", &dest, &expect, &bar)
            .await
        {
            Ok(_) => {}
            Err(Error::NotFound { .. }) if optional => {
                let _ = fs_err::remove_file(&dest);
            }
            Err(e) => {
                let _ = fs_err::remove_file(&dest);
                problems.push((file, relkit_core::error::one_line(&e)));
            }
        }
    }
    Ok(Local {
        dir: dir.to_path_buf(),
        listing: None,
        origin: crate::http::shown_url(&base),
        fetch_problems: problems,
    })
}

/// A downloaded folder as it is.
pub fn from_dir(dir: &Path) -> Result<Local, Error> {
    let mut listing = BTreeSet::new();
    for e in fs_err::read_dir(dir).map_err(relkit_core::Error::from)? {
        let e = e.map_err(relkit_core::Error::from)?;
        if e.file_type().map_err(relkit_core::Error::from)?.is_file() {
            listing.insert(e.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(Local {
        dir: dir.to_path_buf(),
        listing: Some(listing),
        origin: dir.display().to_string(),
        fetch_problems: Vec::new(),
    })
}

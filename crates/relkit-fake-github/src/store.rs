//! The fake's state: releases and assets of one repository, and the rules
//! GitHub applies to them (one published release per tag, unique asset
//! names, immutability, the latest release).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::model::{AssetState, ReleaseState};

/// First ids handed out; releases and assets never share a number, so a
/// client mixing them up gets a 404 instead of a lucky hit.
const FIRST_RELEASE_ID: u64 = 1_000_001;
const FIRST_ASSET_ID: u64 = 5_000_001;

#[derive(Debug, Clone)]
pub(crate) struct Release {
    pub(crate) id: u64,
    pub(crate) tag_name: String,
    pub(crate) target_commitish: String,
    pub(crate) name: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) draft: bool,
    pub(crate) prerelease: bool,
    pub(crate) immutable: bool,
    pub(crate) make_latest: Option<String>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) published_at: Option<String>,
    /// Asset ids in upload order.
    pub(crate) assets: Vec<u64>,
}

impl Release {
    /// Immutable and published: only name and body may change.
    pub(crate) fn locked(&self) -> bool {
        self.immutable && !self.draft
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub(crate) id: u64,
    pub(crate) release_id: u64,
    pub(crate) name: String,
    pub(crate) label: Option<String>,
    pub(crate) state: String,
    pub(crate) size: u64,
    pub(crate) digest: Option<String>,
    pub(crate) content_type: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) download_count: u64,
    pub(crate) path: PathBuf,
}

#[derive(Debug)]
pub(crate) struct Store {
    next_release: u64,
    next_asset: u64,
    pub(crate) releases: BTreeMap<u64, Release>,
    pub(crate) assets: BTreeMap<u64, Asset>,
    pub(crate) latest: Option<u64>,
    /// Tags of deleted immutable releases: GitHub never lets them be reused.
    pub(crate) burned_tags: BTreeSet<String>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            next_release: FIRST_RELEASE_ID,
            next_asset: FIRST_ASSET_ID,
            releases: BTreeMap::new(),
            assets: BTreeMap::new(),
            latest: None,
            burned_tags: BTreeSet::new(),
        }
    }
}

impl Store {
    pub(crate) fn next_release_id(&mut self) -> u64 {
        let id = self.next_release;
        self.next_release += 1;
        id
    }

    pub(crate) fn next_asset_id(&mut self) -> u64 {
        let id = self.next_asset;
        self.next_asset += 1;
        id
    }

    /// Another published release (not `except`) holding `tag`.
    pub(crate) fn published_with_tag(&self, tag: &str, except: Option<u64>) -> Option<u64> {
        self.releases
            .values()
            .find(|r| !r.draft && r.tag_name == tag && Some(r.id) != except)
            .map(|r| r.id)
    }

    /// Apply `make_latest` after `id` was published or changed.
    pub(crate) fn update_latest(&mut self, id: u64) {
        let Some(r) = self.releases.get(&id) else {
            return;
        };
        if r.draft || r.prerelease {
            if self.latest == Some(id) {
                self.latest = None;
                self.recompute_latest_legacy();
            }
            return;
        }
        match r.make_latest.as_deref().unwrap_or("true") {
            "false" => {
                if self.latest == Some(id) {
                    self.latest = None;
                }
            }
            "legacy" => self.recompute_latest_legacy(),
            _ => self.latest = Some(id),
        }
    }

    /// GitHub's legacy rule: the most recently created published release
    /// that is not a prerelease.
    pub(crate) fn recompute_latest_legacy(&mut self) {
        self.latest = self
            .releases
            .values()
            .filter(|r| !r.draft && !r.prerelease)
            .map(|r| r.id)
            .max();
    }

    pub(crate) fn asset_names(&self, release: &Release) -> impl Iterator<Item = &str> {
        release
            .assets
            .iter()
            .filter_map(|a| self.assets.get(a))
            .map(|a| a.name.as_str())
    }

    pub(crate) fn snapshot(&self) -> Vec<ReleaseState> {
        self.releases
            .values()
            .map(|r| ReleaseState {
                id: r.id,
                tag_name: r.tag_name.clone(),
                draft: r.draft,
                prerelease: r.prerelease,
                immutable: r.immutable,
                name: r.name.clone(),
                body: r.body.clone(),
                make_latest: r.make_latest.clone(),
                latest: self.latest == Some(r.id),
                target_commitish: r.target_commitish.clone(),
                assets: r
                    .assets
                    .iter()
                    .filter_map(|a| self.assets.get(a))
                    .map(Asset::snapshot)
                    .collect(),
            })
            .collect()
    }
}

impl Asset {
    pub(crate) fn snapshot(&self) -> AssetState {
        AssetState {
            id: self.id,
            name: self.name.clone(),
            label: self.label.clone(),
            state: self.state.clone(),
            size: self.size,
            digest: self.digest.clone().unwrap_or_default(),
            content_type: self.content_type.clone(),
            path: self.path.clone(),
        }
    }
}

//! What one running server holds and every layer reads: the configuration,
//! the store, the fault engine, the request log, and the per-request
//! [`Ticket`] the front middleware hands to handlers. The router (`api`),
//! the CDN (`cdn`) and the server loop (`server`) all depend on this module
//! and never on each other's internals.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fault::{Fault, FaultEngine};
use crate::model::{Config, LoggedRequest};
use crate::store::{Asset, Store};

/// Lock a mutex, ignoring poisoning: a panicking handler must not take the
/// whole fake down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// State shared by every connection of one server.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// `http://127.0.0.1:PORT2` of the download host, when downloads redirect.
    pub(crate) cdn_url: Option<String>,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<FaultEngine>,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    pub(crate) started: Instant,
    pub(crate) blob_dir: PathBuf,
    /// Keeps the temporary blob folder alive as long as the server.
    pub(crate) _blob_tmp: Option<tempfile::TempDir>,
    pub(crate) rate_used: AtomicU64,
    pub(crate) request_seq: AtomicU64,
    /// Written after every state change, when set.
    pub(crate) state_file: Mutex<Option<PathBuf>>,
}

impl Shared {
    /// `http://127.0.0.1:PORT` plus the API prefix.
    pub(crate) fn api_base(&self) -> String {
        format!("{}{}", self.base_url, self.config.api_prefix)
    }

    /// Where `upload_url`s point: the upload prefix, or the API itself.
    pub(crate) fn upload_base(&self) -> String {
        if self.config.upload_prefix.is_empty() {
            self.api_base()
        } else {
            format!("{}{}", self.base_url, self.config.upload_prefix)
        }
    }

    pub(crate) fn record(&self, entry: LoggedRequest) {
        lock(&self.log).push(entry);
    }

    /// The log sorted by arrival (it is appended to on completion).
    pub(crate) fn log_sorted(&self) -> Vec<LoggedRequest> {
        let mut log = lock(&self.log).clone();
        log.sort_by_key(|e| e.at);
        log
    }

    pub(crate) fn blob_path(&self, asset_id: u64) -> PathBuf {
        self.blob_dir.join(asset_id.to_string())
    }

    /// Whether `owner/repo` is the repository this fake serves.
    pub(crate) fn serves(&self, owner: &str, repo: &str) -> bool {
        owner.eq_ignore_ascii_case(&self.config.owner)
            && repo.eq_ignore_ascii_case(&self.config.repo)
    }

    /// Whether `path` is a browser download (`/OWNER/NAME/releases/download/…`).
    pub(crate) fn is_browser_download(&self, path: &str) -> bool {
        let prefix = format!(
            "/{}/{}/releases/download/",
            self.config.owner, self.config.repo
        );
        path.len() > prefix.len()
            && path.is_char_boundary(prefix.len())
            && path[..prefix.len()].eq_ignore_ascii_case(&prefix)
    }

    /// Write the state file, if configured. Errors are logged, not fatal:
    /// the fake keeps serving.
    pub(crate) fn persist(&self) {
        // Held while writing, so a slower writer cannot put older state
        // over newer.
        let guard = lock(&self.state_file);
        let Some(path) = guard.as_ref() else {
            return;
        };
        let text = serde_json::to_vec_pretty(&self.state_json()).unwrap_or_default();
        if let Err(e) = relkit_core::atomic::write_file(path, &text) {
            tracing::warn!("cannot write the state file: {e}");
        }
    }

    /// The state as `GET /_fake/state` returns it.
    pub(crate) fn state_json(&self) -> Value {
        let store = lock(&self.store);
        json!({
            "api_url": self.api_base(),
            "upload_url": self.upload_base(),
            "releases": store.snapshot(),
        })
    }

    /// Forget every release, asset, fault rule and logged request.
    pub(crate) fn reset(&self) {
        let assets: Vec<PathBuf> = {
            let mut store = lock(&self.store);
            let paths = store.assets.values().map(|a| a.path.clone()).collect();
            store.releases.clear();
            store.assets.clear();
            store.latest = None;
            store.burned_tags.clear();
            paths
        };
        for path in assets {
            let _ = fs_err::remove_file(path);
        }
        lock(&self.faults).clear();
        lock(&self.log).clear();
        self.persist();
    }

    /// Add an asset to a release without any of GitHub's checks (no
    /// renaming, no uniqueness); `content: None` makes a `starter` asset as a
    /// failed upload leaves one. `None` when the release does not exist.
    pub(crate) fn seed_asset(
        &self,
        release_id: u64,
        name: &str,
        content: Option<&[u8]>,
    ) -> std::io::Result<Option<u64>> {
        let mut store = lock(&self.store);
        if !store.releases.contains_key(&release_id) {
            return Ok(None);
        }
        let id = store.next_asset_id();
        let path = self.blob_path(id);
        let (state, size, digest) = match content {
            Some(bytes) => {
                fs_err::write(&path, bytes)?;
                let mut h = relkit_core::hash::Algo::Sha256.hasher();
                h.update(bytes);
                let digest = format!("sha256:{}", h.finish_hex());
                ("uploaded", bytes.len() as u64, Some(digest))
            }
            None => ("starter", 0, None),
        };
        let now = now_rfc3339();
        store.assets.insert(
            id,
            Asset {
                id,
                release_id,
                name: name.to_owned(),
                label: None,
                state: state.to_owned(),
                size,
                digest,
                content_type: "application/octet-stream".to_owned(),
                created_at: now.clone(),
                updated_at: now,
                download_count: 0,
                path,
            },
        );
        if let Some(r) = store.releases.get_mut(&release_id) {
            r.assets.push(id);
        }
        drop(store);
        self.persist();
        Ok(Some(id))
    }
}

/// Per-connection switch a fault uses to drop its connection.
#[derive(Clone)]
pub(crate) struct ConnKill(pub(crate) CancellationToken);

/// What the front middleware decided about one request; handlers read it
/// from the request extensions.
#[derive(Clone)]
pub(crate) struct Ticket {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) at: Instant,
    pub(crate) authenticated: bool,
    /// A fault the upload handler must act on itself.
    pub(crate) upload_fault: Option<Fault>,
    pub(crate) kill: Option<ConnKill>,
}

impl Ticket {
    pub(crate) fn entry(
        &self,
        shared: &Shared,
        status: u16,
        fault: Option<String>,
    ) -> LoggedRequest {
        LoggedRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            status,
            at: self.at,
            fault,
            since_start: self.at.saturating_duration_since(shared.started),
            authenticated: self.authenticated,
        }
    }

    /// Log the request as dropped and close its connection; the caller then
    /// never returns (the connection task drops it).
    pub(crate) async fn drop_connection(&self, shared: &Shared, fault: &Fault) -> Response {
        shared.record(self.entry(shared, 0, Some(fault.label())));
        if let Some(kill) = &self.kill {
            kill.0.cancel();
        }
        std::future::pending::<()>().await;
        unreachable!("the connection task drops this future")
    }
}

pub(crate) fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn now_rfc3339() -> String {
    let epoch = i64::try_from(now_epoch()).unwrap_or(0);
    relkit_core::buildtime::rfc3339(epoch).unwrap_or_default()
}

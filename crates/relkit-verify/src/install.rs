//! `relkit install OWNER/NAME[@TAG]`: the archive for this machine, from the
//! release's manifest, downloaded and checked (SHA256SUMS's signature, then
//! the archive's sha256) before anything is extracted; only the binaries
//! are installed, never over a file relkit did not put there.
//!
//! State kept, all under the XDG folders:
//! - `$XDG_CACHE_HOME/relkit/downloads/SHA256.EXT`: verified archives by sha256;
//! - `$XDG_CONFIG_HOME/relkit/trusted-keys/HOST/OWNER/NAME.pub`: the key
//!   first given for a repository (trust on first use: a later, different
//!   key is refused);
//! - `$XDG_DATA_HOME/relkit/installed.json`: the files relkit installed,
//!   with their sha256, so an upgrade may replace them and nothing else.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use relkit_core::hash::Algo;
use relkit_core::input::{Limit, read_text};
use relkit_core::manifest::{Artifact, ArtifactKind, Content, Manifest};
use relkit_sign::minisig::MinisignPublicKey;
use serde::{Deserialize, Serialize};

use crate::host::{Host, Libc, glibc_needed};
use crate::http::{Expect, Http};
use crate::source::{ApiAsset, ApiRelease, Repo, check_asset_name};
use crate::{Error, InstallArgs};

/// The folders relkit install uses.
#[derive(Debug, Clone)]
pub struct Places {
    /// Verified downloads, by sha256.
    pub cache: PathBuf,
    /// Keys trusted on first use.
    pub keys: PathBuf,
    /// The record of installed files.
    pub receipts: PathBuf,
    /// Where binaries go by default.
    pub bin: PathBuf,
}

impl Places {
    /// From `XDG_CACHE_HOME`, `XDG_CONFIG_HOME`, `XDG_DATA_HOME` and `HOME`.
    pub fn from_env() -> Result<Places, Error> {
        let var = |v: &str| {
            std::env::var_os(v)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = var("HOME").or_else(|| var("USERPROFILE"));
        let under = |xdg: &str, rel: &str| -> Result<PathBuf, Error> {
            var(xdg)
                .or_else(|| home.as_ref().map(|h| h.join(rel)))
                .ok_or_else(|| {
                    relkit_core::Error::invalid(
                        "HOME",
                        format!("is not set (nor {xdg}): no folder to keep relkit's state in"),
                    )
                    .into()
                })
        };
        Ok(Places {
            cache: under("XDG_CACHE_HOME", ".cache")?
                .join("relkit")
                .join("downloads"),
            keys: under("XDG_CONFIG_HOME", ".config")?
                .join("relkit")
                .join("trusted-keys"),
            receipts: under("XDG_DATA_HOME", ".local/share")?
                .join("relkit")
                .join("installed.json"),
            bin: under("XDG_BIN_HOME", ".local/bin")?,
        })
    }
}

/// One installed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Receipt {
    repo: String,
    tag: String,
    target: String,
    sha256: String,
}

type Receipts = BTreeMap<String, Receipt>;

/// Run `relkit install`.
pub fn run(args: &InstallArgs) -> Result<(), Error> {
    let places = Places::from_env()?;
    let api = crate::api_url(args.api_url.as_deref())?;
    let (full, tag) = match args.project.split_once('@') {
        Some((r, t)) if !t.is_empty() => (r, Some(t)),
        Some(_) => {
            return Err(relkit_core::Error::invalid(
                "OWNER/NAME@TAG",
                "the tag after `@` is empty",
            )
            .into());
        }
        None => (args.project.as_str(), None),
    };
    let repo = Repo::parse(full, api.clone())?;
    let given = crate::check::key_from(
        args.trust.public_key.as_deref(),
        args.trust.public_key_file.as_deref(),
    )?;
    let trust_file = places
        .keys
        .join(api.host_str().unwrap_or("localhost"))
        .join(&repo.owner)
        .join(format!("{}.pub", repo.name));
    let key = trusted_key(&repo, given, &trust_file, args.trust.allow_unsigned)?;
    let http = Http::new(Some(api), crate::token_from_env(), Duration::from_secs(60))?;
    let to = args.to.clone().unwrap_or_else(|| places.bin.clone());
    let target = args.target.clone();
    let job = Job {
        http: &http,
        repo: &repo,
        tag,
        key: key.as_ref(),
        places: &places,
        to: &to,
        force: args.force,
        target: target.as_deref(),
    };
    crate::runtime()?.block_on(job.run())?;
    if let Some(Trusted::FirstUse(key, text)) = &key {
        remember_key(&trust_file, text)?;
        eprintln!(
            "relkit install: trusting minisign key {} for {} from now on (trust on first use: \
             releases signed by another key will be refused); kept in {}",
            key.key_id(),
            repo.full_name(),
            trust_file.display()
        );
    }
    Ok(())
}

/// The key to check with.
enum Trusted {
    /// The key remembered for the repository.
    Pinned(MinisignPublicKey),
    /// A key given for the first time: remembered once the release verifies.
    FirstUse(MinisignPublicKey, String),
}

impl Trusted {
    fn key(&self) -> &MinisignPublicKey {
        match self {
            Trusted::Pinned(k) | Trusted::FirstUse(k, _) => k,
        }
    }
}

fn trusted_key(
    repo: &Repo,
    given: Option<(MinisignPublicKey, String)>,
    trust_file: &Path,
    allow_unsigned: bool,
) -> Result<Option<Trusted>, Error> {
    let pinned = if trust_file.is_file() {
        let text = read_text(trust_file, Limit::KEY)?;
        Some(MinisignPublicKey::parse(
            &text,
            &format!("`{}`", trust_file.display()),
        )?)
    } else {
        None
    };
    match (given, pinned) {
        (Some((g, _)), Some(p)) if g.key_id() != p.key_id() => Err(Error::Refused(format!(
            "the public key given for {} (key id {}) is not the key trusted on first use \
             (key id {}, kept in `{}`); refusing. If the project changed its key, confirm the new \
             one with the project, then delete that file",
            repo.full_name(),
            g.key_id(),
            p.key_id(),
            trust_file.display()
        ))),
        (_, Some(p)) => Ok(Some(Trusted::Pinned(p))),
        (Some((g, text)), None) => Ok(Some(Trusted::FirstUse(g, text))),
        (None, None) if allow_unsigned => Ok(None),
        (None, None) => Err(Error::Refused(format!(
            "no public key for {}: pass the project's minisign key with --public-key or \
             --public-key-file (it is remembered: trust on first use), or --allow-unsigned",
            repo.full_name()
        ))),
    }
}

fn remember_key(trust_file: &Path, text: &str) -> Result<(), Error> {
    if let Some(dir) = trust_file.parent() {
        fs_err::create_dir_all(dir).map_err(relkit_core::Error::from)?;
    }
    let mut body = text.trim_end().to_owned();
    if !body.contains('\n') {
        body = format!("untrusted comment: minisign public key\n{body}");
    }
    body.push('\n');
    relkit_core::atomic::write_file(trust_file, body.as_bytes())?;
    Ok(())
}

struct Job<'a> {
    http: &'a Http,
    repo: &'a Repo,
    tag: Option<&'a str>,
    key: Option<&'a Trusted>,
    places: &'a Places,
    to: &'a Path,
    force: bool,
    target: Option<&'a str>,
}

/// The release's signed metadata, checked.
struct Meta {
    release: ApiRelease,
    manifest: Manifest,
    sums: BTreeMap<String, String>,
}

impl Job<'_> {
    async fn run(&self) -> Result<(), Error> {
        let scratch = tempfile::Builder::new()
            .prefix(".relkit-install")
            .tempdir()
            .map_err(relkit_core::Error::from)?;
        let meta = self.meta(scratch.path()).await?;
        let host = Host::detect();
        let archives: Vec<&Artifact> = meta
            .manifest
            .artifacts
            .iter()
            .filter(|a| a.kind == ArtifactKind::Archive && a.target.is_some())
            .collect();
        let targets: Vec<&str> = archives
            .iter()
            .filter_map(|a| a.target.as_deref())
            .collect();
        let candidates = match self.target {
            Some(t) if targets.contains(&t) => vec![t.to_owned()],
            Some(t) => {
                return Err(Error::Refused(format!(
                    "{} {} has no archive for `{t}`; it has: {}",
                    self.repo.full_name(),
                    meta.release.tag_name,
                    targets.join(", ")
                )));
            }
            None => host.candidates(targets.iter().copied()),
        };
        if candidates.is_empty() {
            return Err(Error::Refused(format!(
                "{} {} has no archive for this machine ({}); it has: {}",
                self.repo.full_name(),
                meta.release.tag_name,
                host.describe(),
                if targets.is_empty() {
                    "none".to_owned()
                } else {
                    targets.join(", ")
                }
            )));
        }
        let mut skipped = Vec::new();
        for target in &candidates {
            let archive = archives
                .iter()
                .find(|a| a.target.as_deref() == Some(target.as_str()))
                .expect("candidates come from the archives");
            let bins = binaries(archive)?;
            let cached = self.fetch_archive(&meta, archive, scratch.path()).await?;
            fs_err::create_dir_all(self.to).map_err(relkit_core::Error::from)?;
            let (staging, _guard) = relkit_core::cleanup::tempdir_in(self.to, ".relkit-install")
                .map_err(|e| relkit_core::atomic::io_at(self.to, e))?;
            let mut staged = Vec::new();
            for b in &bins {
                let name = b.path.rsplit('/').next().unwrap_or(&b.path);
                let dest = staging.path().join(name);
                relkit_package::unpack::extract_entry(&cached, b, &dest)?;
                staged.push((name.to_owned(), dest, b.sha256.clone()));
            }
            if let Libc::Glibc(Some(have)) = host.libc
                && target.contains("gnu")
                && self.target.is_none()
            {
                let mut needed = None;
                for (_, path, _) in &staged {
                    needed = needed.max(glibc_needed(path).map_err(relkit_core::Error::from)?);
                }
                if let Some(need) = needed.filter(|n| *n > have) {
                    skipped.push(format!(
                        "{target} needs glibc {}.{}, this machine has {}.{}",
                        need.0, need.1, have.0, have.1
                    ));
                    continue;
                }
            }
            for note in &skipped {
                eprintln!("relkit install: {note}; using {target}");
            }
            return self.place(&meta, target, &staged);
        }
        Err(Error::Refused(format!(
            "no build of {} {} runs on this machine ({}): {}",
            self.repo.full_name(),
            meta.release.tag_name,
            host.describe(),
            skipped.join("; ")
        )))
    }

    /// manifest.json, SHA256SUMS and their signatures, checked.
    async fn meta(&self, scratch: &Path) -> Result<Meta, Error> {
        let release = self.repo.release(self.http, self.tag).await?;
        let what = format!("{} {}", self.repo.full_name(), release.tag_name);
        let find = |name: &str| release.assets.iter().find(|a| a.name == name);
        let manifest_asset = find("manifest.json").ok_or_else(|| {
            Error::Refused(format!(
                "{what} has no manifest.json: it was not published by relkit"
            ))
        })?;
        let sums_asset = find("SHA256SUMS").ok_or_else(|| {
            Error::Refused(format!(
                "{what} has no SHA256SUMS: nothing to verify against"
            ))
        })?;
        let manifest_path = self
            .small(manifest_asset, scratch, Limit::MANIFEST.max())
            .await?;
        let sums_path = self.small(sums_asset, scratch, Limit::SUMS.max()).await?;
        if let Some(trusted) = self.key {
            for (signed, path) in [
                ("SHA256SUMS", &sums_path),
                ("manifest.json", &manifest_path),
            ] {
                let sig_name = format!("{signed}.minisig");
                let sig_asset = find(&sig_name).ok_or_else(|| {
                    Error::Refused(format!(
                        "{what} has no {sig_name}: `{signed}` is not signed; refusing \
                         (pass --allow-unsigned without a key to accept an unsigned release)"
                    ))
                })?;
                let sig_path = self
                    .small(sig_asset, scratch, Limit::SIGNATURE.max())
                    .await?;
                let text = read_text(&sig_path, Limit::SIGNATURE)?;
                relkit_sign::minisig::verify_detailed(path, &sig_path, &text, trusted.key(), false)
                    .map_err(|e| {
                        Error::Refused(format!(
                            "{what}: {}; refusing to install",
                            relkit_core::error::one_line(&e)
                        ))
                    })?;
            }
        } else {
            eprintln!(
                "relkit install: warning: {what} is installed without checking a signature \
                 (--allow-unsigned): only its SHA256SUMS, fetched over HTTPS, vouches for it"
            );
        }
        let manifest = Manifest::read(&manifest_path)?;
        let text = read_text(&sums_path, Limit::SUMS)?;
        let mut sums = BTreeMap::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let l = relkit_checksum::parse_line(line.trim_end_matches('\r'), Algo::Sha256)
                .map_err(|why| {
                    Error::Refused(format!("{what}: SHA256SUMS line {}: {why}", i + 1))
                })?;
            sums.insert(l.name, l.hex);
        }
        Ok(Meta {
            release,
            manifest,
            sums,
        })
    }

    /// A small asset into `scratch`, bounded by `max` bytes.
    async fn small(&self, asset: &ApiAsset, scratch: &Path, max: u64) -> Result<PathBuf, Error> {
        check_asset_name(&asset.name)?;
        if asset.size > max {
            return Err(Error::Refused(format!(
                "asset `{}` is {} bytes, over the limit of {max}",
                asset.name, asset.size
            )));
        }
        let (url, accept) = self.repo.asset_url(self.http, asset)?;
        let dest = scratch.join(&asset.name);
        let expect = Expect {
            what: format!("asset `{}`", asset.name),
            max,
            size: Some(asset.size),
            sha256: None,
        };
        self.http
            .to_file(
                &url,
                accept,
                &dest,
                &expect,
                &indicatif::ProgressBar::hidden(),
            )
            .await?;
        Ok(dest)
    }

    /// The archive, from the cache when a verified copy is there, else
    /// downloaded and checked against the signed SHA256SUMS, then cached.
    async fn fetch_archive(
        &self,
        meta: &Meta,
        archive: &Artifact,
        scratch: &Path,
    ) -> Result<PathBuf, Error> {
        let want = meta.sums.get(&archive.name).ok_or_else(|| {
            Error::Refused(format!(
                "`{}` is not in the signed SHA256SUMS; refusing to install",
                archive.name
            ))
        })?;
        if *want != archive.sha256 {
            return Err(Error::Refused(format!(
                "`{}`: the manifest says sha256 {} but the signed SHA256SUMS says {want}; refusing to install",
                archive.name, archive.sha256
            )));
        }
        // Named by sha256, with the format's extension.
        let format = relkit_package::unpack::format_of(Path::new(&archive.name))?;
        let cached = self
            .places
            .cache
            .join(format!("{want}.{}", format.extension()));
        if cached.is_file() {
            let d = relkit_core::hash::hash_file(&cached, Algo::Sha256, |_| {})?;
            if d.hex == *want {
                eprintln!(
                    "relkit install: using the verified download of `{}` in the cache",
                    archive.name
                );
                return Ok(cached);
            }
        }
        let asset = meta
            .release
            .assets
            .iter()
            .find(|a| a.name == archive.name)
            .ok_or_else(|| {
                Error::Refused(format!(
                    "the release lists `{}` in its manifest but has no such asset",
                    archive.name
                ))
            })?;
        let (url, accept) = self.repo.asset_url(self.http, asset)?;
        let dest = scratch.join(&archive.name);
        let expect = Expect {
            what: format!("`{}`", archive.name),
            max: archive.size,
            size: Some(archive.size),
            sha256: Some(want.clone()),
        };
        let bar = relkit_core::progress::bytes(archive.size, "downloading");
        let got = self.http.to_file(&url, accept, &dest, &expect, &bar).await;
        bar.finish_and_clear();
        if let Err(e) = got {
            let _ = fs_err::remove_file(&dest);
            return Err(e);
        }
        // Only verified bytes reach the cache.
        fs_err::create_dir_all(&self.places.cache).map_err(relkit_core::Error::from)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".download")
            .tempfile_in(&self.places.cache)
            .map_err(|e| relkit_core::atomic::io_at(&self.places.cache, e))?;
        std::io::copy(
            &mut relkit_core::hash::open_regular(&dest)?,
            tmp.as_file_mut(),
        )
        .and_then(|_| tmp.as_file_mut().flush())
        .map_err(|e| relkit_core::atomic::io_at(&cached, e))?;
        tmp.persist(&cached)
            .map_err(|e| relkit_core::atomic::io_at(&cached, e.error))?;
        Ok(cached)
    }

    /// Move the staged binaries into place, refusing to replace what relkit
    /// did not install (unless --force), and record them.
    fn place(
        &self,
        meta: &Meta,
        target: &str,
        staged: &[(String, PathBuf, String)],
    ) -> Result<(), Error> {
        let mut receipts: Receipts = if self.places.receipts.is_file() {
            let text = read_text(&self.places.receipts, Limit::MANIFEST)?;
            serde_json::from_str(&text).map_err(|e| relkit_core::Error::Json {
                path: self.places.receipts.clone(),
                source: e,
            })?
        } else {
            Receipts::new()
        };
        let to = fs_err::canonicalize(self.to).map_err(relkit_core::Error::from)?;
        let mut plan = Vec::new();
        for (name, staged_path, sha256) in staged {
            let dest = to.join(name);
            let key = dest.to_string_lossy().into_owned();
            if let Ok(meta) = fs_err::symlink_metadata(&dest) {
                if meta.is_dir() {
                    return Err(Error::Refused(format!(
                        "`{}` is a folder; not replacing it",
                        dest.display()
                    )));
                }
                let ours = receipts.get(&key).is_some_and(|r| {
                    meta.is_file()
                        && relkit_core::hash::hash_file(&dest, Algo::Sha256, |_| {})
                            .is_ok_and(|d| d.hex == r.sha256)
                });
                if !ours && !self.force {
                    return Err(Error::Refused(format!(
                        "`{}` exists and relkit did not install it (or it changed since); \
                         pass --force to overwrite it",
                        dest.display()
                    )));
                }
            }
            plan.push((dest, key, staged_path, sha256));
        }
        let mut lines = Vec::new();
        for (dest, key, staged_path, sha256) in plan {
            fs_err::rename(staged_path, &dest).map_err(relkit_core::Error::from)?;
            receipts.insert(
                key,
                Receipt {
                    repo: self.repo.full_name(),
                    tag: meta.release.tag_name.clone(),
                    target: target.to_owned(),
                    sha256: sha256.clone(),
                },
            );
            lines.push(format!("  {}", dest.display()));
        }
        if let Some(dir) = self.places.receipts.parent() {
            fs_err::create_dir_all(dir).map_err(relkit_core::Error::from)?;
        }
        let mut json =
            serde_json::to_string_pretty(&receipts).map_err(|e| Error::Internal(e.to_string()))?;
        json.push('\n');
        relkit_core::atomic::write_file(&self.places.receipts, json.as_bytes())?;
        println!(
            "installed {} {} ({target}) from {} {}:\n{}",
            meta.manifest.name,
            meta.manifest.version,
            self.repo.full_name(),
            meta.release.tag_name,
            lines.join("\n")
        );
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d == to || d == self.to));
        if !on_path {
            eprintln!(
                "relkit install: note: `{}` is not on your PATH",
                to.display()
            );
        }
        Ok(())
    }
}

/// The archive's binaries: executable files directly in its top folder.
fn binaries(archive: &Artifact) -> Result<Vec<Content>, Error> {
    let bins: Vec<Content> = archive
        .contents
        .iter()
        .filter(|c| c.executable && c.path.matches('/').count() == 1)
        .cloned()
        .collect();
    if bins.is_empty() {
        return Err(Error::Refused(format!(
            "`{}` holds no binaries to install",
            archive.name
        )));
    }
    Ok(bins)
}

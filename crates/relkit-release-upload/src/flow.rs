//! The upload flow: resolve inputs (refusing bad ones before any request),
//! find or create the release and converge racing runs on one, upload what
//! is missing, verify every digest, publish.
//!
//! Convergence: every run lists the tag's releases (drafts included). A
//! published release wins; otherwise the lowest-id draft does. A run that
//! found none creates a draft and lists again, so a run whose draft lost
//! the race (a lower id exists) moves to the winner. Ids only grow, so the
//! lowest draft is never one that some run deletes: runs delete only empty
//! drafts that are not their choice.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use futures_util::StreamExt;
use relkit_core::Failure;
use relkit_core::gha;
use serde_json::{Value, json};
use tracing::{info, warn};
use url::Url;

use crate::assets::{self, LocalAsset};
use crate::github::{Asset, GitHub, Release, Token, UploadAttempt, api_error};
use crate::retry::{Failed, Policy};
use crate::{Args, Error, MakeLatest, Prerelease};

/// Which phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Find or create, upload, verify, publish.
    Upload,
    /// Find or create the draft and print its id.
    CreateDraft,
    /// Verify, then publish.
    Publish,
}

/// A fully resolved run: every local check already passed.
// The flags mirror independent CLI switches; an enum would not be clearer.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug)]
pub struct Options {
    /// The phase.
    pub mode: Mode,
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Release tag (may come from the release when `release_id` is given).
    pub tag: Option<String>,
    /// API base URL.
    pub api_url: Url,
    /// The token (never printed).
    pub token: Token,
    /// Files to publish.
    pub assets: Vec<LocalAsset>,
    /// Keep the release a draft.
    pub draft: bool,
    /// Pre-release flag.
    pub prerelease: bool,
    /// Whether `--prerelease` was given as true/false (then publishing sets it).
    pub prerelease_explicit: bool,
    /// `make_latest` on publish.
    pub make_latest: Option<MakeLatest>,
    /// Release notes.
    pub notes: Option<String>,
    /// Ask GitHub to generate notes.
    pub generate_notes: bool,
    /// Replace differing assets.
    pub replace: bool,
    /// Uploads in flight.
    pub concurrency: usize,
    /// A release chosen by id.
    pub release_id: Option<u64>,
    /// Commit for a tag that does not exist yet ($GITHUB_SHA).
    pub target_commitish: Option<String>,
    /// Retries.
    pub policy: Policy,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Options {
    /// Resolve arguments and environment, refusing bad input before any request.
    pub fn resolve(
        mode: Mode,
        args: &Args,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let (manifest, local) = match (&args.manifest, args.files.is_empty()) {
            (Some(m), _) => {
                let (manifest, local) = assets::from_manifest(m)?;
                (Some(manifest), local)
            }
            (None, false) => (None, assets::from_files(&args.files)?),
            (None, true) => (None, Vec::new()),
        };
        if local.is_empty() && mode != Mode::CreateDraft {
            return Err(relkit_core::Error::invalid(
                "FILE…",
                if args.manifest.is_some() {
                    "the manifest lists no artifacts"
                } else {
                    "nothing to upload: give --manifest FILE or the files"
                },
            )
            .into());
        }
        assets::check(&local)?;

        let tag = resolve_tag(args, manifest.as_ref().and_then(|m| m.tag.clone()), env)?;

        let repo_full = args
            .repo
            .clone()
            .or_else(|| env("GITHUB_REPOSITORY"))
            .ok_or_else(|| {
                relkit_core::Error::invalid("--repo", "not given, and GITHUB_REPOSITORY is not set")
            })?;
        let (owner, repo) = split_repo(&repo_full)?;

        let api_raw = args
            .api_url
            .clone()
            .or_else(|| env("GITHUB_API_URL"))
            .unwrap_or_else(|| "https://api.github.com".to_owned());
        let api_url = Url::parse(&api_raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                relkit_core::Error::invalid(
                    "--api-url",
                    format!("`{api_raw}` is not an http(s) URL"),
                )
            })?;

        let token = resolve_token(args, env)?;
        gha::mask(&token);

        let notes = match &args.notes_file {
            Some(f) => Some(fs_err::read_to_string(f).map_err(relkit_core::Error::Io)?),
            None => None,
        };
        let prerelease = match args.prerelease {
            Prerelease::True => true,
            Prerelease::False => false,
            Prerelease::Auto => tag
                .as_deref()
                .and_then(|t| relkit_core::version::Version::parse("--tag", t).ok())
                .is_some_and(|v| v.is_prerelease()),
        };
        let (policy, timeout) = args.retry_policy();
        Ok(Options {
            mode,
            owner,
            repo,
            tag,
            api_url,
            token: Token::new(token),
            assets: local,
            draft: args.draft,
            prerelease,
            prerelease_explicit: args.prerelease != Prerelease::Auto,
            make_latest: args.make_latest,
            notes,
            generate_notes: args.generate_notes,
            replace: args.replace,
            concurrency: usize::from(args.concurrency),
            release_id: args.release_id,
            target_commitish: env("GITHUB_SHA"),
            policy,
            timeout,
        })
    }

    fn tag_or(&self, r: &Release) -> String {
        self.tag.clone().unwrap_or_else(|| r.tag_name.clone())
    }
}

fn resolve_tag(
    args: &Args,
    from_manifest: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, Error> {
    let tag = match (&args.tag, from_manifest, env("GITHUB_REF")) {
        (Some(t), _, _) => Some(t.clone()),
        (None, Some(t), _) => Some(t),
        (None, None, Some(r)) => match r.strip_prefix("refs/tags/") {
            Some(t) => Some(t.to_owned()),
            None if args.release_id.is_some() => None,
            None => {
                return Err(relkit_core::Error::invalid(
                    "--tag",
                    format!("not given, and GITHUB_REF `{r}` is not a tag"),
                )
                .into());
            }
        },
        (None, None, None) if args.release_id.is_some() => None,
        (None, None, None) => {
            return Err(relkit_core::Error::invalid(
                "--tag",
                "not given, and GITHUB_REF is not set",
            )
            .into());
        }
    };
    if let Some(t) = &tag
        && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(
            relkit_core::Error::invalid("--tag", format!("`{t}` is not a valid tag name")).into(),
        );
    }

    Ok(tag)
}

fn resolve_token(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
    let token = match &args.token_env {
        Some(name) => env(name).ok_or_else(|| {
            relkit_core::Error::invalid("--token-env", format!("`{name}` is not set or empty"))
        })?,
        None => env("GITHUB_TOKEN")
            .or_else(|| env("GH_TOKEN"))
            .ok_or_else(|| {
                relkit_core::Error::invalid(
                    "token",
                    "none found: set GITHUB_TOKEN or GH_TOKEN, or name the variable with --token-env",
                )
            })?,
    };
    Ok(token)
}

fn split_repo(s: &str) -> Result<(String, String), Error> {
    let ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match s.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) => Ok((o.to_owned(), n.to_owned())),
        _ => Err(relkit_core::Error::invalid("--repo", format!("`{s}` is not OWNER/NAME")).into()),
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    /// The release, as last seen.
    pub release: Release,
    /// Each local asset with its verified remote asset (empty for create-draft).
    pub assets: Vec<(LocalAsset, Asset)>,
    /// Assets uploaded by this run.
    pub uploaded: usize,
    /// Assets that were already there.
    pub skipped: usize,
    /// Whether this run published the release.
    pub published: bool,
}

/// Run the remote part of a resolved run.
pub async fn execute(opts: &Options) -> Result<Outcome, Error> {
    let gh = GitHub::new(
        &opts.api_url,
        &opts.owner,
        &opts.repo,
        opts.token.clone(),
        opts.policy.clone(),
        opts.timeout,
    )?;
    let create = opts.mode != Mode::Publish;
    let release = match opts.release_id {
        Some(id) => by_id(&gh, opts, id).await?,
        None => find_or_create(&gh, opts, create).await?,
    };
    let tag = opts.tag_or(&release);
    let mut outcome = Outcome {
        release,
        assets: Vec::new(),
        uploaded: 0,
        skipped: 0,
        published: false,
    };
    match opts.mode {
        Mode::CreateDraft => return Ok(outcome),
        Mode::Upload => {
            // Upload, then verify; a racing run can still be mid-upload (or
            // have just removed what it took for a leftover), so a failed
            // verification re-plans from a fresh listing a few times.
            let mut round = 0;
            loop {
                let remote = gh.list_assets(outcome.release.id).await?;
                let (todo, skipped) = plan(&gh, opts, &outcome.release, &tag, &remote).await?;
                if round == 0 {
                    outcome.skipped = skipped;
                }
                outcome.uploaded += upload_all(&gh, opts, &outcome.release, &tag, todo).await?;
                match verify(&gh, opts, &outcome.release, &tag, Failure::Remote).await {
                    Ok(verified) => {
                        outcome.assets = verified;
                        break;
                    }
                    Err(Error::Verify { problems, .. }) if round < 3 => {
                        let failed = Failed {
                            reason: format!("verification found {problems}"),
                            server_wait: None,
                        };
                        gh.backoff("verifying the release", round, &failed).await?;
                        round += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Mode::Publish => {
            outcome.assets = verify(&gh, opts, &outcome.release, &tag, Failure::Input).await?;
        }
    }
    if outcome.release.draft && !opts.draft {
        // A racing run may have published it meanwhile (and an immutable
        // release refuses even a no-op update).
        if let Some(now) = gh.get_release(outcome.release.id).await? {
            outcome.release = now;
        }
    }
    if outcome.release.draft && !opts.draft {
        // Settings given on this run win over the ones the draft was
        // created with (e.g. by a `create-draft` job).
        let mut body = json!({ "draft": false });
        if opts.prerelease_explicit {
            body["prerelease"] = json!(opts.prerelease);
        }
        if let Some(n) = &opts.notes {
            body["body"] = json!(n);
        }
        if let Some(m) = opts.make_latest {
            body["make_latest"] = json!(m.as_str());
        }
        outcome.release = gh.update_release(outcome.release.id, &body).await?;
        if outcome.release.draft {
            return Err(Error::Api {
                what: format!("publishing release {}", outcome.release.id),
                status: 200,
                message: "the release is still a draft".into(),
            });
        }
        outcome.published = true;
        info!("published release `{tag}` (id {})", outcome.release.id);
    }
    Ok(outcome)
}

async fn by_id(gh: &GitHub, opts: &Options, id: u64) -> Result<Release, Error> {
    let r = gh.get_release(id).await?.ok_or_else(|| {
        Error::NoRelease(format!(
            "--release-id: release {id} does not exist in `{}/{}`",
            opts.owner, opts.repo
        ))
    })?;
    if let Some(t) = &opts.tag
        && *t != r.tag_name
    {
        return Err(relkit_core::Error::invalid(
            "--release-id",
            format!("release {id} is for tag `{}`, not `{t}`", r.tag_name),
        )
        .into());
    }
    Ok(r)
}

/// The release every racing run agrees on: the published one, else the
/// lowest-id draft.
fn pick(candidates: &[Release]) -> Option<&Release> {
    candidates
        .iter()
        .filter(|r| !r.draft)
        .min_by_key(|r| r.id)
        .or_else(|| candidates.iter().filter(|r| r.draft).min_by_key(|r| r.id))
}

async fn find_or_create(gh: &GitHub, opts: &Options, create: bool) -> Result<Release, Error> {
    let tag = opts
        .tag
        .as_deref()
        .expect("a tag is resolved when no release id is given");
    let for_tag = |all: Vec<Release>| {
        all.into_iter()
            .filter(|r| r.tag_name == tag)
            .collect::<Vec<_>>()
    };
    let mut candidates = for_tag(gh.list_releases().await?);
    if candidates.is_empty() {
        if !create {
            return Err(Error::NoRelease(format!(
                "no release for tag `{tag}` in `{}/{}` (drafts included); upload first",
                opts.owner, opts.repo
            )));
        }
        let mut body =
            json!({ "tag_name": tag, "name": tag, "draft": true, "prerelease": opts.prerelease });
        if let Some(n) = &opts.notes {
            body["body"] = json!(n);
        }
        if opts.generate_notes {
            body["generate_release_notes"] = json!(true);
        }
        if let Some(sha) = &opts.target_commitish {
            body["target_commitish"] = json!(sha);
        }
        let mine = gh.create_release(&body).await?;
        info!("created draft release {} for `{tag}`", mine.id);
        // List again: a racing run may have created a draft first.
        candidates = for_tag(gh.list_releases().await?);
        if !candidates.iter().any(|r| r.id == mine.id) {
            // A listing that lags must not make us lose our own draft.
            candidates.push(mine);
        }
    }
    let chosen = pick(&candidates).expect("candidates are not empty").clone();
    for other in candidates.iter().filter(|r| r.draft && r.id != chosen.id) {
        if other.assets.is_empty() {
            info!(
                "deleting empty duplicate draft {} for `{tag}` (keeping {})",
                other.id, chosen.id
            );
            gh.delete_release(other.id).await?;
        } else {
            warn!(
                "draft {} for `{tag}` also exists and holds assets; left alone (using {})",
                other.id, chosen.id
            );
        }
    }
    info!(
        "using {} release `{tag}` (id {})",
        if chosen.draft { "draft" } else { "published" },
        chosen.id
    );
    Ok(chosen)
}

/// Whether a remote asset holds exactly the local file.
async fn same(gh: &GitHub, local: &LocalAsset, remote: &Asset) -> Result<bool, Error> {
    if !remote.is_uploaded() || remote.size != local.size {
        return Ok(false);
    }
    let mine = local.sha256().await?;
    let theirs = match remote.sha256() {
        Some(h) => h.to_owned(),
        None => gh.download_sha256(remote).await?,
    };
    Ok(mine == theirs)
}

type Todo = Vec<(LocalAsset, Option<Asset>)>;

/// Decide what to upload; refuse differing assets without `--replace`, and
/// any change to a published immutable release.
async fn plan(
    gh: &GitHub,
    opts: &Options,
    release: &Release,
    tag: &str,
    remote: &[Asset],
) -> Result<(Todo, usize), Error> {
    let by_name: BTreeMap<&str, &Asset> = remote.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut todo = Vec::new();
    let (mut missing, mut differs, mut skipped) = (Vec::new(), Vec::new(), 0);
    for local in &opts.assets {
        match by_name.get(local.name.as_str()) {
            None => {
                missing.push(local.name.clone());
                todo.push((local.clone(), None));
            }
            Some(r) if !r.is_uploaded() => {
                missing.push(local.name.clone());
                todo.push((local.clone(), Some((*r).clone())));
            }
            Some(r) if same(gh, local, r).await? => skipped += 1,
            Some(r) => {
                differs.push(local.name.clone());
                todo.push((local.clone(), Some((*r).clone())));
            }
        }
    }
    if release.immutable && !release.draft && !todo.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("missing: {}", missing.join(", ")));
        }
        if !differs.is_empty() {
            problems.push(format!(
                "differ from the local files: {}",
                differs.join(", ")
            ));
        }
        return Err(Error::Immutable {
            tag: tag.to_owned(),
            id: release.id,
            problems: problems.join("; "),
        });
    }
    if !differs.is_empty() && !opts.replace {
        return Err(Error::Differs {
            tag: tag.to_owned(),
            names: differs,
        });
    }
    if skipped > 0 {
        info!("{skipped} asset(s) already uploaded with the same sha256; skipping them");
    }
    Ok((todo, skipped))
}

fn upload_url(release: &Release) -> Result<Url, Error> {
    let raw = release.upload_url.split('{').next().unwrap_or("");
    Url::parse(raw).map_err(|e| Error::Api {
        what: format!("reading release {}", release.id),
        status: 200,
        message: format!("bad upload_url `{raw}`: {e}"),
    })
}

async fn upload_all(
    gh: &GitHub,
    opts: &Options,
    release: &Release,
    tag: &str,
    todo: Todo,
) -> Result<usize, Error> {
    if todo.is_empty() {
        return Ok(0);
    }
    let url = upload_url(release)?;
    let total: u64 = todo.iter().map(|(a, _)| a.size).sum();
    let bar = relkit_core::progress::bytes(total, "uploading");
    let _group = gha::group(&format!("Uploading {} asset(s) to `{tag}`", todo.len()));
    let mut results = futures_util::stream::iter(todo)
        .map(|(asset, leftover)| {
            let url = &url;
            let bar = &bar;
            async move {
                let r = upload_one(gh, opts, url, tag, &asset, leftover).await;
                bar.inc(asset.size);
                r
            }
        })
        .buffer_unordered(opts.concurrency);
    let mut uploaded = 0;
    while let Some(r) = results.next().await {
        if r? {
            uploaded += 1;
        }
    }
    bar.finish_and_clear();
    Ok(uploaded)
}

/// Upload one asset until it is there with the right digest. Returns whether
/// this run uploaded it (false: a racing run did). `existing` is the remote
/// asset of that name seen when planning.
///
/// A remote asset that is not `uploaded` is either a leftover of a failed
/// upload or a racing run's upload in progress (GitHub shows both as
/// `starter`). Deleting it at once would kill the racer's upload, so it is
/// deleted only when seen unchanged twice, a grace period apart.
async fn upload_one(
    gh: &GitHub,
    opts: &Options,
    url: &Url,
    tag: &str,
    asset: &LocalAsset,
    existing: Option<Asset>,
) -> Result<bool, Error> {
    let what = format!("uploading `{}`", asset.name);
    let release = release_id(url);
    let mut existing = existing;
    let mut attempt = 0;
    let mut suspect: Option<u64> = None;
    let mut look = false;
    loop {
        if look {
            existing = gh
                .list_assets(release)
                .await?
                .into_iter()
                .find(|a| a.name == asset.name);
        }
        look = true;
        if let Some(e) = existing.take() {
            if e.is_uploaded() {
                if same(gh, asset, &e).await? {
                    info!("`{}` is already uploaded with the same sha256", asset.name);
                    return Ok(false);
                }
                if !opts.replace {
                    return Err(Error::Differs {
                        tag: tag.to_owned(),
                        names: vec![asset.name.clone()],
                    });
                }
                info!("replacing `{}`", e.name);
                gh.delete_asset(&e).await?;
            } else if suspect == Some(e.id) {
                info!(
                    "deleting leftover `{}` (state `{}`, id {})",
                    e.name, e.state, e.id
                );
                gh.delete_asset(&e).await?;
            } else {
                suspect = Some(e.id);
                // Long enough for a racing upload of this size to finish.
                let grace = Duration::from_millis(asset.size / 4096)
                    .clamp(Duration::from_millis(50), Duration::from_secs(60));
                let failed = Failed {
                    reason: format!(
                        "`{}` is in state `{}` (a failed or a racing upload)",
                        e.name, e.state
                    ),
                    server_wait: Some(grace),
                };
                gh.backoff(&what, attempt, &failed).await?;
                attempt += 1;
                continue;
            }
        }
        let failed = match gh.upload_once(url, asset).await? {
            UploadAttempt::Done(remote, sent) => {
                let expected = asset.record_sha256(sent.clone());
                if expected != sent {
                    return Err(relkit_core::Error::invalid(
                        format!("`{}`", asset.path.display()),
                        format!("sha256 is {sent}, but the manifest says {expected}"),
                    )
                    .into());
                }
                match remote.sha256() {
                    Some(d) if d != sent => Failed {
                        reason: format!("GitHub stored sha256 {d}, but {sent} was sent"),
                        server_wait: None,
                    },
                    _ => {
                        info!("uploaded `{}` ({} bytes)", asset.name, asset.size);
                        return Ok(true);
                    }
                }
            }
            UploadAttempt::Transient(f) => f,
            // A racing run (or our own attempt whose answer was lost) holds
            // the name; a 404 means a racer deleted our upload in progress.
            UploadAttempt::Refused(resp) if resp.already_exists() || resp.status == 404 => Failed {
                reason: format!("HTTP {} {}", resp.status, resp.message()),
                server_wait: None,
            },
            UploadAttempt::Refused(resp) => {
                // A racing run may have published an immutable release.
                if let Some(r) = gh.get_release(release).await?
                    && r.immutable
                    && !r.draft
                {
                    // Fine if a racer already put the same file there.
                    let assets = gh.list_assets(release).await?;
                    if let Some(e) = assets.iter().find(|a| a.name == asset.name)
                        && same(gh, asset, e).await?
                    {
                        info!("`{}` is already in the published release", asset.name);
                        return Ok(false);
                    }
                    return Err(Error::Immutable {
                        tag: tag.to_owned(),
                        id: r.id,
                        problems: format!("missing: {}", asset.name),
                    });
                }
                return Err(api_error(&what, &resp));
            }
        };
        gh.backoff(&what, attempt, &failed).await?;
        attempt += 1;
    }
}

/// The release id in an upload URL (`…/releases/{id}/assets`).
fn release_id(url: &Url) -> u64 {
    url.path_segments()
        .and_then(|s| {
            let segs: Vec<&str> = s.collect();
            segs.iter()
                .rposition(|s| *s == "releases")
                .and_then(|i| segs.get(i + 1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Every local file must be on the release, fully uploaded, with the local
/// sha256. Lists every problem.
async fn verify(
    gh: &GitHub,
    opts: &Options,
    release: &Release,
    tag: &str,
    failure: Failure,
) -> Result<Vec<(LocalAsset, Asset)>, Error> {
    let remote = gh.list_assets(release.id).await?;
    let by_name: BTreeMap<&str, &Asset> = remote.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for local in &opts.assets {
        let Some(r) = by_name.get(local.name.as_str()) else {
            problems.push(format!("`{}` is missing", local.name));
            continue;
        };
        if !r.is_uploaded() {
            problems.push(format!(
                "`{}` is in state `{}`, not uploaded",
                local.name, r.state
            ));
        } else if r.size != local.size {
            problems.push(format!(
                "`{}` is {} bytes on GitHub but {} locally",
                local.name, r.size, local.size
            ));
        } else {
            let mine = local.sha256().await?;
            let theirs = match r.sha256() {
                Some(h) => h.to_owned(),
                None => gh.download_sha256(r).await?,
            };
            if mine == theirs {
                out.push((local.clone(), (*r).clone()));
            } else {
                problems.push(format!(
                    "`{}` has sha256 {theirs} on GitHub but {mine} locally",
                    local.name
                ));
            }
        }
    }
    if problems.is_empty() {
        info!(
            "verified {} asset(s) of `{tag}` against the local sha256",
            out.len()
        );
        Ok(out)
    } else {
        Err(Error::Verify {
            tag: tag.to_owned(),
            id: release.id,
            problems: problems.join("; "),
            failure,
        })
    }
}

impl Outcome {
    /// Print the result and write Actions outputs and the step summary.
    pub fn report(&self, opts: &Options) -> Result<(), Error> {
        let r = &self.release;
        let tag = opts.tag_or(r);
        gha::set_output("release-id", &r.id.to_string())?;
        gha::set_output("html-url", &r.html_url)?;
        gha::set_output("upload-url", &r.upload_url)?;
        if opts.mode == Mode::CreateDraft {
            println!("{}", r.id);
            return Ok(());
        }
        let assets: Vec<Value> = self
            .assets
            .iter()
            .map(|(l, a)| {
                json!({
                    "name": l.name,
                    "id": a.id,
                    "size": l.size,
                    "sha256": l.known_sha256().unwrap_or_default(),
                    "url": a.browser_download_url,
                })
            })
            .collect();
        gha::set_output("assets", &Value::Array(assets).to_string())?;
        let rows: Vec<gha::ArtifactRow<'_>> = self
            .assets
            .iter()
            .map(|(l, _)| gha::ArtifactRow {
                name: &l.name,
                target: l.target.as_deref(),
                size: l.size,
                sha256: l.known_sha256().unwrap_or_default(),
            })
            .collect();
        let state = if r.draft { "draft" } else { "published" };
        let mut summary = gha::artifact_table(&format!("Release `{tag}` ({state})"), &rows);
        let _ = write!(
            summary,
            "{} uploaded, {} already present, every sha256 verified. {}\n\n",
            self.uploaded, self.skipped, r.html_url
        );
        gha::append_summary(&summary)?;
        info!(
            "release `{tag}` (id {}, {state}): {} uploaded, {} already present, {} verified",
            r.id,
            self.uploaded,
            self.skipped,
            self.assets.len()
        );
        println!("{}", r.html_url);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(id: u64, draft: bool) -> Release {
        serde_json::from_value(json!({ "id": id, "tag_name": "v1", "draft": draft })).unwrap()
    }

    #[test]
    fn every_racer_picks_the_same_release() {
        let drafts = [release(7, true), release(3, true), release(9, true)];
        assert_eq!(pick(&drafts).unwrap().id, 3);
        // A published release wins over any draft, even a lower one.
        let mixed = [release(7, true), release(3, true), release(12, false)];
        assert_eq!(pick(&mixed).unwrap().id, 12);
        assert!(pick(&[]).is_none());
    }

    #[test]
    fn release_id_from_upload_urls() {
        let gh = Url::parse("https://uploads.github.com/repos/o/r/releases/42/assets").unwrap();
        assert_eq!(release_id(&gh), 42);
        let ghes =
            Url::parse("https://ghe.example.com/api/uploads/repos/o/r/releases/7/assets").unwrap();
        assert_eq!(release_id(&ghes), 7);
        let tpl = release(5, true);
        let tpl = Release {
            upload_url: "https://u.example/repos/o/r/releases/5/assets{?name,label}".into(),
            ..tpl
        };
        assert_eq!(
            upload_url(&tpl).unwrap().as_str(),
            "https://u.example/repos/o/r/releases/5/assets"
        );
    }

    #[test]
    fn repo_names() {
        assert_eq!(
            split_repo("octo/demo").unwrap(),
            ("octo".into(), "demo".into())
        );
        for bad in ["octo", "octo/", "/demo", "a/b/c", "a/..", "a b/c"] {
            assert!(split_repo(bad).is_err(), "{bad}");
        }
    }
}

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
use crate::github::{Asset, GitHub, Release, UploadAttempt, api_error};
use crate::remote::Remote;
use crate::retry::Failed;
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
    /// Repository, API and token (never printed), with the retry settings.
    pub remote: Remote,
    /// Release tag (may come from the release when `release_id` is given).
    pub tag: Option<String>,
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

        let remote = Remote::from_env(
            args.repo.as_deref(),
            args.token_env.as_deref(),
            args.api_url.as_deref(),
            env,
        )?
        .with_retries(
            Duration::from_millis(args.retry_base_ms),
            Duration::from_secs(args.give_up_secs),
            Duration::from_secs(args.timeout_secs.max(1)),
        );
        // Bounded, and never blocking on a fifo (issue 10.2).
        let notes = match &args.notes_file {
            Some(f) => Some(relkit_core::input::read_text(
                f,
                relkit_core::input::Limit::NOTES,
            )?),
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
        Ok(Options {
            mode,
            remote,
            tag,
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
    // git's rules (issue 10.8), before any request: GitHub would refuse
    // the tag only after retries.
    if let Some(t) = &tag {
        relkit_core::names::check_tag("--tag", t)?;
    }

    Ok(tag)
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
    let gh = opts.remote.client()?;
    // One read up front tells "this token cannot see the repository" (a
    // 404 for a private one) from a racing run's deletion (issue 10.6).
    gh.check_access(&opts.remote.full_name()).await?;
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
        Mode::Upload => upload_and_verify(&gh, opts, &tag, &mut outcome).await?,
        Mode::Publish => {
            outcome.assets = verify(&gh, opts, &outcome.release, &tag, Failure::Input).await?;
        }
    }
    let verified_as_draft = outcome.release.draft;
    if outcome.release.draft && !opts.draft {
        publish(&gh, opts, &tag, &mut outcome).await?;
    }
    if verified_as_draft && !outcome.release.draft {
        // A draft's download URLs (`…/download/untagged-…/`) die when it is
        // published: report the published ones (issue 9.3).
        refresh_assets(&gh, &mut outcome).await?;
    }
    Ok(outcome)
}

/// Upload, then verify; a racing run can still be mid-upload (or have just
/// removed what it took for a leftover), so a failed verification re-plans
/// from a fresh listing a few times.
async fn upload_and_verify(
    gh: &GitHub,
    opts: &Options,
    tag: &str,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    let mut round = 0;
    loop {
        let remote = gh.list_assets(outcome.release.id).await?;
        let (todo, skipped) = plan(gh, opts, &outcome.release, tag, &remote).await?;
        if round == 0 {
            outcome.skipped = skipped;
        }
        outcome.uploaded += upload_all(gh, opts, &outcome.release, tag, todo).await?;
        match verify(gh, opts, &outcome.release, tag, Failure::Remote).await {
            Ok(verified) => {
                outcome.assets = verified;
                return Ok(());
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

/// Publish the verified draft, unless a racing run already did.
async fn publish(
    gh: &GitHub,
    opts: &Options,
    tag: &str,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    // A racing run may have published it meanwhile (and an immutable
    // release refuses even a no-op update).
    if let Some(now) = gh.get_release(outcome.release.id).await? {
        outcome.release = now;
    }
    if !outcome.release.draft {
        return Ok(());
    }
    // Settings given on this run win over the ones the draft was created
    // with (e.g. by a `create-draft` job).
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
        return Err(Error::StillDraft {
            id: outcome.release.id,
        });
    }
    outcome.published = true;
    info!("published release `{tag}` (id {})", outcome.release.id);
    Ok(())
}

/// Re-read the release's assets, so the outcome carries their current URLs.
async fn refresh_assets(gh: &GitHub, outcome: &mut Outcome) -> Result<(), Error> {
    let fresh = gh.list_assets(outcome.release.id).await?;
    let by_id: BTreeMap<u64, &Asset> = fresh.iter().map(|a| (a.id, a)).collect();
    for (_, remote) in &mut outcome.assets {
        if let Some(now) = by_id.get(&remote.id) {
            *remote = (*now).clone();
        }
    }
    Ok(())
}

async fn by_id(gh: &GitHub, opts: &Options, id: u64) -> Result<Release, Error> {
    let r = gh.get_release(id).await?.ok_or_else(|| {
        Error::NoRelease(format!(
            "--release-id: release {id} does not exist in `{}`",
            opts.remote.full_name()
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
pub(crate) fn pick(candidates: &[Release]) -> Option<&Release> {
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
    let mut candidates = gh.list_releases(tag).await?;
    if candidates.is_empty() {
        if !create {
            return Err(Error::NoRelease(format!(
                "no release for tag `{tag}` in `{}` (drafts included); upload first",
                opts.remote.full_name()
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
        candidates = gh.list_releases(tag).await?;
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

/// The assets by name, or the names GitHub lists more than once (it never
/// should: a server that does cannot be verified, issue 10.5).
pub(crate) fn index_by_name(remote: &[Asset]) -> Result<BTreeMap<&str, &Asset>, Vec<String>> {
    let mut by_name = BTreeMap::new();
    let mut dups = Vec::new();
    for a in remote {
        if by_name.insert(a.name.as_str(), a).is_some() && !dups.contains(&a.name) {
            dups.push(a.name.clone());
        }
    }
    if dups.is_empty() {
        Ok(by_name)
    } else {
        Err(dups)
    }
}

fn duplicates(release: &Release, tag: &str, dups: &[String]) -> Error {
    let names: Vec<String> = dups.iter().map(|n| format!("`{n}`")).collect();
    Error::Verify {
        tag: tag.to_owned(),
        id: release.id,
        problems: format!(
            "GitHub lists {} more than once, so no copy can be trusted",
            names.join(", ")
        ),
        failure: Failure::Remote,
    }
}

/// Decide what to upload; refuse differing assets without `--replace`, and
/// any change to a published immutable release.
async fn plan(
    gh: &GitHub,
    opts: &Options,
    release: &Release,
    tag: &str,
    remote: &[Asset],
) -> Result<(Todo, usize), Error> {
    let by_name = index_by_name(remote).map_err(|d| duplicates(release, tag, &d))?;
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
    Url::parse(raw).map_err(|e| Error::BadUploadUrl {
        id: release.id,
        url: release.upload_url.clone(),
        reason: e.to_string(),
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
            let target = Target {
                url: &url,
                release: release.id,
                tag,
            };
            let bar = &bar;
            async move {
                let r = upload_one(gh, opts, &target, &asset, leftover).await;
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

/// Where uploads go: the release (carried, never re-parsed from the URL).
struct Target<'a> {
    url: &'a Url,
    release: u64,
    tag: &'a str,
}

/// Upload one asset until it is there with the right digest. Returns whether
/// this run uploaded it (false: a racing run did). `existing` is the remote
/// asset of that name seen when planning.
async fn upload_one(
    gh: &GitHub,
    opts: &Options,
    target: &Target<'_>,
    asset: &LocalAsset,
    existing: Option<Asset>,
) -> Result<bool, Error> {
    let what = format!("uploading `{}`", asset.name);
    let mut existing = existing;
    let mut attempt = 0;
    let mut suspect: Option<u64> = None;
    let mut look = false;
    loop {
        if look {
            existing = gh
                .list_assets(target.release)
                .await?
                .into_iter()
                .find(|a| a.name == asset.name);
        }
        look = true;
        let failed = match existing.take() {
            Some(e) => clear_the_way(gh, opts, target, asset, e, &mut suspect).await?,
            None => Way::Clear,
        };
        let failed = match failed {
            Way::Done => return Ok(false),
            Way::Wait(f) => f,
            Way::Clear => match gh.upload_once(target.url, asset).await? {
                UploadAttempt::Done(remote, sent) => match accepted(asset, &remote, sent)? {
                    None => return Ok(true),
                    Some(f) => f,
                },
                UploadAttempt::Transient(f) => f,
                UploadAttempt::Refused(resp) => {
                    match refused(gh, target, asset, &what, &resp).await? {
                        Some(f) => f,
                        None => return Ok(false),
                    }
                }
            },
        };
        gh.backoff(&what, attempt, &failed).await?;
        attempt += 1;
    }
}

/// What to do about a remote asset that holds the name.
enum Way {
    /// It is the same file: nothing to upload.
    Done,
    /// It is gone now: upload.
    Clear,
    /// Wait, then look again.
    Wait(Failed),
}

/// Make room for an upload. A remote asset that is not `uploaded` is either
/// a leftover of a failed upload or a racing run's upload in progress
/// (GitHub shows both as `starter`). Deleting it at once would kill the
/// racer's upload, so it is deleted only when seen unchanged twice, a grace
/// period apart.
async fn clear_the_way(
    gh: &GitHub,
    opts: &Options,
    target: &Target<'_>,
    asset: &LocalAsset,
    e: Asset,
    suspect: &mut Option<u64>,
) -> Result<Way, Error> {
    if e.is_uploaded() {
        if same(gh, asset, &e).await? {
            info!("`{}` is already uploaded with the same sha256", asset.name);
            return Ok(Way::Done);
        }
        if !opts.replace {
            return Err(Error::Differs {
                tag: target.tag.to_owned(),
                names: vec![asset.name.clone()],
            });
        }
        info!("replacing `{}`", e.name);
        gh.delete_asset(&e).await?;
    } else if *suspect == Some(e.id) {
        info!(
            "deleting leftover `{}` (state `{}`, id {})",
            e.name, e.state, e.id
        );
        gh.delete_asset(&e).await?;
    } else {
        *suspect = Some(e.id);
        // Long enough for a racing upload of this size to finish.
        let grace = Duration::from_millis(asset.size / 4096)
            .clamp(Duration::from_millis(50), Duration::from_secs(60));
        return Ok(Way::Wait(Failed {
            reason: format!(
                "`{}` is in state `{}` (a failed or a racing upload)",
                e.name, e.state
            ),
            server_wait: Some(grace),
        }));
    }
    Ok(Way::Clear)
}

/// Check a 201: the bytes sent are the manifest's, and GitHub stored them.
/// `Some` when GitHub stored something else (retry).
fn accepted(asset: &LocalAsset, remote: &Asset, sent: String) -> Result<Option<Failed>, Error> {
    let expected = asset.record_sha256(sent.clone());
    if expected != sent {
        return Err(relkit_core::Error::invalid(
            format!("`{}`", asset.path.display()),
            format!("sha256 is {sent}, but the manifest says {expected}"),
        )
        .into());
    }
    match remote.sha256() {
        Some(d) if d != sent => Ok(Some(Failed {
            reason: format!("GitHub stored sha256 {d}, but {sent} was sent"),
            server_wait: None,
        })),
        _ => {
            info!("uploaded `{}` ({} bytes)", asset.name, asset.size);
            Ok(None)
        }
    }
}

/// Act on a refused upload: `Some` to retry, `None` when a racer already
/// put the same file there, an error otherwise.
async fn refused(
    gh: &GitHub,
    target: &Target<'_>,
    asset: &LocalAsset,
    what: &str,
    resp: &crate::github::Resp,
) -> Result<Option<Failed>, Error> {
    let retry = || {
        Ok(Some(Failed {
            reason: format!("HTTP {} {}", resp.status, resp.message()),
            server_wait: None,
        }))
    };
    // A racing run (or our own attempt whose answer was lost) holds the name.
    if resp.already_exists() {
        return retry();
    }
    let release = gh.get_release(target.release).await?;
    match release {
        // The release itself is gone or hidden: no retry brings it back
        // (issue 10.6).
        None => Err(Error::NoRelease(format!(
            "release {} of `{}` is gone, or the token cannot see it (GitHub answered HTTP {} to {what})",
            target.release, target.tag, resp.status
        ))),
        // Our upload in progress was deleted by a racer.
        Some(_) if resp.status == 404 => retry(),
        // A racing run may have published an immutable release.
        Some(r) if r.immutable && !r.draft => {
            // Fine if a racer already put the same file there.
            let assets = gh.list_assets(target.release).await?;
            if let Some(e) = assets.iter().find(|a| a.name == asset.name)
                && same(gh, asset, e).await?
            {
                info!("`{}` is already in the published release", asset.name);
                return Ok(None);
            }
            Err(Error::Immutable {
                tag: target.tag.to_owned(),
                id: r.id,
                problems: format!("missing: {}", asset.name),
            })
        }
        Some(_) => Err(api_error(what, resp)),
    }
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
    let by_name = index_by_name(&remote).map_err(|d| duplicates(release, tag, &d))?;
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
        gha::set_output("release-url", &r.html_url)?;
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

    // issue 9.8: a bad upload_url is its own error, not an invented HTTP 200.
    #[test]
    fn upload_urls() {
        let tpl = Release {
            upload_url: "https://u.example/repos/o/r/releases/5/assets{?name,label}".into(),
            ..release(5, true)
        };
        assert_eq!(
            upload_url(&tpl).unwrap().as_str(),
            "https://u.example/repos/o/r/releases/5/assets"
        );
        let bad = Release {
            upload_url: "not a url{?name,label}".into(),
            ..release(6, true)
        };
        let e = upload_url(&bad).unwrap_err();
        assert!(matches!(e, Error::BadUploadUrl { id: 6, .. }), "{e}");
        assert!(!e.to_string().contains("200"), "{e}");
        assert_eq!(relkit_core::HasFailure::failure(&e).code(), 3);
    }

    // issue 10.5: two assets of one name are a verification failure.
    #[test]
    fn duplicate_asset_names_are_found() {
        let asset = |id: u64, name: &str| -> Asset {
            serde_json::from_value(json!({ "id": id, "name": name, "state": "uploaded" })).unwrap()
        };
        let ok = [asset(1, "a"), asset(2, "b")];
        assert_eq!(index_by_name(&ok).unwrap().len(), 2);
        let dup = [asset(1, "a"), asset(2, "b"), asset(3, "a"), asset(4, "a")];
        assert_eq!(index_by_name(&dup).unwrap_err(), ["a"]);
        let e = duplicates(&release(9, true), "v1", &["a".into()]);
        assert!(e.to_string().contains("`a` more than once"), "{e}");
        assert_eq!(relkit_core::HasFailure::failure(&e).code(), 3);
    }
}

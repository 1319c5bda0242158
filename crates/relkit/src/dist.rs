//! `relkit dist`: the whole release on one machine. Builds each target the
//! way release.yml's build job does (`crate::build`), packages the
//! binaries, then runs the very same [`finalize`](crate::finalize::finalize)
//! as release.yml's finalize job. Everything is written into a temporary
//! folder inside the output folder and moved into place only when every
//! step has succeeded; the previous release's files in the output folder
//! are replaced, never mixed with the new ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use relkit_core::manifest::Manifest;
use relkit_core::target::{ArchiveFormat, Target};
use relkit_core::version::Version;
use relkit_core::{Error as CoreError, atomic, buildtime, gha, names};

use crate::Error;
use crate::build::Recipe;
use crate::config::{self, Config};
use crate::finalize::Release;

/// Package, checksum, sign and describe a release locally.
#[derive(Debug, Clone, Args)]
pub struct DistArgs {
    /// Config file.
    #[arg(long, default_value = config::FILE, env = "RELKIT_CONFIG")]
    pub config: PathBuf,
    /// Project name [default: relkit.toml's `name`].
    #[arg(long)]
    pub name: Option<String>,
    /// Release version [default: relkit.toml, a tag in GITHUB_REF, Cargo.toml, then the git tag on HEAD].
    #[arg(long)]
    pub version: Option<String>,
    /// Target to release; repeatable [default: relkit.toml's `targets`, else this machine].
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// A binary to package, by path (instead of building relkit.toml's `binaries`); one target only.
    #[arg(long = "binary", value_name = "PATH")]
    pub binaries: Vec<PathBuf>,
    /// Extra file or folder for every archive, added to relkit.toml's `include`.
    #[arg(long = "include", value_name = "PATH")]
    pub includes: Vec<PathBuf>,
    /// Archive format for every target.
    #[arg(long, value_parser = ["tar.gz", "tar.xz", "tar.zst", "zip"])]
    pub format: Option<String>,
    /// Strip debug symbols first.
    #[arg(long)]
    pub strip: bool,
    /// Output folder [default: relkit.toml's `output-dir`, else dist].
    #[arg(long, short)]
    pub output_dir: Option<PathBuf>,
    /// Do not build; package what is already built.
    #[arg(long)]
    pub no_build: bool,
    /// The release tag recorded in the manifest [default: from GITHUB_REF, else v + version].
    #[arg(long)]
    pub tag: Option<String>,
    /// Write this version's section of a Keep a Changelog file as the release notes.
    #[arg(long, value_name = "FILE")]
    pub changelog: Option<PathBuf>,
    /// Record each step's duration in the manifest (makes it non-reproducible).
    #[arg(long)]
    pub timings: bool,
    #[command(flatten)]
    pub keys: crate::finalize::KeyArgs,
    #[command(flatten)]
    pub repos: crate::finalize::repos::RepoArgs,
}

/// What one target packages.
struct Job {
    target: Target,
    /// Paths given with `--binary`, else None: the recipe's binaries.
    given: Option<Vec<PathBuf>>,
}

/// Everything resolved from flags, relkit.toml and the environment.
struct Resolved {
    name: String,
    version: Version,
    tag: String,
    jobs: Vec<Job>,
    includes: Vec<PathBuf>,
    format: Option<ArchiveFormat>,
    strip: bool,
    output_dir: PathBuf,
    recipe: Recipe,
    config: Config,
}

/// Run `relkit dist`.
pub fn run(args: &DistArgs) -> Result<(), Error> {
    let explicit = args.config.as_os_str() != config::FILE;
    let mut config = Config::load(&args.config, explicit)?;
    args.keys.apply(&mut config);
    args.repos.apply(&mut config)?;
    let r = resolve(args, config)?;
    let epoch = buildtime::build_epoch(Path::new("."))?;
    let notes = match &args.changelog {
        Some(path) => Some(crate::changelog::section(path, &r.version)?),
        None => None,
    };
    let mut timings = BTreeMap::new();

    let mut binaries = Vec::new();
    for job in &r.jobs {
        let started = Instant::now();
        let paths = match (&job.given, args.no_build) {
            (Some(given), _) => given.clone(),
            (None, true) => r.recipe.binary_paths(&job.target, &r.version)?,
            (None, false) => {
                let _g = gha::group(&format!("build {}", job.target));
                r.recipe.run(&job.target, &r.version)?
            }
        };
        timings.insert(format!("build:{}", job.target), millis(started));
        binaries.push(paths);
    }

    // Stage everything; move into place only at the end.
    let mut out_guard = atomic::Staging::new();
    out_guard.ensure_dir(&r.output_dir)?;
    // Registered with relkit-core's cleanup: removed on SIGINT/TERM/HUP too.
    let (staging, _cleanup) = relkit_core::cleanup::tempdir_in(&r.output_dir, ".relkit-dist-")
        .map_err(|source| CoreError::Unwritable {
            path: r.output_dir.clone(),
            source,
        })?;
    let stage = staging.path();

    let mut parts = Vec::new();
    for (job, paths) in r.jobs.iter().zip(binaries) {
        let _g = gha::group(&format!("package {}", job.target));
        let started = Instant::now();
        let opts = relkit_package::Options {
            name: r.name.clone(),
            version: r.version.clone(),
            target: job.target.clone(),
            format: r.format.unwrap_or_else(|| job.target.default_format()),
            binaries: paths,
            includes: r.includes.clone(),
            strip: r.strip,
            output_dir: stage.to_path_buf(),
            compression: relkit_package::compress::Compression::default(),
            epoch,
        };
        parts.push(relkit_package::package(&opts)?.part);
        timings.insert(format!("package:{}", job.target), millis(started));
    }

    let release = Release {
        name: r.name.clone(),
        version: r.version.clone(),
        tag: r.tag.clone(),
        epoch,
    };
    let manifest = crate::finalize::finalize(
        &release,
        &r.config,
        stage,
        &parts,
        None,
        args.timings.then_some(timings),
    )?;
    crate::finalize::write_notes(stage, notes)?;
    clear_previous(&r.output_dir, stage)?;
    move_into_place(stage, &r.output_dir)?;
    drop(out_guard.commit());
    report(&manifest, &r.output_dir)
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn resolve(args: &DistArgs, config: Config) -> Result<Resolved, Error> {
    let name = args
        .name
        .clone()
        .or_else(|| config.name.clone())
        .ok_or_else(|| {
            CoreError::invalid("--name", "is required (or set `name` in relkit.toml)")
        })?;
    names::check_component("--name", &name)?;
    let version = crate::version::resolve(args.version.as_deref().or(config.version.as_deref()))?;
    let tag = crate::version::tag(args.tag.as_deref(), &version)?;
    let target_names: Vec<String> = if !args.targets.is_empty() {
        args.targets.clone()
    } else if !config.targets.is_empty() {
        config.targets.clone()
    } else {
        vec![Target::host().name().to_owned()]
    };
    let mut targets: Vec<Target> = Vec::new();
    for t in &target_names {
        let target = Target::parse(t)?;
        if targets.iter().any(|x| x.name() == target.name()) {
            return Err(CoreError::invalid("--target", format!("`{t}` is given twice")).into());
        }
        targets.push(target);
    }
    if !args.binaries.is_empty() && targets.len() > 1 {
        return Err(CoreError::invalid(
            "--binary",
            "paths can only be given for a single --target",
        )
        .into());
    }
    if args.binaries.is_empty() && config.binaries.is_empty() {
        return Err(CoreError::invalid(
            "--binary",
            "no binaries: pass --binary PATH or list `binaries` in relkit.toml",
        )
        .into());
    }
    let recipe = Recipe::from_config(&config, None, config.binaries.clone());
    for t in &targets {
        recipe.check_target(t)?;
    }
    let jobs = targets
        .into_iter()
        .map(|target| Job {
            target,
            given: (!args.binaries.is_empty()).then(|| args.binaries.clone()),
        })
        .collect();
    let format = match &args.format {
        Some(f) => Some(f.parse::<ArchiveFormat>()?),
        None => config.format,
    };
    let mut includes = config.include.clone();
    includes.extend(args.includes.iter().cloned());
    // A misspelt include fails now, before anything is built.
    check_includes(&includes)?;
    Ok(Resolved {
        name,
        version,
        tag,
        jobs,
        includes,
        format,
        strip: args.strip || config.strip,
        output_dir: args
            .output_dir
            .clone()
            .or_else(|| config.output_dir.clone())
            .unwrap_or_else(|| PathBuf::from("dist")),
        recipe,
        config,
    })
}

/// Every include must exist: checked before any build or remote write.
pub fn check_includes(includes: &[PathBuf]) -> Result<(), Error> {
    for inc in includes {
        if fs_err::symlink_metadata(inc).is_err() {
            return Err(CoreError::invalid(
                "include",
                format!("`{}` does not exist", inc.display()),
            )
            .into());
        }
    }
    Ok(())
}

/// Remove the previous release from `out` (the files its manifest.json
/// lists, the manifest and its signatures, relkit's notes), so old and new
/// never mix. Anything else in `out` other than the stage is refused: relkit
/// never deletes a file it did not write.
fn clear_previous(out: &Path, stage: &Path) -> Result<(), Error> {
    let out = &std::path::absolute(out).map_err(CoreError::from)?;
    let stage = &std::path::absolute(stage).map_err(CoreError::from)?;
    let previous = out.join("manifest.json");
    let mut ours: Vec<PathBuf> = Vec::new();
    if previous.is_file() {
        let m = Manifest::read(&previous)?;
        ours.extend(m.artifacts.iter().map(|a| out.join(&a.file)));
        ours.push(previous.clone());
        ours.extend(
            [".minisig", ".sig"]
                .iter()
                .map(|s| out.join(format!("manifest.json{s}"))),
        );
    }
    ours.extend(
        [
            crate::finalize::NOTES,
            crate::finalize::ATTEST_SUBJECTS,
            crate::finalize::installer::INSTALL_NOTES,
        ]
        .iter()
        .map(|f| out.join(f)),
    );
    ours.extend(crate::finalize::image::previous_files(out));
    let mut strangers = Vec::new();
    for f in files_under(out)? {
        if f.starts_with(stage) || ours.contains(&f) {
            continue;
        }
        strangers.push(f);
    }
    if let Some(f) = strangers.first() {
        return Err(CoreError::invalid(
            format!("`{}`", out.display()),
            format!(
                "holds `{}`, which the previous release's manifest.json does not list; remove it (or the folder) or choose another --output-dir, so old and new files never mix",
                f.strip_prefix(out).unwrap_or(f).display()
            ),
        )
        .into());
    }
    for f in ours.iter().filter(|f| f.is_file()) {
        fs_err::remove_file(f).map_err(CoreError::from)?;
    }
    Ok(())
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in fs_err::read_dir(dir)? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                walk(&p, files)?;
            } else {
                files.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(CoreError::from)?;
    files.sort();
    Ok(files)
}

/// Move every file under `stage` to the same place under `out`.
pub(crate) fn move_into_place(stage: &Path, out: &Path) -> Result<(), Error> {
    for f in files_under(stage)? {
        let rel = f.strip_prefix(stage).expect("below the stage");
        let dest = out.join(rel);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(CoreError::from)?;
        }
        fs_err::rename(&f, &dest).map_err(CoreError::from)?;
    }
    Ok(())
}

/// Print what was written, and report it to Actions.
pub(crate) fn report(m: &Manifest, out: &Path) -> Result<(), Error> {
    let width = m
        .artifacts
        .iter()
        .map(|a| a.file.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<width$}  {:<28}  {:>10}  sha256",
        "file", "target", "size"
    );
    for a in &m.artifacts {
        println!(
            "{:<width$}  {:<28}  {:>10}  {}",
            a.file,
            a.target.as_deref().unwrap_or("-"),
            gha::human_size(a.size),
            a.sha256
        );
    }
    let manifest = out.join("manifest.json");
    println!(
        "wrote {} artifacts and {}",
        m.artifacts.len(),
        manifest.display()
    );
    gha::set_output("manifest", &manifest.to_string_lossy())?;
    if let Some(sbom) = crate::finalize::release_sbom(m) {
        gha::set_output("sbom", &out.join(sbom).to_string_lossy())?;
    }
    if let Some(image) = m.images.first() {
        gha::set_output("image", &image.repository)?;
        gha::set_output("image-index-digest", &image.index_digest)?;
    }
    gha::set_output(
        "attest-subjects",
        &out.join(crate::finalize::ATTEST_SUBJECTS).to_string_lossy(),
    )?;
    let notes = out.join(crate::finalize::NOTES);
    if notes.is_file() {
        gha::set_output("notes-file", &notes.to_string_lossy())?;
    }
    let archives: Vec<String> = m
        .artifacts
        .iter()
        .filter(|a| a.kind == relkit_core::manifest::ArtifactKind::Archive)
        .map(|a| out.join(&a.file).to_string_lossy().into_owned())
        .collect();
    gha::set_output(
        "archives",
        &serde_json::to_string(&archives).expect("strings serialize"),
    )?;
    gha::append_summary(&gha::manifest_table(m))?;
    Ok(())
}

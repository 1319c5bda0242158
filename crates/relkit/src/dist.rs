//! `relkit dist`: the whole release on one machine. Builds each target
//! (when relkit.toml says how), packages the binaries, bundles a Terraform
//! provider when configured, writes SHA256SUMS, signs it when a key is
//! available, and writes `manifest.json`. Everything is written into a
//! temporary folder inside the output folder and moved into place only when
//! every step has succeeded.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Args;
use relkit_core::hash::Algo;
use relkit_core::manifest::Manifest;
use relkit_core::target::{ArchiveFormat, Target};
use relkit_core::version::Version;
use relkit_core::{atomic, buildtime, gha, names};

use crate::Error;
use crate::config::{self, Config};

/// Package, checksum, sign and describe a release locally.
#[derive(Debug, Clone, Args)]
pub struct DistArgs {
    /// Config file.
    #[arg(long, default_value = config::FILE, env = "RELKIT_CONFIG")]
    pub config: PathBuf,
    /// Project name [default: relkit.toml's `name`].
    #[arg(long)]
    pub name: Option<String>,
    /// Release version [default: relkit.toml, a tag in GITHUB_REF, then Cargo.toml].
    #[arg(long)]
    pub version: Option<String>,
    /// Target to release; repeatable [default: relkit.toml's `targets`, else this machine].
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// A binary to package, by path (instead of relkit.toml's `binaries`); one target only.
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
    /// Do not run the build command; package what is already built.
    #[arg(long)]
    pub no_build: bool,
    /// The release tag recorded in the manifest [default: from GITHUB_REF, else v + version].
    #[arg(long)]
    pub tag: Option<String>,
    /// Record each step's duration in the manifest (makes it non-reproducible).
    #[arg(long)]
    pub timings: bool,
}

/// What one target packages.
struct Job {
    target: Target,
    binaries: Vec<PathBuf>,
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
    build: Option<String>,
    config: Config,
}

/// Run `relkit dist`.
pub fn run(args: &DistArgs) -> Result<(), Error> {
    let explicit = args.config.as_os_str() != config::FILE;
    let config = Config::load(&args.config, explicit)?;
    let r = resolve(args, config)?;
    let epoch = buildtime::build_epoch(Path::new("."))?;
    let mut timings = std::collections::BTreeMap::new();

    if let (Some(cmd), false) = (&r.build, args.no_build) {
        for job in &r.jobs {
            let _g = gha::group(&format!("build {}", job.target));
            let started = Instant::now();
            build(cmd, &job.target, &r.version.to_string())?;
            timings.insert(format!("build:{}", job.target), millis(started));
        }
    }

    // Stage everything; move into place only at the end.
    let mut out_guard = atomic::Staging::new();
    out_guard.ensure_dir(&r.output_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".relkit-dist-")
        .tempdir_in(&r.output_dir)
        .map_err(|source| relkit_core::Error::Unwritable {
            path: r.output_dir.clone(),
            source,
        })?;
    let stage = staging.path();

    let mut parts = Vec::new();
    for job in &r.jobs {
        let _g = gha::group(&format!("package {}", job.target));
        let started = Instant::now();
        let opts = relkit_package::Options {
            name: r.name.clone(),
            version: r.version.clone(),
            target: job.target.clone(),
            format: r.format.unwrap_or_else(|| job.target.default_format()),
            binaries: job.binaries.clone(),
            includes: r.includes.clone(),
            strip: r.strip,
            output_dir: stage.to_path_buf(),
            epoch,
        };
        let packaged = relkit_package::package(&opts)?;
        parts.push(packaged.part);
        timings.insert(format!("package:{}", job.target), millis(started));
    }

    if let Some(provider) = &r.config.provider {
        let started = Instant::now();
        parts.push(bundle_provider(provider, &r, stage, epoch)?);
        timings.insert("provider-bundle".into(), millis(started));
    }

    // Merge the parts first: they already hold every file's sha256, taken
    // while it was written, so SHA256SUMS needs no second read of anything.
    let manifest_path = stage.join("manifest.json");
    let release = relkit_manifest::ReleaseArgs {
        tag: Some(r.tag.clone()),
        commit: None,
    };
    let mut manifest = relkit_manifest::merge(&parts, &[], &manifest_path, &release)?;

    // SHA256SUMS over every release file at the top of the stage (not the
    // sidecars and signatures, which are checksums and signatures themselves).
    let started = Instant::now();
    let mut sums_text = String::new();
    for a in manifest.artifacts.iter().filter(|a| {
        !a.file.contains('/')
            && ![".sha256", ".minisig", ".sig"]
                .iter()
                .any(|ext| a.file.ends_with(ext))
    }) {
        sums_text.push_str(&relkit_checksum::format_line(&a.sha256, &a.file));
    }
    let sums = stage.join(Algo::Sha256.sums_file());
    atomic::write_file(&sums, sums_text.as_bytes())?;
    let mut extra = vec![sums.clone()];
    timings.insert("checksum".into(), millis(started));

    let started = Instant::now();
    let (signatures, key_id) = sign(&r, stage, &sums)?;
    extra.extend(signatures);
    timings.insert("sign".into(), millis(started));

    manifest.artifacts.extend(relkit_manifest::describe_files(
        &extra,
        &manifest_path,
        &manifest.name,
        &manifest.version,
    )?);
    relkit_manifest::attach_signatures(&mut manifest);
    if args.timings {
        manifest
            .metrics
            .get_or_insert_with(Default::default)
            .durations_ms = timings;
    }
    for s in manifest
        .artifacts
        .iter_mut()
        .flat_map(|a| a.signatures.iter_mut())
    {
        if s.kind == relkit_core::manifest::SignatureKind::Minisign {
            s.key_id.clone_from(&key_id);
        }
    }
    manifest.normalize();
    for part in &parts {
        fs_err::remove_file(part).map_err(relkit_core::Error::from)?;
    }
    atomic::write_file(&manifest_path, manifest.to_json().as_bytes())?;

    move_into_place(stage, &r.output_dir)?;
    drop(out_guard.commit());
    report(&manifest, &r.output_dir)?;
    Ok(())
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
            relkit_core::Error::invalid("--name", "is required (or set `name` in relkit.toml)")
        })?;
    names::check_component("--name", &name)?;
    let version = resolve_version(args.version.as_deref().or(config.version.as_deref()))?;
    let tag = args
        .tag
        .clone()
        .or_else(|| {
            std::env::var("GITHUB_REF")
                .ok()
                .and_then(|r| r.strip_prefix("refs/tags/").map(str::to_owned))
        })
        .unwrap_or_else(|| version.tag());
    let target_names: Vec<String> = if !args.targets.is_empty() {
        args.targets.clone()
    } else if !config.targets.is_empty() {
        config.targets.clone()
    } else {
        vec![Target::host().name().to_owned()]
    };
    let mut targets = Vec::new();
    for t in &target_names {
        let target = Target::parse(t)?;
        if targets.iter().any(|x: &Target| x.name() == target.name()) {
            return Err(
                relkit_core::Error::invalid("--target", format!("`{t}` is given twice")).into(),
            );
        }
        targets.push(target);
    }
    if !args.binaries.is_empty() && targets.len() > 1 {
        return Err(relkit_core::Error::invalid(
            "--binary",
            "paths can only be given for a single --target",
        )
        .into());
    }
    if args.binaries.is_empty() && config.binaries.is_empty() {
        return Err(relkit_core::Error::invalid(
            "--binary",
            "no binaries: pass --binary PATH or list `binaries` in relkit.toml",
        )
        .into());
    }
    let dir_template = config
        .build
        .binary_dir
        .clone()
        .unwrap_or_else(|| "target/{target}/release".to_owned());
    let jobs = targets
        .into_iter()
        .map(|target| {
            let binaries = if args.binaries.is_empty() {
                let dir = config::expand(&dir_template, &target, &version.to_string());
                config
                    .binaries
                    .iter()
                    .map(|b| Path::new(&dir).join(format!("{b}{}", target.exe_suffix())))
                    .collect()
            } else {
                args.binaries.clone()
            };
            Job { target, binaries }
        })
        .collect();
    let format = match args.format.as_deref().or(config.format.as_deref()) {
        Some(f) => Some(f.parse::<ArchiveFormat>()?),
        None => None,
    };
    let mut includes = config.include.clone();
    includes.extend(args.includes.iter().cloned());
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
        build: config.build.command.clone(),
        config,
    })
}

/// The version: given, else a tag in GITHUB_REF, else Cargo.toml's.
fn resolve_version(given: Option<&str>) -> Result<Version, Error> {
    if let Some(v) = given {
        return Ok(Version::parse("--version", v)?);
    }
    if let Some(tag) = std::env::var("GITHUB_REF")
        .ok()
        .and_then(|r| r.strip_prefix("refs/tags/").map(str::to_owned))
    {
        return Ok(Version::parse("GITHUB_REF", &tag)?);
    }
    let cargo = Path::new("Cargo.toml");
    if let Ok(text) = fs_err::read_to_string(cargo) {
        let doc: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
            path: cargo.to_path_buf(),
            message: e.message().to_owned(),
        })?;
        let found = ["package", "workspace"].iter().find_map(|section| {
            let table = doc.get(*section)?.as_table()?;
            let table = if *section == "workspace" {
                table.get("package")?.as_table()?
            } else {
                table
            };
            table.get("version")?.as_str().map(str::to_owned)
        });
        if let Some(v) = found {
            return Ok(Version::parse("Cargo.toml version", &v)?);
        }
    }
    Err(relkit_core::Error::invalid(
        "--version",
        "is required: no version in relkit.toml, no tag in GITHUB_REF and no version in Cargo.toml",
    )
    .into())
}

/// Run the build command for one target, its output on stderr.
fn build(template: &str, target: &Target, version: &str) -> Result<(), Error> {
    let cmd = config::expand(template, target, version);
    tracing::info!("building {target}: {cmd}");
    let status = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .env("RELKIT_TARGET", target.name())
        .env("RELKIT_VERSION", version)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| Error::Build {
            target: target.name().to_owned(),
            command: cmd.clone(),
            status: format!("could not start: {e}"),
        })?;
    if !status.success() {
        return Err(Error::Build {
            target: target.name().to_owned(),
            command: cmd,
            status: status.to_string(),
        });
    }
    Ok(())
}

fn bundle_provider(
    p: &config::Provider,
    r: &Resolved,
    stage: &Path,
    epoch: i64,
) -> Result<PathBuf, Error> {
    let _g = gha::group("provider bundle");
    let binary = p
        .binary
        .clone()
        .unwrap_or_else(|| format!("terraform-provider-{}", p.name));
    let binaries = r
        .jobs
        .iter()
        .map(|job| {
            let path = job
                .binaries
                .iter()
                .find(|b| b.file_stem().and_then(|s| s.to_str()) == Some(binary.as_str()))
                .cloned()
                .ok_or_else(|| {
                    relkit_core::Error::invalid(
                        "provider.binary",
                        format!("`{binary}` is not one of the binaries for `{}`", job.target),
                    )
                })?;
            Ok((job.target.name().to_owned(), path))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let namespace = p
        .namespace
        .clone()
        .or_else(relkit_provider_bundle::default_namespace)
        .ok_or_else(|| {
            relkit_core::Error::invalid("provider.namespace", "is required outside GitHub Actions")
        })?;
    let mut opts = relkit_provider_bundle::bundle::BundleOptions::new(
        &p.name,
        r.version.to_string(),
        namespace,
        binaries,
        stage,
    );
    if let Some(h) = &p.hostname {
        opts.hostname.clone_from(h);
    }
    if let Some(proto) = &p.protocol {
        opts.protocols = vec![proto.clone()];
    }
    if p.gpg_key_id.is_some() || p.gpg_import_key_env.is_some() {
        opts.gpg = Some(relkit_provider_bundle::bundle::GpgOptions {
            key_id: p.gpg_key_id.clone(),
            passphrase_env: p.gpg_passphrase_env.clone(),
            import_key_env: p.gpg_import_key_env.clone(),
        });
    }
    opts.epoch = Some(epoch);
    opts.project_name = Some(r.name.clone());
    let report =
        relkit_provider_bundle::bundle::bundle(&opts).map_err(|e| Error::Provider(Box::new(e)))?;
    Ok(report.manifest_part)
}

/// Sign SHA256SUMS (and archives when asked) with minisign when a key is
/// configured and present; returns the signature files and the key id.
fn sign(r: &Resolved, stage: &Path, sums: &Path) -> Result<(Vec<PathBuf>, Option<String>), Error> {
    let Some(key_env) = &r.config.sign.minisign_key_env else {
        return Ok((Vec::new(), None));
    };
    if std::env::var_os(key_env).is_none_or(|v| v.is_empty()) {
        tracing::warn!("not signing: `{key_env}` (sign.minisign-key-env) is not set");
        return Ok((Vec::new(), None));
    }
    let _g = gha::group("sign");
    let signer = relkit_sign::minisig::MinisignSigner::from_env(
        key_env,
        r.config.sign.minisign_password_env.as_deref(),
    )
    .map_err(|e| Error::Sign(Box::new(e)))?;
    let mut files = vec![sums.to_path_buf()];
    if r.config.sign.archives {
        files.extend(top_level_files(stage)?.into_iter().filter(|p| {
            let n = p.to_string_lossy();
            ArchiveFormat::ALL
                .iter()
                .any(|f| n.ends_with(&format!(".{}", f.extension())))
                && !n.contains("terraform-provider-")
        }));
    }
    let mut out = Vec::new();
    for f in files {
        let sig = signer
            .sign(&f, None)
            .map_err(|e| Error::Sign(Box::new(e)))?;
        let mut path = f.into_os_string();
        path.push(".minisig");
        let path = PathBuf::from(path);
        atomic::write_file(&path, sig.as_bytes())?;
        out.push(path);
    }
    Ok((out, Some(signer.key_id())))
}

fn top_level_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for e in fs_err::read_dir(dir).map_err(relkit_core::Error::from)? {
        let e = e.map_err(relkit_core::Error::from)?;
        if e.file_type().map_err(relkit_core::Error::from)?.is_file() {
            files.push(e.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Move every file under `stage` to the same place under `out`.
fn move_into_place(stage: &Path, out: &Path) -> Result<(), Error> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in fs_err::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, files)?;
            } else {
                files.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(stage, &mut files).map_err(relkit_core::Error::from)?;
    for f in files {
        let rel = f.strip_prefix(stage).expect("below the stage");
        let dest = out.join(rel);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent).map_err(relkit_core::Error::from)?;
        }
        fs_err::rename(&f, &dest).map_err(relkit_core::Error::from)?;
    }
    Ok(())
}

/// Print what was written, and report it to Actions.
fn report(m: &Manifest, out: &Path) -> Result<(), Error> {
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
    gha::append_summary(&gha::manifest_table(m))?;
    Ok(())
}

//! relkit-package: turns built binaries (plus README, LICENSE, completions)
//! into a byte-reproducible archive `NAME-VERSION-TARGET.EXT` with one
//! top-level folder, its `.sha256` sidecar and a manifest part.

pub mod archive;
pub mod blocks;
pub mod compress;
pub mod pargz;
pub mod parzip;
pub mod unpack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use relkit_core::atomic::Staging;
use relkit_core::manifest::{Artifact, ArtifactKind, Content, Manifest, Metrics, StripSizes};
use relkit_core::target::{ArchiveFormat, Target};
use relkit_core::version::Version;
use relkit_core::{Failure, HasFailure, buildtime, gha, names};

use crate::archive::Entry;
use crate::compress::Compression;

/// Package binaries into a reproducible release archive.
///
/// Writes DIR/NAME-VERSION-TARGET.EXT (one top-level folder of the same
/// name), DIR/NAME-VERSION-TARGET.EXT.sha256 and
/// DIR/NAME-VERSION-TARGET.part.json. The same inputs and SOURCE_DATE_EPOCH
/// (default: the commit time of HEAD) give the same bytes on any machine.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "relkit-package",
    version,
    disable_version_flag = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Project name, the first part of the archive name.
    #[arg(long, env = "RELKIT_NAME")]
    pub name: String,

    /// Release version (semver; a leading `v` is dropped).
    #[arg(long, env = "RELKIT_VERSION")]
    pub version: String,

    /// Target the binaries were built for: a Rust triple or an os/arch pair.
    #[arg(long, env = "RELKIT_TARGET")]
    pub target: String,

    /// Archive format [default: zip for windows targets, else tar.gz].
    #[arg(long, value_parser = ["tar.gz", "tar.xz", "tar.zst", "zip"], env = "RELKIT_FORMAT")]
    pub format: Option<String>,

    /// Extra file or folder to include (README, LICENSE, completions). Repeatable.
    #[arg(long = "include", value_name = "PATH")]
    pub includes: Vec<PathBuf>,

    /// Compression level, on the format's own scale [default: tar.gz 5 (1-9),
    /// tar.xz 6 (0-9), tar.zst 3 (1-19); zip is always 6]. See README,
    /// Performance, for what each costs.
    #[arg(long, value_name = "N", env = "RELKIT_LEVEL")]
    pub level: Option<u32>,

    /// Compress on at most N threads [default: every core]. The archive's
    /// bytes do not depend on it.
    #[arg(long, value_name = "N", env = "RELKIT_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Strip debug symbols from the binaries first (with $RELKIT_STRIP or
    /// `strip`); sizes before and after go in the manifest part.
    #[arg(long)]
    pub strip: bool,

    /// Where to write the outputs.
    #[arg(
        long,
        short,
        value_name = "DIR",
        default_value = "dist",
        env = "RELKIT_OUTPUT_DIR"
    )]
    pub output_dir: PathBuf,

    /// Binaries to package; they are marked executable (0755).
    #[arg(value_name = "BINARY", required = true)]
    pub binaries: Vec<PathBuf>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem with an input or output, from relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// Two inputs would land at one archive path.
    #[error("`{}` and `{}` would both be `{name}` in the archive", a.display(), b.display())]
    Duplicate {
        /// The archive path.
        name: String,
        /// First input.
        a: PathBuf,
        /// Second input.
        b: PathBuf,
    },
    /// A symlink that leads out of its own folder.
    #[error("`{}` is a symlink to `{}`, outside its folder; refusing to package it", link.display(), target.display())]
    SymlinkOutside {
        /// The symlink.
        link: PathBuf,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// `strip` failed.
    #[error("`{}`: strip failed: {message}", path.display())]
    Strip {
        /// The binary.
        path: PathBuf,
        /// What strip said.
        message: String,
    },
    /// Writing the archive failed.
    #[error("`{}`: {source}", path.display())]
    Write {
        /// The archive being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Write { source, .. } if !relkit_core::error::is_input_io(source) => {
                Failure::Internal
            }
            _ => Failure::Input,
        }
    }
}

/// Everything needed to write one archive.
#[derive(Debug, Clone)]
pub struct Options {
    /// Project name.
    pub name: String,
    /// Release version.
    pub version: Version,
    /// Target.
    pub target: Target,
    /// Archive format.
    pub format: ArchiveFormat,
    /// Binaries (0755).
    pub binaries: Vec<PathBuf>,
    /// Extra files or folders.
    pub includes: Vec<PathBuf>,
    /// Whether to strip binaries first.
    pub strip: bool,
    /// Output folder.
    pub output_dir: PathBuf,
    /// Build time, seconds since 1970.
    pub epoch: i64,
    /// Level and threads.
    pub compression: Compression,
}

impl Options {
    /// Validate a [`Cli`] into options (build time from SOURCE_DATE_EPOCH
    /// or the commit time of the current folder's HEAD).
    pub fn from_cli(cli: &Cli) -> Result<Self, Error> {
        names::check_component("--name", &cli.name)?;
        let version = Version::parse("--version", &cli.version)?;
        let target = Target::parse(&cli.target)?;
        let format = match &cli.format {
            Some(f) => f.parse()?,
            None => target.default_format(),
        };
        let epoch = buildtime::build_epoch(Path::new("."))?;
        let compression = Compression {
            level: cli.level,
            threads: cli
                .threads
                .map_or_else(compress::default_threads, usize::from),
        };
        compression
            .check(format)
            .map_err(|why| relkit_core::Error::invalid("--level", why))?;
        Ok(Options {
            name: cli.name.clone(),
            version,
            target,
            format,
            binaries: cli.binaries.clone(),
            includes: cli.includes.clone(),
            strip: cli.strip,
            output_dir: cli.output_dir.clone(),
            epoch,
            compression,
        })
    }

    /// Refuse, before anything is written, names that GitHub would rename or
    /// that no file system takes (issue 10.8): release-upload would refuse
    /// them only after the whole build.
    pub fn validate(&self) -> Result<(), Error> {
        names::check_component("--name", &self.name)?;
        names::check_github_name("--name", &self.name)?;
        names::check_asset_version("--version", &self.version)?;
        // The longest name written is the sidecar, `STEM.EXT.sha256`.
        let longest = format!("{}.{}.sha256", self.stem(), self.format.extension());
        let version = self.version.to_string();
        names::check_output_name(&longest, &[("--name", &self.name), ("--version", &version)])?;
        Ok(())
    }

    /// `NAME-VERSION-TARGET`, the archive's stem and top-level folder.
    pub fn stem(&self) -> String {
        format!("{}-{}-{}", self.name, self.version, self.target.name())
    }
}

/// What [`package`] wrote.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The archive.
    pub archive: PathBuf,
    /// Its `.sha256` sidecar.
    pub sidecar: PathBuf,
    /// The manifest part.
    pub part: PathBuf,
    /// The archive's manifest entry (file relative to the output folder).
    pub artifact: Artifact,
    /// The whole part.
    pub manifest: Manifest,
}

/// Write the archive, sidecar and manifest part. Nothing is left in the
/// output folder if any step fails.
pub fn package(opts: &Options) -> Result<Packaged, Error> {
    opts.validate()?;
    let stem = opts.stem();
    let file_name = format!("{stem}.{}", opts.format.extension());
    let mut staging = Staging::new();
    staging.ensure_dir(&opts.output_dir)?;

    // Stripped copies; registered so an interruption removes them (issue 10.7).
    let (scratch, _scratch_guard) =
        relkit_core::cleanup::tempdir_in(&std::env::temp_dir(), ".relkit-strip")
            .map_err(relkit_core::Error::from)?;
    let mut strip_sizes = BTreeMap::new();
    let mut entries = collect_entries(opts, &stem, scratch.path(), &mut strip_sizes)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));

    let archive_path = opts.output_dir.join(&file_name);
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let bar = relkit_core::progress::bytes(total, "packaging");
    let tmp = staging.create(&archive_path)?;
    let (_, digest, written) = archive::write_archive(
        tmp.as_file_mut(),
        opts.format,
        &entries,
        opts.epoch,
        opts.compression,
        &bar,
    )
    .map_err(|source| Error::Write {
        path: archive_path.clone(),
        source,
    })?;
    bar.finish_and_clear();

    let sidecar = opts.output_dir.join(format!("{file_name}.sha256"));
    let sidecar_text = format!("{}  {file_name}\n", digest.hex);
    staging.write(&sidecar, sidecar_text.as_bytes())?;

    let artifact = Artifact {
        name: file_name.clone(),
        kind: ArtifactKind::Archive,
        file: file_name.clone(),
        target: Some(opts.target.name().to_owned()),
        size: digest.size,
        sha256: digest.hex.clone(),
        contents: written
            .into_iter()
            .map(|w| Content {
                path: w.path,
                size: w.digest.size,
                sha256: w.digest.hex,
                executable: w.executable,
            })
            .collect(),
        signatures: Vec::new(),
    };
    let sidecar_digest = relkit_core::hash::hash_reader(
        sidecar_text.as_bytes(),
        relkit_core::hash::Algo::Sha256,
        |_| {},
    )
    .map_err(relkit_core::Error::from)?;
    let sidecar_artifact = Artifact {
        name: format!("{file_name}.sha256"),
        kind: ArtifactKind::ChecksumSidecar,
        file: format!("{file_name}.sha256"),
        target: Some(opts.target.name().to_owned()),
        size: sidecar_digest.size,
        sha256: sidecar_digest.hex,
        contents: Vec::new(),
        signatures: Vec::new(),
    };
    let mut manifest = Manifest::new(
        &opts.name,
        &opts.version.to_string(),
        buildtime::rfc3339(opts.epoch)?,
    );
    manifest.artifacts = vec![artifact.clone(), sidecar_artifact];
    if !strip_sizes.is_empty() {
        manifest.metrics = Some(Metrics {
            strip: strip_sizes,
            ..Metrics::default()
        });
    }
    manifest.normalize();
    let part = opts.output_dir.join(format!("{stem}.part.json"));
    staging.write(&part, manifest.to_json().as_bytes())?;
    staging.commit()?;

    Ok(Packaged {
        archive: archive_path,
        sidecar,
        part,
        artifact,
        manifest,
    })
}

/// Resolve inputs into archive entries: the top folder, the binaries
/// (stripped copies when asked) and the includes (folders recursively).
fn collect_entries(
    opts: &Options,
    stem: &str,
    scratch: &Path,
    strip_sizes: &mut BTreeMap<String, StripSizes>,
) -> Result<Vec<Entry>, Error> {
    let mut entries = vec![Entry {
        path: format!("{stem}/"),
        source: None,
        size: 0,
        executable: true,
    }];
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut claim = |path: &str, from: &Path| -> Result<(), Error> {
        if let Some(prev) = seen.insert(path.to_owned(), from.to_path_buf()) {
            return Err(Error::Duplicate {
                name: path.to_owned(),
                a: prev,
                b: from.to_path_buf(),
            });
        }
        Ok(())
    };
    for bin in &opts.binaries {
        let meta = regular_file(bin)?;
        let name = base_name(bin)?;
        // issue 10.8: GitHub would rename it in the asset list of a bare binary.
        names::check_github_name(&format!("`{}`", shown_path(bin)), &name)?;
        let path = format!("{stem}/{name}");
        claim(&path, bin)?;
        let (source, size) = if opts.strip {
            let copy = scratch.join(&name);
            let after = strip(bin, &copy)?;
            strip_sizes.insert(
                path.clone(),
                StripSizes {
                    before: meta.len(),
                    after,
                },
            );
            (copy, after)
        } else {
            (bin.clone(), meta.len())
        };
        entries.push(Entry {
            path,
            source: Some(source),
            size,
            executable: true,
        });
    }
    for inc in &opts.includes {
        check_symlink(inc)?;
        let meta = fs_err::metadata(inc).map_err(|e| missing_or(inc, e))?;
        let name = base_name(inc)?;
        if meta.is_dir() {
            add_tree(inc, &format!("{stem}/{name}"), &mut entries, &mut claim)?;
        } else {
            let meta = regular_file(inc)?;
            let path = format!("{stem}/{name}");
            claim(&path, inc)?;
            entries.push(Entry {
                path,
                source: Some(inc.clone()),
                size: meta.len(),
                executable: is_executable(&meta),
            });
        }
    }
    Ok(entries)
}

fn add_tree(
    dir: &Path,
    prefix: &str,
    entries: &mut Vec<Entry>,
    claim: &mut impl FnMut(&str, &Path) -> Result<(), Error>,
) -> Result<(), Error> {
    claim(&format!("{prefix}/"), dir)?;
    entries.push(Entry {
        path: format!("{prefix}/"),
        source: None,
        size: 0,
        executable: true,
    });
    let mut children: Vec<PathBuf> = fs_err::read_dir(dir)
        .map_err(relkit_core::Error::from)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(relkit_core::Error::from)?;
    children.sort();
    for child in children {
        check_symlink(&child)?;
        let name = base_name(&child)?;
        let path = format!("{prefix}/{name}");
        let meta = fs_err::metadata(&child).map_err(relkit_core::Error::from)?;
        if meta.is_dir() {
            add_tree(&child, &path, entries, claim)?;
        } else {
            let meta = regular_file(&child)?;
            claim(&path, &child)?;
            entries.push(Entry {
                path,
                source: Some(child),
                size: meta.len(),
                executable: is_executable(&meta),
            });
        }
    }
    Ok(())
}

fn missing_or(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        relkit_core::Error::Missing(path.to_path_buf()).into()
    } else {
        relkit_core::Error::Io(e).into()
    }
}

/// The input must be a readable regular file (a symlink is followed only
/// within its own folder).
fn regular_file(path: &Path) -> Result<std::fs::Metadata, Error> {
    check_symlink(path)?;
    let file = relkit_core::hash::open_regular(path)?;
    Ok(file.metadata().map_err(relkit_core::Error::from)?)
}

/// Refuse a symlink whose target resolves outside the symlink's folder:
/// packaging must not pull in files from elsewhere on the machine.
fn check_symlink(path: &Path) -> Result<(), Error> {
    let Ok(meta) = fs_err::symlink_metadata(path) else {
        return Ok(()); // Missing: reported by the caller.
    };
    if !meta.file_type().is_symlink() {
        return Ok(());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let resolved = fs_err::canonicalize(path).map_err(|e| missing_or(path, e))?;
    let base = fs_err::canonicalize(parent).map_err(relkit_core::Error::from)?;
    if !resolved.starts_with(&base) {
        return Err(Error::SymlinkOutside {
            link: path.to_path_buf(),
            target: resolved,
        });
    }
    Ok(())
}

fn base_name(path: &Path) -> Result<String, Error> {
    let bad = |what: &str| relkit_core::Error::invalid(format!("`{}`", shown_path(path)), what);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("has no usable UTF-8 file name"))?;
    if name.chars().any(char::is_control) {
        return Err(bad("has control characters in its file name").into());
    }
    Ok(name.to_owned())
}

/// A path for an error line: control characters escaped, long ones cut.
fn shown_path(path: &Path) -> String {
    names::shown(&path.to_string_lossy())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Strip debug symbols from a copy of `bin` at `out`; return the new size.
fn strip(bin: &Path, out: &Path) -> Result<u64, Error> {
    let tool = std::env::var_os("RELKIT_STRIP").unwrap_or_else(|| "strip".into());
    let result = Command::new(&tool)
        .arg("--strip-debug")
        .arg("-o")
        .arg(out)
        .arg(bin)
        .output();
    let failed = |message: String| Error::Strip {
        path: bin.to_path_buf(),
        message,
    };
    match result {
        Err(e) => Err(failed(format!(
            "cannot run `{}`: {e}",
            tool.to_string_lossy()
        ))),
        Ok(o) if !o.status.success() => {
            let text = String::from_utf8_lossy(&o.stderr);
            Err(failed(
                text.lines()
                    .next()
                    .unwrap_or("no message")
                    .trim()
                    .to_owned(),
            ))
        }
        Ok(_) => Ok(fs_err::metadata(out)
            .map_err(relkit_core::Error::from)?
            .len()),
    }
}

/// Run the CLI: package, print what was written, report to Actions.
pub fn run(cli: Cli) -> Result<(), Error> {
    let opts = Options::from_cli(&cli)?;
    let _group = gha::group(&format!("relkit-package {}", opts.stem()));
    let p = package(&opts)?;
    println!("{}  {}", p.artifact.sha256, p.archive.display());
    tracing::info!(
        "wrote {} ({}, {} files)",
        p.archive.display(),
        gha::human_size(p.artifact.size),
        p.artifact.contents.len()
    );
    gha::set_output("archive", &p.archive.to_string_lossy())?;
    gha::set_output("sha256", &p.artifact.sha256)?;
    gha::set_output("part", &p.part.to_string_lossy())?;
    gha::append_summary(&gha::artifact_table(
        "Packaged",
        &[gha::ArtifactRow {
            name: &p.artifact.name,
            target: p.artifact.target.as_deref(),
            size: p.artifact.size,
            sha256: &p.artifact.sha256,
        }],
    ))?;
    Ok(())
}

//! relkit-manifest: creates the release manifest from files, merges the
//! per-job parts written by relkit-package, verifies a manifest against the
//! files on disk, and prints the manifest's JSON schema.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use clap::{Parser, Subcommand};
use rayon::prelude::*;
use relkit_core::atomic;
use relkit_core::hash::{self, Algo};
use relkit_core::input::Limit;
use relkit_core::manifest::{
    self, Artifact, ArtifactKind, Manifest, Metrics, Signature, SignatureKind,
};
use relkit_core::version::Version;
use relkit_core::{Failure, HasFailure, buildtime, gha};
use relkit_sign::minisig::MinisignPublicKey;

/// Create, merge and verify release manifests.
#[derive(Debug, Parser)]
#[command(name = "relkit-manifest", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// relkit-manifest's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a manifest listing FILEs (hashed now; kind and target guessed
    /// from their names). FILEs must be inside the manifest's folder.
    Create {
        /// Project name.
        #[arg(long, env = "RELKIT_NAME")]
        name: String,
        /// Release version (semver; a leading `v` is dropped).
        #[arg(long, env = "RELKIT_VERSION")]
        version: String,
        /// Where to write the manifest.
        #[arg(long, short, default_value = "dist/manifest.json")]
        output: PathBuf,
        #[command(flatten)]
        release: ReleaseArgs,
        /// Files to list.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Merge manifest parts (and extra files) into one manifest. Refuses two
    /// parts that give one file different content.
    Merge {
        /// Where to write the merged manifest.
        #[arg(long, short, default_value = "dist/manifest.json")]
        output: PathBuf,
        /// Extra file to list (SHA256SUMS, signatures); repeatable.
        #[arg(long = "add", value_name = "FILE")]
        add: Vec<PathBuf>,
        #[command(flatten)]
        release: ReleaseArgs,
        /// Manifest parts (`*.part.json`) or whole manifests.
        #[arg(value_name = "PART", required = true)]
        parts: Vec<PathBuf>,
    },
    /// Re-hash every file a manifest lists and check sizes, digests and
    /// signature files; lists every mismatch.
    Verify {
        /// The manifest.
        manifest: PathBuf,
        /// Also check every minisign signature with this public key file
        /// (a minisign `.pub` file).
        #[arg(long, value_name = "FILE", conflicts_with = "public_key_string")]
        public_key: Option<PathBuf>,
        /// Also check every minisign signature with this public key (`RW…`).
        #[arg(long, value_name = "KEY", env = "RELKIT_MINISIGN_PUBLIC_KEY")]
        public_key_string: Option<String>,
    },
    /// Print the manifest's JSON schema.
    Schema {
        /// Write it to a file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Release metadata shared by create and merge.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReleaseArgs {
    /// The release's git tag [default: from GITHUB_REF when it is a tag].
    #[arg(long, env = "RELKIT_TAG")]
    pub tag: Option<String>,
    /// The commit released [default: GITHUB_SHA, else git HEAD].
    #[arg(long)]
    pub commit: Option<String>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem with an input or output, from relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// Two parts disagree about one file.
    #[error("`{file}` has different content in `{}` and `{}` (sha256 {a} vs {b})", first.display(), second.display())]
    Conflict {
        /// The artifact file.
        file: String,
        /// First part naming it.
        first: PathBuf,
        /// Second part naming it.
        second: PathBuf,
        /// Its sha256 in the first part.
        a: String,
        /// Its sha256 in the second.
        b: String,
    },
    /// Parts from different releases.
    #[error("`{}` is for {what} `{theirs}`, but `{}` is for `{ours}`", second.display(), first.display())]
    Mismatch {
        /// name or version.
        what: &'static str,
        /// First part.
        first: PathBuf,
        /// Its value.
        ours: String,
        /// The disagreeing part.
        second: PathBuf,
        /// Its value.
        theirs: String,
    },
    /// A public key given to `verify` is not one.
    #[error(transparent)]
    Key(#[from] relkit_sign::Error),
    /// Two parts give one file different asset names.
    #[error("`{file}` is named `{a}` in `{}` but `{b}` in `{}`", first.display(), second.display())]
    Renamed {
        /// The artifact file.
        file: String,
        /// First source naming it.
        first: PathBuf,
        /// Its name there.
        a: String,
        /// Second source.
        second: PathBuf,
        /// Its name there.
        b: String,
    },
    /// Two different files would be uploaded under one asset name.
    #[error("asset name `{name}` is given to both `{file_a}` (in `{}`) and `{file_b}` (in `{}`)", first.display(), second.display())]
    SameName {
        /// The asset name.
        name: String,
        /// The first file.
        file_a: String,
        /// Where it came from.
        first: PathBuf,
        /// The second file.
        file_b: String,
        /// Where it came from.
        second: PathBuf,
    },
    /// `create` was given one file twice.
    #[error("`{file}` is given twice: as `{}` and as `{}`", first.display(), second.display())]
    Twice {
        /// The file, relative to the manifest.
        file: String,
        /// The first argument naming it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Verification found problems.
    #[error("`{}`: {count} problem(s) found", manifest.display())]
    VerifyFailed {
        /// The manifest.
        manifest: PathBuf,
        /// How many problems.
        count: usize,
    },
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Key(e) => e.failure(),
            _ => Failure::Input,
        }
    }
}

/// Run the CLI.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Create {
            name,
            version,
            output,
            release,
            files,
        } => {
            let m = create(&name, &version, &output, &release, &files)?;
            write(&output, &m)
        }
        Command::Merge {
            output,
            add,
            release,
            parts,
        } => {
            let m = merge(&parts, &add, &output, &release)?;
            write(&output, &m)
        }
        Command::Verify {
            manifest,
            public_key,
            public_key_string,
        } => {
            let key = match (public_key, public_key_string) {
                (Some(path), _) => {
                    let text = relkit_core::input::read_text(&path, Limit::KEY)?;
                    // Named by its file, not by the flag (issue 10, the suite).
                    MinisignPublicKey::parse(&text, &format!("`{}`", path.display()))?;
                    Some(text)
                }
                (None, Some(key)) => {
                    MinisignPublicKey::parse(&key, "--public-key-string")?;
                    Some(key)
                }
                (None, None) => None,
            };
            let problems = verify(&manifest, key.as_deref())?;
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("{}: OK", manifest.display());
                Ok(())
            } else {
                Err(Error::VerifyFailed {
                    manifest,
                    count: problems.len(),
                })
            }
        }
        Command::Schema { output } => {
            let schema = manifest::schema_json();
            match output {
                Some(path) => atomic::write_file(&path, schema.as_bytes())?,
                None => print!("{schema}"),
            }
            Ok(())
        }
    }
}

fn write(output: &Path, m: &Manifest) -> Result<(), Error> {
    atomic::write_file(output, m.to_json().as_bytes())?;
    gha::append_summary(&gha::manifest_table(m))?;
    gha::set_output("manifest", &output.to_string_lossy())?;
    tracing::info!(
        "wrote {} ({} artifacts)",
        output.display(),
        m.artifacts.len()
    );
    Ok(())
}

fn apply_release(m: &mut Manifest, release: &ReleaseArgs, repo: &Path) -> Result<(), Error> {
    // issue 10.8: tags git and GitHub refuse (`v1/../../x`, `v1.0.lock`) passed.
    let tag = match &release.tag {
        Some(tag) => {
            relkit_core::names::check_tag("--tag", tag)?;
            Some(tag.clone())
        }
        None => match std::env::var("GITHUB_REF") {
            Ok(r) => match r.strip_prefix("refs/tags/") {
                Some(tag) => {
                    relkit_core::names::check_tag("GITHUB_REF", tag)?;
                    Some(tag.to_owned())
                }
                None => None,
            },
            Err(_) => None,
        },
    };
    if tag.is_some() {
        m.tag = tag;
    }
    let commit = release.commit.clone().or_else(|| buildtime::commit(repo));
    if commit.is_some() {
        m.commit = commit;
    }
    Ok(())
}

/// Build a manifest listing `files`, with paths relative to `output`'s folder.
pub fn create(
    name: &str,
    version: &str,
    output: &Path,
    release: &ReleaseArgs,
    files: &[PathBuf],
) -> Result<Manifest, Error> {
    relkit_core::names::check_component("--name", name)?;
    let version = Version::parse("--version", version)?;
    let epoch = buildtime::build_epoch(Path::new("."))?;
    let mut m = Manifest::new(name, &version.to_string(), buildtime::rfc3339(epoch)?);
    apply_release(&mut m, release, Path::new("."))?;
    m.artifacts = describe_files(files, output, name, &version.to_string())?;
    check_create_unique(files, &m.artifacts)?;
    attach_signatures(&mut m);
    m.normalize();
    Ok(m)
}

/// Hash `files` in parallel and describe each as an artifact relative to the
/// manifest at `output`.
pub fn describe_files(
    files: &[PathBuf],
    output: &Path,
    name: &str,
    version: &str,
) -> Result<Vec<Artifact>, Error> {
    let base = manifest_dir(output);
    files
        .par_iter()
        .map(|path| {
            let file = relative_to(&base, path)?;
            let digest = hash::hash_file(path, Algo::Sha256, |_| {})?;
            let base_name = file.rsplit('/').next().unwrap_or(&file).to_owned();
            Ok(Artifact {
                kind: guess_kind(&base_name),
                target: guess_target(&base_name, name, version),
                name: base_name,
                file,
                size: digest.size,
                sha256: digest.hex,
                contents: Vec::new(),
                signatures: Vec::new(),
            })
        })
        .collect()
}

/// Merge parts (their file paths rebased onto `output`'s folder) and
/// extra files into one manifest.
pub fn merge(
    parts: &[PathBuf],
    add: &[PathBuf],
    output: &Path,
    release: &ReleaseArgs,
) -> Result<Manifest, Error> {
    let base = manifest_dir(output);
    let mut merged: Option<(Manifest, PathBuf)> = None;
    let mut by_file: BTreeMap<String, (Artifact, PathBuf)> = BTreeMap::new();
    let mut metrics = Metrics::default();
    for part_path in parts {
        let part = Manifest::read(part_path)?;
        let part_dir = manifest_dir(part_path);
        match &mut merged {
            None => merged = Some((part.clone(), part_path.clone())),
            Some((m, first)) => {
                for (what, ours, theirs) in [
                    ("name", &m.name, &part.name),
                    ("version", &m.version, &part.version),
                ] {
                    if ours != theirs {
                        return Err(Error::Mismatch {
                            what,
                            first: first.clone(),
                            ours: ours.clone(),
                            second: part_path.clone(),
                            theirs: theirs.clone(),
                        });
                    }
                }
                // Jobs of one release share SOURCE_DATE_EPOCH; if they do
                // not, the latest time wins so the result is order-free.
                if buildtime::parse_rfc3339(&part.build_timestamp)
                    > buildtime::parse_rfc3339(&m.build_timestamp)
                {
                    m.build_timestamp.clone_from(&part.build_timestamp);
                }
                m.targets.extend(part.targets.iter().cloned());
                m.tag = m.tag.take().or(part.tag.clone());
                m.commit = m.commit.take().or(part.commit.clone());
                m.ignored_advisories
                    .extend(part.ignored_advisories.iter().cloned());
            }
        }
        if let Some(pm) = &part.metrics {
            metrics.durations_ms.extend(pm.durations_ms.clone());
            metrics.strip.extend(pm.strip.clone());
        }
        for mut a in part.artifacts {
            a.file = relative_to(&base, &part_dir.join(&a.file))?;
            for s in &mut a.signatures {
                s.file = relative_to(&base, &part_dir.join(&s.file))?;
            }
            insert_unique(&mut by_file, a, part_path)?;
        }
    }
    let Some((mut m, _)) = merged else {
        return Err(relkit_core::Error::invalid("PART", "give at least one manifest part").into());
    };
    let extra = describe_files(add, output, &m.name, &m.version)?;
    for (a, path) in extra.into_iter().zip(add) {
        insert_unique(&mut by_file, a, path)?;
    }
    check_unique_names(by_file.values().map(|(a, from)| (a, from.as_path())))?;
    m.artifacts = by_file.into_values().map(|(a, _)| a).collect();
    m.metrics = Some(metrics);
    apply_release(&mut m, release, Path::new("."))?;
    attach_signatures(&mut m);
    m.normalize();
    Ok(m)
}

fn insert_unique(
    by_file: &mut BTreeMap<String, (Artifact, PathBuf)>,
    a: Artifact,
    from: &Path,
) -> Result<(), Error> {
    match by_file.get_mut(&a.file) {
        None => {
            by_file.insert(a.file.clone(), (a, from.to_path_buf()));
        }
        Some((prev, first)) => {
            // issue 10.4: the first part's name silently won.
            if prev.name != a.name {
                return Err(Error::Renamed {
                    file: a.file,
                    first: first.clone(),
                    a: prev.name.clone(),
                    second: from.to_path_buf(),
                    b: a.name,
                });
            }
            if prev.sha256 != a.sha256 || prev.size != a.size {
                return Err(Error::Conflict {
                    file: a.file,
                    first: first.clone(),
                    second: from.to_path_buf(),
                    a: prev.sha256.clone(),
                    b: a.sha256,
                });
            }
            // Same bytes: keep the richer description.
            if prev.contents.is_empty() {
                prev.contents = a.contents;
            }
            if prev.target.is_none() {
                prev.target = a.target;
            }
            prev.signatures.extend(a.signatures);
        }
    }
    Ok(())
}

/// `create`'s FILEs: each file once (issue 10.4: a file given twice made
/// two entries), and asset names unique.
fn check_create_unique(files: &[PathBuf], artifacts: &[Artifact]) -> Result<(), Error> {
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for (path, a) in files.iter().zip(artifacts) {
        if let Some(first) = seen.insert(&a.file, path) {
            return Err(Error::Twice {
                file: a.file.clone(),
                first: first.to_path_buf(),
                second: path.clone(),
            });
        }
    }
    check_unique_names(artifacts.iter().zip(files.iter().map(PathBuf::as_path)))
}

/// Two different files must not become one release asset name (issue
/// 10.4). Files that are never uploaded (mirror trees) may share names.
fn check_unique_names<'a>(
    artifacts: impl IntoIterator<Item = (&'a Artifact, &'a Path)>,
) -> Result<(), Error> {
    let mut by_name: BTreeMap<&str, (&Artifact, &Path)> = BTreeMap::new();
    for (a, from) in artifacts {
        if !a.kind.rules().uploaded {
            continue;
        }
        if let Some((prev, first)) = by_name.insert(&a.name, (a, from)) {
            return Err(Error::SameName {
                name: a.name.clone(),
                file_a: prev.file.clone(),
                first: first.to_path_buf(),
                file_b: a.file.clone(),
                second: from.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Record `X.minisig` and `X.sig` artifacts as signatures of `X`.
pub fn attach_signatures(m: &mut Manifest) {
    let sigs: Vec<(String, SignatureKind, String)> = m
        .artifacts
        .iter()
        .filter_map(|a| {
            let (base, kind) = relkit_core::kind::signed_file(&a.file)?;
            Some((base.to_owned(), kind, a.file.clone()))
        })
        .collect();
    for (base, kind, file) in sigs {
        if let Some(target) = m.artifacts.iter_mut().find(|a| a.file == base) {
            if !target.signatures.iter().any(|s| s.file == file) {
                target.signatures.push(Signature {
                    kind,
                    file,
                    key_id: None,
                });
            }
        }
    }
}

/// The folder a manifest's paths are relative to.
pub fn manifest_dir(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` relative to `base`, `/`-separated; both are made absolute
/// lexically. A path outside `base` is an error.
pub fn relative_to(base: &Path, path: &Path) -> Result<String, Error> {
    let abs = |p: &Path| -> Result<PathBuf, Error> {
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(relkit_core::Error::from)?
                .join(p)
        };
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        Ok(out)
    };
    let (b, p) = (abs(base)?, abs(path)?);
    let rel = p.strip_prefix(&b).map_err(|_| {
        relkit_core::Error::invalid(
            format!("`{}`", path.display()),
            format!("is outside the manifest's folder `{}`", base.display()),
        )
    })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let s = parts.join("/");
    manifest::check_relative(&s)
        .map_err(|m| relkit_core::Error::invalid(format!("`{}`", path.display()), m))?;
    Ok(s)
}

/// An artifact's kind from its file name (relkit-core's one table).
pub fn guess_kind(name: &str) -> ArtifactKind {
    ArtifactKind::from_name(name)
}

/// Recover the target from `NAME-VERSION-TARGET.EXT`.
pub fn guess_target(file: &str, name: &str, version: &str) -> Option<String> {
    let rest = file.strip_prefix(&format!("{name}-{version}-"))?;
    let stem = ["tar.gz", "tar.xz", "tar.zst", "zip"]
        .iter()
        .find_map(|ext| rest.strip_suffix(&format!(".{ext}")))?;
    relkit_core::target::Target::parse(stem)
        .ok()
        .map(|t| t.name().to_owned())
}

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The artifact file.
    pub file: String,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: FAILED ({})", self.file, self.what)
    }
}

/// Re-hash every artifact of `manifest_path` and check that each listed
/// signature file exists; with a minisign `public_key`, also check every
/// minisign signature. Returns every problem found, in file order.
pub fn verify(manifest_path: &Path, public_key: Option<&str>) -> Result<Vec<Problem>, Error> {
    let m = Manifest::read(manifest_path)?;
    let public_key = public_key
        .map(|k| MinisignPublicKey::parse(k, "--public-key"))
        .transpose()?;
    let base = manifest_dir(manifest_path);
    let mut problems: Vec<Problem> = m
        .artifacts
        .par_iter()
        .flat_map_iter(|a| {
            let mut out = Vec::new();
            match hash::hash_file(&base.join(&a.file), Algo::Sha256, |_| {}) {
                // Files that are never release assets (mirror trees) are
                // not expected among downloaded assets.
                Err(relkit_core::Error::Missing(_)) if !a.kind.rules().uploaded => {}
                Err(relkit_core::Error::Missing(_)) => out.push(Problem {
                    file: a.file.clone(),
                    what: "missing".into(),
                }),
                Err(e) => out.push(Problem {
                    file: a.file.clone(),
                    what: relkit_core::error::one_line(&e),
                }),
                Ok(d) => {
                    if d.size != a.size {
                        out.push(Problem {
                            file: a.file.clone(),
                            what: format!("size {} but the manifest says {}", d.size, a.size),
                        });
                    }
                    if d.hex != a.sha256 {
                        out.push(Problem {
                            file: a.file.clone(),
                            what: format!("sha256 {} but the manifest says {}", d.hex, a.sha256),
                        });
                    }
                }
            }
            for s in &a.signatures {
                let sig_path = base.join(&s.file);
                if !sig_path.is_file() {
                    out.push(Problem {
                        file: a.file.clone(),
                        what: format!("signature `{}` is missing", s.file),
                    });
                } else if let (Some(key), SignatureKind::Minisign) = (&public_key, s.kind) {
                    let checked = relkit_core::input::read_text(&sig_path, Limit::SIGNATURE)
                        .map_err(|e| relkit_core::error::one_line(&e))
                        .and_then(|text| {
                            relkit_sign::minisig::verify_detailed(
                                &base.join(&a.file),
                                &sig_path,
                                &text,
                                key,
                                false,
                            )
                            .map_err(|e| relkit_core::error::one_line(&e))
                        });
                    if let Err(why) = checked {
                        out.push(Problem {
                            file: a.file.clone(),
                            what: format!("signature `{}`: {why}", s.file),
                        });
                    }
                }
            }
            out
        })
        .collect();
    problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_targets_from_names() {
        assert_eq!(
            guess_kind("t-1.0.0-x86_64-unknown-linux-gnu.tar.gz"),
            ArtifactKind::Archive
        );
        assert_eq!(guess_kind("SHA256SUMS"), ArtifactKind::Checksums);
        assert_eq!(guess_kind("SHA256SUMS.minisig"), ArtifactKind::Signature);
        assert_eq!(guess_kind("a.zip.sha256"), ArtifactKind::ChecksumSidecar);
        assert_eq!(
            guess_kind("terraform-provider-x_1.0.0_linux_amd64.zip"),
            ArtifactKind::TerraformProviderZip
        );
        assert_eq!(
            guess_kind("terraform-provider-x_1.0.0_SHA256SUMS"),
            ArtifactKind::TerraformSha256sums
        );
        assert_eq!(guess_kind("notes.txt"), ArtifactKind::Other);
        assert_eq!(
            guess_target("t-1.0.0-x86_64-pc-windows-msvc.zip", "t", "1.0.0").as_deref(),
            Some("x86_64-pc-windows-msvc")
        );
        assert_eq!(
            guess_target("t-1.0.0-linux-amd64.tar.gz", "t", "1.0.0").as_deref(),
            Some("linux-amd64")
        );
        assert_eq!(guess_target("other.tar.gz", "t", "1.0.0"), None);
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/a/dist"), Path::new("/a/dist/x/y.tgz")).unwrap(),
            "x/y.tgz"
        );
        assert_eq!(
            relative_to(Path::new("/a/dist"), Path::new("/a/dist/x/../y")).unwrap(),
            "y"
        );
        let e = relative_to(Path::new("/a/dist"), Path::new("/a/other"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is outside the manifest's folder"), "{e}");
    }
}

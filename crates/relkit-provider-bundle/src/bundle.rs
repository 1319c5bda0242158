//! Building a provider bundle: the Registry release assets, the unpacked
//! and packed mirrors, the lock hashes and the manifest part, all staged and
//! committed together so a failed run leaves nothing behind.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use relkit_core::atomic::{Staging, io_at};
use relkit_core::hash::Digest;
use relkit_core::manifest::{Artifact, ArtifactKind, Content, Manifest, Signature, SignatureKind};
use relkit_core::target::Target;
use relkit_sign::openpgp::GpgSigner;
use serde::Serialize;

use crate::Error;
use crate::address::DEFAULT_HOSTNAME;
use crate::hashes::{h1, lock_file, zh};
use crate::plan::{Plan, validate};
use crate::zipper::{OutFile, ZipJob, ZipOutcome, write_provider_zip};

/// The folder under the output folder that holds the unpacked filesystem
/// mirror (`-plugin-dir` / `filesystem_mirror` root).
pub const UNPACKED_MIRROR_DIR: &str = "terraform-providers";
/// The folder under the output folder that holds the packed mirror
/// (`filesystem_mirror` root, or the document root of a static
/// `network_mirror`).
pub const PACKED_MIRROR_DIR: &str = "terraform-mirror";

/// What to bundle and where.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Provider type: `NAME` in `terraform-provider-NAME`.
    pub name: String,
    /// Version, semver; a leading `v` is dropped.
    pub version: String,
    /// Registry namespace (organisation).
    pub namespace: String,
    /// Registry host, optionally with `:port`.
    pub hostname: String,
    /// Plugin protocol versions for `…_manifest.json`, e.g. `["6.0"]`.
    pub protocols: Vec<String>,
    /// `(target, binary path)` pairs; a target is a Rust triple, a Go pair
    /// or a Terraform `os_arch`.
    pub binaries: Vec<(String, PathBuf)>,
    /// The output folder.
    pub output_dir: PathBuf,
    /// Sign `…_SHA256SUMS` with gpg when set.
    pub gpg: Option<GpgOptions>,
    /// The build time in seconds since 1970; `None` takes
    /// `SOURCE_DATE_EPOCH`, else the commit time of HEAD.
    pub epoch: Option<i64>,
    /// The manifest part's project `name`; `None` gives `terraform-provider-NAME`.
    pub project_name: Option<String>,
    /// Write a Markdown summary to `$GITHUB_STEP_SUMMARY` and step outputs
    /// to `$GITHUB_OUTPUT` (both no-ops outside Actions).
    pub actions_io: bool,
}

impl BundleOptions {
    /// Options with the defaults: host `registry.terraform.io`, protocol
    /// 6.0, no signing, build time from the environment.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        namespace: impl Into<String>,
        binaries: Vec<(String, PathBuf)>,
        output_dir: impl Into<PathBuf>,
    ) -> Self {
        BundleOptions {
            name: name.into(),
            version: version.into(),
            namespace: namespace.into(),
            hostname: DEFAULT_HOSTNAME.to_owned(),
            protocols: vec!["6.0".to_owned()],
            binaries,
            output_dir: output_dir.into(),
            gpg: None,
            epoch: None,
            project_name: None,
            actions_io: true,
        }
    }
}

/// gpg signer settings (see `relkit_sign::openpgp::GpgSigner::new`).
#[derive(Debug, Clone, Default)]
pub struct GpgOptions {
    /// Key to sign with (`--local-user`); gpg's default key when `None`.
    pub key_id: Option<String>,
    /// Name of the env var that holds the key's passphrase.
    pub passphrase_env: Option<String>,
    /// Name of the env var that holds an ASCII-armored secret key to import
    /// into a private, temporary GNUPGHOME.
    pub import_key_env: Option<String>,
}

/// One file the bundle wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    /// Path relative to the output folder, with `/` separators.
    pub file: String,
    /// The full path.
    pub path: PathBuf,
    /// What it is.
    pub kind: ArtifactKind,
    /// The target (as given) for platform-specific files.
    pub target: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256.
    pub sha256: String,
}

/// The hashes of one platform's package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformHashes {
    /// Terraform platform, `os_arch`.
    pub platform: String,
    /// The target as given.
    pub target: String,
    /// The registry zip, relative to the output folder.
    pub zip: String,
    /// `h1:` hash of the package contents.
    pub h1: String,
    /// `zh:` hash of the zip.
    pub zh: String,
}

/// What [`bundle`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BundleReport {
    /// The provider address, `HOST/NAMESPACE/NAME`.
    pub address: String,
    /// The version, without `v`.
    pub version: String,
    /// The output folder.
    pub output_dir: PathBuf,
    /// Every file written, sorted by `file` (the manifest part itself excluded).
    pub files: Vec<WrittenFile>,
    /// Hashes per platform, sorted by platform.
    pub platforms: Vec<PlatformHashes>,
    /// Every hash of the lock block, sorted: the `h1:` of every platform,
    /// the `zh:` of every zip and of `_manifest.json` (Terraform records a
    /// `zh:` for every line of the registry's SHA256SUMS).
    pub lock_hashes: Vec<String>,
    /// The `.terraform.lock.hcl` text.
    pub lock_block: String,
    /// Where the lock block was written.
    pub lock_file: PathBuf,
    /// Where the manifest part was written.
    pub manifest_part: PathBuf,
    /// The manifest part's content.
    #[serde(skip)]
    pub manifest: Manifest,
    /// Fingerprint of the key that signed `…_SHA256SUMS`, if signed.
    pub signing_key: Option<String>,
    /// Root of the unpacked mirror (`-plugin-dir` / `filesystem_mirror`).
    pub unpacked_mirror: PathBuf,
    /// Root of the packed mirror (`filesystem_mirror`, or static `network_mirror`).
    pub packed_mirror: PathBuf,
}

/// `_manifest.json`, fields in the order the Registry documents them.
#[derive(Serialize)]
struct RegistryManifest<'a> {
    version: u32,
    metadata: RegistryMetadata<'a>,
}

#[derive(Serialize)]
struct RegistryMetadata<'a> {
    protocol_versions: &'a [String],
}

/// One platform of a packed mirror's `VERSION.json`.
#[derive(Serialize)]
struct MirrorArchive<'a> {
    url: String,
    hashes: [&'a str; 2],
}

fn json_bytes(value: &impl Serialize) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(value).expect("JSON serialises");
    s.push('\n');
    s.into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Build the bundle described by `opts`. Validates everything first; writes
/// every output through one [`Staging`], so on error nothing is left behind.
pub fn bundle(opts: &BundleOptions) -> Result<BundleReport, Error> {
    let plan = validate(opts)?;
    let signer = signer(opts.gpg.as_ref())?;
    let dir = opts.output_dir.as_path();
    plan.check_unpacked_dirs(dir)?;
    let mut out = Bundler::new(&plan, dir)?;
    let _group = relkit_core::gha::group(&format!(
        "provider bundle {} {}",
        plan.address(),
        plan.version
    ));
    let zips = out.write_zips()?;
    let platforms = out.record_registry_zips(&zips);
    let manifest_sha256 = out.write_registry_manifest()?;
    let signing_key = out.write_sums(&zips, &manifest_sha256, signer.as_ref())?;
    let executables = out.record_unpacked_mirror(&zips);
    out.write_packed_mirror(&zips, &platforms)?;
    let lock = out.write_lock(&platforms, &manifest_sha256)?;
    let (manifest, manifest_part) = out.write_part(opts.project_name.as_deref())?;
    let files = out.commit(&executables)?;
    let report = BundleReport {
        address: plan.address(),
        version: plan.version.to_string(),
        output_dir: dir.to_path_buf(),
        files,
        platforms,
        lock_hashes: lock.hashes,
        lock_block: lock.block,
        lock_file: lock.path,
        manifest_part,
        manifest,
        signing_key,
        unpacked_mirror: dir.join(UNPACKED_MIRROR_DIR),
        packed_mirror: dir.join(PACKED_MIRROR_DIR),
    };
    if opts.actions_io {
        relkit_core::gha::append_summary(&summary_markdown(&report))?;
        set_outputs(&report)?;
    }
    Ok(report)
}

fn signer(gpg: Option<&GpgOptions>) -> Result<Option<GpgSigner>, Error> {
    let Some(g) = gpg else {
        return Ok(None);
    };
    Ok(Some(GpgSigner::new(
        g.key_id.as_deref(),
        g.passphrase_env.as_deref(),
        g.import_key_env.as_deref(),
    )?))
}

/// One output as it is recorded, both in the report's file list and as an
/// artifact of the manifest part.
struct Output<'a> {
    /// Path relative to the output folder, `/`-separated.
    file: String,
    kind: ArtifactKind,
    target: Option<&'a Target>,
    size: u64,
    sha256: String,
    contents: Vec<Content>,
    signatures: Vec<Signature>,
}

impl<'a> Output<'a> {
    fn new(file: String, kind: ArtifactKind, digest: &Digest) -> Self {
        Output {
            file,
            kind,
            target: None,
            size: digest.size,
            sha256: digest.hex.clone(),
            contents: Vec::new(),
            signatures: Vec::new(),
        }
    }

    fn of_bytes(file: String, kind: ArtifactKind, bytes: &[u8]) -> Self {
        let digest = Digest {
            hex: sha256_hex(bytes),
            size: bytes.len() as u64,
        };
        Output::new(file, kind, &digest)
    }

    fn for_target(self, target: &'a Target) -> Self {
        Output {
            target: Some(target),
            ..self
        }
    }

    /// The provider binary as the one entry of a zip.
    fn holding(self, entry: String, binary: &Digest) -> Self {
        Output {
            contents: vec![Content {
                path: entry,
                size: binary.size,
                sha256: binary.hex.clone(),
                executable: true,
            }],
            ..self
        }
    }
}

/// The lock block and where it goes.
struct Lock {
    hashes: Vec<String>,
    block: String,
    path: PathBuf,
}

/// The bundle being written: every output is staged in `staging` and
/// recorded once, in `files` for the report and in `artifacts` for the
/// manifest part.
struct Bundler<'a> {
    plan: &'a Plan,
    dir: &'a Path,
    staging: Staging,
    files: Vec<WrittenFile>,
    artifacts: Vec<Artifact>,
}

impl<'a> Bundler<'a> {
    fn new(plan: &'a Plan, dir: &'a Path) -> Result<Self, Error> {
        let mut staging = Staging::new();
        staging.ensure_dir(dir)?;
        Ok(Bundler {
            plan,
            dir,
            staging,
            files: Vec::new(),
            artifacts: Vec::new(),
        })
    }

    fn record(&mut self, out: Output<'_>) {
        let target = out.target.map(|t| t.name().to_owned());
        let name = out.file.rsplit('/').next().unwrap_or(&out.file).to_owned();
        self.artifacts.push(Artifact {
            name,
            kind: out.kind,
            file: out.file.clone(),
            target: target.clone(),
            size: out.size,
            sha256: out.sha256.clone(),
            contents: out.contents,
            signatures: out.signatures,
        });
        self.files.push(WrittenFile {
            path: self.dir.join(&out.file),
            file: out.file,
            kind: out.kind,
            target,
            size: out.size,
            sha256: out.sha256,
        });
    }

    /// Stage `bytes` as `file` (relative to the output folder) and record it.
    fn write(&mut self, file: String, kind: ArtifactKind, bytes: &[u8]) -> Result<(), Error> {
        self.staging.write(&self.dir.join(&file), bytes)?;
        self.record(Output::of_bytes(file, kind, bytes));
        Ok(())
    }

    /// A staged output file, opened for a zip worker to write through its
    /// own handle.
    fn open(&mut self, rel_path: &str) -> Result<OutFile, Error> {
        let path = self.dir.join(rel_path);
        let tmp = self.staging.create(&path)?;
        let file = tmp.as_file().try_clone().map_err(|e| io_at(&path, e))?;
        Ok(OutFile { file, path })
    }

    /// Registry zips, their packed-mirror copies and the unpacked-mirror
    /// binaries, written in parallel from one read of each binary. The temp
    /// files are created here, in order; the workers write through their
    /// own handles. Outcomes are in the order of the plan's platforms.
    fn write_zips(&mut self) -> Result<Vec<ZipOutcome>, Error> {
        let plan = self.plan;
        let entries: Vec<String> = plan.platforms.iter().map(|p| plan.entry_name(p)).collect();
        let mut jobs = Vec::new();
        for (p, entry) in plan.platforms.iter().zip(&entries) {
            jobs.push(ZipJob {
                binary: &p.binary,
                entry,
                epoch: plan.epoch,
                zip: self.open(&plan.zip_name(p))?,
                zip_copies: vec![self.open(&plan.packed_file(p))?],
                binary_copies: vec![self.open(&plan.unpacked_file(p))?],
            });
        }
        let total: u64 = plan
            .platforms
            .iter()
            .map(|p| fs_err::metadata(&p.binary).map_or(0, |m| m.len()))
            .sum();
        let bar = relkit_core::progress::bytes(total, "compressing");
        let outcomes = jobs
            .into_par_iter()
            .map(|job| {
                tracing::debug!(zip = %job.zip.path.display(), "compressing");
                write_provider_zip(job, &|n| bar.inc(n))
            })
            .collect::<Result<_, _>>()?;
        bar.finish_and_clear();
        Ok(outcomes)
    }

    /// Record the Registry zips; their hashes, by platform.
    fn record_registry_zips(&mut self, zips: &[ZipOutcome]) -> Vec<PlatformHashes> {
        let plan = self.plan;
        let mut platforms = Vec::new();
        for (p, o) in plan.platforms.iter().zip(zips) {
            let entry = plan.entry_name(p);
            let zip_name = plan.zip_name(p);
            self.record(
                Output::new(zip_name.clone(), ArtifactKind::TerraformProviderZip, &o.zip)
                    .for_target(&p.target)
                    .holding(entry.clone(), &o.binary),
            );
            platforms.push(PlatformHashes {
                platform: p.target.terraform_platform(),
                target: p.target.name().to_owned(),
                zip: zip_name,
                h1: h1([(entry.as_str(), o.binary.hex.as_str())]),
                zh: zh(&o.zip.hex),
            });
        }
        platforms
    }

    /// `_manifest.json`; its sha256.
    fn write_registry_manifest(&mut self) -> Result<String, Error> {
        let json = json_bytes(&RegistryManifest {
            version: 1,
            metadata: RegistryMetadata {
                protocol_versions: &self.plan.protocols,
            },
        });
        let name = self.plan.manifest_name();
        self.write(name, ArtifactKind::TerraformRegistryManifest, &json)?;
        Ok(sha256_hex(&json))
    }

    /// `_SHA256SUMS` (the zips and `_manifest.json`), signed when a signer
    /// is given; the signing key's fingerprint.
    fn write_sums(
        &mut self,
        zips: &[ZipOutcome],
        manifest_sha256: &str,
        signer: Option<&GpgSigner>,
    ) -> Result<Option<String>, Error> {
        let plan = self.plan;
        let mut sums: Vec<(String, &str)> = plan
            .platforms
            .iter()
            .zip(zips)
            .map(|(p, o)| (plan.zip_name(p), o.zip.hex.as_str()))
            .chain([(plan.manifest_name(), manifest_sha256)])
            .collect();
        sums.sort_by(|a, b| a.0.cmp(&b.0));
        // GNU coreutils lines, which Terraform's SHA256SUMS parser reads.
        let text = sums.iter().fold(String::new(), |mut acc, (n, h)| {
            let _ = writeln!(acc, "{h}  {n}");
            acc
        });
        let name = plan.sums_name();
        let path = self.dir.join(&name);
        let tmp = self.staging.create(&path)?;
        tmp.write_all(text.as_bytes())
            .map_err(|e| io_at(&path, e))?;
        tmp.flush().map_err(|e| io_at(&path, e))?;
        let tmp_path = tmp.path().to_path_buf();
        let mut sums_out =
            Output::of_bytes(name, ArtifactKind::TerraformSha256sums, text.as_bytes());
        let Some(signer) = signer else {
            self.record(sums_out);
            return Ok(None);
        };
        let sig = signer.sign_detached(&tmp_path)?;
        let sig_name = format!("{}.sig", sums_out.file);
        let key = signer.fingerprint()?;
        self.write(sig_name.clone(), ArtifactKind::Signature, &sig)?;
        sums_out.signatures.push(Signature {
            kind: SignatureKind::Openpgp,
            file: sig_name,
            key_id: Some(key.clone()),
        });
        self.record(sums_out);
        Ok(Some(key))
    }

    /// The unpacked mirror, HOST/NS/NAME/VERSION/OS_ARCH/<binary> and
    /// nothing else (written with the zips); the binaries' paths.
    fn record_unpacked_mirror(&mut self, zips: &[ZipOutcome]) -> Vec<PathBuf> {
        let plan = self.plan;
        let mut executables = Vec::new();
        for (p, o) in plan.platforms.iter().zip(zips) {
            let file = plan.unpacked_file(p);
            executables.push(self.dir.join(&file));
            self.record(
                Output::new(file, ArtifactKind::TerraformMirror, &o.binary).for_target(&p.target),
            );
        }
        executables
    }

    /// The packed mirror, HOST/NS/NAME/{zips, index.json, VERSION.json}
    /// (the zips written with the Registry's).
    fn write_packed_mirror(
        &mut self,
        zips: &[ZipOutcome],
        platforms: &[PlatformHashes],
    ) -> Result<(), Error> {
        let plan = self.plan;
        let mut archives = BTreeMap::new();
        for ((p, o), hashes) in plan.platforms.iter().zip(zips).zip(platforms) {
            self.record(
                Output::new(plan.packed_file(p), ArtifactKind::TerraformMirror, &o.zip)
                    .for_target(&p.target)
                    .holding(plan.entry_name(p), &o.binary),
            );
            archives.insert(
                hashes.platform.as_str(),
                MirrorArchive {
                    url: plan.zip_name(p),
                    hashes: [&hashes.h1, &hashes.zh],
                },
            );
        }
        let version = plan.version.to_string();
        let index = json_bytes(&serde_json::json!({ "versions": { version.clone(): {} } }));
        let version_json = json_bytes(&BTreeMap::from([("archives", archives)]));
        let packed = plan.packed_dir();
        for (name, bytes) in [
            ("index.json".to_owned(), index),
            (format!("{version}.json"), version_json),
        ] {
            self.write(
                format!("{packed}/{name}"),
                ArtifactKind::TerraformMirror,
                &bytes,
            )?;
        }
        Ok(())
    }

    /// The lock block: h1 of every platform, zh of every zip, and the zh of
    /// `_manifest.json`: installing from a registry, Terraform 1.11 records
    /// a zh for every line of the signed SHA256SUMS, manifest included, so
    /// with it our block equals what `terraform providers lock` writes and
    /// later `terraform init` runs leave the file unchanged.
    fn write_lock(
        &mut self,
        platforms: &[PlatformHashes],
        manifest_sha256: &str,
    ) -> Result<Lock, Error> {
        let plan = self.plan;
        let mut hashes: Vec<String> = platforms
            .iter()
            .flat_map(|p| [p.h1.clone(), p.zh.clone()])
            .chain([zh(manifest_sha256)])
            .collect();
        hashes.sort();
        hashes.dedup();
        let block = lock_file(&plan.address(), &plan.version.to_string(), &hashes);
        let name = plan.lock_name();
        let path = self.dir.join(&name);
        self.write(name, ArtifactKind::TerraformLock, block.as_bytes())?;
        Ok(Lock {
            hashes,
            block,
            path,
        })
    }

    /// The manifest part, covering every file recorded; it and its path.
    fn write_part(&mut self, project_name: Option<&str>) -> Result<(Manifest, PathBuf), Error> {
        let plan = self.plan;
        let mut manifest = Manifest::new(
            project_name.unwrap_or(&format!("terraform-provider-{}", plan.name)),
            &plan.version.to_string(),
            relkit_core::buildtime::rfc3339(plan.epoch)?,
        );
        manifest.tag = Some(plan.version.tag());
        manifest.commit = relkit_core::buildtime::commit(Path::new("."));
        manifest.artifacts.clone_from(&self.artifacts);
        manifest.normalize();
        let path = self.dir.join(plan.part_name());
        self.staging.write(&path, manifest.to_json().as_bytes())?;
        Ok((manifest, path))
    }

    /// Move every output into place and make the unpacked binaries
    /// executable; the files written, sorted.
    fn commit(mut self, executables: &[PathBuf]) -> Result<Vec<WrittenFile>, Error> {
        self.staging.commit()?;
        // Staging commits files as 0644; the unpacked binaries must run.
        for exe in executables {
            set_executable(exe)?;
        }
        self.files.sort_by(|a, b| a.file.cmp(&b.file));
        for f in &self.files {
            let size = relkit_core::gha::human_size(f.size);
            if f.file.contains('/') {
                tracing::debug!("wrote {} ({size})", f.file);
            } else {
                tracing::info!("wrote {} ({size})", f.file);
            }
        }
        tracing::info!(
            "wrote the mirrors `{UNPACKED_MIRROR_DIR}/` and `{PACKED_MIRROR_DIR}/` and the manifest part `{}`",
            self.plan.part_name()
        );
        Ok(self.files)
    }
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// The step summary: the registry assets, the lock block and the layout.
pub fn summary_markdown(report: &BundleReport) -> String {
    use relkit_core::gha::{ArtifactRow, artifact_table};
    let rows: Vec<ArtifactRow<'_>> = report
        .files
        .iter()
        .filter(|f| !f.file.contains('/'))
        .map(|f| ArtifactRow {
            name: &f.file,
            target: f.target.as_deref(),
            size: f.size,
            sha256: &f.sha256,
        })
        .collect();
    let mut s = artifact_table(
        &format!("Terraform provider `{}` {}", report.address, report.version),
        &rows,
    );
    if let Some(key) = &report.signing_key {
        let _ = write!(s, "SHA256SUMS signed by OpenPGP key `{key}`.\n\n");
    }
    s.push_str("Lock hashes (`.terraform.lock.hcl`):\n\n```hcl\n");
    let block = report
        .lock_block
        .split_once("\n\n")
        .map_or(report.lock_block.as_str(), |(_, b)| b);
    s.push_str(block);
    s.push_str("```\n\n");
    let _ = write!(
        s,
        "Mirrors: unpacked `{UNPACKED_MIRROR_DIR}/` (for `-plugin-dir` or `filesystem_mirror`), \
         packed `{PACKED_MIRROR_DIR}/` (for `filesystem_mirror` or a static `network_mirror`).\n\n"
    );
    s
}

fn set_outputs(report: &BundleReport) -> Result<(), Error> {
    use relkit_core::gha::set_output;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    set_output("manifest-part", &path(&report.manifest_part))?;
    set_output("lock-file", &path(&report.lock_file))?;
    set_output("unpacked-mirror", &path(&report.unpacked_mirror))?;
    set_output("packed-mirror", &path(&report.packed_mirror))?;
    set_output("lock-hashes", &report.lock_hashes.join("\n"))?;
    Ok(())
}

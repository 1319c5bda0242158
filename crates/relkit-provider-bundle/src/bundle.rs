//! Building a provider bundle: the Registry release assets, the unpacked
//! and packed mirrors, the lock hashes and the manifest part, all staged and
//! committed together so a failed run leaves nothing behind.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use relkit_core::atomic::{Staging, io_at};
use relkit_core::hash::open_regular;
use relkit_core::manifest::{Artifact, ArtifactKind, Content, Manifest, Signature, SignatureKind};
use relkit_core::target::Target;
use relkit_core::version::Version;
use serde::Serialize;

use crate::Error;
use crate::address::{DEFAULT_HOSTNAME, check_hostname, check_part, check_protocol};
use crate::hashes::{h1, lock_file, zh};
use crate::zipper::{OutFile, ZipJob, ZipOutcome, dos_time, write_provider_zip};
use relkit_sign::openpgp::GpgSigner;

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

/// A checked target and its binary.
struct Platform {
    target: Target,
    binary: PathBuf,
}

/// Everything validated, before any output exists.
struct Plan {
    name: String,
    version: String,
    namespace: String,
    hostname: String,
    protocols: Vec<String>,
    platforms: Vec<Platform>,
    epoch: i64,
}

impl Plan {
    fn prefix(&self) -> String {
        format!("terraform-provider-{}_{}", self.name, self.version)
    }
    fn zip_name(&self, p: &Platform) -> String {
        format!("{}_{}.zip", self.prefix(), p.target.terraform_platform())
    }
    fn entry_name(&self, p: &Platform) -> String {
        format!(
            "terraform-provider-{}_v{}{}",
            self.name,
            self.version,
            p.target.exe_suffix()
        )
    }
    fn address(&self) -> String {
        format!("{}/{}/{}", self.hostname, self.namespace, self.name)
    }
    /// The binary in the unpacked mirror, relative to the output folder.
    fn unpacked_file(&self, p: &Platform) -> String {
        [
            UNPACKED_MIRROR_DIR,
            &self.hostname,
            &self.namespace,
            &self.name,
            &self.version,
            &p.target.terraform_platform(),
            &self.entry_name(p),
        ]
        .join("/")
    }
    /// The packed mirror's provider folder, relative to the output folder.
    fn packed_dir(&self) -> String {
        [
            PACKED_MIRROR_DIR,
            &self.hostname,
            &self.namespace,
            &self.name,
        ]
        .join("/")
    }
    /// The zip in the packed mirror, relative to the output folder.
    fn packed_file(&self, p: &Platform) -> String {
        format!("{}/{}", self.packed_dir(), self.zip_name(p))
    }
}

fn validate(opts: &BundleOptions) -> Result<Plan, Error> {
    check_part("--name", &opts.name)?;
    check_part("--namespace", &opts.namespace)?;
    let hostname = check_hostname(&opts.hostname)?;
    let version = Version::parse("--version", &opts.version)?.to_string();
    if opts.protocols.is_empty() {
        return Err(relkit_core::Error::invalid(
            "--protocol",
            "give at least one protocol version, e.g. 6.0",
        )
        .into());
    }
    let mut protocols = opts.protocols.clone();
    for p in &protocols {
        check_protocol(p)?;
    }
    protocols.sort();
    protocols.dedup();
    if opts.binaries.is_empty() {
        return Err(
            relkit_core::Error::invalid("--binary", "give at least one TARGET=PATH").into(),
        );
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut platforms = Vec::new();
    for (raw, path) in &opts.binaries {
        let target = Target::parse(raw).map_err(|e| match e {
            relkit_core::Error::Invalid { message, .. } => {
                relkit_core::Error::invalid("--binary", message)
            }
            other => other,
        })?;
        let platform = target.terraform_platform();
        if let Some(first) = seen.insert(platform.clone(), raw.clone()) {
            let also = if first == *raw {
                String::new()
            } else {
                format!(" (as `{first}` and `{raw}`)")
            };
            return Err(relkit_core::Error::invalid(
                "--binary",
                format!("platform `{platform}` is given twice{also}"),
            )
            .into());
        }
        open_regular(path)?;
        platforms.push(Platform {
            target,
            binary: path.clone(),
        });
    }
    platforms.sort_by_key(|p| p.target.terraform_platform());
    if let Some(g) = &opts.gpg {
        for (flag, var) in [
            ("--gpg-passphrase-env", &g.passphrase_env),
            ("--gpg-import-key-env", &g.import_key_env),
        ] {
            if let Some(var) = var {
                if std::env::var_os(var).is_none_or(|v| v.is_empty()) {
                    return Err(relkit_core::Error::invalid(
                        flag,
                        format!("environment variable `{var}` is not set or is empty"),
                    )
                    .into());
                }
            }
        }
    }
    let epoch = match opts.epoch {
        Some(e) => e,
        None => relkit_core::buildtime::build_epoch(Path::new("."))?,
    };
    Ok(Plan {
        name: opts.name.clone(),
        version,
        namespace: opts.namespace.clone(),
        hostname,
        protocols,
        platforms,
        epoch,
    })
}

/// Refuse to write an unpacked platform folder that already holds other
/// files: Terraform hashes every file there (the lock file would then
/// disagree) and may try to run one of them as the provider.
fn check_unpacked_dir(dir: &Path, binary_name: &str) -> Result<(), Error> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(relkit_core::Error::Io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name != binary_name {
            return Err(relkit_core::Error::invalid(
                format!("`{}`", dir.display()),
                format!("holds `{name}`, which is not part of the bundle; Terraform would hash it and might run it: remove it"),
            )
            .into());
        }
    }
    Ok(())
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
#[allow(clippy::too_many_lines)] // one linear recipe reads better than pieces
pub fn bundle(opts: &BundleOptions) -> Result<BundleReport, Error> {
    let plan = validate(opts)?;
    let signer = opts
        .gpg
        .as_ref()
        .map(|g| {
            GpgSigner::new(
                g.key_id.as_deref(),
                g.passphrase_env.as_deref(),
                g.import_key_env.as_deref(),
            )
        })
        .transpose()?;
    let dir = opts.output_dir.as_path();
    let unpacked_root = dir.join(UNPACKED_MIRROR_DIR);
    let packed_root = dir.join(PACKED_MIRROR_DIR);
    let packed_rel = plan.packed_dir();
    for p in &plan.platforms {
        let pdir = unpacked_root
            .join(&plan.hostname)
            .join(&plan.namespace)
            .join(&plan.name)
            .join(&plan.version)
            .join(p.target.terraform_platform());
        check_unpacked_dir(&pdir, &plan.entry_name(p))?;
    }

    let mut staging = Staging::new();
    staging.ensure_dir(dir)?;
    let _group = relkit_core::gha::group(&format!(
        "provider bundle {} {}",
        plan.address(),
        plan.version
    ));

    // 1. Registry zips, their packed-mirror copies and the unpacked-mirror
    // binaries, written in parallel from one read of each binary. The temp
    // files are created here, in order; the workers write through their
    // own handles.
    let mut open = |rel_path: &str| -> Result<OutFile, Error> {
        let path = dir.join(rel_path);
        let tmp = staging.create(&path)?;
        let file = tmp.as_file().try_clone().map_err(|e| io_at(&path, e))?;
        Ok(OutFile { file, path })
    };
    let mtime = dos_time(plan.epoch);
    let entries: Vec<String> = plan.platforms.iter().map(|p| plan.entry_name(p)).collect();
    let mut jobs = Vec::new();
    for (p, entry) in plan.platforms.iter().zip(&entries) {
        jobs.push(ZipJob {
            binary: &p.binary,
            entry,
            mtime,
            zip: open(&plan.zip_name(p))?,
            zip_copies: vec![open(&plan.packed_file(p))?],
            binary_copies: vec![open(&plan.unpacked_file(p))?],
        });
    }
    let total: u64 = plan
        .platforms
        .iter()
        .map(|p| fs_err::metadata(&p.binary).map_or(0, |m| m.len()))
        .sum();
    let bar = relkit_core::progress::bytes(total, "compressing");
    let outcomes: Vec<ZipOutcome> = jobs
        .into_par_iter()
        .map(|job| {
            tracing::debug!(zip = %job.zip.path.display(), "compressing");
            write_provider_zip(job, &|n| bar.inc(n))
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();

    let mut files: Vec<WrittenFile> = Vec::new();
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut record = |file: String,
                      kind: ArtifactKind,
                      target: Option<&Target>,
                      size: u64,
                      sha256: String,
                      contents: Vec<Content>,
                      signatures: Vec<Signature>| {
        let name = file.rsplit('/').next().unwrap_or(&file).to_owned();
        artifacts.push(Artifact {
            name,
            kind,
            file: file.clone(),
            target: target.map(|t| t.name().to_owned()),
            size,
            sha256: sha256.clone(),
            contents,
            signatures,
        });
        files.push(WrittenFile {
            path: dir.join(&file),
            file,
            kind,
            target: target.map(|t| t.name().to_owned()),
            size,
            sha256,
        });
    };

    let mut platforms = Vec::new();
    let mut sums: Vec<(String, String)> = Vec::new();
    for (p, o) in plan.platforms.iter().zip(&outcomes) {
        let entry = plan.entry_name(p);
        let zip_name = plan.zip_name(p);
        let contents = vec![Content {
            path: entry.clone(),
            size: o.binary.size,
            sha256: o.binary.hex.clone(),
            executable: true,
        }];
        record(
            zip_name.clone(),
            ArtifactKind::TerraformProviderZip,
            Some(&p.target),
            o.zip.size,
            o.zip.hex.clone(),
            contents,
            vec![],
        );
        sums.push((zip_name.clone(), o.zip.hex.clone()));
        platforms.push(PlatformHashes {
            platform: p.target.terraform_platform(),
            target: p.target.name().to_owned(),
            zip: zip_name,
            h1: h1([(entry.as_str(), o.binary.hex.as_str())]),
            zh: zh(&o.zip.hex),
        });
    }

    // 2. The registry manifest and SHA256SUMS (zips and manifest), signed.
    let manifest_name = format!("{}_manifest.json", plan.prefix());
    let manifest_json = json_bytes(&RegistryManifest {
        version: 1,
        metadata: RegistryMetadata {
            protocol_versions: &plan.protocols,
        },
    });
    staging.write(&dir.join(&manifest_name), &manifest_json)?;
    sums.push((manifest_name.clone(), sha256_hex(&manifest_json)));
    record(
        manifest_name,
        ArtifactKind::TerraformRegistryManifest,
        None,
        manifest_json.len() as u64,
        sha256_hex(&manifest_json),
        vec![],
        vec![],
    );
    sums.sort_by(|a, b| a.0.cmp(&b.0));
    // GNU coreutils lines, which Terraform's SHA256SUMS parser reads.
    let sums_text = sums.iter().fold(String::new(), |mut acc, (n, h)| {
        let _ = writeln!(acc, "{h}  {n}");
        acc
    });
    let sums_name = format!("{}_SHA256SUMS", plan.prefix());
    let sums_path = dir.join(&sums_name);
    let sums_tmp = staging.create(&sums_path)?;
    sums_tmp
        .write_all(sums_text.as_bytes())
        .map_err(|e| io_at(&sums_path, e))?;
    sums_tmp.flush().map_err(|e| io_at(&sums_path, e))?;
    let sums_tmp_path = sums_tmp.path().to_path_buf();
    let mut sums_signatures = Vec::new();
    let mut signing_key = None;
    if let Some(signer) = &signer {
        let sig = signer.sign_detached(&sums_tmp_path)?;
        let sig_name = format!("{sums_name}.sig");
        staging.write(&dir.join(&sig_name), &sig)?;
        sums_signatures.push(Signature {
            kind: SignatureKind::Openpgp,
            file: sig_name.clone(),
            key_id: Some(signer.fingerprint()?),
        });
        signing_key = Some(signer.fingerprint()?);
        record(
            sig_name,
            ArtifactKind::Signature,
            None,
            sig.len() as u64,
            sha256_hex(&sig),
            vec![],
            vec![],
        );
    }
    record(
        sums_name,
        ArtifactKind::TerraformSha256sums,
        None,
        sums_text.len() as u64,
        sha256_hex(sums_text.as_bytes()),
        vec![],
        sums_signatures,
    );

    // 3. Unpacked mirror: HOST/NS/NAME/VERSION/OS_ARCH/<binary>, nothing else.
    let mut executables = Vec::new();
    for (p, o) in plan.platforms.iter().zip(&outcomes) {
        let file = plan.unpacked_file(p);
        executables.push(dir.join(&file));
        record(
            file,
            ArtifactKind::TerraformMirror,
            Some(&p.target),
            o.binary.size,
            o.binary.hex.clone(),
            vec![],
            vec![],
        );
    }

    // 4. Packed mirror: HOST/NS/NAME/{zips, index.json, VERSION.json}.
    let mut archives = BTreeMap::new();
    for ((p, o), hashes) in plan.platforms.iter().zip(&outcomes).zip(&platforms) {
        let zip_name = plan.zip_name(p);
        let file = plan.packed_file(p);
        let contents = vec![Content {
            path: plan.entry_name(p),
            size: o.binary.size,
            sha256: o.binary.hex.clone(),
            executable: true,
        }];
        record(
            file,
            ArtifactKind::TerraformMirror,
            Some(&p.target),
            o.zip.size,
            o.zip.hex.clone(),
            contents,
            vec![],
        );
        archives.insert(
            hashes.platform.as_str(),
            MirrorArchive {
                url: zip_name,
                hashes: [&hashes.h1, &hashes.zh],
            },
        );
    }
    let index = json_bytes(&serde_json::json!({ "versions": { plan.version.clone(): {} } }));
    let version_json = json_bytes(&BTreeMap::from([("archives", archives)]));
    for (name, bytes) in [
        ("index.json".to_owned(), index),
        (format!("{}.json", plan.version), version_json),
    ] {
        let file = format!("{packed_rel}/{name}");
        staging.write(&dir.join(&file), &bytes)?;
        record(
            file,
            ArtifactKind::TerraformMirror,
            None,
            bytes.len() as u64,
            sha256_hex(&bytes),
            vec![],
            vec![],
        );
    }

    // 5. Lock hashes: h1 of every platform, zh of every zip, and the zh of
    // `_manifest.json`: installing from a registry, Terraform 1.11 records
    // a zh for every line of the signed SHA256SUMS, manifest included, so
    // with it our block equals what `terraform providers lock` writes and
    // later `terraform init` runs leave the file unchanged.
    let mut lock_hashes: Vec<String> = platforms
        .iter()
        .flat_map(|p| [p.h1.clone(), p.zh.clone()])
        .chain([zh(&sha256_hex(&manifest_json))])
        .collect();
    lock_hashes.sort();
    lock_hashes.dedup();
    let lock_block = lock_file(&plan.address(), &plan.version, &lock_hashes);
    let lock_name = format!("{}.terraform.lock.hcl", plan.prefix());
    staging.write(&dir.join(&lock_name), lock_block.as_bytes())?;
    record(
        lock_name.clone(),
        ArtifactKind::TerraformLock,
        None,
        lock_block.len() as u64,
        sha256_hex(lock_block.as_bytes()),
        vec![],
        vec![],
    );

    // 6. The manifest part, covering every file above.
    let version = Version::parse("--version", &plan.version)?;
    let mut manifest = Manifest::new(
        opts.project_name
            .as_deref()
            .unwrap_or(&format!("terraform-provider-{}", plan.name)),
        &plan.version,
        relkit_core::buildtime::rfc3339(plan.epoch)?,
    );
    manifest.tag = Some(version.tag());
    manifest.commit = relkit_core::buildtime::commit(Path::new("."));
    manifest.artifacts = artifacts;
    manifest.normalize();
    let part_name = format!("{}.part.json", plan.prefix());
    let manifest_part = dir.join(&part_name);
    staging.write(&manifest_part, manifest.to_json().as_bytes())?;

    staging.commit()?;
    // Staging commits files as 0644; the unpacked binaries must run.
    for exe in &executables {
        set_executable(exe)?;
    }
    files.sort_by(|a, b| a.file.cmp(&b.file));
    for f in &files {
        let size = relkit_core::gha::human_size(f.size);
        if f.file.contains('/') {
            tracing::debug!("wrote {} ({size})", f.file);
        } else {
            tracing::info!("wrote {} ({size})", f.file);
        }
    }
    tracing::info!(
        "wrote the mirrors `{UNPACKED_MIRROR_DIR}/` and `{PACKED_MIRROR_DIR}/` and the manifest part `{part_name}`"
    );
    let report = BundleReport {
        address: plan.address(),
        version: plan.version.clone(),
        output_dir: dir.to_path_buf(),
        files,
        platforms,
        lock_hashes,
        lock_block,
        lock_file: dir.join(&lock_name),
        manifest_part,
        manifest,
        signing_key,
        unpacked_mirror: unpacked_root,
        packed_mirror: packed_root,
    };
    if opts.actions_io {
        relkit_core::gha::append_summary(&summary_markdown(&report))?;
        set_outputs(&report)?;
    }
    Ok(report)
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

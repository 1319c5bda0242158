//! The checked plan of a bundle: every option validated and every name the
//! bundle will write derived in one place, before any output exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use relkit_core::hash::open_regular;
use relkit_core::names;
use relkit_core::target::Target;
use relkit_core::version::Version;

use crate::Error;
use crate::address::{check_hostname, check_part, check_protocol};
use crate::bundle::{BundleOptions, PACKED_MIRROR_DIR, UNPACKED_MIRROR_DIR};

/// A checked target and its binary.
pub(crate) struct Platform {
    pub(crate) target: Target,
    pub(crate) binary: PathBuf,
}

/// Everything validated, before any output exists.
pub(crate) struct Plan {
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) namespace: String,
    pub(crate) hostname: String,
    pub(crate) protocols: Vec<String>,
    /// Sorted by Terraform platform.
    pub(crate) platforms: Vec<Platform>,
    pub(crate) epoch: i64,
}

impl Plan {
    /// `terraform-provider-NAME_VERSION`, the stem of the Registry assets.
    pub(crate) fn prefix(&self) -> String {
        format!("terraform-provider-{}_{}", self.name, self.version)
    }
    pub(crate) fn zip_name(&self, p: &Platform) -> String {
        format!("{}_{}.zip", self.prefix(), p.target.terraform_platform())
    }
    pub(crate) fn manifest_name(&self) -> String {
        format!("{}_manifest.json", self.prefix())
    }
    pub(crate) fn sums_name(&self) -> String {
        format!("{}_SHA256SUMS", self.prefix())
    }
    pub(crate) fn lock_name(&self) -> String {
        format!("{}.terraform.lock.hcl", self.prefix())
    }
    pub(crate) fn part_name(&self) -> String {
        format!("{}.part.json", self.prefix())
    }
    /// The provider binary's name, in the zips and the unpacked mirror.
    pub(crate) fn entry_name(&self, p: &Platform) -> String {
        format!(
            "terraform-provider-{}_v{}{}",
            self.name,
            self.version,
            p.target.exe_suffix()
        )
    }
    pub(crate) fn address(&self) -> String {
        format!("{}/{}/{}", self.hostname, self.namespace, self.name)
    }
    /// A platform's folder in the unpacked mirror, relative to the output folder.
    fn unpacked_dir(&self, p: &Platform) -> String {
        [
            UNPACKED_MIRROR_DIR,
            &self.hostname,
            &self.namespace,
            &self.name,
            &self.version.to_string(),
            &p.target.terraform_platform(),
        ]
        .join("/")
    }
    /// The binary in the unpacked mirror, relative to the output folder.
    pub(crate) fn unpacked_file(&self, p: &Platform) -> String {
        format!("{}/{}", self.unpacked_dir(p), self.entry_name(p))
    }
    /// The packed mirror's provider folder, relative to the output folder.
    pub(crate) fn packed_dir(&self) -> String {
        [
            PACKED_MIRROR_DIR,
            &self.hostname,
            &self.namespace,
            &self.name,
        ]
        .join("/")
    }
    /// The zip in the packed mirror, relative to the output folder.
    pub(crate) fn packed_file(&self, p: &Platform) -> String {
        format!("{}/{}", self.packed_dir(), self.zip_name(p))
    }

    /// The longest file name the bundle writes (the last part of each path).
    fn longest_file_name(&self) -> String {
        let fixed = [
            self.manifest_name(),
            format!("{}.sig", self.sums_name()),
            self.lock_name(),
            self.part_name(),
            format!("{}.json", self.version),
        ];
        let per_platform = self
            .platforms
            .iter()
            .flat_map(|p| [self.zip_name(p), self.entry_name(p)]);
        fixed
            .into_iter()
            .chain(per_platform)
            .max_by_key(String::len)
            .expect("there are fixed names")
    }

    /// Refuse to write into an unpacked platform folder that already holds
    /// other files: Terraform hashes every file there (the lock file would
    /// then disagree) and may try to run one of them as the provider.
    pub(crate) fn check_unpacked_dirs(&self, out: &Path) -> Result<(), Error> {
        for p in &self.platforms {
            check_unpacked_dir(&out.join(self.unpacked_dir(p)), &self.entry_name(p))?;
        }
        Ok(())
    }
}

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

/// Check every option and resolve the build time: the [`Plan`].
pub(crate) fn validate(opts: &BundleOptions) -> Result<Plan, Error> {
    check_part("--name", &opts.name)?;
    check_part("--namespace", &opts.namespace)?;
    // The namespace is a folder of both mirrors.
    names::check_file_name("--namespace", &opts.namespace)?;
    let hostname = check_hostname(&opts.hostname)?;
    let version = Version::parse("--version", &opts.version)?;
    let plan = Plan {
        name: opts.name.clone(),
        version,
        namespace: opts.namespace.clone(),
        hostname,
        protocols: check_protocols(&opts.protocols)?,
        platforms: check_binaries(&opts.binaries)?,
        epoch: 0,
    };
    check_asset_names(&plan)?;
    if let Some(g) = &opts.gpg {
        check_gpg_env(g)?;
    }
    let epoch = match opts.epoch {
        Some(e) => e,
        None => relkit_core::buildtime::build_epoch(Path::new("."))?,
    };
    Ok(Plan { epoch, ..plan })
}

/// Refuse names GitHub would rename in the release assets, and names too
/// long for a file name, blaming the flag (issue 10.8), with the rules
/// relkit-package applies to its archives.
fn check_asset_names(plan: &Plan) -> Result<(), Error> {
    names::check_github_name("--name", &plan.name)?;
    names::check_asset_version("--version", &plan.version)?;
    let version = plan.version.to_string();
    names::check_output_name(
        &plan.longest_file_name(),
        &[("--name", &plan.name), ("--version", &version)],
    )?;
    Ok(())
}

/// At least one, each `X.Y`; sorted, without repeats.
fn check_protocols(protocols: &[String]) -> Result<Vec<String>, Error> {
    if protocols.is_empty() {
        return Err(relkit_core::Error::invalid(
            "--protocol",
            "give at least one protocol version, e.g. 6.0",
        )
        .into());
    }
    for p in protocols {
        check_protocol(p)?;
    }
    let mut protocols = protocols.to_vec();
    protocols.sort();
    protocols.dedup();
    Ok(protocols)
}

/// At least one; known targets, one binary per Terraform platform, each a
/// readable regular file. Sorted by platform.
fn check_binaries(binaries: &[(String, PathBuf)]) -> Result<Vec<Platform>, Error> {
    if binaries.is_empty() {
        return Err(
            relkit_core::Error::invalid("--binary", "give at least one TARGET=PATH").into(),
        );
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut platforms = Vec::new();
    for (raw, path) in binaries {
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
    Ok(platforms)
}

/// The env vars the gpg options name must be set and non-empty.
fn check_gpg_env(g: &crate::GpgOptions) -> Result<(), Error> {
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
    Ok(())
}

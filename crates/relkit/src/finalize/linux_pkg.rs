//! The Linux packages stage: a `.deb` and/or an `.rpm` per Linux target
//! (the `.rpm` signed with the release's OpenPGP key), holding the
//! binaries read back out of that target's archive (so the package ships
//! exactly the packaged, checksummed bytes) and the files relkit.toml's
//! `[package]` lists. Runs before `SHA256SUMS`, so the packages are
//! checksummed, signed and listed like any release file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use relkit_core::Error as CoreError;
use relkit_core::input::Limit;
use relkit_core::target::Target;
use relkit_linux_pkg::deb::{self, DebOptions};
use relkit_linux_pkg::rpm::{self, RpmOptions};
use relkit_linux_pkg::{Contents, Package, Relations, Shell};

use super::stages::Stage;
use super::{Context, extract};
use crate::Error;
use crate::config::{LinuxPackage, PackageFormat};

/// `.deb` packages of the release's Linux targets.
pub(super) struct LinuxPackages;

impl Stage for LinuxPackages {
    fn name(&self) -> &'static str {
        "linux packages"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config
            .package
            .as_ref()
            .is_some_and(|p| !p.formats.is_empty())
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let cfg = cx
            .config
            .package
            .clone()
            .expect("enabled only with [package]");
        let scratch = tempfile::tempdir().map_err(CoreError::from)?;
        let per_target = binaries_per_target(cx, &cfg, scratch.path())?;
        if per_target.is_empty() {
            return Err(CoreError::invalid(
                "package",
                "the release has no Linux archive holding its binaries to package",
            )
            .into());
        }
        let base = base_package(cx, &cfg)?;
        let opts = DebOptions {
            revision: cfg.deb.revision.clone(),
        };
        let rpm_opts = rpm_options(&cfg);
        let deb = cfg.formats.contains(&PackageFormat::Deb);
        let rpm = cfg.formats.contains(&PackageFormat::Rpm);
        // Check every target's names before writing the first package.
        let mut packages = Vec::new();
        for (target, binaries) in per_target {
            let contents = Contents {
                binaries,
                ..base.contents.clone()
            };
            let (files, unit) = contents
                .files(&base.package.name, cx.release.epoch)
                .map_err(|relkit_linux_pkg::Error::Core(e)| e)?;
            let p = Package {
                target: Target::parse(&target)?,
                files,
                systemd_unit: unit,
                ..base.package.clone()
            };
            if deb {
                deb::names(&p, &opts).map_err(|relkit_linux_pkg::Error::Core(e)| e)?;
            }
            if rpm {
                rpm::names(&p, &rpm_opts).map_err(|relkit_linux_pkg::Error::Core(e)| e)?;
            }
            packages.push((target, p));
        }
        for (target, p) in packages {
            let mut written = Vec::new();
            if deb {
                let w =
                    deb::build(&p, &opts, cx.dir).map_err(|relkit_linux_pkg::Error::Core(e)| e)?;
                written.push(w.path);
            }
            if rpm {
                written.push(build_rpm(cx, &p, &rpm_opts)?);
            }
            let added = cx.add_files(&written)?;
            for a in added {
                if let Some(m) = cx.manifest.artifacts.iter_mut().find(|m| m.file == a.file) {
                    m.target = Some(target.clone());
                }
            }
        }
        Ok(())
    }
}

/// For each Linux target, the extracted paths of the binaries to package.
fn binaries_per_target(
    cx: &Context<'_>,
    cfg: &LinuxPackage,
    scratch: &std::path::Path,
) -> Result<BTreeMap<String, Vec<PathBuf>>, Error> {
    let names = cfg
        .binaries
        .clone()
        .unwrap_or_else(|| cx.config.binaries.clone());
    if names.is_empty() {
        return Err(CoreError::invalid("package.binaries", "names no binary to package").into());
    }
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for name in &names {
        let dir = scratch.join(name);
        fs_err::create_dir_all(&dir).map_err(CoreError::from)?;
        for (target, path) in extract::binaries_named(&cx.manifest, cx.dir, name, &dir)? {
            if Target::parse(&target).is_ok_and(|t| t.os() == "linux") {
                out.entry(target).or_default().push(path);
            }
        }
    }
    for (target, found) in &out {
        if found.len() != names.len() {
            return Err(CoreError::invalid(
                "package.binaries",
                format!("the `{target}` archive does not hold every one of {names:?}"),
            )
            .into());
        }
    }
    Ok(out)
}

/// What every target's package shares.
struct Base {
    package: Package,
    contents: Contents,
}

fn base_package(cx: &Context<'_>, cfg: &LinuxPackage) -> Result<Base, Error> {
    let license_text = cfg
        .license_file
        .as_ref()
        .map(|p| relkit_core::input::read_text(p, Limit::new("license file", 1 << 20)))
        .transpose()?;
    let completions = [
        (Shell::Bash, &cfg.completions.bash),
        (Shell::Zsh, &cfg.completions.zsh),
        (Shell::Fish, &cfg.completions.fish),
    ]
    .into_iter()
    .filter_map(|(s, p)| p.clone().map(|p| (s, p)))
    .collect();
    let contents = Contents {
        binaries: Vec::new(),
        man_pages: cfg.man_pages.clone(),
        docs: cfg.docs.clone(),
        completions,
        config_files: cfg.config_files.clone(),
        systemd_unit: cfg.systemd_unit.clone(),
    };
    let package = Package {
        name: cfg.name.clone().unwrap_or_else(|| cx.release.name.clone()),
        version: cx.release.version.clone(),
        target: Target::host(),
        maintainer: cfg.maintainer.clone(),
        summary: cfg.description.clone(),
        description: cfg.long_description.clone(),
        homepage: cfg.homepage.clone(),
        license: cfg.license.clone(),
        license_text,
        copyright: cfg.copyright.clone(),
        section: cfg.section.clone().unwrap_or_else(|| "utils".to_owned()),
        priority: cfg
            .priority
            .clone()
            .unwrap_or_else(|| "optional".to_owned()),
        relations: Relations {
            depends: cfg.deb.depends.clone(),
            recommends: cfg.deb.recommends.clone(),
            conflicts: cfg.deb.conflicts.clone(),
            provides: cfg.deb.provides.clone(),
        },
        files: Vec::new(),
        systemd_unit: None,
        epoch: cx.release.epoch,
    };
    Ok(Base { package, contents })
}

fn rpm_options(cfg: &LinuxPackage) -> RpmOptions {
    RpmOptions {
        release: cfg.rpm.release.clone(),
        group: cfg.rpm.group.clone(),
        vendor: cfg.rpm.vendor.clone(),
        requires: cfg.rpm.requires.clone(),
        recommends: cfg.rpm.recommends.clone(),
        conflicts: cfg.rpm.conflicts.clone(),
        provides: cfg.rpm.provides.clone(),
    }
}

/// One `.rpm`, its header signed by the release's OpenPGP signer when
/// `[sign]` configures one (unsigned, with a warning, otherwise).
fn build_rpm(cx: &Context<'_>, p: &Package, opts: &RpmOptions) -> Result<PathBuf, Error> {
    let signer = cx
        .signers
        .iter()
        .find(|s| s.kind() == relkit_core::manifest::SignatureKind::Openpgp);
    if signer.is_none() {
        tracing::warn!("no OpenPGP key in [sign]: the .rpm packages are not signed");
    }
    // The signer's own error is kept whole (it decides the exit code).
    let failed = std::cell::RefCell::new(None);
    let sign = |f: &std::path::Path| {
        let s = signer.expect("called only with a signer");
        s.sign_file(f).map_err(|e| {
            let core = CoreError::invalid("sign", e.to_string());
            failed.replace(Some(e));
            core
        })
    };
    let sign_ref: &dyn Fn(&std::path::Path) -> Result<Vec<u8>, CoreError> = &sign;
    match rpm::build(p, opts, cx.dir, signer.map(|_| sign_ref)) {
        Ok(w) => Ok(w.path),
        Err(relkit_linux_pkg::Error::Core(e)) => match failed.into_inner() {
            Some(sign_error) => Err(Error::Sign(Box::new(sign_error))),
            None => Err(e.into()),
        },
    }
}

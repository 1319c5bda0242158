//! The finalize stages, in their one fixed order. Each adds files of known
//! kinds to the release; what is checksummed, signed and uploaded follows
//! from those kinds (relkit-core's `kind` table), never from file globs.

use std::path::{Path, PathBuf};

use relkit_core::Error as CoreError;
use relkit_core::atomic;
use relkit_core::kind::{Signed, signed_file};
use relkit_core::manifest::{ArtifactKind, SignatureKind};
use relkit_release_upload::KeepCandidate;

use super::{Context, extract};
use crate::Error;

/// One step of finalize.
pub trait Stage {
    /// Its name, for logs, groups and timings.
    fn name(&self) -> &'static str;
    /// Whether it has anything to do for this release.
    fn enabled(&self, cx: &Context<'_>) -> bool;
    /// Write its files into `cx.dir` and add them to `cx.manifest`.
    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error>;
}

/// The stages in the order they run. Bundles come first (their files are
/// checksummed and signed like any other), the manifest last.
pub fn stages() -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(ProviderBundle),
        Box::new(super::installer::Installer),
        Box::new(super::sbom::Sboms),
        Box::new(super::linux_pkg::LinuxPackages),
        Box::new(super::repos::Repositories),
        Box::new(super::image::Images),
        Box::new(super::brew::Homebrew),
        Box::new(super::scoop::Scoop),
        Box::new(Checksums),
        Box::new(Signatures),
        Box::new(ManifestFile),
    ]
}

/// The Terraform provider bundle, from the provider binary inside each archive.
struct ProviderBundle;

impl Stage for ProviderBundle {
    fn name(&self) -> &'static str {
        "provider bundle"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.provider.is_some()
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let p = cx
            .config
            .provider
            .clone()
            .expect("enabled only with [provider]");
        let binary = p
            .binary
            .clone()
            .unwrap_or_else(|| format!("terraform-provider-{}", p.name));
        let scratch = tempfile::tempdir().map_err(CoreError::from)?;
        let binaries = extract::binaries_named(&cx.manifest, cx.dir, &binary, scratch.path())?;
        if binaries.is_empty() {
            return Err(CoreError::invalid(
                "provider.binary",
                format!("no archive of the release holds a binary `{binary}`"),
            )
            .into());
        }
        let namespace = p
            .namespace
            .clone()
            .or_else(relkit_provider_bundle::default_namespace)
            .ok_or_else(|| {
                CoreError::invalid("provider.namespace", "is required outside GitHub Actions")
            })?;
        let mut opts = relkit_provider_bundle::bundle::BundleOptions::new(
            &p.name,
            cx.release.version.to_string(),
            namespace,
            binaries,
            cx.dir,
        );
        if let Some(h) = &p.hostname {
            opts.hostname.clone_from(h);
        }
        if let Some(proto) = &p.protocol {
            opts.protocols = proto.split(',').map(|s| s.trim().to_owned()).collect();
        }
        opts.gpg = gpg_options(&p);
        opts.epoch = Some(cx.release.epoch);
        opts.project_name = Some(cx.release.name.clone());
        let report = relkit_provider_bundle::bundle::bundle(&opts)
            .map_err(|e| Error::Provider(Box::new(e)))?;
        if let Some(key) = &report.signing_key {
            for f in report
                .files
                .iter()
                .filter(|f| f.kind == ArtifactKind::Signature)
            {
                cx.key_ids.insert(f.file.clone(), key.clone());
            }
        }
        cx.add_part(&report.manifest_part)
    }
}

/// gpg settings for the provider's SHA256SUMS: relkit.toml's, else the
/// action's variables when it set them.
fn gpg_options(p: &crate::config::Provider) -> Option<relkit_provider_bundle::bundle::GpgOptions> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let import = p
        .gpg_import_key_env
        .clone()
        .or_else(|| set(crate::config::GPG_KEY_ENV).then(|| crate::config::GPG_KEY_ENV.to_owned()));
    let passphrase = p.gpg_passphrase_env.clone().or_else(|| {
        set(crate::config::GPG_PASSPHRASE_ENV).then(|| crate::config::GPG_PASSPHRASE_ENV.to_owned())
    });
    (p.gpg_key_id.is_some() || import.is_some()).then(|| {
        relkit_provider_bundle::bundle::GpgOptions {
            key_id: p.gpg_key_id.clone(),
            passphrase_env: passphrase,
            import_key_env: import,
        }
    })
}

/// `SHA256SUMS` over every top-level file whose kind is checksummed, from the
/// digests taken while each file was written (no second read).
struct Checksums;

impl Stage for Checksums {
    fn name(&self) -> &'static str {
        "SHA256SUMS"
    }

    fn enabled(&self, _: &Context<'_>) -> bool {
        true
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let mut listed: Vec<_> = cx
            .manifest
            .artifacts
            .iter()
            .filter(|a| !a.file.contains('/') && a.kind.rules().checksummed)
            .collect();
        listed.sort_by(|a, b| a.file.cmp(&b.file));
        let text: String = listed
            .iter()
            .map(|a| relkit_checksum::format_line(&a.sha256, &a.file))
            .collect();
        let path = cx.dir.join(relkit_core::hash::Algo::Sha256.sums_file());
        atomic::write_file(&path, text.as_bytes())?;
        cx.add_files(&[path])?;
        Ok(())
    }
}

/// Every signed kind, with every configured signer; published signatures
/// of unchanged files are reused.
struct Signatures;

impl Stage for Signatures {
    fn name(&self) -> &'static str {
        "sign"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        !cx.signers.is_empty() || cx.published.is_some()
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let archives = cx.config.sign.archives;
        let files: Vec<String> = cx
            .manifest
            .artifacts
            .iter()
            .filter(|a| !a.file.contains('/'))
            .filter(|a| match a.kind.rules().signed {
                Signed::Always => true,
                Signed::OnRequest => archives,
                Signed::Never => false,
            })
            .map(|a| a.file.clone())
            .collect();
        let mut written = Vec::new();
        for file in &files {
            written.extend(sign_one(cx, file)?);
        }
        cx.add_files(&written)?;
        keep_published(cx)
    }
}

/// Sign `file` (relative to `cx.dir`) with every signer.
fn sign_one(cx: &mut Context<'_>, file: &str) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for signer in cx.signers {
        let path = cx.dir.join(file);
        let sig = signer
            .sign_file(&path)
            .map_err(|e| Error::Sign(Box::new(e)))?;
        let sig_file = format!("{file}{}", signer.kind().suffix());
        let sig_path = cx.dir.join(&sig_file);
        atomic::write_file(&sig_path, &sig)?;
        if let Some(id) = signer.key_id() {
            cx.key_ids.insert(sig_file, id);
        }
        out.push(sig_path);
    }
    Ok(out)
}

/// Replace each signature whose signed file the published release already
/// holds unchanged by the published signature, and re-describe it.
fn keep_published(cx: &mut Context<'_>) -> Result<(), Error> {
    let Some(published) = cx.published else {
        return Ok(());
    };
    let candidates: Vec<KeepCandidate> = cx
        .manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Signature && !a.file.contains('/'))
        .filter_map(|sig| {
            let (signed, _) = signed_file(&sig.file)?;
            let target = cx.manifest.artifacts.iter().find(|a| a.file == signed)?;
            Some(KeepCandidate {
                signature_name: sig.name.clone(),
                signed_name: target.name.clone(),
                signed_sha256: target.sha256.clone(),
                dest: cx.dir.join(&sig.file),
            })
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let kept = published.keep(&candidates)?;
    for name in &kept {
        tracing::info!(
            "the release already holds this file unchanged; keeping its published {name}"
        );
        cx.manifest.artifacts.retain(|a| &a.file != name);
    }
    let paths: Vec<PathBuf> = kept.iter().map(|n| cx.dir.join(n)).collect();
    cx.add_files(&paths)?;
    Ok(())
}

/// `manifest.json`: every file, with signatures and key ids attached, then
/// signed itself (its signature is a release asset the manifest cannot
/// list), then verified against the files.
struct ManifestFile;

impl Stage for ManifestFile {
    fn name(&self) -> &'static str {
        "manifest"
    }

    fn enabled(&self, _: &Context<'_>) -> bool {
        true
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        relkit_manifest::attach_signatures(&mut cx.manifest);
        for a in &mut cx.manifest.artifacts {
            for s in &mut a.signatures {
                if let Some(id) = cx.key_ids.get(&s.file) {
                    s.key_id = Some(id.clone());
                }
            }
        }
        if let Some(t) = &cx.timings {
            cx.manifest
                .metrics
                .get_or_insert_with(Default::default)
                .durations_ms = t.clone();
        }
        cx.manifest.normalize();
        let path = cx.dir.join("manifest.json");
        let json = cx.manifest.to_json();
        atomic::write_file(&path, json.as_bytes())?;
        let signatures = sign_one(cx, "manifest.json")?;
        keep_manifest_signature(cx, &json, &signatures)?;
        verify(cx, &path)
    }
}

/// The manifest's own signatures follow the same reuse rule as the others.
fn keep_manifest_signature(
    cx: &Context<'_>,
    json: &str,
    signatures: &[PathBuf],
) -> Result<(), Error> {
    let Some(published) = cx.published else {
        return Ok(());
    };
    let mut hasher = relkit_core::hash::Algo::Sha256.hasher();
    hasher.update(json.as_bytes());
    let sha256 = hasher.finish_hex();
    let candidates: Vec<KeepCandidate> = signatures
        .iter()
        .filter_map(|s| {
            let name = s.file_name()?.to_string_lossy().into_owned();
            Some(KeepCandidate {
                signature_name: name,
                signed_name: "manifest.json".to_owned(),
                signed_sha256: sha256.clone(),
                dest: s.clone(),
            })
        })
        .collect();
    if !candidates.is_empty() {
        published.keep(&candidates)?;
    }
    Ok(())
}

/// Verify the written manifest against the files (and the minisign
/// signatures against the key that made them): a failure here is a bug.
fn verify(cx: &Context<'_>, path: &Path) -> Result<(), Error> {
    let key = super::minisign_public_key(cx.signers);
    let problems = relkit_manifest::verify(path, key.as_deref())?;
    let manifest_sigs: Vec<PathBuf> = cx
        .signers
        .iter()
        .filter(|s| s.kind() == SignatureKind::Minisign)
        .map(|s| cx.dir.join(format!("manifest.json{}", s.kind().suffix())))
        .collect();
    if let (Some(key), Some(sig)) = (&key, manifest_sigs.first()) {
        let key = relkit_sign::minisig::MinisignPublicKey::parse(key, "the signing key")
            .map_err(|e| Error::Sign(Box::new(e)))?;
        let text = relkit_core::input::read_text(sig, relkit_core::input::Limit::SIGNATURE)?;
        relkit_sign::minisig::verify_detailed(path, sig, &text, &key, false)
            .map_err(|e| Error::Sign(Box::new(e)))?;
    }
    if let Some(p) = problems.first() {
        return Err(Error::Internal(format!(
            "the manifest written does not verify: {p} ({} problem(s))",
            problems.len()
        )));
    }
    Ok(())
}

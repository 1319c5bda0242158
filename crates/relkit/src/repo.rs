//! What `relkit apt-repo`, `relkit dnf-repo` and finalize's repositories
//! stage share: the release's gpg key (flags, or the action's env vars),
//! each tree built and signed in a folder of its own with the public key
//! beside it (`key.asc`), and an output folder replaced only once the new
//! tree is complete. relkit-linux-pkg writes the trees and knows no keys;
//! the signatures are made here, at SOURCE_DATE_EPOCH (not before the key's
//! creation), so the same packages and key give the same tree.

use std::path::{Path, PathBuf};

use clap::Args;
use relkit_core::Error as CoreError;
use relkit_linux_pkg::apt_repo::{self, RepoOptions};
use relkit_linux_pkg::dnf_repo;
use relkit_sign::openpgp::{GpgSigner, TextSignature};

use crate::Error;
use crate::config;

/// The armored public key's name inside each tree: what users put in
/// `signed-by=` (APT) or `gpgkey=` (DNF).
pub const KEY_FILE: &str = "key.asc";

/// Which gpg key signs a repository.
#[derive(Debug, Clone, Default, Args)]
pub struct GpgKeyArgs {
    /// The gpg key to sign with (id or fingerprint in the keyring).
    #[arg(long, env = "RELKIT_GPG_KEY_ID")]
    pub gpg_key_id: Option<String>,
    /// Env var holding an armored secret key to import instead
    /// [default: RELKIT_GPG_PRIVATE_KEY when set].
    #[arg(long, value_name = "VAR")]
    pub gpg_import_key_env: Option<String>,
    /// Env var holding the key's passphrase [default: RELKIT_GPG_PASSPHRASE when set].
    #[arg(long, value_name = "VAR")]
    pub gpg_passphrase_env: Option<String>,
}

impl GpgKeyArgs {
    /// The signer these flags (or the action's variables) name. A
    /// repository is never published unsigned: without a key, `command`
    /// fails in one line saying how to give one.
    pub fn signer(&self, command: &str, what: &str) -> Result<GpgSigner, Error> {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let import = self
            .gpg_import_key_env
            .clone()
            .or_else(|| set(config::GPG_KEY_ENV).then(|| config::GPG_KEY_ENV.to_owned()));
        let passphrase = self.gpg_passphrase_env.clone().or_else(|| {
            set(config::GPG_PASSPHRASE_ENV).then(|| config::GPG_PASSPHRASE_ENV.to_owned())
        });
        if self.gpg_key_id.is_none() && import.is_none() {
            return Err(CoreError::invalid(
                command,
                format!(
                    "{what} must be signed: give --gpg-key-id or set {}",
                    config::GPG_KEY_ENV
                ),
            )
            .into());
        }
        GpgSigner::new(
            self.gpg_key_id.as_deref(),
            passphrase.as_deref(),
            import.as_deref(),
        )
        .map_err(sign_err)
    }
}

fn sign_err(e: relkit_sign::Error) -> Error {
    Error::Sign(Box::new(e))
}

/// An APT repository in `dir` (empty): relkit-linux-pkg's tree, then
/// `InRelease` (clearsigned) and `Release.gpg` (detached, armored) made at
/// `opts.epoch`, and `key.asc`.
pub fn build_apt(
    signer: &GpgSigner,
    opts: &RepoOptions,
    previous: Option<&Path>,
    debs: &[PathBuf],
    dir: &Path,
) -> Result<apt_repo::Built, Error> {
    let built =
        apt_repo::build(opts, previous, debs, dir).map_err(|relkit_linux_pkg::Error::Core(e)| e)?;
    for (how, name) in [
        (TextSignature::Clear, "InRelease"),
        (TextSignature::Detached, "Release.gpg"),
    ] {
        let sig = signer
            .sign_text(&built.release, how, opts.epoch)
            .map_err(sign_err)?;
        fs_err::write(built.release.with_file_name(name), sig).map_err(CoreError::from)?;
    }
    write_key(signer, dir)?;
    Ok(built)
}

/// A DNF repository in `dir` (empty): relkit-linux-pkg's tree with
/// `repodata/repomd.xml.asc`, gpg's armored detached signature made at
/// `epoch` (the same kind of file as APT's `Release.gpg`, which dnf's
/// `repo_gpgcheck` reads), and `key.asc`.
pub fn build_dnf(
    signer: &GpgSigner,
    previous: Option<&Path>,
    rpms: &[PathBuf],
    dir: &Path,
    keep_older: bool,
    epoch: i64,
) -> Result<dnf_repo::RepoWritten, Error> {
    // The signer's own error is kept whole (it decides the exit code).
    let failed = std::cell::RefCell::new(None);
    let sign = |f: &Path| {
        signer
            .sign_text(f, TextSignature::Detached, epoch)
            .map_err(|e| {
                let core = CoreError::invalid("sign", e.to_string());
                failed.replace(Some(e));
                core
            })
    };
    let mut written = match dnf_repo::build(previous, rpms, dir, keep_older, epoch, Some(&sign)) {
        Ok(w) => w,
        Err(relkit_linux_pkg::Error::Core(e)) => {
            return Err(match failed.into_inner() {
                Some(sign_error) => sign_err(sign_error),
                None => e.into(),
            });
        }
    };
    write_key(signer, dir)?;
    written.files.push(KEY_FILE.to_owned());
    written.files.sort();
    Ok(written)
}

fn write_key(signer: &GpgSigner, dir: &Path) -> Result<(), Error> {
    let key = signer.public_key_armored().map_err(sign_err)?;
    fs_err::write(dir.join(KEY_FILE), key).map_err(CoreError::from)?;
    Ok(())
}

/// Build a tree with `build` in a temporary folder beside `out` (named
/// `PREFIX…`, removed on failure or interruption), then put it at `out`,
/// replacing what was there, only once complete: a failed run leaves `out`
/// as it was. `out` may be the previous tree `build` reads.
pub fn replace_with<T>(
    out: &Path,
    prefix: &str,
    build: impl FnOnce(&Path) -> Result<T, Error>,
) -> Result<T, Error> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent).map_err(CoreError::from)?;
    let (stage, _guard) = relkit_core::cleanup::tempdir_in(&parent, prefix).map_err(|source| {
        CoreError::Unwritable {
            path: parent.clone(),
            source,
        }
    })?;
    let value = build(stage.path())?;
    replace_dir(stage.keep(), out)?;
    Ok(value)
}

/// Put the finished tree `new` at `out`: the old tree (if any) moves aside
/// first and is removed after, so `out` is never half-written.
fn replace_dir(new: PathBuf, out: &Path) -> Result<(), Error> {
    set_modes(&new)?;
    if out.exists() {
        let old = new.with_file_name(format!(
            "{}.old",
            new.file_name().unwrap_or_default().to_string_lossy()
        ));
        fs_err::rename(out, &old).map_err(CoreError::from)?;
        fs_err::rename(&new, out).map_err(CoreError::from)?;
        fs_err::remove_dir_all(&old).map_err(CoreError::from)?;
    } else {
        fs_err::rename(&new, out).map_err(CoreError::from)?;
    }
    Ok(())
}

/// Folders 0755 and files 0644 whatever the umask (a web server serves them).
pub fn set_modes(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(CoreError::from)?;
    for e in fs_err::read_dir(dir).map_err(CoreError::from)? {
        let p = e.map_err(CoreError::from)?.path();
        if fs_err::symlink_metadata(&p)
            .map_err(CoreError::from)?
            .is_dir()
        {
            set_modes(&p)?;
        } else {
            fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o644))
                .map_err(CoreError::from)?;
        }
    }
    Ok(())
}

//! `relkit apt-repo`: a signed static APT repository (any web server or
//! GitHub Pages can host it) from the previous tree plus this release's
//! `.deb` files. relkit-linux-pkg writes the pool and indexes; this signs
//! `Release` with the release's gpg key (`InRelease` clearsigned,
//! `Release.gpg` detached, both armored, made at SOURCE_DATE_EPOCH) and
//! exports the public key as `key.asc`. The new tree replaces `--output`
//! only when everything is written and signed.

use std::path::{Path, PathBuf};

use clap::Args;
use relkit_core::Error as CoreError;
use relkit_linux_pkg::apt_repo::{self, RepoOptions};
use relkit_sign::openpgp::{GpgSigner, TextSignature};

use crate::Error;
use crate::config;

/// Build a signed static APT repository.
#[derive(Debug, Clone, Args)]
pub struct AptRepoArgs {
    /// The `.deb` packages to add.
    #[arg(required = true, value_name = "DEB")]
    pub debs: Vec<PathBuf>,
    /// The repository as published so far (its `pool/` is kept).
    #[arg(long, value_name = "DIR", env = "RELKIT_APT_PREVIOUS")]
    pub previous: Option<PathBuf>,
    /// Where the repository goes (replaced as a whole; may be `--previous`).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// Suite and codename.
    #[arg(long, default_value = "stable")]
    pub suite: String,
    /// Component.
    #[arg(long, default_value = "main")]
    pub component: String,
    /// `Origin` and `Label` [default: the first package's name].
    #[arg(long)]
    pub origin: Option<String>,
    /// Keep only the newest version of each package and architecture
    /// (default: keep every version of the previous tree).
    #[arg(long)]
    pub only_latest: bool,
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

/// Run `relkit apt-repo`.
pub fn run(args: &AptRepoArgs) -> Result<(), Error> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let import = args
        .gpg_import_key_env
        .clone()
        .or_else(|| set(config::GPG_KEY_ENV).then(|| config::GPG_KEY_ENV.to_owned()));
    let passphrase = args
        .gpg_passphrase_env
        .clone()
        .or_else(|| set(config::GPG_PASSPHRASE_ENV).then(|| config::GPG_PASSPHRASE_ENV.to_owned()));
    if args.gpg_key_id.is_none() && import.is_none() {
        return Err(CoreError::invalid(
            "apt-repo",
            format!(
                "an APT repository must be signed: give --gpg-key-id or set {}",
                config::GPG_KEY_ENV
            ),
        )
        .into());
    }
    let epoch = relkit_core::buildtime::build_epoch(Path::new("."))?;
    let signer = GpgSigner::new(
        args.gpg_key_id.as_deref(),
        passphrase.as_deref(),
        import.as_deref(),
    )
    .map_err(|e| Error::Sign(Box::new(e)))?;
    let origin = match &args.origin {
        Some(o) => o.clone(),
        None => first_package_name(&args.debs),
    };
    if origin.is_empty() || origin.chars().any(char::is_control) {
        return Err(CoreError::invalid("--origin", "must be one non-empty line").into());
    }
    let opts = RepoOptions {
        suite: args.suite.clone(),
        component: args.component.clone(),
        origin,
        epoch,
        keep_older: !args.only_latest,
    };
    let out = &args.output;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent).map_err(CoreError::from)?;
    let (stage, _guard) =
        relkit_core::cleanup::tempdir_in(&parent, ".relkit-apt-").map_err(CoreError::from)?;
    let built = apt_repo::build(&opts, args.previous.as_deref(), &args.debs, stage.path())
        .map_err(|relkit_linux_pkg::Error::Core(e)| e)?;
    let sign = |how, name: &str| -> Result<(), Error> {
        let sig = signer
            .sign_text(&built.release, how, epoch)
            .map_err(|e| Error::Sign(Box::new(e)))?;
        let path = built.release.with_file_name(name);
        fs_err::write(&path, sig).map_err(CoreError::from)?;
        Ok(())
    };
    sign(TextSignature::Clear, "InRelease")?;
    sign(TextSignature::Detached, "Release.gpg")?;
    let key = signer
        .public_key_armored()
        .map_err(|e| Error::Sign(Box::new(e)))?;
    fs_err::write(stage.path().join("key.asc"), key).map_err(CoreError::from)?;
    replace_dir(stage.keep(), out)?;
    for p in &built.packages {
        tracing::info!("{p}");
    }
    eprintln!(
        "wrote an APT repository of {} package(s) to {}",
        built.packages.len(),
        out.display()
    );
    Ok(())
}

/// The `Package` of the first `.deb`, else `packages`.
fn first_package_name(debs: &[PathBuf]) -> String {
    debs.first()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('_').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("packages")
        .to_owned()
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
fn set_modes(dir: &Path) -> Result<(), Error> {
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

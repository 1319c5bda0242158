//! relkit-sign: minisign signatures (`FILE.minisig`, prehashed, verified by
//! the minisign CLI) and binary detached OpenPGP signatures (`FILE.sig`,
//! through the gpg CLI, as the Terraform Registry wants), with keys that only
//! ever come from files or environment variables and never reach a log.

pub mod minisig;
pub mod openpgp;
mod secret;
pub mod signer;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use relkit_core::atomic::Staging;
use relkit_core::input::Limit;
use relkit_core::{Failure, HasFailure};

/// Sign release files with minisign or OpenPGP, and verify minisign signatures.
///
/// Secret keys and passwords are read from files or from environment
/// variables named on the command line (never from arguments), are never
/// logged, and are masked in GitHub Actions logs. A failed run leaves no
/// signature file behind.
#[derive(Debug, Parser)]
#[command(name = "relkit-sign", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a prehashed minisign signature `FILE.minisig` for each FILE.
    Minisign(MinisignArgs),
    /// Verify `FILE.minisig` for each FILE with a minisign public key.
    Verify(VerifyArgs),
    /// Make a minisign key pair (password-protected unless --no-password).
    Keygen(KeygenArgs),
    /// Write a binary detached OpenPGP signature `FILE.sig` for each FILE with gpg.
    Gpg(GpgArgs),
}

/// Arguments of `relkit-sign minisign`.
#[derive(Debug, Args)]
pub struct MinisignArgs {
    /// The minisign secret key file (as written by `minisign -G`).
    #[arg(
        long,
        value_name = "FILE",
        env = "RELKIT_MINISIGN_SECRET_KEY",
        conflicts_with = "secret_key_env"
    )]
    pub secret_key: Option<PathBuf>,

    /// Name of an environment variable holding the secret key (the key
    /// file's text, or just its base64 line).
    #[arg(long, value_name = "NAME", env = "RELKIT_MINISIGN_SECRET_KEY_ENV")]
    pub secret_key_env: Option<String>,

    /// Name of an environment variable holding the key's password (needed
    /// for encrypted keys; ignored for keys made with `minisign -G -W`).
    #[arg(long, value_name = "NAME", env = "RELKIT_MINISIGN_PASSWORD_ENV")]
    pub password_env: Option<String>,

    /// The trusted (signed) comment [default: `timestamp:<T> file:<name>
    /// hashed sha256:<hex>`, tab-separated; T is SOURCE_DATE_EPOCH or now].
    #[arg(long, value_name = "TEXT")]
    pub trusted_comment: Option<String>,

    /// Files to sign.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `relkit-sign verify`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("key").required(true))]
pub struct VerifyArgs {
    /// The minisign public key file (`minisign.pub`).
    #[arg(
        long,
        value_name = "FILE",
        group = "key",
        env = "RELKIT_MINISIGN_PUBLIC_KEY"
    )]
    pub public_key: Option<PathBuf>,

    /// The public key itself, the `RW…` base64 string.
    #[arg(long, value_name = "KEY", group = "key")]
    pub public_key_string: Option<String>,

    /// Also accept legacy (non-prehashed) signatures. These make the whole
    /// file be read into memory.
    #[arg(long)]
    pub allow_legacy: bool,

    /// Signed files; each signature is read from `FILE.minisig`.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `relkit-sign keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Leave the secret key unencrypted (as `minisign -G -W` does).
    #[arg(long, conflicts_with = "password_env")]
    pub no_password: bool,

    /// Name of an environment variable holding the password that encrypts
    /// the secret key.
    #[arg(long, value_name = "NAME")]
    pub password_env: Option<String>,

    /// Where to write the secret key (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub secret_key: PathBuf,

    /// Where to write the public key.
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,

    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `relkit-sign gpg`.
#[derive(Debug, Args)]
pub struct GpgArgs {
    /// The key to sign with (fingerprint, key id or user id) [default:
    /// the imported key, else the first secret key in the keyring].
    #[arg(long, value_name = "ID", env = "RELKIT_GPG_KEY_ID")]
    pub key_id: Option<String>,

    /// Name of an environment variable holding the key's passphrase.
    #[arg(long, value_name = "NAME", env = "RELKIT_GPG_PASSPHRASE_ENV")]
    pub passphrase_env: Option<String>,

    /// Name of an environment variable holding an ASCII-armored secret key
    /// to import into a temporary GNUPGHOME (mode 0700, removed afterwards).
    #[arg(long, value_name = "NAME", env = "RELKIT_GPG_IMPORT_KEY_ENV")]
    pub import_key_env: Option<String>,

    /// Also write the signing key's ASCII-armored public key to FILE (what
    /// the Terraform Registry and users need to check the signatures).
    #[arg(long, value_name = "FILE")]
    pub export_public_key: Option<PathBuf>,

    /// Files to sign.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A problem with an input or output, from relkit-core.
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// A `--…-env` flag was given something that is not a variable name
    /// (perhaps the secret itself, which is therefore not repeated).
    #[error(
        "a `--…-env` flag takes the NAME of an environment variable (letters, digits, `_`), not the secret itself"
    )]
    BadEnvName,
    /// An environment variable that should hold a secret is unset or empty.
    #[error("environment variable `{0}` is not set or is empty")]
    MissingEnv(String),
    /// A secret key could not be loaded (not a key, corrupted, unsupported).
    #[error("{source_name}: {message}")]
    SecretKey {
        /// Where the key came from: `` `path` `` or `` environment variable `NAME` ``.
        source_name: String,
        /// What is wrong (never includes key material).
        message: String,
    },
    /// The password does not decrypt the secret key.
    #[error("{0}: wrong password for this secret key")]
    WrongPassword(String),
    /// An encrypted secret key was given without a password.
    #[error(
        "{0}: the secret key is encrypted; name the environment variable holding its password with --password-env"
    )]
    NeedsPassword(String),
    /// A public key could not be parsed.
    #[error("{source_name}: not a minisign public key: {message}")]
    PublicKey {
        /// Where the key came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A signature file could not be parsed.
    #[error("`{}`: not a minisign signature: {message}", path.display())]
    BadSignature {
        /// The signature file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A signature was made by another key.
    #[error("`{}`: signed by key {signed_by}, not by the given public key {expected}", path.display())]
    WrongKey {
        /// The signed file.
        path: PathBuf,
        /// Key id in the signature.
        signed_by: String,
        /// Key id of the public key given.
        expected: String,
    },
    /// A legacy signature without --allow-legacy.
    #[error("`{}`: legacy (non-prehashed) signature; pass --allow-legacy to accept it", path.display())]
    Legacy {
        /// The signed file.
        path: PathBuf,
    },
    /// The signature does not match the file.
    #[error("`{}`: {message}", path.display())]
    VerifyFailed {
        /// The signed file.
        path: PathBuf,
        /// What did not verify.
        message: String,
    },
    /// Signing failed inside the minisign library.
    #[error("`{}`: cannot sign: {message}", path.display())]
    Sign {
        /// The file being signed.
        path: PathBuf,
        /// What the library reported.
        message: String,
    },
    /// An output file already exists and --force was not given.
    #[error("`{}`: already exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    /// Key generation failed.
    #[error("cannot generate a key pair: {0}")]
    Keygen(String),
    /// The gpg program could not be run.
    #[error("cannot run `{program}`: {source}")]
    GpgSpawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// gpg failed or said something unexpected.
    #[error("gpg: {0}")]
    Gpg(String),
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::GpgSpawn { .. } | Error::Keygen(_) => Failure::Internal,
            _ => Failure::Input,
        }
    }
}

/// Run one `relkit-sign` command.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Minisign(a) => run_minisign(&a),
        Command::Verify(a) => run_verify(&a),
        Command::Keygen(a) => run_keygen(&a),
        Command::Gpg(a) => run_gpg(&a),
    }
}

fn run_keygen(a: &KeygenArgs) -> Result<(), Error> {
    let password_env = match (&a.password_env, a.no_password) {
        (_, true) => None,
        (Some(name), false) => Some(name.as_str()),
        (None, false) => {
            return Err(relkit_core::Error::invalid(
                "--password-env",
                "name the environment variable holding the new key's password, or pass --no-password",
            )
            .into());
        }
    };
    let public = minisig::keygen(&a.secret_key, &a.public_key, password_env, a.force)?;
    println!("secret key: `{}`", a.secret_key.display());
    println!("public key: `{}`", a.public_key.display());
    println!("verify with: minisign -Vm <file> -P {public}");
    Ok(())
}

/// `FILE` + `ext` (`a.tar.gz` → `a.tar.gz.minisig`).
fn sig_path(file: &Path, ext: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn run_minisign(a: &MinisignArgs) -> Result<(), Error> {
    let signer = match (&a.secret_key, &a.secret_key_env) {
        (Some(path), _) => minisig::MinisignSigner::from_file(path, a.password_env.as_deref())?,
        (None, Some(name)) => minisig::MinisignSigner::from_env(name, a.password_env.as_deref())?,
        (None, None) => {
            return Err(relkit_core::Error::invalid(
                "--secret-key",
                "give the secret key file with --secret-key FILE or an environment variable with --secret-key-env NAME",
            )
            .into());
        }
    };
    let _group = relkit_core::gha::group("minisign");
    let mut staging = Staging::new();
    for file in &a.files {
        let text = signer.sign(file, a.trusted_comment.as_deref())?;
        staging.write(&sig_path(file, ".minisig"), text.as_bytes())?;
    }
    let written = staging.commit()?;
    for dest in &written {
        tracing::info!("wrote `{}` (key {})", dest.display(), signer.key_id());
        println!("{}", dest.display());
    }
    report_outputs("minisign", &signer.key_id(), &written)
}

/// Step outputs `signatures` (one path a line) and `key-id`, and a table in
/// the step summary. No-ops outside GitHub Actions.
fn report_outputs(kind: &str, key_id: &str, written: &[PathBuf]) -> Result<(), Error> {
    let paths: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    relkit_core::gha::set_output("signatures", &paths.join("\n"))?;
    relkit_core::gha::set_output("key-id", key_id)?;
    let mut summary = format!("### {kind} signatures (key `{key_id}`)\n\n");
    for p in &paths {
        let _ = writeln!(summary, "- `{}`", p.replace('`', "'"));
    }
    summary.push('\n');
    relkit_core::gha::append_summary(&summary)?;
    Ok(())
}

/// Read a small text file (a key, a signature) with relkit-core's bounds.
fn read_text(path: &Path, limit: Limit) -> Result<String, Error> {
    Ok(relkit_core::input::read_text(path, limit)?)
}

fn run_verify(a: &VerifyArgs) -> Result<(), Error> {
    let public_key = match (&a.public_key, &a.public_key_string) {
        (Some(path), _) => minisig::MinisignPublicKey::parse(
            &read_text(path, Limit::KEY)?,
            &format!("`{}`", path.display()),
        )?,
        (None, Some(k)) => minisig::MinisignPublicKey::parse(k, "--public-key-string")?,
        (None, None) => unreachable!("clap requires one of the key flags"),
    };
    for file in &a.files {
        let sig = sig_path(file, ".minisig");
        let text = read_text(&sig, Limit::SIGNATURE)?;
        let v = minisig::verify_detailed(file, &sig, &text, &public_key, a.allow_legacy)?;
        println!(
            "`{}`: signature verified (key {}); trusted comment: {}",
            file.display(),
            v.key_id,
            v.trusted_comment
        );
    }
    Ok(())
}

fn run_gpg(a: &GpgArgs) -> Result<(), Error> {
    let signer = openpgp::GpgSigner::new(
        a.key_id.as_deref(),
        a.passphrase_env.as_deref(),
        a.import_key_env.as_deref(),
    )?;
    let _group = relkit_core::gha::group("gpg");
    let fingerprint = signer.fingerprint()?;
    let mut staging = Staging::new();
    for file in &a.files {
        let sig = signer.sign_detached(file)?;
        staging.write(&sig_path(file, ".sig"), &sig)?;
    }
    if let Some(path) = &a.export_public_key {
        staging.write(path, signer.public_key_armored()?.as_bytes())?;
    }
    let written = staging.commit()?;
    for dest in &written {
        tracing::info!("wrote `{}` (gpg key {fingerprint})", dest.display());
        println!("{}", dest.display());
    }
    report_outputs("OpenPGP", &fingerprint, &written)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser, Subcommand};

    use super::*;

    #[test]
    fn signers_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<minisig::MinisignSigner>();
        send_sync::<openpgp::GpgSigner>();
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    // The umbrella `relkit` binary embeds `Cli` as its `sign` subcommand.
    #[derive(Debug, Parser)]
    struct Umbrella {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(Debug, Subcommand)]
    enum Sub {
        Sign(Cli),
    }

    #[test]
    fn works_as_a_subcommand() {
        Umbrella::command().debug_assert();
        let u = Umbrella::try_parse_from([
            "relkit",
            "sign",
            "verify",
            "--public-key-string",
            "RWQ",
            "f",
        ])
        .unwrap();
        let Sub::Sign(cli) = u.cmd;
        assert!(
            matches!(cli.command, Command::Verify(VerifyArgs { ref files, .. }) if files == &[PathBuf::from("f")])
        );
    }
}

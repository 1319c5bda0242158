//! OpenPGP signatures through the gpg CLI: binary detached `.sig` files as
//! the Terraform Registry wants them. With an imported key, gpg runs in a
//! temporary GNUPGHOME (mode 0700, on tmpfs when `/dev/shm` exists) that is
//! removed, agent included, when the signer is dropped. Passphrases and keys
//! reach gpg through a pipe, never through arguments or files.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;
use crate::secret::Secret;

/// The environment variable that overrides the gpg program.
pub const GPG_ENV: &str = "RELKIT_GPG";

/// The two armored signatures of a text file APT reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSignature {
    /// The file with its signature around it (`InRelease`).
    Clear,
    /// A detached armored signature (`Release.gpg`).
    Detached,
}

/// Signs with the gpg CLI. Owns a temporary GNUPGHOME when a key was imported.
#[derive(Debug)]
pub struct GpgSigner {
    home: Option<tempfile::TempDir>,
    /// Keeps the home registered for removal if the run is interrupted
    /// (issue 10.7): it holds an imported secret key.
    home_guard: Option<relkit_core::cleanup::Guard>,
    /// What to pass to `--local-user`, if anything.
    local_user: Option<String>,
    /// Primary key fingerprint of the signing key.
    fingerprint: String,
    passphrase: Option<Secret>,
    /// Detached signatures are made at this time (`at_time`), else now.
    time: Option<i64>,
}

impl GpgSigner {
    /// key_id: which key to use (None: the imported key, else the first
    /// secret key in the keyring); passphrase_env / import_key_env: names of env vars.
    pub fn new(
        key_id: Option<&str>,
        passphrase_env: Option<&str>,
        import_key_env: Option<&str>,
    ) -> Result<Self, Error> {
        let passphrase = passphrase_env.map(Secret::from_env).transpose()?;
        let mut signer = GpgSigner {
            home: None,
            home_guard: None,
            local_user: key_id.map(str::to_owned),
            fingerprint: String::new(),
            passphrase,
            time: None,
        };
        if let Some(env) = import_key_env {
            let key = Secret::from_env(env)?;
            if !key
                .expose()
                .contains("-----BEGIN PGP PRIVATE KEY BLOCK-----")
            {
                return Err(Error::Gpg(format!(
                    "environment variable `{env}` does not hold an ASCII-armored secret key (`gpg --armor --export-secret-keys`)"
                )));
            }
            let (home, guard) = temp_home()?;
            signer.home = Some(home);
            signer.home_guard = Some(guard);
            let out = signer.run(&["--import"], Some(key.expose().as_bytes()))?;
            if !out.ok {
                return Err(Error::Gpg(format!(
                    "cannot import the key from `{env}`: {}",
                    out.last_error()
                )));
            }
            tracing::debug!(
                "imported a key from environment variable `{env}` into a temporary GNUPGHOME"
            );
        }
        let listing = signer.run_ok(
            &["--with-colons", "--list-secret-keys", "--"],
            key_id.into_iter().collect::<Vec<_>>(),
        );
        let found = match listing {
            Ok(text) => first_secret_key(&text),
            Err(Error::Gpg(_)) => None,
            Err(e) => return Err(e),
        };
        signer.fingerprint = match (found, key_id) {
            (Some((fingerprint, algo)), _) => {
                // 1-3: RSA, 17: DSA. Anything else (EdDSA, ECDSA) gpg and
                // Terraform accept, but the Terraform Registry refuses.
                if !matches!(algo, 1..=3 | 17) {
                    tracing::warn!(
                        "gpg key {fingerprint} is neither RSA nor DSA; the Terraform Registry accepts only RSA and DSA keys"
                    );
                }
                fingerprint
            }
            (None, Some(id)) => {
                return Err(Error::Gpg(format!("no secret key `{id}` in the keyring")));
            }
            (None, None) if import_key_env.is_some() => {
                return Err(Error::Gpg(
                    "the imported key holds no secret key".to_owned(),
                ));
            }
            (None, None) => return Err(Error::Gpg("no secret key in the keyring".to_owned())),
        };
        // Always name the key, so the signature is made by the key whose
        // fingerprint we report (gpg's own default could be another one).
        if signer.local_user.is_none() {
            signer.local_user = Some(signer.fingerprint.clone());
        }
        tracing::debug!("gpg signing key {}", signer.fingerprint);
        Ok(signer)
    }

    /// Make every detached signature at `time` (SOURCE_DATE_EPOCH; the
    /// key's creation time if that is later) instead of now. A signature
    /// holds its creation time, so this is what makes a release signed
    /// twice with an RSA or EdDSA key (deterministic schemes) byte-identical,
    /// `.rpm` headers included.
    pub fn at_time(mut self, time: i64) -> Result<Self, Error> {
        self.time = Some(time.max(self.key_created()?));
        Ok(self)
    }

    /// Binary (not armored) detached signature of `file`.
    pub fn sign_detached(&self, file: &Path) -> Result<Vec<u8>, Error> {
        // Binary even when gpg.conf says `armor`: Terraform wants binary.
        let out = self.sign_with(file, &["--detach-sign", "--no-armor"], self.time)?;
        tracing::debug!(
            "signed `{}` with gpg key {}",
            file.display(),
            self.fingerprint
        );
        Ok(out)
    }

    /// An ASCII-armored signature of a text file, as APT reads them:
    /// `Clear` makes an `InRelease`-style clearsigned copy, `Detached` a
    /// `Release.gpg`. Made at `time` (SOURCE_DATE_EPOCH, not before the
    /// key's creation), so the same file and key give the same signature.
    pub fn sign_text(&self, file: &Path, how: TextSignature, time: i64) -> Result<Vec<u8>, Error> {
        let at = time.max(self.key_created()?);
        let mode = match how {
            TextSignature::Clear => "--clearsign",
            TextSignature::Detached => "--detach-sign",
        };
        self.sign_with(
            file,
            &["--armor", "--digest-algo", "SHA512", mode],
            Some(at),
        )
    }

    /// Run gpg to sign `file` with `mode` arguments, made at `at` when given
    /// (else now); the signature is gpg's stdout.
    fn sign_with(&self, file: &Path, mode: &[&str], at: Option<i64>) -> Result<Vec<u8>, Error> {
        drop(relkit_core::hash::open_regular(file)?);
        let mut args: Vec<OsString> = vec!["--status-fd".into(), "2".into()];
        args.extend(mode.iter().map(Into::into));
        args.extend(["--output".into(), "-".into()]);
        if let Some(at) = at {
            args.push(format!("--faked-system-time={at}!").into());
        }
        if let Some(u) = &self.local_user {
            args.push("--local-user".into());
            args.push(u.into());
        }
        // A passphrase goes through stdin (loopback pinentry). In a temporary
        // home there is nobody to ask, so never start a pinentry there either.
        if self.passphrase.is_some() || self.home.is_some() {
            args.extend(["--pinentry-mode".into(), "loopback".into()]);
        }
        if self.passphrase.is_some() {
            args.extend(["--passphrase-fd".into(), "0".into()]);
        }
        args.push("--".into());
        args.push(file.as_os_str().to_owned());
        let stdin = self
            .passphrase
            .as_ref()
            .map(|p| Secret::quiet(format!("{}\n", p.expose())));
        let out = self.run(&args, stdin.as_ref().map(|s| s.expose().as_bytes()))?;
        let created = out.status_lines().any(|l| l.starts_with("SIG_CREATED "));
        if !out.ok || !created || out.stdout.is_empty() {
            return Err(Error::Gpg(format!(
                "cannot sign `{}`: {}",
                file.display(),
                out.last_error()
            )));
        }
        Ok(out.stdout)
    }

    /// When the signing key was made (seconds since the epoch).
    fn key_created(&self) -> Result<i64, Error> {
        let text = self.run_ok(
            &["--with-colons", "--list-secret-keys", "--"],
            [self.fingerprint.as_str()],
        )?;
        text.lines()
            .find(|l| l.starts_with("sec:"))
            .and_then(|l| l.split(':').nth(5))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                Error::Gpg(format!(
                    "cannot read when key {} was made",
                    self.fingerprint
                ))
            })
    }

    /// Fingerprint of the signing key (upper-case hex).
    pub fn fingerprint(&self) -> Result<String, Error> {
        Ok(self.fingerprint.clone())
    }

    /// ASCII-armored public key, for a Terraform registry or users.
    pub fn public_key_armored(&self) -> Result<String, Error> {
        let text = self.run_ok(&["--armor", "--export", "--"], [self.fingerprint.as_str()])?;
        if !text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            return Err(Error::Gpg(format!(
                "cannot export public key {}",
                self.fingerprint
            )));
        }
        Ok(text)
    }

    fn command(&self) -> Command {
        let program = std::env::var_os(GPG_ENV).unwrap_or_else(|| "gpg".into());
        let mut cmd = Command::new(program);
        cmd.env("LC_ALL", "C").args(["--batch", "--no-tty"]);
        if let Some(home) = &self.home {
            cmd.arg("--homedir").arg(home.path());
        }
        cmd
    }

    fn run<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        stdin: Option<&[u8]>,
    ) -> Result<GpgOutput, Error> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .spawn()
            .map_err(|source| Error::GpgSpawn { program, source })?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // gpg may exit before reading (an unprotected key): a broken pipe is fine.
            let _ = pipe.write_all(bytes);
        }
        let out = child.wait_with_output().map_err(|source| Error::GpgSpawn {
            program: "gpg".to_owned(),
            source,
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for line in stderr.lines() {
            tracing::trace!("gpg: {line}");
        }
        Ok(GpgOutput {
            ok: out.status.success(),
            stdout: out.stdout,
            stderr,
        })
    }

    fn run_ok<'a>(
        &self,
        args: &[&'a str],
        more: impl IntoIterator<Item = &'a str>,
    ) -> Result<String, Error> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(more);
        let out = self.run(&all, None)?;
        if !out.ok {
            return Err(Error::Gpg(out.last_error()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for GpgSigner {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            // Stop the agent that gpg started for this home (it holds the
            // unlocked key in memory and its sockets live in the folder).
            let _ = Command::new("gpgconf")
                .arg("--homedir")
                .arg(home.path())
                .args(["--kill", "all"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let path = home.path().to_path_buf();
            if let Err(e) = home.close() {
                tracing::warn!(
                    "cannot remove the temporary GNUPGHOME `{}`: {e}",
                    path.display()
                );
            }
        }
    }
}

struct GpgOutput {
    ok: bool,
    stdout: Vec<u8>,
    stderr: String,
}

impl GpgOutput {
    fn status_lines(&self) -> impl Iterator<Item = &str> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("[GNUPG:] "))
    }

    /// gpg's last complaint, without its `gpg: ` prefix.
    fn last_error(&self) -> String {
        self.stderr
            .lines()
            .rfind(|l| !l.starts_with("[GNUPG:]") && !l.trim().is_empty())
            .map_or_else(
                || "failed".to_owned(),
                |l| l.strip_prefix("gpg: ").unwrap_or(l).to_owned(),
            )
    }
}

/// A temporary GNUPGHOME, mode 0700, on tmpfs when there is one.
fn temp_home() -> Result<(tempfile::TempDir, relkit_core::cleanup::Guard), Error> {
    let base = temp_home_base();
    let prefix = format!("relkit-gnupg-{}-", std::process::id());
    let (dir, guard) = relkit_core::cleanup::tempdir_in(&base, &prefix)
        .map_err(|e| relkit_core::atomic::io_at(&base, e))?;
    set_mode_0700(dir.path()).map_err(|e| relkit_core::atomic::io_at(dir.path(), e))?;
    Ok((dir, guard))
}

fn is_writable(dir: &Path) -> bool {
    tempfile::Builder::new()
        .prefix(".relkit-probe")
        .tempfile_in(dir)
        .is_ok()
}

#[cfg(unix)]
fn set_mode_0700(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn set_mode_0700(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The fingerprint and public-key algorithm number of the first primary
/// secret key in a `--with-colons` listing.
fn first_secret_key(colons: &str) -> Option<(String, u32)> {
    let mut algo = None;
    for line in colons.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields[0] {
            "sec" => algo = Some(fields.get(3).and_then(|a| a.parse().ok()).unwrap_or(0)),
            "fpr" => {
                if let Some(a) = algo {
                    return fields
                        .get(9)
                        .filter(|f| !f.is_empty())
                        .map(|f| (f.to_ascii_uppercase(), a));
                }
            }
            "ssb" | "uid" => algo = None,
            _ => {}
        }
    }
    None
}

/// Where temporary GNUPGHOMEs go: `/dev/shm` (memory, not disk) when it
/// exists and TMPDIR is unset, else the temp folder. Each is named
/// `relkit-gnupg-<pid>-…`.
pub fn temp_home_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if std::env::var_os("TMPDIR").is_none() && shm.is_dir() && is_writable(shm) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_the_primary_key() {
        let listing = "sec:u:2048:1:C1D39A12B327611A:1795282801:::u:::scSC:::+:::23::0:\n\
                       fpr:::::::::ea41fb27b919d1cfe213a1b7c1d39a12b327611a:\n\
                       grp:::::::::0EBAF93C852FB09FBF7D7348F6967E8395D80BAE:\n\
                       uid:u::::1795282801::03DC::Test <t@example.com>::::::::::0:\n\
                       ssb:u:2048:1:AAAA:1795282801::::::e:::+:::23:\n\
                       fpr:::::::::BBBB:\n";
        assert_eq!(
            first_secret_key(listing),
            Some(("EA41FB27B919D1CFE213A1B7C1D39A12B327611A".to_owned(), 1))
        );
        assert_eq!(first_secret_key("ssb:u\nfpr:::::::::BBBB:\n"), None);
    }
}

//! Binary detached OpenPGP signatures through the gpg CLI, for
//! `…_SHA256SUMS.sig`. This mirrors the API of `relkit_sign::openpgp::GpgSigner`
//! (not yet available when this crate was written) so that switching to it is
//! a one-line change. Secrets: the passphrase goes to gpg on a pipe, never on
//! the command line, and is never logged; an imported key lives only in a
//! private temporary GNUPGHOME that is deleted when the signer is dropped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Signing failed or the signer settings are wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GpgError(pub String);

/// A configured gpg signer.
#[derive(Debug)]
pub struct GpgSigner {
    key_id: Option<String>,
    passphrase: Option<String>,
    home: Option<tempfile::TempDir>,
    fingerprint: String,
}

impl GpgSigner {
    /// Set up signing with the key `key_id` (else gpg's default key), the
    /// passphrase in env var `passphrase_env`, and, when `import_key_env` is
    /// given, the ASCII-armored secret key in that env var imported into a
    /// private GNUPGHOME.
    pub fn new(
        key_id: Option<&str>,
        passphrase_env: Option<&str>,
        import_key_env: Option<&str>,
    ) -> Result<Self, GpgError> {
        let read_env = |flag: &str, var: &str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| GpgError(format!("{flag}: environment variable `{var}` is not set")))
        };
        let passphrase = passphrase_env
            .map(|v| read_env("--gpg-passphrase-env", v))
            .transpose()?;
        if let Some(p) = &passphrase {
            relkit_core::gha::mask(p);
        }
        let mut signer = GpgSigner {
            key_id: key_id.map(str::to_owned),
            passphrase,
            home: None,
            fingerprint: String::new(),
        };
        if let Some(var) = import_key_env {
            let key = read_env("--gpg-import-key-env", var)?;
            relkit_core::gha::mask(&key);
            let home = tempfile::Builder::new()
                .prefix("relkit-gnupg-")
                .tempdir()
                .map_err(|e| GpgError(format!("cannot create a GNUPGHOME: {e}")))?;
            signer.home = Some(home);
            signer.gpg(
                &["--import"],
                Some(key.as_bytes()),
                "import the key from --gpg-import-key-env",
            )?;
        }
        signer.fingerprint = signer.find_fingerprint()?;
        Ok(signer)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("gpg");
        if let Some(home) = &self.home {
            cmd.env("GNUPGHOME", home.path());
        }
        cmd.args(["--batch", "--no-tty", "--quiet"]);
        cmd
    }

    fn gpg(&self, args: &[&str], stdin: Option<&[u8]>, what: &str) -> Result<Vec<u8>, GpgError> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| GpgError(format!("cannot run `gpg` to {what}: {e}")))?;
        if let Some(data) = stdin {
            let mut pipe = child.stdin.take().expect("piped");
            // gpg may exit early (a bad key); its stderr then says why.
            let _ = pipe.write_all(data);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| GpgError(format!("`gpg` failed to {what}: {e}")))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reason = stderr
                .lines()
                .map(|l| l.trim().trim_start_matches("gpg: "))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(GpgError(format!("`gpg` failed to {what}: {reason}")));
        }
        Ok(out.stdout)
    }

    fn find_fingerprint(&self) -> Result<String, GpgError> {
        let mut args = vec!["--with-colons", "--list-secret-keys"];
        if let Some(k) = &self.key_id {
            args.push(k);
        }
        let what = match &self.key_id {
            Some(k) => format!("find secret key `{k}`"),
            None => "find a secret key".to_owned(),
        };
        let out = self.gpg(&args, None, &what)?;
        let text = String::from_utf8_lossy(&out);
        text.lines()
            .skip_while(|l| !l.starts_with("sec:"))
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| GpgError(format!("`gpg` could not {what}")))
    }

    /// The primary key's fingerprint (upper-case hex).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The public key, ASCII-armored, as the Terraform registry protocol serves it.
    pub fn public_key_armored(&self) -> Result<String, GpgError> {
        let out = self.gpg(
            &["--armor", "--export", &self.fingerprint],
            None,
            "export the public key",
        )?;
        String::from_utf8(out)
            .map_err(|_| GpgError("`gpg` exported a public key that is not text".into()))
    }

    /// A binary (not armored) detached signature of `file`.
    pub fn sign_detached(&self, file: &Path) -> Result<Vec<u8>, GpgError> {
        let file_arg = file.to_string_lossy();
        let mut args: Vec<&str> = vec![
            "--local-user",
            &self.fingerprint,
            "--detach-sign",
            "--output",
            "-",
        ];
        let passphrase_line;
        if let Some(p) = &self.passphrase {
            args.extend(["--pinentry-mode", "loopback", "--passphrase-fd", "0"]);
            passphrase_line = format!("{p}\n");
        } else {
            passphrase_line = String::new();
        }
        args.push(&file_arg);
        let stdin = self
            .passphrase
            .is_some()
            .then_some(passphrase_line.as_bytes());
        let what = format!("sign `{}`", file.display());
        let sig = self.gpg(&args, stdin, &what)?;
        if sig.is_empty() {
            return Err(GpgError(format!("`gpg` produced no signature to {what}")));
        }
        Ok(sig)
    }

    /// The private GNUPGHOME holding an imported key, if any.
    pub fn home(&self) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.path().to_path_buf())
    }
}

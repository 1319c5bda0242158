//! minisign: load secret keys (encrypted ones, and the unencrypted ones
//! `minisign -G -W` writes with a zeroed checksum), write prehashed
//! `.minisig` signatures the minisign CLI verifies, verify them, make keys.

use std::fmt;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox, SignatureBox};
use relkit_core::atomic::{Staging, io_at};
use relkit_core::hash::{self, Algo};
use relkit_core::input::Limit;

use crate::Error;
use crate::secret::Secret;

// Layout of a decoded secret key (minisign's `SecretKey`): sig_alg(2)
// kdf_alg(2) chk_alg(2) salt(32) opslimit(8) memlimit(8) keynum(8) sk(64) chk(32).
const SK_LEN: usize = 158;
const SIG_ALG: &[u8; 2] = b"Ed";
const CHK_ALG: &[u8; 2] = b"B2";
const KDF_SCRYPT: &[u8; 2] = b"Sc";
const KDF_NONE: &[u8; 2] = &[0, 0];
const CHK_RANGE: std::ops::Range<usize> = 126..158;

/// A loaded minisign secret key (password already applied).
pub struct MinisignSigner {
    sk: SecretKey,
    pk: PublicKey,
}

// `SecretKey`'s own Debug prints the key bytes: never let it near a log.
impl fmt::Debug for MinisignSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MinisignSigner")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl MinisignSigner {
    /// Load the secret key file at `path`; `password_env` names the
    /// environment variable holding its password (needed when it is encrypted).
    pub fn from_file(path: &Path, password_env: Option<&str>) -> Result<Self, Error> {
        let name = format!("`{}`", path.display());
        // issue 10.2: bounded, and never /dev/zero or a fifo.
        let text = Secret::quiet(relkit_core::input::read_text(path, Limit::KEY)?);
        Self::load(&text, &name, password_env)
    }

    /// Load a secret key from the environment variable `key_env` (the key
    /// file's text, or only its base64 line).
    pub fn from_env(key_env: &str, password_env: Option<&str>) -> Result<Self, Error> {
        let text = Secret::from_env(key_env)?;
        Self::load(
            &text,
            &format!("environment variable `{key_env}`"),
            password_env,
        )
    }

    /// Load a secret key from its text (a key file's text, or only its
    /// base64 line); `source_name` names it in errors. Public for the fuzz
    /// target `minisign_secret_key` (issue 10); the CLI reads keys only
    /// through [`Self::from_file`] and [`Self::from_env`].
    pub fn from_text(
        text: &str,
        source_name: &str,
        password_env: Option<&str>,
    ) -> Result<Self, Error> {
        Self::load(&Secret::quiet(text.to_owned()), source_name, password_env)
    }

    fn load(text: &Secret, source_name: &str, password_env: Option<&str>) -> Result<Self, Error> {
        let bad = |message: &str| Error::SecretKey {
            source_name: source_name.to_owned(),
            message: message.to_owned(),
        };
        let line = key_line(text.expose()).ok_or_else(|| bad("not a minisign secret key"))?;
        relkit_core::gha::mask(line);
        let decoded = STANDARD
            .decode(line)
            .map_err(|_| bad("not a minisign secret key (the key line is not valid base64)"))?;
        let decoded = ZeroOnDrop(decoded);
        if decoded.0.len() != SK_LEN || &decoded.0[0..2] != SIG_ALG {
            return Err(bad("not a minisign secret key"));
        }
        if &decoded.0[4..6] != CHK_ALG {
            return Err(bad("unsupported checksum algorithm"));
        }
        // The crate wants the box form: a comment line, then the key line.
        let boxed = Secret::quiet(format!("untrusted comment: relkit\n{line}\n"));
        let sk_box = || SecretKeyBox::from_string(boxed.expose()).expect("from_string cannot fail");
        let kdf: &[u8] = &decoded.0[2..4];
        let sk = if kdf == KDF_SCRYPT {
            let Some(env) = password_env else {
                return Err(Error::NeedsPassword(source_name.to_owned()));
            };
            let password = Secret::from_env(env)?;
            tracing::debug!("decrypting the secret key from {source_name}");
            SecretKey::from_box(sk_box(), Some(password.expose().to_owned())).map_err(|e| {
                if e.to_string().contains("Wrong password") {
                    Error::WrongPassword(source_name.to_owned())
                } else {
                    bad(&format!("cannot decrypt: {e}"))
                }
            })?
        } else if kdf == KDF_NONE {
            if password_env.is_some() {
                tracing::debug!(
                    "the secret key from {source_name} is not encrypted; its password is not needed"
                );
            }
            if decoded.0[CHK_RANGE].iter().all(|b| *b == 0) {
                // `minisign -G -W` leaves the checksum of an unencrypted key
                // zeroed and the crate rejects it as corrupted. There is no
                // checksum to compare, so accept the key here and rely on the
                // signing self-check below, which catches a damaged key.
                tracing::debug!(
                    "the secret key from {source_name} has no checksum (made by `minisign -G -W`)"
                );
                SecretKey::from_bytes(&decoded.0).map_err(|_| bad("not a minisign secret key"))?
            } else {
                SecretKey::from_unencrypted_box(sk_box())
                    .map_err(|_| bad("corrupted secret key (checksum mismatch)"))?
            }
        } else {
            return Err(bad("unsupported key encryption algorithm"));
        };
        let pk = PublicKey::from_secret_key(&sk).map_err(|_| bad("corrupted secret key"))?;
        // Self-check: the crate verifies the comment signature with the public
        // half embedded in the key, so a damaged secret scalar fails here.
        minisign::sign(
            Some(&pk),
            &sk,
            Cursor::new(b"relkit self-check"),
            Some("self-check"),
            None,
        )
        .map_err(|_| bad("corrupted secret key (it does not match its own public key)"))?;
        let signer = MinisignSigner { sk, pk };
        tracing::debug!(
            "loaded minisign secret key {} from {source_name}",
            signer.key_id()
        );
        Ok(signer)
    }

    /// Prehashed signature file contents for `file` (the .minisig text).
    /// Without `trusted_comment`, the comment names the file, its sha256 and
    /// the time (`SOURCE_DATE_EPOCH` when set, else now).
    pub fn sign(&self, file: &Path, trusted_comment: Option<&str>) -> Result<String, Error> {
        let comment = match trusted_comment {
            Some(c) if c.contains(['\n', '\r']) => {
                return Err(
                    relkit_core::Error::invalid("--trusted-comment", "must be one line").into(),
                );
            }
            Some(c) => c.to_owned(),
            None => default_trusted_comment(file)?,
        };
        let reader = hash::open_regular(file)?;
        let untrusted = format!("signature from relkit-sign, minisign key {}", self.key_id());
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            reader,
            Some(&comment),
            Some(&untrusted),
        )
        .map_err(|e| Error::Sign {
            path: file.to_path_buf(),
            message: e.to_string(),
        })?;
        tracing::debug!(
            "signed `{}` with minisign key {}",
            file.display(),
            self.key_id()
        );
        Ok(sig.into_string())
    }

    /// Key id, upper-case hex as minisign prints it.
    pub fn key_id(&self) -> String {
        key_id_hex(self.pk.keynum())
    }

    /// The public key as the `RW…` base64 string.
    pub fn public_key_base64(&self) -> String {
        self.pk.to_base64()
    }
}

/// `timestamp:<t>\tfile:<name>\thashed\tsha256:<hex>`, the minisign CLI's
/// default comment plus the file's sha256.
fn default_trusted_comment(file: &Path) -> Result<String, Error> {
    let digest = hash::hash_file(file, Algo::Sha256, |_| {})?;
    let epoch = match std::env::var(relkit_core::buildtime::SOURCE_DATE_EPOCH) {
        Ok(raw) => relkit_core::buildtime::parse_epoch(&raw)?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    let name = file
        .file_name()
        .map_or_else(|| file.to_string_lossy(), |n| n.to_string_lossy());
    Ok(format!(
        "timestamp:{epoch}\tfile:{name}\thashed\tsha256:{}",
        digest.hex
    ))
}

/// The base64 line of a key: the second line of a key file, or the only line.
fn key_line(text: &str) -> Option<&str> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    if first.starts_with("untrusted comment:") {
        lines.next()
    } else {
        Some(first)
    }
}

fn key_id_hex(keynum: &[u8]) -> String {
    let mut le = [0u8; 8];
    le.copy_from_slice(&keynum[..8]);
    // The minisign CLI prints the id without zero padding (`%PRIX64`).
    format!("{:X}", u64::from_le_bytes(le))
}

struct ZeroOnDrop(Vec<u8>);

impl Drop for ZeroOnDrop {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

/// A minisign public key, parsed once to check many signatures.
#[derive(Debug, Clone)]
pub struct MinisignPublicKey(PublicKey);

impl MinisignPublicKey {
    /// Parse the `RW…` base64 string or the text of a `.pub` file;
    /// `source_name` names where it came from in errors (e.g. `` `minisign.pub` ``).
    pub fn parse(text: &str, source_name: &str) -> Result<Self, Error> {
        let bad = |message: &str| Error::PublicKey {
            source_name: source_name.to_owned(),
            message: message.to_owned(),
        };
        let line = key_line(text).ok_or_else(|| bad("empty"))?;
        let pk = PublicKey::from_base64(line)
            .map_err(|_| bad("expected the `RW…` base64 string of a minisign public key"))?;
        if pk.to_bytes()[0..2] != *SIG_ALG {
            return Err(bad("unsupported signature algorithm"));
        }
        Ok(MinisignPublicKey(pk))
    }

    /// Key id, upper-case hex as minisign prints it.
    pub fn key_id(&self) -> String {
        key_id_hex(self.0.keynum())
    }
}

/// A verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Key id of the signer, upper-case hex.
    pub key_id: String,
    /// The trusted (signed) comment.
    pub trusted_comment: String,
}

/// Verify `sig_text` (a .minisig) over `file` with a public key (the
/// `RW…` base64 string or the text of a .pub file). Returns the key id.
pub fn verify(
    file: &Path,
    sig_text: &str,
    public_key: &str,
    allow_legacy: bool,
) -> Result<String, Error> {
    let mut sig = file.as_os_str().to_owned();
    sig.push(".minisig");
    let pk = MinisignPublicKey::parse(public_key, "public key")?;
    verify_detailed(file, Path::new(&sig), sig_text, &pk, allow_legacy).map(|v| v.key_id)
}

/// [`verify`] with a parsed key, also returning the trusted comment;
/// `sig_path` names the signature in error messages.
pub fn verify_detailed(
    file: &Path,
    sig_path: &Path,
    sig_text: &str,
    public_key: &MinisignPublicKey,
    allow_legacy: bool,
) -> Result<Verified, Error> {
    let pk = &public_key.0;
    let bad_sig = |message: String| Error::BadSignature {
        path: sig_path.to_path_buf(),
        message,
    };
    let sig = SignatureBox::from_string(sig_text).map_err(|e| bad_sig(e.to_string()))?;
    if sig.keynum().len() != 8 {
        return Err(bad_sig("bad key id".to_owned()));
    }
    // issue 10 fuzz: the minisign crate panics (slice out of range) on a
    // global signature that is not 64 bytes; the 4th line, as it reads it.
    if sig_text
        .lines()
        .nth(3)
        .map(|l| STANDARD.decode(l.trim()).map(|b| b.len()))
        != Some(Ok(64))
    {
        return Err(bad_sig("the global signature is not 64 bytes".to_owned()));
    }
    let signed_by = key_id_hex(sig.keynum());
    let expected = key_id_hex(pk.keynum());
    if signed_by != expected {
        return Err(Error::WrongKey {
            path: file.to_path_buf(),
            signed_by,
            expected,
        });
    }
    if !sig.is_prehashed() && !allow_legacy {
        return Err(Error::Legacy {
            path: file.to_path_buf(),
        });
    }
    let reader = hash::open_regular(file)?;
    minisign::verify(pk, &sig, reader, true, false, allow_legacy).map_err(|e| {
        let text = e.to_string();
        let message = if text.contains("Comment signature") {
            "the trusted comment of the signature was altered".to_owned()
        } else if text.contains("Signature verification failed") {
            "signature does not match the file (the file or its signature was altered)".to_owned()
        } else {
            format!("cannot verify: {text}")
        };
        Error::VerifyFailed {
            path: file.to_path_buf(),
            message,
        }
    })?;
    let trusted_comment = sig.trusted_comment().map_err(|e| bad_sig(e.to_string()))?;
    tracing::debug!("verified `{}` (key {signed_by})", file.display());
    Ok(Verified {
        key_id: signed_by,
        trusted_comment,
    })
}

/// Make a key pair: the secret key encrypted with the password in the
/// environment variable `password_env` (unencrypted when `None`), written
/// with mode 0600; the public key as a `.pub` file. Refuses to replace
/// existing files unless `force`. Returns the public key's `RW…` string.
pub fn keygen(
    secret_path: &Path,
    public_path: &Path,
    password_env: Option<&str>,
    force: bool,
) -> Result<String, Error> {
    if !force {
        for p in [secret_path, public_path] {
            if p.exists() {
                return Err(Error::Exists(p.to_path_buf()));
            }
        }
    }
    let password = password_env.map(Secret::from_env).transpose()?;
    let pair = match &password {
        Some(pw) => KeyPair::generate_encrypted_keypair(Some(pw.expose().to_owned())),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| Error::Keygen(e.to_string()))?;
    let comment = if password.is_some() {
        "minisign encrypted secret key"
    } else {
        "minisign secret key (NOT encrypted)"
    };
    let sk_text = Secret::quiet(
        pair.sk
            .to_box(Some(comment))
            .map_err(|e| Error::Keygen(e.to_string()))?
            .into_string(),
    );
    let pk_text = pair
        .pk
        .to_box()
        .map_err(|e| Error::Keygen(e.to_string()))?
        .into_string();

    let mut staging = Staging::new();
    staging.write(public_path, pk_text.as_bytes())?;
    // The secret key never goes through Staging (which commits files 0644):
    // it is written to a 0600 temp file in its final folder and renamed.
    let dir = match secret_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    staging.ensure_dir(&dir)?;
    // Registered so an interruption removes it (issue 10.7).
    let (mut tmp, _guard) = relkit_core::cleanup::track(
        relkit_core::cleanup::Kind::File,
        || {
            tempfile::Builder::new()
                .prefix(".relkit-key.")
                .suffix(".tmp")
                .tempfile_in(&dir)
        },
        |t| t.path().to_path_buf(),
    )
    .map_err(|e| io_at(&dir, e))?;
    set_private(tmp.path()).map_err(|e| io_at(secret_path, e))?;
    tmp.write_all(sk_text.expose().as_bytes())
        .map_err(|e| io_at(secret_path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_at(secret_path, e))?;
    let persisted = if force {
        tmp.persist(secret_path)
    } else {
        tmp.persist_noclobber(secret_path)
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Exists(secret_path.to_path_buf())
        } else {
            io_at(secret_path, e.error).into()
        }
    })?;
    if let Err(e) = staging.commit() {
        let _ = fs_err::remove_file(secret_path);
        return Err(e.into());
    }
    tracing::info!("made minisign key pair {}", key_id_hex(pair.pk.keynum()));
    Ok(pair.pk.to_base64())
}

#[cfg(unix)]
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // issue 10 fuzz: a `.minisig` whose global signature (4th line) decodes
    // to 42 bytes panicked inside the minisign crate; the fuzz target's
    // input is fuzz/corpus/minisign_signature/crash-short-global-signature.minisig.
    #[test]
    fn a_short_global_signature_is_refused_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        fs_err::write(&file, b"relkit fuzz\n").unwrap();
        let pk = MinisignPublicKey::parse(
            "RWT2oV7D3zrFxSedKzhnFPxo1MsMheSvTge8Ly2eltBX9sIRG+BKR0w0",
            "fuzz key",
        )
        .unwrap();
        let good = "untrusted comment: signature from minisign secret key\n\
            RUT2oV7D3zrFxVurGH2CUlrFih7cy7rV7fXlx6M1pFV1K5iHoqAgDnWnoq8OJny4u1008lPEj3g15Tt32jqErP+i00TaP+XeZAs=\n\
            trusted comment: timestamp:0\tfile:data\thashed\n\
            Y2Nnq8APiQy00qCOMFnRstdzOv8q51gzCzcbJbzVGLffuDdrJBM4CWd7vhdckaFNZh4Ot+j9CzER1Ba7OlBEAw==\n";
        let sig = Path::new("data.minisig");
        assert!(verify_detailed(&file, sig, good, &pk, false).is_ok());
        let short = good.replace(
            "Y2Nnq8APiQy00qCOMFnRstdzOv8q51gzCzcbJbzVGLffuDdrJBM4CWd7vhdckaFNZh4Ot+j9CzER1Ba7OlBEAw==",
            "Y2Nnq8APiQy00qCOMFnRstdzOv8q51gzCzcbza79CzER1Ba0qCOMFnRs",
        );
        let e = verify_detailed(&file, sig, &short, &pk, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the global signature is not 64 bytes"), "{e}");
    }

    #[test]
    fn key_line_takes_the_second_line_of_a_file_or_the_only_line() {
        assert_eq!(key_line("untrusted comment: x\nRWQ\n"), Some("RWQ"));
        assert_eq!(key_line("  RWQ  \n"), Some("RWQ"));
        assert_eq!(key_line("\n\n"), None);
        assert_eq!(key_line("untrusted comment: x\n"), None);
    }

    #[test]
    fn key_ids_are_little_endian_upper_hex() {
        assert_eq!(key_id_hex(&[1, 0, 0, 0, 0, 0, 0, 0xAB]), "AB00000000000001");
        // Regression: minisign prints `6EEC8E752484E73`, not `06EEC8E752484E73`.
        assert_eq!(
            key_id_hex(&[0x73, 0x4E, 0x48, 0x52, 0xE7, 0xC8, 0xEE, 0x06]),
            "6EEC8E752484E73"
        );
    }
}

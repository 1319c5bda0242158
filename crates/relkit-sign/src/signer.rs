//! One interface over every signature scheme, so the release pipeline signs
//! "the files the kind table says are signed" with whatever keys are
//! configured, without knowing minisign from gpg.

use std::path::Path;

use relkit_core::manifest::SignatureKind;

use crate::Error;
use crate::minisig::MinisignSigner;
use crate::openpgp::GpgSigner;

/// A configured signing key of one scheme.
pub trait Signer: Send + Sync {
    /// The scheme, which also decides the signature file's suffix.
    fn kind(&self) -> SignatureKind;
    /// How the manifest identifies the key (minisign key id, OpenPGP fingerprint).
    fn key_id(&self) -> Option<String>;
    /// The detached signature of `file`, as the signature file's bytes.
    fn sign_file(&self, file: &Path) -> Result<Vec<u8>, Error>;
    /// The public key, as text the matching verifier reads (minisign:
    /// the `RW…` line), when the scheme has one to hand out.
    fn public_key(&self) -> Option<String> {
        None
    }
    /// The gpg signer itself, for what only OpenPGP makes: armored and
    /// clearsigned signatures (APT and DNF repositories) and the armored
    /// public key.
    fn openpgp(&self) -> Option<&GpgSigner> {
        None
    }
}

impl Signer for MinisignSigner {
    fn kind(&self) -> SignatureKind {
        SignatureKind::Minisign
    }

    fn key_id(&self) -> Option<String> {
        Some(MinisignSigner::key_id(self))
    }

    fn sign_file(&self, file: &Path) -> Result<Vec<u8>, Error> {
        Ok(self.sign(file, None)?.into_bytes())
    }

    fn public_key(&self) -> Option<String> {
        Some(self.public_key_base64())
    }
}

impl Signer for GpgSigner {
    fn kind(&self) -> SignatureKind {
        SignatureKind::Openpgp
    }

    fn key_id(&self) -> Option<String> {
        self.fingerprint().ok()
    }

    fn sign_file(&self, file: &Path) -> Result<Vec<u8>, Error> {
        self.sign_detached(file)
    }

    fn openpgp(&self) -> Option<&GpgSigner> {
        Some(self)
    }
}

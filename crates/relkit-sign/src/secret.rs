//! Secrets held in memory: read only from environment variables, masked in
//! GitHub Actions the moment they are read, redacted from `Debug`, and
//! overwritten when dropped.

use std::fmt;

use crate::Error;

/// A secret string (a password, a passphrase, a key).
pub(crate) struct Secret(String);

impl Secret {
    /// Wrap text that is a secret, masking it in Actions logs.
    pub(crate) fn new(text: String) -> Self {
        relkit_core::gha::mask(&text);
        Secret(text)
    }

    /// Read the environment variable `name`; unset or empty is an error
    /// (an Actions secret that is not configured arrives as an empty string).
    pub(crate) fn from_env(name: &str) -> Result<Self, Error> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => {
                tracing::debug!("read a secret from environment variable `{name}`");
                Ok(Secret::new(v))
            }
            _ => Err(Error::MissingEnv(name.to_owned())),
        }
    }

    /// Wrap a secret without masking it (the caller masked what matters,
    /// or it never reaches a log).
    pub(crate) fn quiet(text: String) -> Self {
        Secret(text)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort without unsafe code: overwrite the bytes in place.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

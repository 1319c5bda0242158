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
        // Someone who passes the secret itself where its variable's name
        // belongs must not see it echoed in an error line.
        if !is_env_name(name) {
            return Err(Error::BadEnvName);
        }
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

/// Whether `name` looks like an environment variable name: letters, digits
/// and `_`, not starting with a digit, at most 256 bytes.
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 256
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for ok in ["MINISIGN_KEY", "_X", "a1"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1A", "RWQAAEIy+/=", "pass word", "x-y", "hunter2!"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Secret::quiet("hunter2".into())),
            "Secret(<redacted>)"
        );
    }
}

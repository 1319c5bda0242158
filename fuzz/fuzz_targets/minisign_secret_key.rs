//! minisign secret keys: a key file's text or only its base64 line
//! (`--secret-key`, `--secret-key-env`), unencrypted or encrypted.
//!
//! No password is given: an encrypted key stops at "needs a password" rather
//! than running scrypt with the parameters in the fuzzed key (up to the
//! minisign crate's 1 GiB memory limit per input), which would make each run
//! take seconds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relkit_sign::minisig::MinisignSigner;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(signer) = MinisignSigner::from_text(text, "`fuzz.key`", None) {
        // A loaded key signed its self-check, so its public half is whole.
        assert!(signer.public_key_base64().starts_with("RW"));
        let _ = signer.key_id();
    }
});

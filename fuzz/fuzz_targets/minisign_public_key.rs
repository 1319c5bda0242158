//! minisign public keys: the `RW…` string or a `.pub` file's text
//! (`--public-key`, `--public-key-string`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use relkit_sign::minisig::MinisignPublicKey;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pk) = MinisignPublicKey::parse(text, "`fuzz.pub`") {
        let id = pk.key_id();
        assert!(
            !id.is_empty() && id.len() <= 16,
            "a key id is 1-16 hex digits: {id}"
        );
    }
});

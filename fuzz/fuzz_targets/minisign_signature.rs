//! minisign signatures (`.minisig`): parsed and checked by `verify_detailed`
//! against a fixed file and key, with and without legacy signatures allowed.
//! The seeds are signatures of that file by that key, so the fuzzer starts
//! past the key-id check.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use relkit_sign::minisig::{MinisignPublicKey, verify_detailed};

/// The signed file's bytes (fuzz/corpus/minisign_signature/*.minisig sign it).
const DATA: &[u8] = b"relkit fuzz\n";
/// The key that made the seeds (`minisign -G -W`, then thrown away).
const PUBLIC_KEY: &str = "RWT2oV7D3zrFxSedKzhnFPxo1MsMheSvTge8Ly2eltBX9sIRG+BKR0w0";

/// The signed file, written once per machine (atomically, so parallel jobs
/// never read it half-written).
fn data_file() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join("relkit-fuzz-minisign.data");
        if std::fs::read(&path).ok().as_deref() != Some(DATA) {
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::write(&tmp, DATA).expect("write the signed file");
            std::fs::rename(&tmp, &path).expect("rename the signed file");
        }
        path
    })
}

fn key() -> &'static MinisignPublicKey {
    static KEY: OnceLock<MinisignPublicKey> = OnceLock::new();
    KEY.get_or_init(|| MinisignPublicKey::parse(PUBLIC_KEY, "fuzz key").expect("the fuzz key"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sig = Path::new("fuzz.minisig");
    let strict = verify_detailed(data_file(), sig, text, key(), false);
    let legacy = verify_detailed(data_file(), sig, text, key(), true);
    if let Ok(v) = &strict {
        assert!(
            !v.trusted_comment.contains('\n'),
            "a trusted comment is one line"
        );
        assert!(legacy.is_ok(), "allowing legacy signatures refuses none");
    }
});

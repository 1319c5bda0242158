//! `manifest.json` and `*.part.json`: what `relkit-manifest verify` and
//! `merge` (and `relkit finalize`) read, JSON then `Manifest::check`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use relkit_core::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As `Manifest::read` does after its bounded read.
    let Ok(mut m) = serde_json::from_str::<Manifest>(text) else {
        return;
    };
    let path = Path::new("fuzz.json");
    if m.check(path).is_err() {
        return;
    }
    // A manifest that passed its check survives what merge does to it.
    m.normalize();
    let json = m.to_json();
    let back: Manifest = serde_json::from_str(&json).expect("a written manifest reads back");
    assert_eq!(back, m, "a manifest round-trips through its JSON");
    back.check(path).expect("normalize keeps a manifest valid");
});

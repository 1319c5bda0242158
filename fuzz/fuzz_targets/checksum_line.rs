//! `relkit-checksum --check`: the lines of a SHA256SUMS (or SHA512SUMS,
//! B3SUMS) file, GNU `hex  name` / `hex *name` and BSD `ALGO (name) = hex`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relkit_core::hash::Algo;

fuzz_target!(|data: &[u8]| {
    // The checker refuses a SUMS file that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Split the way `check_file` does.
    let lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    for line in lines {
        for algo in [Algo::Sha256, Algo::Sha512, Algo::Blake3] {
            let Ok(parsed) = relkit_checksum::parse_line(line, algo) else {
                continue;
            };
            let algo = parsed.algo.unwrap_or(algo);
            assert!(
                relkit_core::manifest::is_hex(&parsed.hex, algo.hex_len()),
                "an accepted digest is {}'s lower-case hex: {line:?}",
                algo.name()
            );
            // A listed name is then checked before any file is opened.
            let _ = relkit_core::manifest::check_relative(&parsed.name);
        }
    }
});

//! Keep a Changelog files (`relkit dist --changelog`, `finalize`): the section of one
//! version. The input's first line is the version to look for (when it is a
//! valid one, else 1.2.0), the rest the changelog.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use relkit_core::version::Version;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, changelog) = text.split_once('\n').unwrap_or(("", text));
    let version = Version::parse("fuzz", first.trim())
        .unwrap_or_else(|_| Version::parse("fuzz", "1.2.0").expect("a valid version"));
    if let Ok(notes) =
        relkit_config::changelog::section_in(changelog, Path::new("CHANGELOG.md"), &version)
    {
        assert!(
            notes.ends_with('\n') && !notes.trim().is_empty(),
            "notes are non-empty lines"
        );
    }
});

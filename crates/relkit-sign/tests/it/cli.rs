//! Help texts and usage errors.

use crate::common::Sandbox;

#[test]
fn help_texts() {
    let sb = Sandbox::new();
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help_minisign", &["minisign", "--help"][..]),
        ("help_verify", &["verify", "--help"][..]),
        ("help_keygen", &["keygen", "--help"][..]),
        ("help_gpg", &["gpg", "--help"][..]),
    ] {
        let out = sb.relkit(args, &[]).ok();
        crate::snap!(name, out.stdout);
    }
}

#[test]
fn usage_errors_are_one_line() {
    let sb = Sandbox::new();
    let line = sb.relkit(&["verify", "f"], &[]).one_line_failure();
    crate::snap!("verify_without_key", line);
    let line = sb
        .relkit(
            &[
                "minisign",
                "--secret-key",
                "a",
                "--secret-key-env",
                "B",
                "f",
            ],
            &[],
        )
        .one_line_failure();
    crate::snap!("two_key_sources", line);
    let line = sb.relkit(&["gpg"], &[]).one_line_failure();
    crate::snap!("gpg_without_files", line);
}

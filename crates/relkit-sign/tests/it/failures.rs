//! Every failure: one clear line, exit 1, and no signature left behind.

use crate::common::{Sandbox, corrupt_key_file};

const PW: &str = "pw-for-failures";

/// Run a signing command that must fail; return its one line after checking
/// that `work` holds only `inputs` (no `.minisig`, no `.sig`, no temp file).
#[track_caller]
fn fails_leaving_nothing(
    sb: &Sandbox,
    args: &[&str],
    envs: &[(&str, &str)],
    inputs: &[&str],
) -> String {
    let line = sb.relkit(args, envs).one_line_failure();
    assert_eq!(Sandbox::ls(&sb.work), inputs, "after {args:?}");
    assert!(
        Sandbox::ls(&sb.tmp).is_empty(),
        "temp files left: {:?}",
        Sandbox::ls(&sb.tmp)
    );
    line
}

#[test]
fn tampered_file_and_wrong_public_key_fail_verification() {
    let sb = Sandbox::new();
    sb.file("f", b"original");
    let (sk, pk) = sb.cli_keygen("a", None);
    let (_, other_pk) = sb.cli_keygen("b", None);
    sb.relkit(&["minisign", "--secret-key", &sk, "f"], &[]).ok();
    sb.relkit(&["verify", "--public-key", &pk, "f"], &[]).ok();

    let wrong = sb
        .relkit(&["verify", "--public-key", &other_pk, "f"], &[])
        .one_line_failure();
    crate::snap!("wrong_public_key", wrong);

    sb.file("f", b"tampered");
    let tampered = sb
        .relkit(&["verify", "--public-key", &pk, "f"], &[])
        .one_line_failure();
    crate::snap!("tampered_file", tampered);
    assert_ne!(sb.cli_verify("f", &pk).code, 0, "the CLI agrees");

    // A trusted comment edited after signing.
    sb.file("f", b"original");
    let sig = fs_err::read_to_string(sb.work.join("f.minisig")).unwrap();
    let edited = sig.replace("file:f", "file:g");
    fs_err::write(sb.work.join("f.minisig"), edited).unwrap();
    let comment = sb
        .relkit(&["verify", "--public-key", &pk, "f"], &[])
        .one_line_failure();
    crate::snap!("tampered_trusted_comment", comment);

    // Bad public keys, garbage signature, missing signature.
    let bad_key = sb
        .relkit(&["verify", "--public-key-string", "RWnope", "f"], &[])
        .one_line_failure();
    crate::snap!("bad_public_key", bad_key);
    let no_key = sb
        .relkit(&["verify", "--public-key", "nope.pub", "f"], &[])
        .one_line_failure();
    crate::snap!("missing_public_key_file", no_key);
    fs_err::write(sb.work.join("f.minisig"), "not a signature\n").unwrap();
    let garbage = sb
        .relkit(&["verify", "--public-key", &pk, "f"], &[])
        .one_line_failure();
    crate::snap!("garbage_signature", garbage);
    fs_err::remove_file(sb.work.join("f.minisig")).unwrap();
    let missing = sb
        .relkit(&["verify", "--public-key", &pk, "f"], &[])
        .one_line_failure();
    crate::snap!("missing_signature", missing);
}

#[test]
fn wrong_or_missing_password_writes_nothing() {
    let sb = Sandbox::new();
    sb.file("f", b"x");
    let (sk, _) = sb.relkit_keygen("k", PW);
    let wrong = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", &sk, "--password-env", "PW", "f"],
        &[("PW", "not the password")],
        &["f"],
    );
    assert!(
        wrong.ends_with("k.key`: wrong password for this secret key"),
        "{wrong}"
    );
    let none = fails_leaving_nothing(&sb, &["minisign", "--secret-key", &sk, "f"], &[], &["f"]);
    assert!(none.contains("the secret key is encrypted"), "{none}");
    let unset = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", &sk, "--password-env", "PW", "f"],
        &[],
        &["f"],
    );
    crate::snap!("missing_password_env", unset);
    let empty = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", &sk, "--password-env", "PW", "f"],
        &[("PW", "")],
        &["f"],
    );
    assert_eq!(empty, unset);
}

#[test]
fn corrupted_key_files_write_nothing() {
    let sb = Sandbox::new();
    sb.file("f", b"x");

    // `minisign -W` key (no checksum): a damaged secret scalar is caught by
    // the self-check.
    let (w, _) = sb.cli_keygen("w", None);
    corrupt_key_file(&w, 70);
    let line = fails_leaving_nothing(&sb, &["minisign", "--secret-key", &w, "f"], &[], &["f"]);
    assert!(line.contains("corrupted secret key"), "{line}");

    // relkit's unencrypted key carries a checksum: damage anywhere is caught.
    let (n, np) = (sb.key("n.key"), sb.key("n.pub"));
    sb.relkit(
        &[
            "keygen",
            "--no-password",
            "--secret-key",
            &n,
            "--public-key",
            &np,
        ],
        &[],
    )
    .ok();
    corrupt_key_file(&n, 60);
    let line = fails_leaving_nothing(&sb, &["minisign", "--secret-key", &n, "f"], &[], &["f"]);
    crate::snap!("corrupted_unencrypted_key", line);

    // An encrypted key: damage looks like a wrong password (as in minisign).
    let (e, _) = sb.relkit_keygen("e", PW);
    corrupt_key_file(&e, 100);
    let line = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", &e, "--password-env", "PW", "f"],
        &[("PW", PW)],
        &["f"],
    );
    assert!(line.contains("wrong password"), "{line}");

    // Not a key at all, truncated, a missing file.
    let junk = sb.key("junk.key");
    fs_err::write(&junk, "untrusted comment: x\nRWQAAEIy\n").unwrap();
    let line = fails_leaving_nothing(&sb, &["minisign", "--secret-key", &junk, "f"], &[], &["f"]);
    assert!(
        line.ends_with("junk.key`: not a minisign secret key"),
        "{line}"
    );
    fs_err::write(&junk, "hello\n").unwrap();
    let line = fails_leaving_nothing(&sb, &["minisign", "--secret-key", &junk, "f"], &[], &["f"]);
    assert!(line.contains("not a minisign secret key"), "{line}");
    let line = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", "nope.key", "f"],
        &[],
        &["f"],
    );
    crate::snap!("missing_key_file", line);
}

#[test]
fn missing_key_env_var_writes_nothing() {
    let sb = Sandbox::new();
    sb.file("f", b"x");
    let line = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key-env", "MINISIGN_SECRET_KEY", "f"],
        &[],
        &["f"],
    );
    crate::snap!("missing_key_env", line);
    let line = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key-env", "MINISIGN_SECRET_KEY", "f"],
        &[("MINISIGN_SECRET_KEY", "garbage")],
        &["f"],
    );
    crate::snap!("garbage_key_env", line);
    let line = fails_leaving_nothing(&sb, &["minisign", "f"], &[], &["f"]);
    crate::snap!("no_key_given", line);
}

#[test]
fn one_bad_file_among_several_writes_no_signature_at_all() {
    let sb = Sandbox::new();
    sb.file("a", b"a");
    sb.file("c", b"c");
    let (sk, _) = sb.cli_keygen("w", None);
    let line = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", &sk, "a", "b", "c"],
        &[],
        &["a", "c"],
    );
    crate::snap!("missing_input", line);
    fs_err::create_dir(sb.work.join("dir")).unwrap();
    let line = fails_leaving_nothing(
        &sb,
        &["minisign", "--secret-key", &sk, "a", "dir"],
        &[],
        &["a", "c", "dir"],
    );
    assert!(line.contains("is a folder"), "{line}");
    let line = fails_leaving_nothing(
        &sb,
        &[
            "minisign",
            "--secret-key",
            &sk,
            "--trusted-comment",
            "two\nlines",
            "a",
        ],
        &[],
        &["a", "c", "dir"],
    );
    crate::snap!("multiline_trusted_comment", line);
}

#[test]
fn keygen_refuses_to_overwrite_and_needs_a_password_choice() {
    let sb = Sandbox::new();
    let (sk, pk) = (sb.key("k.key"), sb.key("k.pub"));
    let line = sb
        .relkit(&["keygen", "--secret-key", &sk, "--public-key", &pk], &[])
        .one_line_failure();
    crate::snap!("keygen_without_password_choice", line);
    let line = sb
        .relkit(
            &[
                "keygen",
                "--password-env",
                "NOPE",
                "--secret-key",
                &sk,
                "--public-key",
                &pk,
            ],
            &[],
        )
        .one_line_failure();
    assert!(line.contains("`NOPE` is not set"), "{line}");
    assert!(
        Sandbox::ls(&sb.keys).is_empty(),
        "{:?}",
        Sandbox::ls(&sb.keys)
    );

    sb.relkit(
        &[
            "keygen",
            "--no-password",
            "--secret-key",
            &sk,
            "--public-key",
            &pk,
        ],
        &[],
    )
    .ok();
    let before = fs_err::read(&sk).unwrap();
    let line = sb
        .relkit(
            &[
                "keygen",
                "--no-password",
                "--secret-key",
                &sk,
                "--public-key",
                &pk,
            ],
            &[],
        )
        .one_line_failure();
    assert!(
        line.ends_with("k.key`: already exists; pass --force to replace it"),
        "{line}"
    );
    assert_eq!(fs_err::read(&sk).unwrap(), before);
    sb.relkit(
        &[
            "keygen",
            "--no-password",
            "--force",
            "--secret-key",
            &sk,
            "--public-key",
            &pk,
        ],
        &[],
    )
    .ok();
    assert_ne!(fs_err::read(&sk).unwrap(), before);
    assert_eq!(Sandbox::ls(&sb.keys), ["k.key", "k.pub"]);
}

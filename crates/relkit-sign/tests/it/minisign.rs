//! Interop with the real minisign CLI, both ways, and the library API.

use std::path::Path;

use relkit_sign::minisig::{self, MinisignSigner};

use crate::common::{Sandbox, mode};

const PW: &str = "correct horse battery staple";

#[test]
fn the_cli_verifies_signatures_made_with_relkit_keys() {
    let sb = Sandbox::new();
    sb.file("a.tar.gz", b"archive bytes");
    sb.file("SHA256SUMS", b"00  a.tar.gz\n");
    let (sk, pk) = (sb.key("r.key"), sb.key("r.pub"));
    let out = sb
        .relkit(
            &[
                "keygen",
                "--password-env",
                "PW",
                "--secret-key",
                &sk,
                "--public-key",
                &pk,
            ],
            &[("PW", PW)],
        )
        .ok();
    assert!(
        out.stdout.contains("minisign -Vm <file> -P RW"),
        "{}",
        out.stdout
    );
    assert_eq!(mode(Path::new(&sk)), 0o600, "secret key must be private");
    assert!(
        fs_err::read_to_string(&sk)
            .unwrap()
            .starts_with("untrusted comment: minisign encrypted secret key\n")
    );

    sb.relkit(
        &[
            "minisign",
            "--secret-key",
            &sk,
            "--password-env",
            "PW",
            "a.tar.gz",
            "SHA256SUMS",
        ],
        &[("PW", PW)],
    )
    .ok();
    for f in ["a.tar.gz", "SHA256SUMS"] {
        let v = sb.cli_verify(f, &pk);
        assert_eq!(v.code, 0, "minisign -V {f}: {}", v.all());
        assert!(
            v.all().contains("Signature and comment signature verified"),
            "{}",
            v.all()
        );
    }
    // And we verify our own.
    sb.relkit(
        &["verify", "--public-key", &pk, "a.tar.gz", "SHA256SUMS"],
        &[],
    )
    .ok();

    // The minisign CLI can use a key relkit made (it is the same format).
    sb.file("c.txt", b"c");
    sb.cli_sign("c.txt", &sk, Some(PW));
    sb.relkit(&["verify", "--public-key", &pk, "c.txt"], &[])
        .ok();
}

#[test]
fn unencrypted_relkit_keys_work_with_the_cli_too() {
    let sb = Sandbox::new();
    sb.file("f", b"data");
    let (sk, pk) = (sb.key("n.key"), sb.key("n.pub"));
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
    assert_eq!(mode(Path::new(&sk)), 0o600);
    sb.relkit(&["minisign", "--secret-key", &sk, "f"], &[]).ok();
    assert_eq!(sb.cli_verify("f", &pk).code, 0);
    // `minisign -W` reads it as well.
    sb.tool("minisign", &["-S", "-W", "-s", &sk, "-m", "f"], None, &[])
        .ok();
    sb.relkit(&["verify", "--public-key", &pk, "f"], &[]).ok();
}

#[test]
fn cli_keys_with_a_password_sign_with_relkit() {
    let sb = Sandbox::new();
    sb.file("f.bin", &vec![7u8; 100_000]);
    let (sk, pk) = sb.cli_keygen("cli", Some(PW));
    let out = sb
        .relkit(
            &[
                "minisign",
                "--secret-key",
                &sk,
                "--password-env",
                "PW",
                "f.bin",
            ],
            &[("PW", PW)],
        )
        .ok();
    assert_eq!(out.stdout.trim(), "f.bin.minisig");
    let v = sb.cli_verify("f.bin", &pk);
    assert_eq!(v.code, 0, "{}", v.all());
    // The key from an environment variable, as only its key line. (Each
    // load costs the CLI's 1 GiB scrypt, so the whole-file form is tested
    // with cheaper keys elsewhere.)
    let text = fs_err::read_to_string(&sk).unwrap();
    let line = text.lines().nth(1).unwrap();
    fs_err::remove_file(sb.work.join("f.bin.minisig")).unwrap();
    sb.relkit(
        &[
            "minisign",
            "--secret-key-env",
            "MINISIGN_KEY",
            "--password-env",
            "PW",
            "f.bin",
        ],
        &[("PW", PW), ("MINISIGN_KEY", line)],
    )
    .ok();
    assert_eq!(sb.cli_verify("f.bin", &pk).code, 0);
}

// Regression: `minisign -G -W` leaves the checksum of an unencrypted key
// zeroed, and the minisign crate rejects such a key as corrupted.
#[test]
fn cli_keys_without_a_password_sign_with_relkit() {
    let sb = Sandbox::new();
    sb.file("f", b"hello");
    let (sk, pk) = sb.cli_keygen("w", None);
    // No password flag at all, and a password flag that is not needed.
    sb.relkit(&["minisign", "--secret-key", &sk, "f"], &[]).ok();
    assert_eq!(sb.cli_verify("f", &pk).code, 0);
    sb.relkit(
        &["minisign", "--secret-key", &sk, "--password-env", "PW", "f"],
        &[("PW", "unused")],
    )
    .ok();
    assert_eq!(sb.cli_verify("f", &pk).code, 0);
    let key = fs_err::read_to_string(&sk).unwrap();
    sb.relkit(&["minisign", "--secret-key-env", "K", "f"], &[("K", &key)])
        .ok();
    assert_eq!(sb.cli_verify("f", &pk).code, 0);
}

#[test]
fn relkit_verifies_the_clis_signatures_and_legacy_only_on_request() {
    let sb = Sandbox::new();
    sb.file("f", b"signed by the CLI");
    let (sk, pk) = sb.cli_keygen("k", None);
    sb.tool("minisign", &["-S", "-W", "-s", &sk, "-m", "f"], None, &[])
        .ok();
    let out = sb.relkit(&["verify", "--public-key", &pk, "f"], &[]).ok();
    assert!(out.stdout.contains("file:f\thashed"), "{}", out.stdout);
    // The `RW…` string works as well as the file.
    let pub_text = fs_err::read_to_string(&pk).unwrap();
    let rw = pub_text.lines().nth(1).unwrap();
    sb.relkit(&["verify", "--public-key-string", rw, "f"], &[])
        .ok();

    sb.tool(
        "minisign",
        &["-S", "-l", "-W", "-s", &sk, "-m", "f"],
        None,
        &[],
    )
    .ok();
    let line = sb
        .relkit(&["verify", "--public-key", &pk, "f"], &[])
        .one_line_failure();
    crate::snap!("legacy_refused", line);
    sb.relkit(&["verify", "--public-key", &pk, "--allow-legacy", "f"], &[])
        .ok();
}

#[test]
fn default_trusted_comment_names_file_hash_and_source_date_epoch() {
    let sb = Sandbox::new();
    sb.file("f", b"abc");
    let (sk, pk) = sb.cli_keygen("w", None);
    sb.relkit(
        &["minisign", "--secret-key", &sk, "f"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    )
    .ok();
    let sig = fs_err::read_to_string(sb.work.join("f.minisig")).unwrap();
    assert!(
        sig.contains(
            "trusted comment: timestamp:1700000000\tfile:f\thashed\tsha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
        ),
        "{sig}"
    );
    let v = sb.cli_verify("f", &pk);
    assert!(
        v.all()
            .contains("Trusted comment: timestamp:1700000000\tfile:f"),
        "{}",
        v.all()
    );

    sb.relkit(
        &[
            "minisign",
            "--secret-key",
            &sk,
            "--trusted-comment",
            "release v1.2.3",
            "f",
        ],
        &[],
    )
    .ok();
    let v = sb.cli_verify("f", &pk);
    assert!(
        v.all().contains("Trusted comment: release v1.2.3"),
        "{}",
        v.all()
    );
}

#[test]
fn library_api_signs_and_verifies() {
    let sb = Sandbox::new();
    let file = sb.file("SHA256SUMS", b"abc  x\n");
    let (sk, pk) = sb.cli_keygen("w", None);
    let signer = MinisignSigner::from_file(Path::new(&sk), None).unwrap();
    let pub_text = fs_err::read_to_string(&pk).unwrap();
    // The key id is the one the CLI prints in the public key's comment.
    assert!(pub_text.starts_with(&format!(
        "untrusted comment: minisign public key {}\n",
        signer.key_id()
    )));
    assert!(
        !format!("{signer:?}")
            .contains(&fs_err::read_to_string(&sk).unwrap().lines().nth(1).unwrap()[60..])
    );

    let text = signer.sign(&file, Some("tc")).unwrap();
    assert_eq!(
        minisig::verify(&file, &text, &pub_text, false).unwrap(),
        signer.key_id()
    );
    let rw = pub_text.lines().nth(1).unwrap();
    assert_eq!(
        minisig::verify(&file, &text, rw, false).unwrap(),
        signer.key_id()
    );
    assert_eq!(signer.public_key_base64(), rw);
    fs_err::write(sb.work.join("SHA256SUMS.minisig"), &text).unwrap();
    assert_eq!(sb.cli_verify("SHA256SUMS", &pk).code, 0);

    fs_err::write(&file, b"abd  x\n").unwrap();
    let err = minisig::verify(&file, &text, rw, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("signature does not match the file"), "{err}");
}

#[test]
fn github_actions_outputs_and_summary() {
    let sb = Sandbox::new();
    sb.file("a", b"a");
    sb.file("b", b"b");
    let (sk, _) = sb.cli_keygen("w", None);
    let (out, summary) = (sb.root.join("output"), sb.root.join("summary"));
    let run = sb
        .relkit(
            &["minisign", "--secret-key", &sk, "a", "b"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_OUTPUT", out.to_str().unwrap()),
                ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ],
        )
        .ok();
    assert!(run.stdout.contains("::group::minisign"), "{}", run.stdout);
    let id = MinisignSigner::from_file(Path::new(&sk), None)
        .unwrap()
        .key_id();
    let outputs = fs_err::read_to_string(&out).unwrap();
    assert!(
        outputs.contains("signatures<<RELKIT_EOF_0\na.minisig\nb.minisig\nRELKIT_EOF_0\n"),
        "{outputs}"
    );
    assert!(outputs.contains(&format!("key-id={id}\n")), "{outputs}");
    let summary = fs_err::read_to_string(&summary).unwrap();
    assert!(summary.contains("- `a.minisig`"), "{summary}");
}

#[test]
fn a_secret_given_instead_of_a_variable_name_is_not_echoed() {
    let sb = Sandbox::new();
    sb.file("f", b"f");
    let (sk, _) = sb.relkit_keygen("e", "hunter2!");
    let key_line = fs_err::read_to_string(&sk)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    for (flag, value) in [
        ("--secret-key-env", key_line.as_str()),
        ("--password-env", "hunter2!"),
    ] {
        let mut args = vec!["minisign", flag, value, "f"];
        if flag == "--password-env" {
            args.splice(1..1, ["--secret-key", sk.as_str()]);
        }
        let line = sb.relkit(&args, &[]).one_line_failure();
        assert!(!line.contains(value), "{line}");
        crate::snap!("secret_instead_of_name", line);
    }
}

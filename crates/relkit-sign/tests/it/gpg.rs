//! OpenPGP signatures through gpg: `gpg --verify` accepts them, with an
//! imported key (temporary GNUPGHOME) and with a key in the user's keyring.

use crate::common::{GpgHome, Sandbox};

const PP: &str = "gpg passphrase for tests";

#[test]
fn imported_key_signs_and_gpg_verifies() {
    let sb = Sandbox::new();
    let home = GpgHome::new(&sb, "gnupg", PP);
    let key = home.export_secret(&sb);
    sb.file(
        "terraform-provider-x_1.0.0_SHA256SUMS",
        b"00  terraform-provider-x_1.0.0_linux_amd64.zip\n",
    );
    sb.file("b.txt", b"b");
    let out = sb
        .relkit(
            &[
                "gpg",
                "--import-key-env",
                "GPG_KEY",
                "--passphrase-env",
                "GPG_PASSPHRASE",
                "--export-public-key",
                "key.asc",
                "terraform-provider-x_1.0.0_SHA256SUMS",
                "b.txt",
            ],
            &[("GPG_KEY", &key), ("GPG_PASSPHRASE", PP)],
        )
        .ok();
    assert!(out.stderr.contains(&home.fingerprint), "{}", out.stderr);
    for f in ["terraform-provider-x_1.0.0_SHA256SUMS", "b.txt"] {
        let sig = fs_err::read(sb.work.join(format!("{f}.sig"))).unwrap();
        // Binary, not armored: an old-format (0x89) or new-format (0xC2) signature packet.
        assert!(
            matches!(sig[0], 0x89 | 0xC2),
            "not a binary signature packet: {:#x}",
            sig[0]
        );
        let v = home.verify(&sb, &format!("{f}.sig"), f);
        assert_eq!(v.code, 0, "{}", v.all());
        assert!(v.stderr.contains("Good signature"), "{}", v.stderr);
    }
    // The temporary GNUPGHOME is gone (TMPDIR is the sandbox's).
    assert!(
        Sandbox::ls(&sb.tmp).is_empty(),
        "{:?}",
        Sandbox::ls(&sb.tmp)
    );

    // The exported public key alone (a fresh keyring) verifies the signature.
    let fresh = sb.root.join("fresh");
    fs_err::create_dir(&fresh).unwrap();
    crate::common::set_mode(&fresh, 0o700);
    let fresh = fresh.to_str().unwrap();
    let asc = fs_err::read_to_string(sb.work.join("key.asc")).unwrap();
    assert!(
        asc.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        "{asc}"
    );
    sb.tool(
        "gpg",
        &["--homedir", fresh, "--batch", "--import", "key.asc"],
        None,
        &[],
    )
    .ok();
    let v = sb.tool(
        "gpg",
        &[
            "--homedir",
            fresh,
            "--batch",
            "--verify",
            "b.txt.sig",
            "b.txt",
        ],
        None,
        &[],
    );
    assert!(v.stderr.contains("Good signature"), "{}", v.all());
    let _ = sb.tool("gpgconf", &["--homedir", fresh, "--kill", "all"], None, &[]);

    // Tampering is detected by gpg.
    sb.file("b.txt", b"B");
    assert_ne!(home.verify(&sb, "b.txt.sig", "b.txt").code, 0);
}

#[test]
fn key_in_the_users_keyring_by_key_id() {
    let sb = Sandbox::new();
    let home = GpgHome::new(&sb, "gnupg", PP);
    sb.file("f", b"f");
    let envs = [("GNUPGHOME", home.home()), ("PP", PP)];
    sb.relkit(
        &[
            "gpg",
            "--key-id",
            &home.fingerprint,
            "--passphrase-env",
            "PP",
            "f",
        ],
        &envs,
    )
    .ok();
    assert_eq!(home.verify(&sb, "f.sig", "f").code, 0);
    // By user id, and gpg's default key.
    sb.relkit(
        &[
            "gpg",
            "--key-id",
            "test@relkit.invalid",
            "--passphrase-env",
            "PP",
            "f",
        ],
        &envs,
    )
    .ok();
    assert_eq!(home.verify(&sb, "f.sig", "f").code, 0);
    // Still binary when the user's gpg.conf asks for armor.
    fs_err::write(home.dir.join("gpg.conf"), "armor\n").unwrap();
    sb.relkit(&["gpg", "--passphrase-env", "PP", "f"], &envs)
        .ok();
    assert_eq!(home.verify(&sb, "f.sig", "f").code, 0);
    let sig = fs_err::read(sb.work.join("f.sig")).unwrap();
    assert!(matches!(sig[0], 0x89 | 0xC2), "armored: {:?}", &sig[..10]);

    let line = sb
        .relkit(
            &[
                "gpg",
                "--key-id",
                "nobody@example.invalid",
                "--passphrase-env",
                "PP",
                "f",
            ],
            &envs,
        )
        .one_line_failure();
    crate::snap!("gpg_unknown_key", line);
}

#[test]
fn unprotected_imported_key_needs_no_passphrase() {
    let sb = Sandbox::new();
    let home = GpgHome::new(&sb, "gnupg", "");
    let key = home.export_secret(&sb);
    sb.file("f", b"f");
    sb.relkit(&["gpg", "--import-key-env", "K", "f"], &[("K", &key)])
        .ok();
    assert_eq!(home.verify(&sb, "f.sig", "f").code, 0);
    assert!(Sandbox::ls(&sb.tmp).is_empty());
}

#[test]
fn gpg_failures_leave_nothing_behind() {
    let sb = Sandbox::new();
    let home = GpgHome::new(&sb, "gnupg", PP);
    let key = home.export_secret(&sb);
    sb.file("f", b"f");
    let check = |args: &[&str], envs: &[(&str, &str)]| {
        let line = sb.relkit(args, envs).one_line_failure();
        assert_eq!(Sandbox::ls(&sb.work), ["f"], "after {args:?}");
        assert!(
            Sandbox::ls(&sb.tmp).is_empty(),
            "temp GNUPGHOME left: {:?}",
            Sandbox::ls(&sb.tmp)
        );
        line
    };
    let wrong = check(
        &[
            "gpg",
            "--import-key-env",
            "K",
            "--passphrase-env",
            "PP",
            "f",
        ],
        &[("K", &key), ("PP", "wrong passphrase")],
    );
    crate::snap!("gpg_wrong_passphrase", wrong);
    let none = check(&["gpg", "--import-key-env", "K", "f"], &[("K", &key)]);
    assert!(none.starts_with("error: gpg: cannot sign `f`: "), "{none}");
    let missing = check(&["gpg", "--import-key-env", "GPG_PRIVATE_KEY", "f"], &[]);
    crate::snap!("gpg_missing_key_env", missing);
    let garbage = check(
        &["gpg", "--import-key-env", "K", "f"],
        &[("K", "not a key")],
    );
    crate::snap!("gpg_garbage_key_env", garbage);
    let public_only = sb
        .tool(
            "gpg",
            &["--homedir", home.home(), "--armor", "--export"],
            None,
            &[],
        )
        .ok()
        .stdout;
    let line = check(
        &["gpg", "--import-key-env", "K", "f"],
        &[("K", &public_only)],
    );
    crate::snap!("gpg_public_key_given", line);
    let line = check(
        &[
            "gpg",
            "--import-key-env",
            "K",
            "--passphrase-env",
            "PP",
            "missing",
        ],
        &[("K", &key), ("PP", PP)],
    );
    crate::snap!("gpg_missing_input", line);

    // No gpg at all: an internal fault (exit 2), still one line.
    let run = sb.relkit(&["gpg", "f"], &[("RELKIT_GPG", "/nonexistent/gpg")]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    crate::snap!("gpg_not_installed", run.stderr);
    assert_eq!(Sandbox::ls(&sb.work), ["f"]);
}

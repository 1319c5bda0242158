//! Canary secrets: at the most verbose log level no password, passphrase or
//! key material appears in any output, and none is left on disk.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::common::{GpgHome, Run, Sandbox, corrupt_key_file};

const PW: &str = "CANARY-pw-5b1e0c77";
const WRONG_PW: &str = "CANARY-wrong-9d2a41";
const PP: &str = "CANARY-gpg-pp-31f7aa";

/// Everything secret about a minisign key file: its key line, and for an
/// unencrypted key the secret seed in hex (as `SecretKey`'s Debug would
/// print it, and plain).
fn key_secrets(path: &str) -> Vec<String> {
    let text = fs_err::read_to_string(path).unwrap();
    let line = text.lines().nth(1).unwrap().to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&line)
        .unwrap();
    let mut out = vec![line.clone(), line[20..60].to_owned()];
    if bytes[2..4] == [0, 0] {
        let seed = &bytes[62..94];
        out.push(hex(seed));
        out.push(seed.iter().fold(String::new(), |mut s, b| {
            write!(s, "{b:x}").unwrap();
            s
        }));
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

#[track_caller]
fn assert_clean(runs: &[Run], secrets: &[String]) {
    for run in runs {
        let all = run.all();
        for s in secrets {
            assert!(
                !all.contains(s.as_str()),
                "secret `{s}` leaked in output:\n{all}"
            );
        }
    }
}

#[track_caller]
fn assert_not_on_disk(sb: &Sandbox, secrets: &[String]) {
    for (path, bytes) in sb.files_outside_keys() {
        let text = String::from_utf8_lossy(&bytes);
        for s in secrets {
            assert!(
                !text.contains(s.as_str()),
                "secret `{s}` found in `{}`",
                path.display()
            );
        }
    }
    assert!(
        Sandbox::ls(&sb.tmp).is_empty(),
        "temp files left: {:?}",
        Sandbox::ls(&sb.tmp)
    );
}

#[test]
fn minisign_secrets_never_reach_output_or_disk() {
    let sb = Sandbox::new();
    sb.file("f", b"data");
    let trace = ("RELKIT_LOG", "trace");
    let (enc, enc_pub) = sb.relkit_keygen("enc", PW);
    let (w, _) = sb.cli_keygen("w", None);
    let (made, made_pub) = (sb.key("gen.key"), sb.key("gen.pub"));
    let enc_text = fs_err::read_to_string(&enc).unwrap();
    let w_text = fs_err::read_to_string(&w).unwrap();

    let mut runs = vec![
        sb.relkit(
            &[
                "keygen",
                "--password-env",
                "PW",
                "--secret-key",
                &made,
                "--public-key",
                &made_pub,
            ],
            &[trace, ("PW", PW)],
        )
        .ok(),
        sb.relkit(
            &[
                "minisign",
                "--secret-key",
                &enc,
                "--password-env",
                "PW",
                "f",
            ],
            &[trace, ("PW", PW)],
        )
        .ok(),
        sb.relkit(
            &[
                "minisign",
                "--secret-key-env",
                "K",
                "--password-env",
                "PW",
                "f",
            ],
            &[trace, ("K", &enc_text), ("PW", PW)],
        )
        .ok(),
        sb.relkit(
            &["minisign", "--secret-key-env", "K", "f"],
            &[trace, ("K", &w_text)],
        )
        .ok(),
        sb.relkit(
            &[
                "minisign",
                "--secret-key",
                &made,
                "--password-env",
                "PW",
                "f",
            ],
            &[trace, ("PW", PW)],
        )
        .ok(),
        sb.relkit(&["verify", "--public-key", &made_pub, "f"], &[trace])
            .ok(),
    ];
    fs_err::remove_file(sb.work.join("f.minisig")).unwrap();
    runs.push(sb.relkit(
        &[
            "minisign",
            "--secret-key",
            &enc,
            "--password-env",
            "PW",
            "f",
        ],
        &[trace, ("PW", WRONG_PW)],
    ));
    runs.push(sb.relkit(
        &[
            "minisign",
            "--secret-key-env",
            "K",
            "--password-env",
            "PW",
            "f",
        ],
        &[trace, ("K", &enc_text), ("PW", WRONG_PW)],
    ));
    let mut secrets = vec![PW.to_owned(), WRONG_PW.to_owned()];
    secrets.extend(key_secrets(&enc));
    secrets.extend(key_secrets(&w));
    secrets.extend(key_secrets(&made));
    corrupt_key_file(&w, 80);
    runs.push(sb.relkit(&["minisign", "--secret-key", &w, "f"], &[trace]));
    secrets.extend(key_secrets(&w));
    for r in &runs[6..] {
        assert_eq!(r.code, 1, "{}", r.all());
    }
    // The trace level really is on.
    assert!(
        runs[1].stderr.contains("TRACE") || runs[1].stderr.contains("DEBUG"),
        "{}",
        runs[1].stderr
    );
    assert_clean(&runs, &secrets);
    assert_not_on_disk(&sb, &secrets);
    assert_eq!(Sandbox::ls(&sb.work), ["f"]);
    let _ = enc_pub;
}

#[test]
fn secrets_are_masked_in_github_actions() {
    let sb = Sandbox::new();
    sb.file("f", b"data");
    let (enc, _) = sb.relkit_keygen("enc", PW);
    let enc_text = fs_err::read_to_string(&enc).unwrap();
    let key_line = enc_text.lines().nth(1).unwrap();
    let run = sb
        .relkit(
            &[
                "minisign",
                "--secret-key-env",
                "K",
                "--password-env",
                "PW",
                "f",
            ],
            &[
                ("RELKIT_LOG", "trace"),
                ("GITHUB_ACTIONS", "true"),
                ("K", &enc_text),
                ("PW", PW),
            ],
        )
        .ok();
    for secret in [PW, key_line] {
        assert!(
            run.stdout.contains(&format!("::add-mask::{secret}\n")),
            "`{secret}` not masked:\n{}",
            run.stdout
        );
        for line in run.all().lines().filter(|l| l.contains(secret)) {
            assert!(line.starts_with("::add-mask::"), "unmasked: {line}");
        }
    }
    // A failure is reported as an annotation, still without the secret.
    let run = sb.relkit(
        &[
            "minisign",
            "--secret-key-env",
            "K",
            "--password-env",
            "PW",
            "f",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("K", &enc_text),
            ("PW", WRONG_PW),
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("::error::environment variable `K`: wrong password"),
        "{}",
        run.stdout
    );
    for line in run
        .all()
        .lines()
        .filter(|l| l.contains(WRONG_PW) || l.contains(key_line))
    {
        assert!(line.starts_with("::add-mask::"), "unmasked: {line}");
    }
}

#[test]
fn gpg_secrets_never_reach_output_or_disk() {
    let sb = Sandbox::new();
    let home = GpgHome::new(&sb, "gnupg", PP);
    let key = home.export_secret(&sb);
    sb.file("f", b"data");
    let trace = ("RELKIT_LOG", "trace");
    let runs = vec![
        sb.relkit(
            &[
                "gpg",
                "--import-key-env",
                "K",
                "--passphrase-env",
                "PP",
                "f",
            ],
            &[trace, ("K", &key), ("PP", PP)],
        )
        .ok(),
        sb.relkit(
            &[
                "gpg",
                "--import-key-env",
                "K",
                "--passphrase-env",
                "PP",
                "g",
            ],
            &[trace, ("K", &key), ("PP", PP)],
        ),
        sb.relkit(
            &[
                "gpg",
                "--import-key-env",
                "K",
                "--passphrase-env",
                "PP",
                "f",
            ],
            &[trace, ("K", &key), ("PP", WRONG_PW)],
        ),
    ];
    assert_eq!(runs[2].code, 1);
    assert!(runs[0].stderr.contains("TRACE"), "{}", runs[0].stderr);
    let mut secrets = vec![PP.to_owned(), WRONG_PW.to_owned()];
    // The armored key's body lines (the header and checksum line are not secret).
    secrets.extend(key.lines().filter(|l| l.len() >= 60).map(str::to_owned));
    assert!(secrets.len() > 10, "{key}");
    assert_clean(&runs, &secrets);
    assert_not_on_disk(&sb, &secrets);
    assert_eq!(home.verify(&sb, "f.sig", "f").code, 0);
}

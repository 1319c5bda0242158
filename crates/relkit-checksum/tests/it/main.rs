//! relkit-checksum end to end: `sha256sum -c` (and sha512sum) accept what we
//! write; `--check` reports every flipped byte, missing file and malformed
//! line; bad inputs fail with one line and write nothing.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;

const BIN: &str = env!("CARGO_BIN_EXE_relkit-checksum");

fn files(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for (i, name) in ["b.tar.gz", "a.zip", "c with space.bin", "empty"]
        .iter()
        .enumerate()
    {
        let len = if *name == "empty" {
            0
        } else {
            100_000 * (i + 1)
        };
        kit::write(
            &dir.join(name),
            &kit::bytes(len, u32::try_from(i).unwrap() + 7),
            0o644,
        );
        names.push((*name).to_owned());
    }
    names
}

fn checksum(dir: &Path, args: &[&str]) -> std::process::Output {
    kit::run(kit::command(BIN).current_dir(dir).args(args))
}

#[test]
fn sha256sum_accepts_sums_and_sidecars() {
    kit::require("sha256sum");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = files(d);
    let mut args = vec!["--sidecar"];
    args.extend(names.iter().map(String::as_str));
    let out = checksum(d, &args);
    assert!(out.status.success(), "{}", kit::render(&out, d));
    let sums = fs_err::read_to_string(d.join("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        listed,
        ["a.zip", "b.tar.gz", "c with space.bin", "empty"],
        "sorted by name"
    );
    assert!(
        sums.lines().all(|l| l.as_bytes()[64..66] == *b"  "),
        "two spaces, never ` *`"
    );
    let ok = kit::run_ok(Command::new("sha256sum").current_dir(d).args([
        "-c",
        "--strict",
        "SHA256SUMS",
    ]));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).matches(": OK").count(),
        4
    );
    for name in &names {
        kit::run_ok(Command::new("sha256sum").current_dir(d).args([
            "-c",
            "--strict",
            &format!("{name}.sha256"),
        ]));
    }
    // Our own --check agrees.
    let own = checksum(d, &["--check", "SHA256SUMS"]);
    assert!(own.status.success(), "{}", kit::render(&own, d));
}

#[test]
fn sha512_and_blake3() {
    kit::require("sha512sum");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    files(d);
    let out = checksum(d, &["--algo", "sha512", "a.zip", "empty"]);
    assert!(out.status.success());
    kit::run_ok(
        Command::new("sha512sum")
            .current_dir(d)
            .args(["-c", "--strict", "SHA512SUMS"]),
    );
    let out = checksum(d, &["--algo", "blake3", "-o", "B3", "empty"]);
    assert!(out.status.success());
    assert_eq!(
        fs_err::read_to_string(d.join("B3")).unwrap(),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  empty\n"
    );
    let own = checksum(d, &["--algo", "blake3", "--check", "B3"]);
    assert!(own.status.success());
}

#[test]
fn check_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = files(d);
    let mut args: Vec<&str> = names.iter().map(String::as_str).collect();
    args.extend(["-o", "SHA256SUMS"]);
    assert!(checksum(d, &args).status.success());
    // Flip one byte, delete one file, add malformed lines, and a BSD line.
    let mut bytes = fs_err::read(d.join("b.tar.gz")).unwrap();
    bytes[5000] ^= 1;
    fs_err::write(d.join("b.tar.gz"), bytes).unwrap();
    fs_err::remove_file(d.join("empty")).unwrap();
    let mut sums = fs_err::read_to_string(d.join("SHA256SUMS")).unwrap();
    let a_hex = sums.lines().next().unwrap()[..64].to_owned();
    sums.push_str("not a checksum line\n");
    sums.push_str(&("0".repeat(64) + "  ../escape\n"));
    sums.push_str(&("SHA256 (a.zip) = ".to_owned() + &a_hex.to_uppercase() + "\n"));
    fs_err::write(d.join("SHA256SUMS"), sums).unwrap();
    let out = checksum(d, &["--check", "SHA256SUMS"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(kit::render(&out, d));
}

#[test]
fn bad_inputs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    files(d);
    fs_err::create_dir(d.join("sub")).unwrap();
    kit::write(&d.join("sub/a.zip"), b"other", 0o644);
    kit::write(&d.join("blocker"), b"x", 0o644);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("missing", vec!["a.zip", "nope"]),
        ("directory", vec!["a.zip", "sub"]),
        ("same_name_twice", vec!["a.zip", "sub/a.zip"]),
        ("unwritable_output", vec!["-o", "blocker/SUMS", "a.zip"]),
        ("unknown_algo", vec!["--algo", "md5", "a.zip"]),
        ("check_missing_sums_file", vec!["--check", "NOSUMS"]),
        ("no_files", vec![]),
    ];
    let before = kit::files_in(d);
    for (name, args) in cases {
        let out = checksum(d, &args);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{name}"
        );
        insta::assert_snapshot!(name, kit::render(&out, d));
        assert_eq!(kit::files_in(d), before, "{name} left files behind");
    }
    fs_err::write(d.join("EMPTY_SUMS"), "\n\n").unwrap();
    let out = checksum(d, &["--check", "EMPTY_SUMS"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no checksum lines"));
}

#[test]
fn many_files_hash_in_parallel_and_match_sha256sum() {
    kit::require("sha256sum");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args = Vec::new();
    for i in 0..64u32 {
        let name = format!("f{i:02}");
        kit::write(
            &d.join(&name),
            &kit::bytes(20_000 + i as usize * 977, i + 1),
            0o644,
        );
        args.push(name);
    }
    let out = checksum(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success());
    let theirs = kit::run_ok(Command::new("sha256sum").current_dir(d).args(&args));
    assert_eq!(
        fs_err::read_to_string(d.join("SHA256SUMS")).unwrap(),
        String::from_utf8_lossy(&theirs.stdout)
    );
}

/// issue 11: a user who downloaded one platform's archive checks it against
/// the release's SHA256SUMS as with `sha256sum --check --ignore-missing`.
#[test]
fn check_ignore_missing_checks_what_is_there() {
    kit::require("sha256sum");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = files(d);
    let mut args: Vec<&str> = names.iter().map(String::as_str).collect();
    args.insert(0, "--output=SHA256SUMS");
    assert!(checksum(d, &args).status.success());
    fs_err::remove_file(d.join("a.zip")).unwrap();
    fs_err::remove_file(d.join("empty")).unwrap();
    // Without the flag the missing files fail, as with sha256sum.
    let strict = checksum(d, &["--check", "SHA256SUMS"]);
    assert_eq!(strict.status.code(), Some(1));
    let ours = checksum(d, &["--check", "SHA256SUMS", "--ignore-missing"]);
    assert!(ours.status.success(), "{}", kit::render(&ours, d));
    let text = String::from_utf8_lossy(&ours.stdout);
    assert_eq!(text.matches(": OK").count(), 2, "{text}");
    assert!(!text.contains("a.zip"), "{text}");
    let gnu = kit::run(Command::new("sha256sum").current_dir(d).args([
        "--check",
        "--ignore-missing",
        "SHA256SUMS",
    ]));
    assert!(gnu.status.success());
    // A flipped byte still fails; and with nothing here, nothing is checked: an error.
    let mut b = fs_err::read(d.join("b.tar.gz")).unwrap();
    b[10] ^= 1;
    fs_err::write(d.join("b.tar.gz"), b).unwrap();
    let bad = checksum(d, &["--check", "SHA256SUMS", "--ignore-missing"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("b.tar.gz: FAILED"));
    for n in ["b.tar.gz", "c with space.bin"] {
        fs_err::remove_file(d.join(n)).unwrap();
    }
    let none = checksum(d, &["--check", "SHA256SUMS", "--ignore-missing"]);
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("nothing was checked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

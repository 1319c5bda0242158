//! Every bad input: one clear line on stderr, exit 1, nothing left in the
//! output folder.

use std::path::Path;
use std::process::Command;

use relkit_testkit as kit;

/// Run relkit-package in `dir` with `args`, assert it fails cleanly, and
/// return the rendered output for a snapshot.
fn fails(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = kit::command(crate::BIN);
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = kit::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, dir));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out_dir = dir.join("out");
    assert!(
        !out_dir.exists() || kit::files_in(&out_dir).is_empty(),
        "left behind: {:?}",
        kit::files_in(&out_dir)
    );
    kit::render(&out, dir)
}

fn base<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    to("out", extra)
}

/// Arguments for a valid run of `tool` into `out`, with `flag` set to `value`.
fn set<'a>(flag: &str, value: &'a str) -> Vec<&'a str> {
    let mut v = to("out", &["tool"]);
    let i = v.iter().position(|a| *a == flag).expect("a known flag");
    v[i + 1] = value;
    v
}

/// Arguments for a valid run into `out`, plus `extra`.
fn to<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--name",
        "tool",
        "--version",
        "1.0.0",
        "--target",
        "x86_64-unknown-linux-gnu",
        "-o",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    kit::write(&dir.path().join("tool"), b"bin", 0o755);
    kit::write(&dir.path().join("other/tool"), b"other", 0o755);
    fs_err::create_dir(dir.path().join("adir")).unwrap();
    dir
}

/// A case name, its arguments and its extra environment.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);

#[test]
fn bad_inputs() {
    let dir = setup();
    let d = dir.path();
    std::os::unix::fs::symlink("/etc/hostname", d.join("escape")).unwrap();
    std::os::unix::fs::symlink("tool", d.join("inside")).unwrap();
    let cases: Vec<Case> = vec![
        ("missing_file", base(&["nope"]), vec![]),
        ("directory_as_binary", base(&["adir"]), vec![]),
        ("empty_name", set("--name", ""), vec![]),
        ("name_with_slash", set("--name", "a/b"), vec![]),
        ("name_with_dotdot", set("--name", ".."), vec![]),
        ("invalid_version", set("--version", "1.0"), vec![]),
        ("unknown_target", set("--target", "sparc-sun-os"), vec![]),
        ("unknown_format", base(&["--format", "rar", "tool"]), vec![]),
        (
            "same_file_name_twice",
            base(&["tool", "other/tool"]),
            vec![],
        ),
        (
            "include_clashes_with_binary",
            base(&["--include", "other/tool", "tool"]),
            vec![],
        ),
        (
            "non_numeric_epoch",
            base(&["tool"]),
            vec![("SOURCE_DATE_EPOCH", "yesterday")],
        ),
        ("symlink_pointing_outside", base(&["escape"]), vec![]),
        (
            "missing_include",
            base(&["--include", "NOPE.md", "tool"]),
            vec![],
        ),
        ("no_binaries", base(&[]), vec![]),
    ];
    for (name, args, env) in cases {
        let rendered = fails(d, &args, &env);
        insta::assert_snapshot!(name, rendered);
    }
    // A symlink that stays in its folder is fine.
    kit::run_ok(
        kit::command(crate::BIN)
            .current_dir(d)
            .args(base(&["inside"])),
    );
}

#[test]
fn output_folder_that_cannot_be_written() {
    let dir = setup();
    let d = dir.path();
    kit::write(&d.join("blocker"), b"a file, not a folder", 0o644);
    let args = to("blocker/out", &["tool"]);
    let mut cmd = kit::command(crate::BIN);
    let out = kit::run(cmd.current_dir(d).args(args));
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(kit::render(&out, d));
    assert_eq!(
        fs_err::read(d.join("blocker")).unwrap(),
        b"a file, not a folder"
    );

    // A read-only folder, as an unprivileged user (root ignores modes).
    fs_err::create_dir(d.join("ro")).unwrap();
    kit::set_mode(&d.join("ro"), 0o555);
    let out = as_unprivileged(d, &to("ro", &["tool"]));
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`ro`: cannot write here"), "{stderr}");
    assert!(kit::files_in(&d.join("ro")).is_empty());
}

#[test]
fn unreadable_binary() {
    let dir = setup();
    let d = dir.path();
    kit::set_mode(&d.join("tool"), 0o000);
    let out = as_unprivileged(d, &to("out", &["tool"]));
    assert_eq!(out.status.code(), Some(1), "{}", kit::render(&out, d));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1);
    assert!(
        stderr.contains("tool") && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(!d.join("out").exists() || kit::files_in(&d.join("out")).is_empty());
}

/// Run relkit-package as `nobody` when we are root (so file modes bind),
/// or as ourselves otherwise.
fn as_unprivileged(dir: &Path, args: &[&str]) -> std::process::Output {
    kit::set_mode(dir, 0o777);
    let mut cmd = if kit::is_root() {
        kit::require("setpriv");
        let mut c = kit::command("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            crate::BIN,
        ]);
        c
    } else {
        kit::command(crate::BIN)
    };
    kit::run(cmd.current_dir(dir).args(args))
}

#[test]
fn help_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let help = kit::run(kit::command(crate::BIN).arg("--help"));
    insta::assert_snapshot!("help", kit::render(&help, dir.path()));
    let usage = kit::run(kit::command(crate::BIN).arg("--bogus"));
    assert_eq!(usage.status.code(), Some(1));
    insta::assert_snapshot!("usage_error", kit::render(&usage, dir.path()));
    let _ = Command::new("true");
}

// issue 10.8: a `+build` version, a unicode --name and a binary named with a
// newline were accepted here and refused only by release-upload, after the
// whole build; a 300-character --name was blamed on the output folder
// ("File name too long").
#[test]
fn names_github_would_rename_or_no_file_system_takes() {
    let dir = setup();
    let d = dir.path();
    kit::write(&d.join("to\nol"), b"bin", 0o755);
    kit::write(&d.join("tööl"), b"bin", 0o755);
    let long = "n".repeat(300);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            set("--version", "1.0.0+build.5"),
            "error: --version: `1.0.0+build.5` carries build metadata `+build.5`",
        ),
        (
            set("--name", "outil-é"),
            "error: --name: `outil-é` would be renamed `outil-` by GitHub",
        ),
        (
            base(&["to\nol"]),
            "error: `to\\nol`: has control characters in its file name",
        ),
        (base(&["tööl"]), "`tööl` would be renamed `t..l` by GitHub"),
        (set("--name", &long), "error: --name: `nnnnn"),
    ];
    for (args, expect) in cases {
        let rendered = fails(d, &args, &[]);
        assert!(rendered.contains(expect), "{args:?}: {rendered}");
        assert!(!rendered.contains("File name too long"), "{rendered}");
    }
    let rendered = fails(d, &set("--name", &long), &[]);
    assert!(rendered.contains("is too long"), "{rendered}");
}

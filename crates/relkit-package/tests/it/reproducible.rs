//! The same inputs give the same bytes whatever the folder, umask, file
//! times and owners; a different SOURCE_DATE_EPOCH gives different bytes.

use std::process::Command;

use relkit_testkit as kit;

use crate::{FORMATS, Project};

/// Make the second project differ in everything that must not matter:
/// file times, group/other permission bits, and (as root) owners.
fn disturb(project: &Project) {
    let p = project.path();
    kit::run_ok(
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(p.join("README.md"))
            .arg(p.join("bin/mytool")),
    );
    kit::set_mode(&p.join("README.md"), 0o600);
    kit::set_mode(&p.join("LICENSE"), 0o666);
    kit::set_mode(&p.join("bin/mytool"), 0o700);
    if kit::is_root() {
        kit::run_ok(Command::new("chown").args(["-R", "nobody:nogroup"]).arg(p));
    }
}

#[test]
fn same_inputs_same_bytes_for_every_format() {
    let a = Project::new();
    let b = Project::new();
    disturb(&b);
    for format in FORMATS {
        assert!(a.package(format, "out", &[]).status.success());
        // A different umask for the second run.
        let mut cmd = kit::command("sh");
        cmd.current_dir(b.path()).args([
            "-c",
            &format!(
                "umask 077 && exec {} --name mytool --version v1.2.3 --target x86_64-unknown-linux-gnu \
                 --format {format} --output-dir out --include README.md --include LICENSE --include completions \
                 bin/mytool bin/mytool-helper",
                crate::BIN
            ),
        ]);
        kit::run_ok(&mut cmd);
        let (x, y) = (
            fs_err::read(a.archive("out", format)).unwrap(),
            fs_err::read(b.archive("out", format)).unwrap(),
        );
        assert!(x == y, "{format}: archives differ between the two folders");
        let part = |p: &Project| {
            fs_err::read(
                p.path()
                    .join("out/mytool-1.2.3-x86_64-unknown-linux-gnu.part.json"),
            )
            .unwrap()
        };
        assert_eq!(part(&a), part(&b), "{format}: manifest parts differ");
    }
}

#[test]
fn a_different_build_time_changes_the_bytes() {
    let project = Project::new();
    for format in FORMATS {
        assert!(project.package(format, "one", &[]).status.success());
        let mut cmd = kit::command(crate::BIN);
        cmd.current_dir(project.path())
            .env("SOURCE_DATE_EPOCH", "1600000000")
            .args([
                "--name",
                "mytool",
                "--version",
                "v1.2.3",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--format",
                format,
                "--output-dir",
                "two",
                "--include",
                "README.md",
                "--include",
                "LICENSE",
                "--include",
                "completions",
                "bin/mytool",
                "bin/mytool-helper",
            ]);
        kit::run_ok(&mut cmd);
        let one = fs_err::read(project.archive("one", format)).unwrap();
        let two = fs_err::read(project.archive("two", format)).unwrap();
        assert_ne!(
            one, two,
            "{format}: SOURCE_DATE_EPOCH must reach the archive"
        );
    }
}

#[test]
fn without_source_date_epoch_the_commit_time_is_used() {
    kit::require("git");
    let project = Project::new();
    let p = project.path();
    let git = |args: &[&str]| {
        kit::run_ok(
            Command::new("git")
                .current_dir(p)
                .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
                .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args),
        )
    };
    git(&["init", "-q"]);
    git(&["add", "README.md"]);
    git(&["commit", "-q", "-m", "x"]);
    let mut cmd = kit::command(crate::BIN);
    cmd.current_dir(p).env_remove("SOURCE_DATE_EPOCH").args([
        "--name",
        "mytool",
        "--version",
        "1.2.3",
        "--target",
        "x86_64-unknown-linux-gnu",
        "-o",
        "out",
        "bin/mytool",
    ]);
    kit::run_ok(&mut cmd);
    let part =
        fs_err::read_to_string(p.join("out/mytool-1.2.3-x86_64-unknown-linux-gnu.part.json"))
            .unwrap();
    assert!(
        part.contains("\"build_timestamp\": \"2020-01-01T00:00:00Z\""),
        "{part}"
    );
}

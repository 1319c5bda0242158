//! In GitHub Actions: outputs in $GITHUB_OUTPUT, the artifact table in
//! $GITHUB_STEP_SUMMARY, a log group, and failures as `::error::` lines.

use relkit_testkit as kit;

#[test]
fn outputs_summary_group_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kit::write(&d.join("tool"), b"binary", 0o755);
    let (output, summary) = (d.join("gh_output"), d.join("gh_summary"));
    let run = |args: &[&str]| {
        let mut cmd = kit::command(crate::BIN);
        cmd.current_dir(d)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(args);
        kit::run(&mut cmd)
    };
    let ok = run(&[
        "--name",
        "tool",
        "--version",
        "1.0.0",
        "--target",
        "linux/arm64",
        "-o",
        "out",
        "tool",
    ]);
    assert!(ok.status.success(), "{}", kit::render(&ok, d));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.starts_with("::group::relkit-package tool-1.0.0-linux-arm64\n"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("::endgroup::"), "{stdout}");

    let outputs = fs_err::read_to_string(&output).unwrap();
    let sha = fs_err::read_to_string(d.join("out/tool-1.0.0-linux-arm64.tar.gz.sha256")).unwrap();
    let sha = sha.split_whitespace().next().unwrap();
    assert_eq!(
        outputs,
        format!(
            "archive=out/tool-1.0.0-linux-arm64.tar.gz\nsha256={sha}\npart=out/tool-1.0.0-linux-arm64.part.json\n"
        )
    );
    let table = fs_err::read_to_string(&summary).unwrap();
    assert!(
        table.contains("| name | target | size | sha256 |"),
        "{table}"
    );
    assert!(
        table.contains("| `tool-1.0.0-linux-arm64.tar.gz` | linux-arm64 |"),
        "{table}"
    );
    assert!(table.contains(&format!("`{sha}` |")), "{table}");

    // A failure is an annotation on stdout, percent-escaped, exit 1.
    let bad = run(&[
        "--name",
        "tool",
        "--version",
        "1.0.0",
        "--target",
        "linux/arm64",
        "-o",
        "out",
        "100%missing",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("::error::`100%25missing`: no such file\n"),
        "{stdout}"
    );
}

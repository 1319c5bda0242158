//! The binary as users run it: help text, the token never printed even at
//! trace level, GitHub Actions outputs and step summary.

use std::process::Command;

use clap::CommandFactory;
use relkit_fake_github::{Config, Fault, FaultRule};
use relkit_release_upload::Cli;

use crate::{fake_with, the_release, write_files};

const CANARY: &str = "ghp_CANARY0123456789abcdefCANARY";

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relkit-release-upload"));
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITHUB_REF",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
        "CI",
    ] {
        c.env_remove(var);
    }
    c.env("RELKIT_RETRY_BASE_MS", "1")
        .env("RELKIT_GIVE_UP_SECS", "20");
    c
}

#[test]
fn help_text() {
    let help = Cli::command()
        .term_width(100)
        .render_long_help()
        .to_string();
    insta::assert_snapshot!("help", help);
    let sub = Cli::command()
        .term_width(100)
        .find_subcommand_mut("publish")
        .unwrap()
        .render_long_help()
        .to_string();
    insta::assert_snapshot!("help_publish", sub);
}

#[test]
fn canary_token_never_appears_at_trace_level() {
    let fake = fake_with(Config {
        token: CANARY.into(),
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a"), ("b.bin", b"b")]);
    // Faults make the retry and error paths log too.
    fake.add_fault(
        FaultRule::new(Fault::Status(502))
            .method(http::Method::POST)
            .path("/assets"),
    );
    fake.add_fault(
        FaultRule::new(Fault::DropMidUpload)
            .method(http::Method::POST)
            .path("/assets")
            .nth(2),
    );
    let run = |extra: &[&str], token: &str| {
        let out = bin()
            .env("RELKIT_LOG", "trace")
            .env("GITHUB_TOKEN", token)
            .args([
                "--repo",
                "octo/demo",
                "--api-url",
                &fake.api_url(),
                "--tag",
                "v1.0.0",
            ])
            .args(extra)
            .args(&paths)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = run(&[], CANARY);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "trace logging is on: {text}"
    );
    assert!(!text.contains(CANARY), "token leaked:\n{text}");
    assert!(!text.contains("CANARY"), "token leaked:\n{text}");
    // A wrong token: GitHub's 401 is reported without echoing any token.
    let wrong = format!("{CANARY}x");
    let (code, text) = run(&["--give-up-secs", "1"], &wrong);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains("CANARY"), "token leaked:\n{text}");
    assert!(text.contains("401"), "{text}");
}

// issue 10.5: the download path (no digest, a redirect to another host) logs
// no token at trace level either.
#[test]
fn canary_token_never_appears_on_the_download_path() {
    let fake = fake_with(Config {
        token: CANARY.into(),
        omit_digest: true,
        redirect_downloads: true,
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("a.bin", b"a")]);
    for _ in 0..2 {
        let out = bin()
            .env("RELKIT_LOG", "trace")
            .env("GITHUB_TOKEN", CANARY)
            .args([
                "--repo",
                "octo/demo",
                "--api-url",
                &fake.api_url(),
                "--tag",
                "v1.0.0",
            ])
            .args(&paths)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(!text.contains("CANARY"), "token leaked:\n{text}");
    }
    assert!(
        fake.request_log()
            .iter()
            .any(|l| l.path.starts_with("/cdn/") && !l.authenticated)
    );
}

#[test]
fn actions_outputs_summary_and_mask() {
    let fake = fake_with(Config::default());
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(
        &dir.path().join("dist"),
        &[("a.bin", b"a"), ("b.bin", b"bb")],
    );
    let output = dir.path().join("out");
    let summary = dir.path().join("summary.md");
    let out = bin()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_TOKEN", "test-token")
        .env("GITHUB_REPOSITORY", "octo/demo")
        .env("GITHUB_REF", "refs/tags/v1.2.3")
        .env("GITHUB_API_URL", fake.api_url())
        .args(&paths)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("::add-mask::test-token"), "{stdout}");
    let r = the_release(&fake, "v1.2.3");
    assert!(!r.draft);
    let outputs = fs_err::read_to_string(&output).unwrap();
    assert!(
        outputs.contains(&format!("release-id={}\n", r.id)),
        "{outputs}"
    );
    assert!(outputs.contains("html-url=http"), "{outputs}");
    assert!(outputs.contains("upload-url=http"), "{outputs}");
    let assets_line = outputs
        .lines()
        .find_map(|l| l.strip_prefix("assets="))
        .expect("assets output");
    let assets: serde_json::Value = serde_json::from_str(assets_line).unwrap();
    assert_eq!(assets.as_array().unwrap().len(), 2);
    assert_eq!(assets[1]["sha256"], crate::sha256(b"bb"));
    let md = fs_err::read_to_string(&summary).unwrap();
    assert!(
        md.contains("| `a.bin` |") && md.contains("| `b.bin` |"),
        "{md}"
    );
    assert!(md.contains("published"), "{md}");
}

#[test]
fn create_draft_prints_the_release_id() {
    let fake = fake_with(Config::default());
    let out = bin()
        .env("GITHUB_TOKEN", "test-token")
        .args([
            "create-draft",
            "--repo",
            "octo/demo",
            "--api-url",
            &fake.api_url(),
            "--tag",
            "v9.0.0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let r = the_release(&fake, "v9.0.0");
    assert_eq!(r.id, id);
    assert!(r.draft);
}

/// Run the binary with `env` and `args`; (exit code, stdout + stderr).
fn run_bin(env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().envs(env.iter().copied()).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// issue 10.1: a token that cannot be a header value (newline, CR, DEL) was a
// panic with a backtrace; now one line naming the variable, exit 1.
#[test]
fn token_that_is_no_header_value_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &[("README.md", b"r")]);
    let file = paths[0].to_str().unwrap();
    for token in ["abcCANARY\n", "abcCANARY\r", "abcCANARY\u{7f}"] {
        let (code, stdout, stderr) = run_bin(
            &[("GITHUB_TOKEN", token), ("GITHUB_REPOSITORY", "o/r")],
            &["--tag", "v1.0.0", file],
        );
        assert_eq!(code, Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("`GITHUB_TOKEN`"), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("CANARY"),
            "{stderr}"
        );
        assert!(!stdout.contains("CANARY"), "{stdout}");
    }
}

// issue 10.3: `--token-env` given the token itself (or an unset name) never
// echoes it, on a terminal or in an Actions annotation.
#[test]
fn token_env_never_echoes_its_value() {
    for actions in ["", "true"] {
        for value in ["canary-TOK", "ghp_CANARYlooksLikeAName"] {
            let (code, stdout, stderr) = run_bin(
                &[("GITHUB_ACTIONS", actions), ("GITHUB_REPOSITORY", "o/r")],
                &["--tag", "v1.0.0", "--token-env", value, "Cargo.toml"],
            );
            assert_eq!(code, Some(1), "{stderr}");
            let all = format!("{stdout}{stderr}");
            assert!(all.contains("--token-env"), "{all}");
            assert!(!all.to_lowercase().contains("canary"), "{all}");
        }
    }
}

//! The binary as users run it: help text, the token never printed even at
//! trace level, GitHub Actions outputs and step summary.

use std::process::Command;

use clap::CommandFactory;
use relkit_fake_github::{Config, Fault, FaultRule};
use relkit_release_upload::Cli;

use crate::{fake_with, the_release, write_files};

const CANARY: &str = "ghp_CANARY0123456789abcdefCANARY";

fn bin() -> Command {
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

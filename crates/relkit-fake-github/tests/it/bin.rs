//! The `relkit-fake-github` binary: prints its URL, serves, exposes state,
//! writes the state file, and refuses bad flags with one line.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_relkit-fake-github");

/// Kills the child on drop, so a failing assertion leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn bin_prints_its_url_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let mut child = Child(
        Command::new(BIN)
            .args([
                "--addr",
                "127.0.0.1:0",
                "--token",
                "sekrit",
                "--repo",
                "me/tool",
            ])
            .args(["--upload-prefix", "/api/uploads", "--state-file"])
            .arg(&state_file)
            .env_remove("GITHUB_REPOSITORY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let client = crate::client();
    let release: Value = client
        .post(format!("{url}/repos/me/tool/releases"))
        .bearer_auth("sekrit")
        .json(&json!({"tag_name": "v1", "draft": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = crate::upload_url(&release);
    assert!(upload.starts_with(&format!("{url}/api/uploads/")));
    let resp = client
        .post(crate::with_query(&upload, &[("name", "a.txt")]))
        .bearer_auth("sekrit")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let state: Value = reqwest::get(format!("{url}/_fake/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["releases"][0]["tag_name"], "v1");
    assert_eq!(state["releases"][0]["assets"][0]["name"], "a.txt");
    assert_eq!(state["releases"][0]["assets"][0]["state"], "uploaded");
    let log: Value = reqwest::get(format!("{url}/_fake/log"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 2);

    let on_disk: Value = serde_json::from_slice(&fs_err::read(&state_file).unwrap()).unwrap();
    assert_eq!(on_disk["releases"], state["releases"]);

    // SIGTERM stops it cleanly.
    let killed = Command::new("kill")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(reqwest::get(format!("{url}/_fake/state")).await.is_err());
}

#[tokio::test]
async fn bin_random_faults_from_flags() {
    let mut child = Child(
        Command::new(BIN)
            .args([
                "--fault-seed",
                "3",
                "--fault-rate",
                "1",
                "--fault-retry-after",
                "0",
            ])
            .env_remove("GITHUB_REPOSITORY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    let client = crate::client_builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..5 {
        let _ = client
            .get(format!("{url}/repos/octo/demo/releases"))
            .bearer_auth("test-token")
            .send()
            .await;
    }
    let log: Value = reqwest::get(format!("{url}/_fake/log"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|e| e["fault"].is_string()), "{log:?}");
}

fn run_err(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn bin_refuses_bad_flags_with_one_line() {
    let mut all = String::new();
    for args in [
        &["--repo", "no-slash"][..],
        &["--fault-rate", "1.5"],
        &["--upload-prefix", "api/uploads"],
        &["--addr", "not-an-addr"],
    ] {
        let (code, stderr) = run_err(args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        writeln!(all, "{args:?} -> {}", stderr.trim_end()).unwrap();
    }
    insta::assert_snapshot!(all);
}

#[test]
fn bin_reports_a_busy_port() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (code, stderr) = run_err(&["--addr", &addr]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!("error: cannot listen on `{addr}`:")),
        "{stderr}"
    );
}

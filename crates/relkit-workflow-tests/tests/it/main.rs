//! Tests of relkit's GitHub Actions surface: the workflows and templates
//! checked by actionlint, check-jsonschema and zizmor; `scripts/install.sh`
//! against a loopback release; `scripts/action.sh` with hostile inputs; and
//! the reusable release workflow run end to end by act against
//! relkit-fake-github.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod action;
mod e2e;
mod git_http;
mod install;
mod lint;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// This crate's fixtures.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The folder holding relkit's debug binaries (see
/// `relkit_testkit::workspace_bin_dir`: a no-op inside a workspace run).
pub(crate) fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let started = std::time::Instant::now();
        let dir = relkit_testkit::workspace_bin_dir(&[
            "relkit",
            "relkit-fake-github",
            "relkit-release-upload",
        ]);
        // Printed so a test's own time can be told from the build's.
        eprintln!("workspace build took {:?}", started.elapsed());
        dir
    })
}

/// Text of a command's output, for failure messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// sha256 of a file, lower-case hex.
pub(crate) fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(fs_err::read(path).expect("read file")))
}

/// A throwaway passwordless minisign key pair made by the minisign CLI.
pub(crate) struct Key {
    pub(crate) secret: PathBuf,
    pub(crate) public: PathBuf,
}

pub(crate) fn minisign_key(dir: &Path, name: &str) -> Key {
    relkit_testkit::require("minisign");
    let key = Key {
        secret: dir.join(format!("{name}.key")),
        public: dir.join(format!("{name}.pub")),
    };
    let out = Command::new("minisign")
        .args(["-G", "-W", "-f", "-p"])
        .arg(&key.public)
        .arg("-s")
        .arg(&key.secret)
        .output()
        .expect("run minisign -G");
    assert!(out.status.success(), "{}", text(&out));
    key
}

/// A prebuilt relkit release as `relkit dist` writes it (archive,
/// SHA256SUMS, SHA256SUMS.minisig, manifest.json), signed with `key`,
/// packaging `binaries` (stripped when asked, which keeps debug builds small).
pub(crate) fn prebuilt_release(
    out_dir: &Path,
    key: &Key,
    binaries: &[PathBuf],
    strip: bool,
) -> PathBuf {
    let mut cmd = Command::new(bin_dir().join("relkit"));
    cmd.current_dir(root())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env(
            "RELKIT_MINISIGN_KEY",
            fs_err::read_to_string(&key.secret).expect("read key"),
        )
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_REF")
        .args(["dist", "--no-build", "--version", "0.1.0", "--output-dir"])
        .arg(out_dir);
    for b in binaries {
        cmd.arg("--binary").arg(b);
    }
    if strip {
        cmd.arg("--strip");
    }
    let out = cmd.output().expect("run relkit dist");
    assert!(out.status.success(), "relkit dist failed: {}", text(&out));
    assert!(
        out_dir.join("SHA256SUMS.minisig").is_file(),
        "relkit dist did not sign: {}",
        text(&out)
    );
    out_dir.to_path_buf()
}

/// The target triple of this machine, as relkit names its archives.
pub(crate) fn host_target() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// A loopback HTTP server for the files of one folder (404 for anything
/// else), recording every requested path.
pub(crate) struct StaticServer {
    pub(crate) url: String,
    pub(crate) requests: Arc<Mutex<Vec<String>>>,
}

impl StaticServer {
    pub(crate) fn start(dir: &Path) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (dir, log) = (dir.to_path_buf(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, log) = (dir.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &dir, &log));
            }
        });
        StaticServer { url, requests }
    }

    /// Requests whose path ends with `suffix`.
    pub(crate) fn count(&self, suffix: &str) -> usize {
        self.requests
            .lock()
            .expect("log")
            .iter()
            .filter(|p| p.ends_with(suffix))
            .count()
    }
}

fn serve(mut stream: TcpStream, dir: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Drain the headers.
    let mut h = String::new();
    while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
        h.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().expect("log").push(path.clone());
    let name = path.trim_start_matches('/');
    let file = dir.join(name);
    let ok = !name.is_empty() && !name.contains("..") && !name.contains('/') && file.is_file();
    let (status, body) = if ok {
        ("200 OK", fs_err::read(&file).expect("read served file"))
    } else {
        ("404 Not Found", b"not found".to_vec())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

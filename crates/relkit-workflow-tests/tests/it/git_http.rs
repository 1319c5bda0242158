//! A git server on loopback speaking git's smart HTTP protocol through
//! `git http-backend` (CGI), the way GitHub serves repositories over https:
//! every request must carry `Authorization: basic base64(x-access-token:TOKEN)`
//! (what actions/checkout and `relkit publish-recipes` send), else 401.
//! It records every request with whether it was authorized, so a test can
//! tell which token reached it and whether anything was pushed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// One request the server answered.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Path and query, e.g. `/acme/tap.git/info/refs?service=git-receive-pack`.
    pub(crate) target: String,
    pub(crate) authorized: bool,
    pub(crate) status: u16,
}

/// The running server (its threads end with the test process).
pub(crate) struct GitHttp {
    /// `http://127.0.0.1:PORT`; a repository `OWNER/NAME` is at `{url}/OWNER/NAME.git`.
    pub(crate) url: String,
    /// Bare repositories live at `{root}/OWNER/NAME.git`.
    pub(crate) root: PathBuf,
    requests: Arc<Mutex<Vec<Request>>>,
}

/// The basic-auth header value GitHub takes a token in.
/// `git rev-parse REV` in a bare repository the server serves.
pub(crate) fn rev_parse(bare: &Path, rev: &str) -> String {
    let out = Command::new("git")
        .current_dir(bare)
        .args(["rev-parse", rev])
        .output()
        .expect("git rev-parse");
    assert!(out.status.success(), "{}", crate::text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) fn basic(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
}

impl GitHttp {
    pub(crate) fn start(root: &Path, token: &str) -> GitHttp {
        relkit_testkit::require("git");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let want = format!("basic {}", basic(token));
        let (dir, log) = (root.to_path_buf(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, log, want) = (dir.clone(), log.clone(), want.clone());
                std::thread::spawn(move || {
                    if let Some(r) = handle(stream, &dir, &want) {
                        log.lock().expect("log").push(r);
                    }
                });
            }
        });
        GitHttp {
            url,
            root: root.to_path_buf(),
            requests,
        }
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("log").clone()
    }

    /// A bare repository `OWNER/NAME` with one commit on `main` holding a README.
    pub(crate) fn create_repo(&self, name: &str) -> PathBuf {
        let bare = self.root.join(format!("{name}.git"));
        fs_err::create_dir_all(&bare).expect("mkdir");
        crate::e2e::git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        let work = self.root.join(format!("{name}.seed"));
        fs_err::create_dir_all(&work).expect("mkdir");
        crate::e2e::git(&work, &["init", "-q", "-b", "main"]);
        relkit_testkit::write(&work.join("README.md"), name.as_bytes(), 0o644);
        crate::e2e::git(&work, &["add", "README.md"]);
        crate::e2e::git(&work, &["commit", "-q", "-m", "start"]);
        crate::e2e::git(
            &work,
            &["push", "-q", bare.to_str().expect("utf-8 path"), "main"],
        );
        bare
    }
}

fn handle(stream: TcpStream, root: &Path, want: &str) -> Option<Request> {
    let mut out = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? <= 2 {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let authorized = header("authorization").is_some_and(|v| v.eq_ignore_ascii_case(want));
    let mut request = Request {
        method: method.clone(),
        target: target.clone(),
        authorized,
        status: 401,
    };
    if !authorized {
        let body = b"token required\n";
        let head = format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"relkit test\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(body);
        return Some(request);
    }
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let body = read_body(&mut reader, &header)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (h, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = header(h) {
            cgi.env(var, v);
        }
    }
    let mut child = cgi.spawn().ok()?;
    let mut stdin = child.stdin.take()?;
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut response = Vec::new();
    child.stdout.take()?.read_to_end(&mut response).ok()?;
    let _ = writer.join();
    let _ = child.wait();
    // CGI output: headers (with an optional Status:), a blank line, the body.
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(
            || {
                response
                    .windows(2)
                    .position(|w| w == b"\n\n")
                    .map(|p| (p, 2))
            },
            |p| Some((p, 4)),
        )?;
    let (head, rest) = response.split_at(split.0);
    let rest = &rest[split.1..];
    let mut status = "200 OK".to_owned();
    let mut reply = String::new();
    for h in String::from_utf8_lossy(head).lines() {
        if let Some(s) = h.strip_prefix("Status:") {
            s.trim().clone_into(&mut status);
        } else if !h.trim().is_empty() {
            reply.push_str(h.trim_end());
            reply.push_str("\r\n");
        }
    }
    request.status = status
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let head = format!(
        "HTTP/1.1 {status}\r\n{reply}Content-Length: {}\r\nConnection: close\r\n\r\n",
        rest.len()
    );
    out.write_all(head.as_bytes()).ok()?;
    out.write_all(rest).ok()?;
    Some(request)
}

/// The request body, by Content-Length or chunked transfer encoding.
fn read_body(
    reader: &mut BufReader<TcpStream>,
    header: &dyn Fn(&str) -> Option<String>,
) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(body)
}

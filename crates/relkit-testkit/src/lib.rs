//! Helpers for relkit's integration tests: run a helper binary, render its
//! output for insta snapshots with temp paths filtered out, require the
//! outside tools the conformance tests drive, list what a folder holds, and
//! run a real OCI registry (`registry`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod pkgrepo;
pub mod registry;

/// A command for `bin` with a clean, deterministic environment: no Actions
/// variables, a fixed SOURCE_DATE_EPOCH, logging at the default level.
pub fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_REF",
        "GITHUB_SHA",
        "RELKIT_LOG",
        "RUST_BACKTRACE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("SOURCE_DATE_EPOCH", "1700000000");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Render exit status, stdout and stderr as one text for a snapshot, with
/// every occurrence of `dir` replaced by `[TEMP]`.
pub fn render(out: &Output, dir: &Path) -> String {
    let filter = |s: &[u8]| {
        let text = String::from_utf8_lossy(s).into_owned();
        let canon = fs_err::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        text.replace(&canon.display().to_string(), "[TEMP]")
            .replace(&dir.display().to_string(), "[TEMP]")
    };
    format!(
        "success: {}\nexit_code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        out.status.success(),
        out.status
            .code()
            .map_or_else(|| "signal".to_owned(), |c| c.to_string()),
        filter(&out.stdout),
        filter(&out.stderr),
    )
}

/// Run `cmd` and return its output, panicking if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Run `cmd` and panic with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Panic with a clear message unless `tool` is on PATH: the conformance
/// tests must not pass by skipping. `scripts/install-test-tools` installs
/// every tool they use.
pub fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(
        found,
        "`{tool}` is not installed: run scripts/install-test-tools"
    );
}

/// Every file below `dir`, relative, sorted, `/`-separated.
pub fn files_in(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs_err::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).expect("below base");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate.
pub fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// Write `content` to `path` (creating folders) with unix `mode`.
pub fn write(path: &Path, content: &[u8], mode: u32) -> PathBuf {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).expect("create parent");
    }
    fs_err::write(path, content).expect("write file");
    set_mode(path, mode);
    path.to_path_buf()
}

/// Set unix permissions.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Whether the tests run as root (chown and unreadable-file cases differ).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written into
/// `dir` as `cert.pem` and `key.pem`; point `SSL_CERT_FILE` at the cert to
/// trust it.
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    require("openssl");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run_ok(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

/// A loopback server run as `python3 SCRIPT ARGS…` that prints its port as
/// its first line of stdout; killed when dropped.
pub struct PortServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
}

impl PortServer {
    /// Start `script` with `args` and wait for its port.
    pub fn python(script: &Path, args: &[&std::ffi::OsStr]) -> Self {
        use std::io::BufRead;
        require("python3");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the server's port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{} printed {line:?}, not a port", script.display()));
        PortServer { child, port }
    }
}

impl Drop for PortServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The folder of the workspace's debug binaries, for a crate's tests that
/// drive other crates' binaries (`CARGO_BIN_EXE_*` covers only the crate's
/// own). It runs the build `cargo nextest run --workspace` itself runs,
/// `cargo test --no-run --workspace`, so inside a workspace test run it is
/// a no-op: the same units with the same features. A narrower `cargo build
/// -p A -p B` unifies features differently (resolver 2 leaves out the
/// dev-dependencies' features) and rebuilds most of the workspace: in CI
/// that cost four minutes per distinct package set. A lone `cargo nextest
/// run -p CRATE` builds the rest of the workspace here, once.
///
/// When the build fails (another crate mid-edit) but every binary in
/// `bins` is present, those are used with a notice.
pub fn workspace_bin_dir(bins: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["test", "--no-run", "--workspace", "--quiet"]);
    // The variables cargo and nextest give a test (`CARGO_PKG_NAME`,
    // `CARGO_MANIFEST_DIR`, …) are names build scripts such as ring's watch
    // with `rerun-if-env-changed`: inherited, they would make this build
    // rerun those scripts and rebuild everything above them. It gets the
    // environment of the shell that started the test run.
    for (key, _) in std::env::vars_os() {
        let Some(k) = key.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || k.starts_with("CARGO_BIN_EXE_")
            || matches!(
                k,
                "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
            )
        {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run cargo test --no-run");
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("debug");
    let missing: Vec<&str> = bins
        .iter()
        .copied()
        .filter(|b| !dir.join(b).is_file())
        .collect();
    if !out.status.success() {
        assert!(
            missing.is_empty(),
            "cargo test --no-run --workspace failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "notice: the workspace build failed; testing the binaries already in {}",
            dir.display()
        );
    }
    assert!(missing.is_empty(), "no {missing:?} in {}", dir.display());
    dir
}

//! A sandbox per test (work dir, HOME, TMPDIR, keys dir), runners for
//! relkit-sign and the outside tools, and snapshot helpers.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_relkit-sign");

/// The outcome of one process.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub(crate) fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success:\n{}", self.all());
        self
    }

    /// A failure: exit 1 and exactly one `error:` line on stderr.
    #[track_caller]
    pub(crate) fn one_line_failure(self) -> String {
        assert_eq!(self.code, 1, "expected exit 1:\n{}", self.all());
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line:\n{}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{}", self.stderr);
        lines[0].to_owned()
    }
}

/// A test's private world. `work` is the cwd for every process.
pub(crate) struct Sandbox {
    _dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) home: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) keys: PathBuf,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rs")
            .tempdir_in("/tmp")
            .unwrap();
        let root = dir.path().to_path_buf();
        let [work, home, tmp, keys] = ["work", "home", "tmp", "keys"].map(|d| {
            let p = root.join(d);
            fs_err::create_dir(&p).unwrap();
            p
        });
        Sandbox {
            _dir: dir,
            root,
            work,
            home,
            tmp,
            keys,
        }
    }

    fn base(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("LC_ALL", "C")
            .current_dir(&self.work);
        cmd
    }

    /// Run relkit-sign with `args` and extra environment.
    pub(crate) fn relkit(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut cmd = self.base(BIN);
        cmd.args(args).envs(envs.iter().copied());
        run(cmd, None)
    }

    /// Run an outside tool, feeding `stdin`.
    pub(crate) fn tool(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
        envs: &[(&str, &str)],
    ) -> Run {
        let mut cmd = self.base(program);
        cmd.args(args).envs(envs.iter().copied());
        run(cmd, stdin)
    }

    /// Write a file under `work`.
    pub(crate) fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.work.join(name);
        fs_err::write(&p, content).unwrap();
        p
    }

    pub(crate) fn key(&self, name: &str) -> String {
        self.keys.join(name).to_str().unwrap().to_owned()
    }

    /// `minisign -G`, with a password or (None) with `-W`. Returns the paths
    /// of the secret and public key.
    pub(crate) fn cli_keygen(&self, name: &str, password: Option<&str>) -> (String, String) {
        let (sk, pk) = (
            self.key(&format!("{name}.key")),
            self.key(&format!("{name}.pub")),
        );
        let mut args = vec!["-G", "-p", &pk, "-s", &sk];
        if password.is_none() {
            args.push("-W");
        }
        let stdin = password.map(|p| format!("{p}\n{p}\n"));
        self.tool("minisign", &args, stdin.as_deref(), &[]).ok();
        (sk, pk)
    }

    /// `relkit-sign keygen` with a password: the same format as
    /// `minisign -G`, with cheaper scrypt parameters than the CLI's 1 GiB.
    pub(crate) fn relkit_keygen(&self, name: &str, password: &str) -> (String, String) {
        let (sk, pk) = (
            self.key(&format!("{name}.key")),
            self.key(&format!("{name}.pub")),
        );
        let args = [
            "keygen",
            "--secret-key",
            &sk,
            "--public-key",
            &pk,
            "--password-env",
            "NEW_KEY_PASSWORD",
        ];
        self.relkit(&args, &[("NEW_KEY_PASSWORD", password)]).ok();
        (sk, pk)
    }

    /// `minisign -S` with the CLI and an encrypted key.
    pub(crate) fn cli_sign(&self, file: &str, sk: &str, password: Option<&str>) {
        let args = ["-S", "-s", sk, "-m", file];
        let stdin = password.map(|p| format!("{p}\n"));
        self.tool("minisign", &args, stdin.as_deref(), &[]).ok();
    }

    /// `minisign -V -H` (prehashed required) with the CLI.
    pub(crate) fn cli_verify(&self, file: &str, pk: &str) -> Run {
        self.tool("minisign", &["-V", "-H", "-m", file, "-p", pk], None, &[])
    }

    /// Names of the entries of `dir`, sorted.
    pub(crate) fn ls(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Every file under the sandbox except the keys folder, with its bytes.
    pub(crate) fn files_outside_keys(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.work.clone(), self.home.clone(), self.tmp.clone()];
        while let Some(d) = stack.pop() {
            for e in fs_err::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    stack.push(e.path());
                } else if ft.is_file() {
                    out.push((e.path(), fs_err::read(e.path()).unwrap()));
                }
            }
        }
        out
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Snapshot text with key ids, fingerprints, hashes and times filtered.
#[macro_export]
macro_rules! snap {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![
            (r"\b[0-9A-F]{40}\b", "[FPR]"),
            (r"\b[0-9A-F]{12,16}\b", "[KEYID]"),
            (r"\b[0-9a-f]{64}\b", "[SHA256]"),
            (r"timestamp:[0-9]+", "timestamp:[T]"),
            (r"/tmp/rs[^/ ]+/", "[SANDBOX]/"),
        ]}, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

/// A gpg home with one RSA-2048 signing key; its agent is stopped on drop.
pub(crate) struct GpgHome {
    pub(crate) dir: PathBuf,
    pub(crate) fingerprint: String,
    pub(crate) passphrase: String,
}

impl GpgHome {
    /// A fresh key, protected by `passphrase` ("" for none).
    pub(crate) fn new(sb: &Sandbox, name: &str, passphrase: &str) -> Self {
        let dir = sb.root.join(name);
        fs_err::create_dir(&dir).unwrap();
        set_mode(&dir, 0o700);
        let home = dir.to_str().unwrap();
        sb.tool(
            "gpg",
            &[
                "--homedir",
                home,
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
                "--quick-gen-key",
                "relkit test <test@relkit.invalid>",
                "rsa2048",
                "sign",
                "never",
            ],
            None,
            &[],
        )
        .ok();
        let listing = sb
            .tool(
                "gpg",
                &["--homedir", home, "--with-colons", "--list-secret-keys"],
                None,
                &[],
            )
            .ok();
        let fingerprint = listing
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_owned())
            .unwrap();
        GpgHome {
            dir,
            fingerprint,
            passphrase: passphrase.to_owned(),
        }
    }

    pub(crate) fn home(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// The secret key, ASCII-armored.
    pub(crate) fn export_secret(&self, sb: &Sandbox) -> String {
        sb.tool(
            "gpg",
            &[
                "--homedir",
                self.home(),
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                &self.passphrase,
                "--armor",
                "--export-secret-keys",
            ],
            None,
            &[],
        )
        .ok()
        .stdout
    }

    /// `gpg --verify SIG FILE` in this home.
    pub(crate) fn verify(&self, sb: &Sandbox, sig: &str, file: &str) -> Run {
        sb.tool(
            "gpg",
            &["--homedir", self.home(), "--batch", "--verify", sig, file],
            None,
            &[],
        )
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--homedir", self.home(), "--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub(crate) fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Flip one bit of byte `at` of the decoded key line of a minisign key file.
pub(crate) fn corrupt_key_file(path: &str, at: usize) {
    use base64::Engine as _;
    let text = fs_err::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&lines[1])
        .unwrap();
    bytes[at] ^= 0x01;
    lines[1] = base64::engine::general_purpose::STANDARD.encode(&bytes);
    fs_err::write(path, lines.join("\n") + "\n").unwrap();
}

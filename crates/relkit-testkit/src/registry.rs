//! A real OCI registry for tests: Debian's `docker-registry` (the CNCF
//! distribution server) on 127.0.0.1 with htpasswd (bcrypt) auth and TLS
//! from a throwaway CA, started on a free port and killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{require, run_ok};

/// The registry's user name.
pub const USER: &str = "relkit";
/// The registry's password; tests check it never reaches a log.
pub const PASSWORD: &str = "pa55-Word-Never-Logged";

/// A running registry; stopped when dropped.
pub struct Registry {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    ca: PathBuf,
    log: PathBuf,
}

/// A throwaway CA and the server certificate it signed for the registry.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The CA certificate (PEM) clients trust.
    pub ca: PathBuf,
    /// The server's certificate (for 127.0.0.1 and localhost).
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl Tls {
    /// Make a CA and a server certificate it signed in `dir` (`ca.pem`,
    /// `server.pem`, `server-key.pem`): rustls refuses a self-signed CA
    /// certificate used as the server's own.
    pub fn new(dir: &Path) -> Tls {
        let (ca, cert, key) = ca_and_server_cert(dir);
        Tls { ca, cert, key }
    }
}

impl Registry {
    /// Make a CA, a server certificate and an htpasswd file in `dir`, and
    /// start a registry storing into `dir/data`.
    pub fn start(dir: &Path) -> Registry {
        fs_err::create_dir_all(dir).expect("mkdir");
        Registry::start_with(dir, &Tls::new(dir))
    }

    /// [`Registry::start`] with certificates made already (several
    /// registries trusted through one CA).
    pub fn start_with(dir: &Path, tls: &Tls) -> Registry {
        require("htpasswd");
        require("docker-registry");
        fs_err::create_dir_all(dir.join("data")).expect("mkdir");
        let (ca, cert, key) = (tls.ca.clone(), &tls.cert, &tls.key);
        let htpasswd = dir.join("htpasswd");
        let out = run_ok(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
        fs_err::write(&htpasswd, &out.stdout).expect("write htpasswd");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("config.yml");
        fs_err::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {data}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: relkit-test-secret\n  tls:\n    certificate: {cert}\n    key: {key}\nauth:\n  htpasswd:\n    realm: relkit-test\n    path: {htpasswd}\n",
                data = dir.join("data").display(),
                cert = cert.display(),
                key = key.display(),
                htpasswd = htpasswd.display(),
            ),
        )
        .expect("write config");
        let log = dir.join("registry.log");
        let file = fs_err::File::create(&log).expect("log file").into_parts().0;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone log file"))
            .stderr(file)
            .spawn()
            .expect("start docker-registry");
        let reg = Registry {
            child,
            port,
            ca,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start:\n{}",
                reg.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// Everything the registry logged (its access log included).
    pub fn log_text(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many lines of the registry's log (its access log included)
    /// contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// `skopeo --insecure-policy` trusting the CA; give it
    /// `--creds` with [`Registry::creds`] where it reads.
    pub fn skopeo(&self) -> Command {
        require("skopeo");
        let mut cmd = Command::new("skopeo");
        cmd.env("SSL_CERT_FILE", &self.ca).arg("--insecure-policy");
        cmd
    }

    /// `USER:PASSWORD` for skopeo's `--creds`.
    pub fn creds(&self) -> String {
        format!("{USER}:{PASSWORD}")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// See [`Tls::new`].
fn ca_and_server_cert(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require("openssl");
    let p = |n: &str| dir.join(n);
    run_ok(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=relkit test CA", "-keyout"])
            .arg(p("ca-key.pem"))
            .arg("-out")
            .arg(p("ca.pem")),
    );
    run_ok(
        Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes"])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(p("server-key.pem"))
            .arg("-out")
            .arg(p("server.csr")),
    );
    fs_err::write(
        p("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    run_ok(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-in"])
            .arg(p("server.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca-key.pem"))
            .args(["-CAcreateserial", "-extfile"])
            .arg(p("ext.cnf"))
            .arg("-out")
            .arg(p("server.pem")),
    );
    (p("ca.pem"), p("server.pem"), p("server-key.pem"))
}

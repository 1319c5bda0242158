//! The test registry (relkit-testkit's docker-registry with htpasswd and TLS on
//! 127.0.0.1, several per fixture through one CA),
//! the fault proxy, and the inputs: a static amd64 binary that runs, an
//! arm64 stand-in.

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_testkit::registry::Tls;
pub(crate) use relkit_testkit::registry::{PASSWORD, Registry, USER};
use relkit_testkit::{PortServer, require, run_ok};
use serde_json::Value;

pub(crate) fn image_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_relkit-image"))
}

pub(crate) fn sha256_file(path: &Path) -> String {
    relkit_core::hash::hash_file(path, relkit_core::hash::Algo::Sha256, |_| {})
        .unwrap()
        .hex
}

pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    relkit_core::hash::hash_reader(bytes, relkit_core::hash::Algo::Sha256, |_| {})
        .unwrap()
        .hex
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temp folder with the binaries, a certificate and an htpasswd file.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) amd64: PathBuf,
    pub(crate) arm64: PathBuf,
    tls: Tls,
    auth_file: PathBuf,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        require("gcc");
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("demo.c");
        fs_err::write(
            &src,
            "#include <stdio.h>\n#include <string.h>\nint main(int c, char **v) {\n  if (c > 1 && !strcmp(v[1], \"--version\")) { puts(\"demo 1.2.3\"); return 0; }\n  puts(\"hello from the image\");\n  return 0;\n}\n",
        )
        .unwrap();
        let bin = dir.path().join("bin");
        fs_err::create_dir_all(&bin).unwrap();
        let amd64 = bin.join("demo");
        run_ok(
            Command::new("gcc")
                .args(["-static", "-O1", "-o"])
                .arg(&amd64)
                .arg(&src),
        );
        let arm64 = relkit_testkit::write(
            &dir.path().join("arm64/demo"),
            &relkit_testkit::bytes(300_000, 7),
            0o755,
        );
        let tls = Tls::new(dir.path());
        let auth_file = dir.path().join("auth.json");
        Fixture {
            dir,
            amd64,
            arm64,
            tls,
            auth_file,
        }
    }

    /// The CA the test registry's certificate chains to.
    pub(crate) fn ca(&self) -> &Path {
        &self.tls.ca
    }

    /// Start a registry (TLS, htpasswd) on a free loopback port.
    pub(crate) fn registry(&self, _opts: Option<()>) -> Registry {
        let root = self.dir.path().join(format!("registry-{}", free_port()));
        let reg = Registry::start_with(&root, &self.tls);
        let auth = format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
            reg.host(),
            super::base64_of(&format!("{USER}:{PASSWORD}"))
        );
        fs_err::write(&self.auth_file, auth).unwrap();
        reg
    }

    /// A fault proxy in front of `reg` (plain HTTP on loopback).
    pub(crate) fn proxy(&self, reg: &Registry, faults: &str, bearer: Option<&str>) -> Proxy {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/registry_proxy.py");
        let log = self.dir.path().join(format!("proxy-{}.log", free_port()));
        fs_err::write(&log, "").unwrap();
        let port = reg.port.to_string();
        let mut args: Vec<&std::ffi::OsStr> = vec![
            port.as_ref(),
            self.tls.ca.as_os_str(),
            log.as_os_str(),
            faults.as_ref(),
        ];
        if let Some(b) = bearer {
            args.push(b.as_ref());
        }
        Proxy {
            server: PortServer::python(&script, &args),
            log,
        }
    }

    pub(crate) fn build_cmd(&self, out: &Path, extra: &[&str]) -> Command {
        let mut cmd = relkit_testkit::command(image_bin().to_str().unwrap());
        cmd.args(["build", "--version", "1.2.3", "--name", "demo"])
            .arg("--out")
            .arg(out)
            .arg(format!(
                "--binary=x86_64-unknown-linux-musl={}",
                self.amd64.display()
            ))
            .arg(format!(
                "--binary=aarch64-unknown-linux-musl={}",
                self.arm64.display()
            ))
            .args(["--revision", "0123456789abcdef0123456789abcdef01234567"])
            .args([
                "--source",
                "https://github.com/relkit/demo",
                "--licenses",
                "MIT",
            ])
            .args(extra);
        cmd
    }

    pub(crate) fn build_layout(
        &self,
        rel: &str,
        extra: &[&str],
    ) -> (PathBuf, std::process::Output) {
        let out = self.dir.path().join(rel);
        let o = run_ok(&mut self.build_cmd(&out, extra));
        (out, o)
    }

    pub(crate) fn push_to(&self, image: &str, layout: &Path) -> Command {
        let mut cmd = relkit_testkit::command(image_bin().to_str().unwrap());
        cmd.args(["push", "--layout"])
            .arg(layout)
            .args(["--image", image])
            .arg("--ca-file")
            .arg(&self.tls.ca)
            .env("RELKIT_REGISTRY_USERNAME", USER)
            .env("RELKIT_REGISTRY_PASSWORD", PASSWORD)
            .env("RELKIT_RETRY_BASE_MS", "50")
            .env("RELKIT_GIVE_UP_SECS", "30")
            .env("RELKIT_TIMEOUT_SECS", "20");
        cmd
    }

    pub(crate) fn push(&self, reg: &Registry, layout: &Path, repo: &str) -> Command {
        self.push_to(&format!("{}/{repo}", reg.host()), layout)
    }

    pub(crate) fn push_via(&self, proxy: &Proxy, layout: &Path, repo: &str) -> Command {
        let mut cmd = self.push_to(&format!("127.0.0.1:{}/{repo}", proxy.server.port), layout);
        cmd.arg("--plain-http");
        cmd
    }

    /// skopeo trusting the test CA, with the registry's credentials.
    pub(crate) fn skopeo(&self, _reg: &Registry) -> Command {
        require("skopeo");
        let mut cmd = Command::new("skopeo");
        cmd.env("REGISTRY_AUTH_FILE", &self.auth_file)
            .env("SSL_CERT_FILE", &self.tls.ca)
            .arg("--insecure-policy");
        cmd
    }
}

/// The fault proxy and its request log.
pub(crate) struct Proxy {
    pub(crate) server: PortServer,
    log: PathBuf,
}

impl Proxy {
    pub(crate) fn log(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The first layer of the `arch` image in a layout.
pub(crate) fn layer_of(layout: &Path, arch: &str) -> PathBuf {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let read = |p: PathBuf| -> Value { serde_json::from_slice(&fs_err::read(p).unwrap()).unwrap() };
    let top = read(layout.join("index.json"));
    let index = read(blob(top["manifests"][0]["digest"].as_str().unwrap()));
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == arch)
        .unwrap();
    let manifest = read(blob(m["digest"].as_str().unwrap()));
    blob(manifest["layers"][0]["digest"].as_str().unwrap())
}

/// The first layer of the one image in a single-image layout (skopeo's `oci:` output).
pub(crate) fn layer_of_single(layout: &Path) -> PathBuf {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let read = |p: PathBuf| -> Value { serde_json::from_slice(&fs_err::read(p).unwrap()).unwrap() };
    let top = read(layout.join("index.json"));
    let manifest = read(blob(top["manifests"][0]["digest"].as_str().unwrap()));
    blob(manifest["layers"][0]["digest"].as_str().unwrap())
}

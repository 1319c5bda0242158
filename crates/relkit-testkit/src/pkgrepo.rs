//! Package repositories as their users' tools see them: a static file
//! server on loopback, a throwaway root holding only `/bin/sh`, and dnf
//! against one repository with its own config, cache and root (as root, or
//! in a user namespace mapped to root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use crate::{is_root, require, run, run_ok};

/// `python3 -m http.server` serving a folder on a free loopback port,
/// stopped on drop.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Serve `dir`; returns once the port accepts connections.
    pub fn start(dir: &Path) -> Server {
        require("python3");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Server { child, port }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A root holding only `/bin/sh` and the libraries it needs, for package
/// scriptlets to run in.
pub fn throwaway_root(root: &Path) {
    require("ldd");
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let mut needed = vec![sh.clone()];
    let o = run_ok(Command::new("ldd").arg(&sh));
    for word in String::from_utf8_lossy(&o.stdout).split_whitespace() {
        if word.starts_with('/') {
            needed.push(PathBuf::from(word));
        }
    }
    for f in needed {
        let dest = root.join(f.strip_prefix("/").unwrap());
        fs_err::create_dir_all(dest.parent().unwrap()).unwrap();
        fs_err::copy(&f, &dest).unwrap();
    }
    let sh_dest = root.join(sh.strip_prefix("/").unwrap());
    fs_err::create_dir_all(root.join("bin")).unwrap();
    if !root.join("bin/sh").exists() {
        fs_err::copy(&sh_dest, root.join("bin/sh")).unwrap();
    }
}

/// dnf against the repository at `url` only, with `gpgcheck=1`,
/// `repo_gpgcheck=1` and `gpgkey=` the key file `key`, its own config
/// (`WORK/repos`), cache and root (`WORK/root`, made on first use).
pub fn dnf(work: &Path, url: &str, key: &Path, args: &[&str]) -> Output {
    require("dnf");
    let repos = work.join("repos");
    fs_err::create_dir_all(&repos).unwrap();
    fs_err::write(
        repos.join("relkit.repo"),
        format!(
            "[relkit]\nname=relkit test\nbaseurl={url}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            key.display()
        ),
    )
    .unwrap();
    let root = work.join("root");
    if !root.join("bin/sh").exists() {
        throwaway_root(&root);
    }
    let mut c = if is_root() {
        Command::new("dnf")
    } else {
        let mut c = Command::new("unshare");
        c.args(["--map-root-user", "dnf"]);
        c
    };
    c.arg("--installroot")
        .arg(&root)
        .arg(format!("--setopt=reposdir={}", repos.display()))
        .arg(format!(
            "--setopt=cachedir={}",
            work.join("cache").display()
        ))
        .args([
            "--setopt=install_weak_deps=False",
            "--setopt=metadata_expire=0",
            "--releasever=1",
            "--assumeyes",
            "--quiet",
        ])
        .args(args)
        .env("LC_ALL", "C.UTF-8");
    run(&mut c)
}

/// A tool's stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

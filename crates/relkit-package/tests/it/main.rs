//! relkit-package end to end: real extractors read our archives, the bytes
//! are reproducible across folders/umask/mtimes/owners, and every bad input
//! fails with one line and leaves nothing behind.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod actions;
mod conformance;
mod errors;
mod reproducible;
mod threads;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use relkit_testkit as kit;

pub const BIN: &str = env!("CARGO_BIN_EXE_relkit-package");
pub const FORMATS: [&str; 4] = ["tar.gz", "tar.xz", "tar.zst", "zip"];

/// A project folder with two binaries, a README, a LICENSE and a
/// completions folder.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    #[allow(clippy::new_without_default)] // Each call makes a new temp folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        kit::write(&p.join("bin/mytool"), &kit::bytes(300_000, 1), 0o755);
        kit::write(&p.join("bin/mytool-helper"), &kit::bytes(70_000, 2), 0o700);
        kit::write(&p.join("README.md"), b"# mytool\n", 0o664);
        kit::write(&p.join("LICENSE"), b"MIT\n", 0o600);
        kit::write(
            &p.join("completions/mytool.bash"),
            b"complete -F _mytool mytool\n",
            0o644,
        );
        kit::write(
            &p.join("completions/zsh/_mytool"),
            b"#compdef mytool\n",
            0o644,
        );
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run relkit-package in the project folder.
    pub fn package(&self, format: &str, out: &str, extra: &[&str]) -> Output {
        let mut cmd = kit::command(BIN);
        cmd.current_dir(self.path()).args([
            "--name",
            "mytool",
            "--version",
            "v1.2.3",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--format",
            format,
            "--output-dir",
            out,
            "--include",
            "README.md",
            "--include",
            "LICENSE",
            "--include",
            "completions",
        ]);
        cmd.args(extra).args(["bin/mytool", "bin/mytool-helper"]);
        kit::run(&mut cmd)
    }

    pub fn archive(&self, out: &str, format: &str) -> PathBuf {
        self.path()
            .join(out)
            .join(format!("mytool-1.2.3-x86_64-unknown-linux-gnu.{format}"))
    }
}

/// Files we expect inside the archive, relative to the top folder, with
/// the mode each must carry.
pub fn expected_entries() -> Vec<(&'static str, &'static str, u32)> {
    vec![
        ("LICENSE", "LICENSE", 0o644),
        ("README.md", "README.md", 0o644),
        ("completions/mytool.bash", "completions/mytool.bash", 0o644),
        ("completions/zsh/_mytool", "completions/zsh/_mytool", 0o644),
        ("mytool", "bin/mytool", 0o755),
        ("mytool-helper", "bin/mytool-helper", 0o755),
    ]
}

pub fn run_in(dir: &Path, prog: &str, args: &[&str]) -> Output {
    kit::run_ok(Command::new(prog).current_dir(dir).args(args))
}

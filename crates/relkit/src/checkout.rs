//! A git checkout that relkit commits release files into and pushes
//! (`relkit publish-recipes`, `relkit publish-repos`): the manifest check of
//! each file, the commit of exactly the paths relkit wrote, and a push whose
//! token reaches git through `GIT_CONFIG_*` variables, never through
//! arguments or logs.

use std::path::{Path, PathBuf};
use std::process::Command;

use relkit_core::Error as CoreError;
use relkit_core::hash::Algo;
use relkit_core::manifest::Artifact;

use crate::Error;

/// `dir` must be a git checkout (`flag` names the argument that gave it).
pub fn require(dir: &Path, flag: &str) -> Result<(), Error> {
    if dir.join(".git").exists() {
        return Ok(());
    }
    Err(CoreError::invalid(flag, format!("`{}` is not a git checkout", dir.display())).into())
}

/// The token in env var `var`, if set and not empty.
pub fn token(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|t| !t.is_empty())
}

/// The release file of `a` in `dist`, checked against its recorded sha256.
pub fn verified(dist: &Path, a: &Artifact) -> Result<PathBuf, Error> {
    let path = dist.join(&a.file);
    let digest = relkit_core::hash::hash_file(&path, Algo::Sha256, |_| {})?;
    if digest.hex != a.sha256 {
        return Err(CoreError::invalid(
            format!("`{}`", path.display()),
            "does not match the sha256 manifest.json records",
        )
        .into());
    }
    Ok(path)
}

/// Stage `paths` (additions, changes and removals) and commit them with
/// `message`; `false` when they already hold what the last commit has.
pub fn commit(dir: &Path, paths: &[String], message: &str) -> Result<bool, Error> {
    let mut add = vec!["add", "--all", "--"];
    add.extend(paths.iter().map(String::as_str));
    git(dir, &add, None)?;
    let mut diff = vec!["diff", "--cached", "--quiet", "--"];
    diff.extend(paths.iter().map(String::as_str));
    let unchanged = Command::new("git")
        .current_dir(dir)
        .args(&diff)
        .status()
        .map_err(|e| CoreError::invalid("git", e.to_string()))?
        .success();
    if unchanged {
        return Ok(false);
    }
    let mut commit = vec![
        "-c",
        "user.name=github-actions[bot]",
        "-c",
        "user.email=41898282+github-actions[bot]@users.noreply.github.com",
        "commit",
        "--quiet",
        "-m",
        message,
        "--",
    ];
    commit.extend(paths.iter().map(String::as_str));
    git(dir, &commit, None)?;
    Ok(true)
}

/// Push the checkout's branch to its upstream, with `token` if given.
pub fn push(dir: &Path, token: Option<&str>) -> Result<(), Error> {
    git(dir, &["push", "--quiet"], token)
}

/// Run git in `dir`; a token goes in as an http header through git's
/// environment config, so no argument or log line carries it.
fn git(dir: &Path, args: &[&str], token: Option<&str>) -> Result<(), Error> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args(args);
    if let Some(t) = token {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{t}"));
        // Appended after any GIT_CONFIG_* entries the runner already has
        // (an `insteadOf`, a proxy), which a count of 1 would hide.
        let n = std::env::var("GIT_CONFIG_COUNT")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        cmd.env("GIT_CONFIG_COUNT", (n + 1).to_string())
            .env(format!("GIT_CONFIG_KEY_{n}"), "http.extraheader")
            .env(
                format!("GIT_CONFIG_VALUE_{n}"),
                format!("AUTHORIZATION: basic {basic}"),
            );
    }
    let out = cmd
        .output()
        .map_err(|e| CoreError::invalid("git", format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(CoreError::invalid(
            format!("`{}`", dir.display()),
            format!(
                "git {} failed: {last}",
                args.iter()
                    .find(|a| !a.starts_with('-') && !a.contains('='))
                    .unwrap_or(&"")
            ),
        )
        .into());
    }
    Ok(())
}

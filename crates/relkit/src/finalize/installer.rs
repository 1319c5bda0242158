//! The installer stage: `NAME-installer.sh`, one POSIX sh script per
//! release (template: `installer.sh` beside this file) with the release's
//! minisign public key and its builds written in. It downloads the archive
//! for the machine it runs on, checks SHA256SUMS's signature and the
//! archive's sha256, then installs the binaries. It is checksummed, signed
//! and listed like every release file (kind `installer`).
//!
//! Also writes `.relkit/install.md`, the release-notes snippet that shows
//! users the public key and how to install and verify.

use std::fmt::Write as _;
use std::path::Path;

use relkit_core::Error as CoreError;
use relkit_core::atomic;
use relkit_core::manifest::{Artifact, ArtifactKind, Manifest, SignatureKind};
use relkit_core::target::{Spelling, Target};

use super::Context;
use super::stages::Stage;
use crate::Error;

/// The template, with `@NAME@`-style fields.
const TEMPLATE: &str = include_str!("installer.sh");

/// Where finalize writes the install-and-verify notes, relative to the output folder.
pub const INSTALL_NOTES: &str = ".relkit/install.md";

/// Writes `NAME-installer.sh`.
pub(super) struct Installer;

impl Stage for Installer {
    fn name(&self) -> &'static str {
        "installer"
    }

    fn enabled(&self, cx: &Context<'_>) -> bool {
        cx.config.installer.enabled
            && cx
                .manifest
                .artifacts
                .iter()
                .any(|a| a.kind == ArtifactKind::Archive && a.target.is_some())
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), Error> {
        let public_key = cx
            .signers
            .iter()
            .find(|s| s.kind() == SignatureKind::Minisign)
            .and_then(|s| s.public_key());
        let base_url = base_url(cx);
        let scratch = tempfile::tempdir().map_err(CoreError::from)?;
        let builds = builds(&cx.manifest, cx.dir, scratch.path())?;
        let script_name = format!("{}-installer.sh", cx.release.name);
        let script = render(&Fields {
            name: &cx.release.name,
            version: &cx.release.version.to_string(),
            tag: &cx.release.tag,
            base_url: base_url.as_deref().unwrap_or(""),
            script: &script_name,
            public_key: public_key.as_deref().unwrap_or(""),
            builds: &builds,
        })?;
        let path = cx.dir.join(&script_name);
        atomic::write_file(&path, script.as_bytes())?;
        cx.add_files(&[path])?;
        let notes = notes(&script_name, base_url.as_deref(), public_key.as_deref());
        atomic::write_file(&cx.dir.join(INSTALL_NOTES), notes.as_bytes())?;
        Ok(())
    }
}

/// The template's fields.
pub(crate) struct Fields<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub tag: &'a str,
    pub base_url: &'a str,
    pub script: &'a str,
    pub public_key: &'a str,
    /// One line per build: target os arch libc glibc archive binaries….
    pub builds: &'a str,
}

/// Fill in the template. Every field lands inside single quotes, so each
/// is checked to hold no quote, backslash or line break.
pub(crate) fn render(f: &Fields<'_>) -> Result<String, Error> {
    let plain = |field: &str, v: &str, extra: &str| -> Result<(), Error> {
        if v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c) || extra.contains(c))
        {
            Ok(())
        } else {
            Err(CoreError::invalid(
                field,
                format!("`{v}` holds a character the installer cannot carry"),
            )
            .into())
        }
    };
    plain("name", f.name, "")?;
    plain("version", f.version, "")?;
    plain("tag", f.tag, "/")?;
    plain("installer.base-url", f.base_url, ":/?=&%~@!$,;*()")?;
    plain("public key", f.public_key, "/=")?;
    plain("builds", f.builds, "/ \n")?;
    let shown = if f.base_url.is_empty() {
        "BASE_URL"
    } else {
        f.base_url
    };
    Ok(TEMPLATE
        .replace("@RELKIT_VERSION@", relkit_core::TOOL_VERSION)
        .replace("@BASE_URL_SHOWN@", shown)
        .replace("@BASE_URL@", f.base_url)
        .replace("@SCRIPT@", f.script)
        .replace("@PUBLIC_KEY@", f.public_key)
        .replace("@BUILDS@", f.builds.trim_end())
        .replace("@TAG@", f.tag)
        .replace("@NAME@", f.name)
        .replace("@VERSION@", f.version))
}

/// relkit's own installer, `scripts/relkit-installer.sh`: the template for
/// relkit's release of `version` (the default targets, the one `relkit`
/// binary), signed by `public_key`. The action's `scripts/install.sh` runs
/// it; a test keeps the committed copy equal to this.
pub fn relkit_installer(version: &str, public_key: &str) -> Result<String, Error> {
    let mut builds = String::new();
    let mut targets: Vec<&str> = crate::plan::DEFAULT_RUST_TARGETS.to_vec();
    targets.sort_unstable();
    for t in targets {
        let target = Target::parse(t)?;
        let stem = format!("relkit-{version}-{t}");
        let libc = if t.contains("linux-gnu") {
            "gnu"
        } else {
            "any"
        };
        let _ = writeln!(
            builds,
            "{t} {} {} {libc} - {stem}.{} {stem}/relkit{}",
            target.os(),
            target.arch(),
            target.default_format().extension(),
            target.exe_suffix()
        );
    }
    let tag = format!("v{version}");
    render(&Fields {
        name: "relkit",
        version,
        tag: &tag,
        base_url: &format!("https://github.com/relkit/relkit/releases/download/{tag}"),
        script: "relkit-installer.sh",
        public_key,
        builds: &builds,
    })
}

/// The download folder: relkit.toml's `installer.base-url`, else the GitHub
/// release of `$GITHUB_REPOSITORY` (on `$GITHUB_SERVER_URL`), else of the
/// `origin` remote when it is on github.com.
pub(super) fn base_url(cx: &Context<'_>) -> Option<String> {
    let tag = &cx.release.tag;
    if let Some(b) = &cx.config.installer.base_url {
        return Some(
            b.replace("{tag}", tag)
                .replace("{version}", &cx.release.version.to_string())
                .trim_end_matches('/')
                .to_owned(),
        );
    }
    let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
    github_repository().map(|r| {
        let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_owned());
        format!(
            "{}/{r}/releases/download/{tag}",
            server.trim_end_matches('/')
        )
    })
}

/// The release's GitHub repository `OWNER/NAME`: `$GITHUB_REPOSITORY`,
/// else the `origin` remote when it is on github.com.
pub(super) fn github_repository() -> Option<String> {
    std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(origin_repository)
}

/// `OWNER/NAME` of the `origin` remote, when it is on github.com.
fn origin_repository() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["remote", "get-url", "origin"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let url = String::from_utf8(out.stdout).ok()?;
    let url = url.trim();
    let rest = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = rest.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    (ok(owner) && ok(name)).then(|| format!("{owner}/{name}"))
}

/// The builds table: one line per archive with binaries, sorted by target.
fn builds(m: &Manifest, dir: &Path, scratch: &Path) -> Result<String, Error> {
    let mut archives: Vec<&Artifact> = m
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Archive && a.target.is_some())
        .collect();
    archives.sort_by(|a, b| a.target.cmp(&b.target).then(a.name.cmp(&b.name)));
    let mut out = String::new();
    for a in archives {
        let Some(target_name) = &a.target else {
            continue;
        };
        let Ok(target) = Target::parse(target_name) else {
            continue;
        };
        let bins: Vec<&relkit_core::manifest::Content> = a
            .contents
            .iter()
            .filter(|c| c.executable && c.path.matches('/').count() == 1)
            .collect();
        if bins.is_empty() {
            continue;
        }
        let libc = if target.os() != "linux" || target.spelling() == Spelling::Pair {
            "any"
        } else if target_name.contains("musl") {
            "musl"
        } else if target_name.contains("gnu") {
            "gnu"
        } else {
            "any"
        };
        let glibc = if libc == "gnu" {
            oldest_glibc(a, &bins, dir, scratch)?
        } else {
            "-".to_owned()
        };
        let paths: Vec<&str> = bins.iter().map(|c| c.path.as_str()).collect();
        let _ = writeln!(
            out,
            "{target_name} {} {} {libc} {glibc} {} {}",
            target.os(),
            target.arch(),
            a.name,
            paths.join(" ")
        );
    }
    Ok(out)
}

/// The newest glibc version any of the archive's binaries asks for.
fn oldest_glibc(
    a: &Artifact,
    bins: &[&relkit_core::manifest::Content],
    dir: &Path,
    scratch: &Path,
) -> Result<String, Error> {
    let mut need = None;
    for (i, c) in bins.iter().enumerate() {
        let dest = scratch.join(format!("glibc-check-{i}"));
        relkit_package::unpack::extract_entry(&dir.join(&a.file), c, &dest)?;
        need = need.max(relkit_verify::host::glibc_needed(&dest).map_err(CoreError::from)?);
        fs_err::remove_file(&dest).map_err(CoreError::from)?;
    }
    Ok(need.map_or_else(|| "-".to_owned(), |(x, y)| format!("{x}.{y}")))
}

/// The release-notes snippet: install, and verify by hand.
fn notes(script: &str, base_url: Option<&str>, public_key: Option<&str>) -> String {
    let base = base_url.unwrap_or("BASE_URL");
    let mut s = String::new();
    let _ = writeln!(s, "### Install\n");
    let _ = writeln!(s, "```sh\ncurl -fsSL {base}/{script} | sh\n```\n");
    let _ = writeln!(
        s,
        "The installer checks the signature of `SHA256SUMS` and the archive's sha256 before installing anything."
    );
    if let Some(key) = public_key {
        let _ = writeln!(s, "\n### Verify\n");
        let _ = writeln!(
            s,
            "Files are signed with this minisign public key:\n\n```\n{key}\n```\n"
        );
        let _ = writeln!(
            s,
            "```sh\nminisign -Vm SHA256SUMS -P {key}\nsha256sum --check --ignore-missing SHA256SUMS\n```\n"
        );
        let _ = writeln!(
            s,
            "or, with relkit: `relkit verify --dir . --public-key {key}`."
        );
    } else {
        let _ = writeln!(
            s,
            "\nThis release is not signed: check files with `sha256sum --check --ignore-missing SHA256SUMS`."
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(builds: &'a str, base_url: &'a str) -> Fields<'a> {
        Fields {
            name: "tool",
            version: "1.0.0",
            tag: "v1.0.0",
            base_url,
            script: "tool-installer.sh",
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3",
            builds,
        }
    }

    #[test]
    fn fills_every_field() {
        let out = render(&fields(
            "x86_64-unknown-linux-gnu linux amd64 gnu 2.17 tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz tool-1.0.0-x86_64-unknown-linux-gnu/tool\n",
            "https://github.com/o/tool/releases/download/v1.0.0",
        ))
        .unwrap();
        assert!(!out.contains('@'), "a field was left: {out}");
        assert!(out.contains("NAME='tool'"));
        assert!(out.contains("linux amd64 gnu 2.17 tool-1.0.0"));
    }

    /// `scripts/relkit-installer.sh` is this template for relkit's own
    /// release (RELKIT_UPDATE_INSTALLER=1 rewrites it).
    #[test]
    fn relkit_installer_is_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let key = fs_err::read_to_string(root.join("relkit.pub")).unwrap();
        let key = key.lines().nth(1).unwrap().trim();
        let want = relkit_installer(env!("CARGO_PKG_VERSION"), key).unwrap();
        let path = root.join("scripts/relkit-installer.sh");
        if std::env::var_os("RELKIT_UPDATE_INSTALLER").is_some() {
            fs_err::write(&path, &want).unwrap();
        }
        let have = fs_err::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "scripts/relkit-installer.sh is stale: run RELKIT_UPDATE_INSTALLER=1 cargo nextest run -p relkit relkit_installer_is_current"
        );
    }

    #[test]
    fn refuses_what_would_break_the_quoting() {
        for bad in ["https://x/'; rm -rf ~; '", "https://x/a b", "https://x/\\"] {
            let e = render(&fields("", bad)).expect_err(bad).to_string();
            assert!(e.contains("installer.base-url"), "{e}");
        }
    }
}

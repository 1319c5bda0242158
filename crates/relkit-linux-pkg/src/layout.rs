//! Where each kind of file is installed on a Linux system (the FHS paths
//! Debian and Fedora share): binaries in `/usr/bin`, man pages compressed
//! under `/usr/share/man`, completions where each shell looks, docs under
//! `/usr/share/doc/NAME`, configuration under `/etc`, a systemd unit in
//! `/usr/lib/systemd/system`. Every source is checked before any package
//! is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use relkit_core::input::Limit;

use crate::{Error, File, Source, invalid};

/// Man pages, docs, completions and units are small hand-written files.
const SMALL_FILE: Limit = Limit::new("packaged text file", 16 << 20);

/// Shells whose completions a package can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shell {
    /// bash-completion's per-command folder.
    Bash,
    /// zsh's vendor completions.
    Zsh,
    /// fish's vendor completions.
    Fish,
}

/// The files a package installs besides generated ones, as given in
/// relkit.toml.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Binaries, installed as `/usr/bin/NAME` (mode 0755).
    pub binaries: Vec<PathBuf>,
    /// Man pages named `NAME.SECTION` (`tool.1`), installed gzipped.
    pub man_pages: Vec<PathBuf>,
    /// Documentation, installed in `/usr/share/doc/PACKAGE/`.
    pub docs: Vec<PathBuf>,
    /// One completion script per shell.
    pub completions: BTreeMap<Shell, PathBuf>,
    /// Configuration files: absolute destination under `/etc` → source.
    pub config_files: BTreeMap<String, PathBuf>,
    /// A systemd unit (`NAME.service`, `.socket` or `.timer`).
    pub systemd_unit: Option<PathBuf>,
}

impl Contents {
    /// The installed files of package `name` (binaries streamed, the rest
    /// read whole within a bounded size), and the unit's file name. `field`
    /// names each relkit.toml field in errors.
    pub fn files(&self, name: &str, epoch: i64) -> Result<(Vec<File>, Option<String>), Error> {
        let mut files = Vec::new();
        for b in &self.binaries {
            let base = base_name("package.binaries", b)?;
            require_file("package.binaries", b)?;
            files.push(File {
                dest: format!("/usr/bin/{base}"),
                source: Source::Path(b.clone()),
                mode: 0o755,
                conffile: false,
            });
        }
        for m in &self.man_pages {
            let base = base_name("package.man-pages", m)?;
            let section = base
                .rsplit_once('.')
                .map(|(_, s)| s)
                .filter(|s| s.starts_with(|c: char| c.is_ascii_digit()))
                .ok_or_else(|| {
                    invalid(
                        "package.man-pages",
                        format!(
                            "`{}` is not named NAME.SECTION (such as `tool.1`)",
                            m.display()
                        ),
                    )
                })?;
            let section = &section[..1];
            let text = relkit_core::input::read_bytes(m, SMALL_FILE)?;
            files.push(small(
                format!("/usr/share/man/man{section}/{base}.gz"),
                gzip_max(&text, epoch)?,
            ));
        }
        for d in &self.docs {
            let base = base_name("package.docs", d)?;
            let text = relkit_core::input::read_bytes(d, SMALL_FILE)?;
            files.push(small(format!("/usr/share/doc/{name}/{base}"), text));
        }
        for (shell, path) in &self.completions {
            let dest = match shell {
                Shell::Bash => format!("/usr/share/bash-completion/completions/{name}"),
                Shell::Zsh => format!("/usr/share/zsh/vendor-completions/_{name}"),
                Shell::Fish => format!("/usr/share/fish/vendor_completions.d/{name}.fish"),
            };
            let text = relkit_core::input::read_bytes(path, SMALL_FILE)?;
            files.push(small(dest, text));
        }
        for (dest, src) in &self.config_files {
            check_config_dest(dest)?;
            let text = relkit_core::input::read_bytes(src, SMALL_FILE)?;
            let mut f = small(dest.clone(), text);
            f.conffile = true;
            files.push(f);
        }
        let unit = self.unit(&mut files)?;
        check_unique(&files)?;
        Ok((files, unit))
    }

    fn unit(&self, files: &mut Vec<File>) -> Result<Option<String>, Error> {
        let Some(u) = &self.systemd_unit else {
            return Ok(None);
        };
        let base = base_name("package.systemd-unit", u)?;
        let kinds = [".service", ".socket", ".timer"];
        if !kinds
            .iter()
            .any(|k| base.len() > k.len() && base.ends_with(k))
            || !base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b))
        {
            return Err(invalid(
                "package.systemd-unit",
                format!(
                    "`{}` is not a unit file name (NAME.service, NAME.socket or NAME.timer)",
                    u.display()
                ),
            ));
        }
        let text = relkit_core::input::read_bytes(u, SMALL_FILE)?;
        files.push(small(format!("/usr/lib/systemd/system/{base}"), text));
        Ok(Some(base))
    }
}

fn small(dest: String, bytes: Vec<u8>) -> File {
    File {
        dest,
        source: Source::Bytes(bytes),
        mode: 0o644,
        conffile: false,
    }
}

fn base_name(field: &str, p: &Path) -> Result<String, Error> {
    let base = p
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.starts_with('.') && !n.contains(char::is_control))
        .ok_or_else(|| invalid(field, format!("`{}` has no usable file name", p.display())))?;
    Ok(base.to_owned())
}

/// A binary is streamed later: check now that it is a regular file, so a
/// missing one is refused before any package is written.
fn require_file(field: &str, p: &Path) -> Result<(), Error> {
    match fs_err::metadata(p) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(invalid(field, format!("`{}` is not a file", p.display()))),
        Err(_) => Err(invalid(field, format!("`{}`: no such file", p.display()))),
    }
}

fn check_config_dest(dest: &str) -> Result<(), Error> {
    let ok = dest.starts_with("/etc/")
        && !dest.ends_with('/')
        && dest
            .split('/')
            .skip(1)
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && !dest.contains(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "package.config-files",
            format!(
                "`{}` is not a file path under /etc",
                relkit_core::names::shown(dest)
            ),
        ))
    }
}

fn check_unique(files: &[File]) -> Result<(), Error> {
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        if !seen.insert(&f.dest) {
            return Err(invalid(
                "package",
                format!("two files would be installed as `{}`", f.dest),
            ));
        }
    }
    Ok(())
}

/// gzip at level 9 with no name and no time, as Debian wants man pages and
/// changelogs (`gzip -9n`): the same text gives the same bytes.
pub(crate) fn gzip_max(data: &[u8], _epoch: i64) -> Result<Vec<u8>, Error> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_files_where_linux_looks() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str| {
            let p = dir.path().join(n);
            fs_err::write(&p, n).unwrap();
            p
        };
        let c = Contents {
            binaries: vec![w("tool")],
            man_pages: vec![w("tool.1")],
            docs: vec![w("README.md")],
            completions: [(Shell::Zsh, w("tool.zsh"))].into(),
            config_files: [("/etc/tool/tool.toml".to_owned(), w("tool.toml"))].into(),
            systemd_unit: Some(w("tool.service")),
        };
        let (files, unit) = c.files("tool", 0).unwrap();
        let dests: Vec<_> = files
            .iter()
            .map(|f| (f.dest.as_str(), f.mode, f.conffile))
            .collect();
        assert_eq!(
            dests,
            [
                ("/usr/bin/tool", 0o755, false),
                ("/usr/share/man/man1/tool.1.gz", 0o644, false),
                ("/usr/share/doc/tool/README.md", 0o644, false),
                ("/usr/share/zsh/vendor-completions/_tool", 0o644, false),
                ("/etc/tool/tool.toml", 0o644, true),
                ("/usr/lib/systemd/system/tool.service", 0o644, false),
            ]
        );
        assert_eq!(unit.as_deref(), Some("tool.service"));
    }

    #[test]
    fn refuses_missing_and_misnamed_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("tool.service");
        let c = Contents {
            systemd_unit: Some(missing),
            ..Contents::default()
        };
        let e = c.files("tool", 0).unwrap_err().to_string();
        assert!(
            e.contains("tool.service") && e.contains("no such file"),
            "{e}"
        );
        let c = Contents {
            config_files: [("/usr/x.conf".to_owned(), dir.path().join("x"))].into(),
            ..Contents::default()
        };
        let e = c.files("tool", 0).unwrap_err().to_string();
        assert!(e.starts_with("package.config-files: `/usr/x.conf`"), "{e}");
        fs_err::write(dir.path().join("tool.txt"), "x").unwrap();
        let c = Contents {
            man_pages: vec![dir.path().join("tool.txt")],
            ..Contents::default()
        };
        assert!(c.files("tool", 0).is_err());
    }

    #[test]
    fn gzip_is_reproducible_and_marked_best() {
        let a = gzip_max(b"text", 0).unwrap();
        assert_eq!(a, gzip_max(b"text", 0).unwrap());
        // No name, no time, XFL = 2 (maximum compression), OS = unix.
        assert_eq!(&a[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    }
}

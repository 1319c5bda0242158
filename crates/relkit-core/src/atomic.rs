//! Atomic output: every file is written to a temporary file in its final
//! folder and renamed into place only when the whole run has succeeded, so a
//! failed run leaves neither partial nor stale outputs behind. Temp files
//! and created folders are registered with [`crate::cleanup`], so an
//! interrupted run (SIGINT, SIGTERM, SIGHUP) leaves none behind either.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::Error;
use crate::cleanup::{self, Guard, Kind};

/// Bytes a staged file's temporary name adds to its final name
/// (`.NAME.XXXXXX.tmp`): a final name must leave this much room below the
/// file system's limit (see [`crate::names::check_output_name`]).
pub const TEMP_NAME_EXTRA: usize = 12;

/// A set of outputs written together: nothing appears at its final path
/// until [`Staging::commit`], and dropping an uncommitted staging removes
/// every temporary file (and every folder it created).
#[derive(Debug, Default)]
pub struct Staging {
    files: Vec<(NamedTempFile, PathBuf, Guard)>,
    created_dirs: Vec<(PathBuf, Guard)>,
    committed: bool,
}

impl Staging {
    /// An empty staging area.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make sure `dir` exists and can be written, creating it (and noting
    /// that we did, so a failed run removes it again) when it is missing.
    pub fn ensure_dir(&mut self, dir: &Path) -> Result<(), Error> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        for d in missing.into_iter().rev() {
            match cleanup::track(Kind::EmptyDir, || std::fs::create_dir(&d), |()| d.clone()) {
                Ok(((), guard)) => self.created_dirs.push((d, guard)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(Error::Unwritable { path: d, source }),
            }
        }
        if dir.exists() && !dir.is_dir() {
            return Err(Error::Unwritable {
                path: dir.to_path_buf(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
            });
        }
        Ok(())
    }

    /// Open a temporary file that will become `dest` on commit.
    pub fn create(&mut self, dest: &Path) -> Result<&mut NamedTempFile, Error> {
        let dir = parent_dir(dest);
        self.ensure_dir(dir)?;
        let name = dest.file_name().map_or_else(
            || ".relkit".to_owned(),
            |n| format!(".{}.", n.to_string_lossy()),
        );
        let (tmp, guard) = cleanup::track(
            Kind::File,
            || {
                tempfile::Builder::new()
                    .prefix(&name)
                    .suffix(".tmp")
                    .tempfile_in(dir)
            },
            |t| t.path().to_path_buf(),
        )
        .map_err(|source| Error::Unwritable {
            path: dir.to_path_buf(),
            source,
        })?;
        self.files.push((tmp, dest.to_path_buf(), guard));
        Ok(&mut self.files.last_mut().expect("just pushed").0)
    }

    /// Stage `bytes` as the whole content of `dest`.
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> Result<(), Error> {
        let file = self.create(dest)?;
        file.write_all(bytes).map_err(|e| io_at(dest, e))?;
        Ok(())
    }

    /// The final paths staged so far, in the order they were staged.
    pub fn destinations(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(_, d, _)| d.as_path())
    }

    /// Flush every file to disk and rename it into place. Files get mode
    /// 0644 (the temp files are 0600), whatever the umask.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, Error> {
        for (tmp, dest, _) in &mut self.files {
            tmp.as_file_mut().sync_all().map_err(|e| io_at(dest, e))?;
            set_mode(tmp.path(), 0o644).map_err(|e| io_at(dest, e))?;
        }
        // The guards outlive the pause: dropping one waits for the registry.
        let (pending, _guards): (Vec<_>, Vec<_>) = std::mem::take(&mut self.files)
            .into_iter()
            .map(|(tmp, dest, guard)| ((tmp, dest), guard))
            .unzip();
        let mut done = Vec::with_capacity(pending.len());
        {
            // An interruption now waits until every output is in place.
            let _pause = cleanup::pause();
            for (tmp, dest) in pending {
                tmp.persist(&dest).map_err(|e| io_at(&dest, e.error))?;
                done.push(dest);
            }
            self.committed = true;
        }
        Ok(done)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Temp files remove themselves; then the folders we made, innermost first.
        self.files.clear();
        for (d, _) in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Write one file atomically.
pub fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut staging = Staging::new();
    staging.write(dest, bytes)?;
    staging.commit()?;
    Ok(())
}

fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Attach `path` to an I/O error so the one-line message names it.
pub fn io_at(path: &Path, e: io::Error) -> Error {
    Error::Io(io::Error::new(
        e.kind(),
        format!("`{}`: {e}", path.display()),
    ))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new/sub");
        {
            let mut s = Staging::new();
            s.write(&out.join("a.txt"), b"a").unwrap();
            // Dropped without commit: nothing left, not even the folders.
        }
        assert!(!dir.path().join("new").exists());

        let mut s = Staging::new();
        s.write(&out.join("a.txt"), b"a").unwrap();
        s.write(&out.join("b.txt"), b"b").unwrap();
        let done = s.commit().unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(fs_err::read(out.join("b.txt")).unwrap(), b"b");
        let names: Vec<_> = fs_err::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temp files left: {names:?}");
    }

    #[test]
    fn temp_names_add_what_is_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("name.tar.gz");
        let mut s = Staging::new();
        let tmp = s.create(&dest).unwrap().path().to_path_buf();
        let len = |p: &Path| p.file_name().unwrap().len();
        assert_eq!(len(&tmp), len(&dest) + TEMP_NAME_EXTRA);
    }

    #[test]
    fn refuses_a_file_as_folder() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("file");
        fs_err::write(&f, b"x").unwrap();
        let mut s = Staging::new();
        let err = s.write(&f.join("out"), b"x").unwrap_err();
        assert!(err.to_string().contains("cannot write here"), "{err}");
    }
}

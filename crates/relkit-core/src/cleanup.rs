//! Removal of temporary outputs when a helper is interrupted: SIGINT,
//! SIGTERM or SIGHUP would otherwise end the process without running any
//! destructor, leaving `.NAME….tmp` files and staging folders behind.
//!
//! Every temporary path a writer creates is registered here while it lives
//! ([`track`], used by [`crate::atomic::Staging`]); [`enable`], called by
//! [`crate::cli::main`], arms a handler that on the first of those signals
//! removes every registered path and exits with 128 + the signal number
//! (130, 143, 129). The handler is installed when the first path is
//! registered, so a helper that never writes keeps the default signal
//! behaviour (and any handler of its own).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

/// How to remove a registered path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A temporary file.
    File,
    /// A folder we created that should be empty once its files are gone
    /// (removed only if empty, innermost first).
    EmptyDir,
    /// A scratch folder, removed with everything in it.
    Tree,
}

#[derive(Default)]
struct Registry {
    live: BTreeMap<u64, (Kind, PathBuf)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    live: BTreeMap::new(),
});
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static ENABLED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Arm the cleanup for this process: from the first registered path on,
/// SIGINT, SIGTERM and SIGHUP remove every registered path and exit with
/// 128 + the signal number. Called by [`crate::cli::main`].
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Keeps a path registered; dropping it unregisters the path (the owner
/// removed it, or it became a final output).
#[derive(Debug)]
#[must_use = "the path is unregistered when the guard is dropped"]
pub struct Guard {
    id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        registry().live.remove(&self.id);
    }
}

/// Create a temporary path with `make` and register the path `path_of`
/// gives for it, atomically with
/// respect to the signal handler: an interruption either comes before the
/// path exists or finds it registered.
pub fn track<T>(
    kind: Kind,
    make: impl FnOnce() -> io::Result<T>,
    path_of: impl FnOnce(&T) -> PathBuf,
) -> io::Result<(T, Guard)> {
    install_if_enabled();
    let mut reg = registry();
    let value = make()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    reg.live.insert(id, (kind, path_of(&value)));
    Ok((value, Guard { id }))
}

/// Register a path that already exists (a folder made by another API).
pub fn register(kind: Kind, path: &Path) -> Guard {
    install_if_enabled();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().live.insert(id, (kind, path.to_path_buf()));
    Guard { id }
}

/// A temporary folder in `dir` (named `PREFIX…`), registered until the
/// guard drops: for staging folders and scratch space outside
/// [`crate::atomic::Staging`]. Keep the guard alive as long as the folder.
pub fn tempdir_in(dir: &Path, prefix: &str) -> io::Result<(tempfile::TempDir, Guard)> {
    track(
        Kind::Tree,
        || tempfile::Builder::new().prefix(prefix).tempdir_in(dir),
        |d| d.path().to_path_buf(),
    )
}

/// Holds off the signal handler while alive: renaming several outputs into
/// place under it means an interruption sees all of them or none.
#[must_use = "the handler is held off only while this lives"]
pub struct Pause(#[allow(dead_code)] MutexGuard<'static, Registry>);

impl std::fmt::Debug for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pause")
    }
}

/// Hold off the signal handler until the returned value is dropped. Do not
/// create or drop a [`Guard`] meanwhile (it would wait for the pause).
pub fn pause() -> Pause {
    Pause(registry())
}

/// Remove every registered path: files first, then scratch trees, then the
/// folders we created, innermost first. Errors are ignored: this runs on
/// the way out.
fn remove_all(reg: &Registry) {
    for kind in [Kind::File, Kind::Tree, Kind::EmptyDir] {
        let mut paths: Vec<&PathBuf> = reg
            .live
            .values()
            .filter(|(k, _)| *k == kind)
            .map(|(_, p)| p)
            .collect();
        // Deeper paths first, so nested created folders go before their parents.
        paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in paths {
            let _ = match kind {
                Kind::File => fs_err::remove_file(p),
                Kind::Tree => fs_err::remove_dir_all(p),
                Kind::EmptyDir => fs_err::remove_dir(p),
            };
        }
    }
}

fn install_if_enabled() {
    if ENABLED.load(Ordering::SeqCst) {
        INSTALL.call_once(install);
    }
}

#[cfg(unix)]
fn install() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch for interrupts; temp files may be left behind: {e}");
            return;
        }
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // Held until exit: no writer registers a new path after this.
            let reg = registry();
            remove_all(&reg);
            let name = match sig {
                SIGINT => "SIGINT",
                SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            eprintln!("error: interrupted by {name}; temporary files removed");
            std::process::exit(128 + sig);
        }
    });
}

#[cfg(not(unix))]
fn install() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_all_takes_files_trees_then_empty_folders() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("a/b");
        fs_err::create_dir_all(&made).unwrap();
        let tmp = made.join(".x.tmp");
        fs_err::write(&tmp, b"x").unwrap();
        let tree = dir.path().join("scratch");
        fs_err::create_dir_all(tree.join("deep")).unwrap();
        fs_err::write(tree.join("deep/f"), b"f").unwrap();
        let mut reg = Registry::default();
        reg.live.insert(0, (Kind::EmptyDir, dir.path().join("a")));
        reg.live.insert(1, (Kind::EmptyDir, made.clone()));
        reg.live.insert(2, (Kind::File, tmp));
        reg.live.insert(3, (Kind::Tree, tree));
        remove_all(&reg);
        let left: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn guards_unregister() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let ((), guard) = track(Kind::File, || fs_err::write(&p, b"x"), |()| p.clone()).unwrap();
        assert!(registry().live.values().any(|(_, q)| *q == p));
        drop(guard);
        assert!(!registry().live.values().any(|(_, q)| *q == p));
    }
}

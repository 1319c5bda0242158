//! The dependency list cargo-auditable embeds in a Rust binary (the
//! `.dep-v0` section: zlib-compressed JSON), read back with the
//! `auditable-info` crate, so a binary built elsewhere still gets an SBOM.
//! Packages it marks `build` (build scripts' dependencies, proc-macros) are
//! not linked in: they get [`Scope::Excluded`].

use std::path::Path;

use auditable_info::{Error as AuditError, Limits};
use auditable_serde::{DependencyKind, Source};

use crate::{Component, Ecosystem, Error, Scope};

/// cargo's source id for crates.io, so components read from a binary match
/// those read from cargo metadata.
pub const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// auditable-info reads the whole binary to find the section; this bounds
/// it (release binaries are far smaller).
const MAX_BINARY: usize = 1024 * 1024 * 1024;
/// The most decompressed audit JSON accepted.
const MAX_JSON: usize = 16 * 1024 * 1024;

/// The root package and components recorded in `binary`; `Ok(None)` when
/// it carries no audit data.
pub fn read(binary: &Path) -> Result<Option<(Component, Vec<Component>)>, Error> {
    // Refuses fifos and directories before auditable-info opens it.
    relkit_core::input::open_regular(binary)?;
    let limits = Limits {
        input_file_size: MAX_BINARY,
        decompressed_json_size: MAX_JSON,
    };
    let info = match auditable_info::audit_info_from_file(binary, limits) {
        Ok(info) => info,
        // No section, or not an executable format auditable-extract knows.
        Err(AuditError::NoAuditData | AuditError::BinaryParsing(_)) => return Ok(None),
        Err(e) => {
            return Err(Error::input(
                binary,
                format!("has cargo-auditable data relkit cannot read: {e}"),
            ));
        }
    };
    let mut root = None;
    let mut components = Vec::new();
    for p in &info.packages {
        let mut c = Component::new(Ecosystem::Cargo, &p.name, &p.version.to_string());
        c.source = match &p.source {
            Source::CratesIo => Some(CRATES_IO.to_owned()),
            Source::Local => None,
            other => Some(String::from(other.clone())),
        };
        if p.kind == DependencyKind::Build {
            c.scope = Scope::Excluded;
        }
        if p.root {
            root = Some(c);
        } else {
            components.push(c);
        }
    }
    let root = root
        .ok_or_else(|| Error::input(binary, "has cargo-auditable data without a root package"))?;
    components.sort();
    Ok(Some((root, components)))
}

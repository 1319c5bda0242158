//! A release's image, as `relkit finalize` leaves it in the output folder:
//! the OCI layout at [`LAYOUT`], its digests and tags in `manifest.json`'s
//! `images`, and [`NO_PUSH`] when relkit.toml says `push = false`.
//! `relkit image push --release DIR` pushes exactly that, after the
//! release is published.

use std::path::Path;

use relkit_core::manifest::{Image, Manifest};

use crate::Error;

/// The layout folder, relative to the release's output folder.
pub const LAYOUT: &str = ".relkit/image";
/// Present when the image is built and recorded but not to be pushed.
pub const NO_PUSH: &str = ".relkit/image.no-push";

/// What to push for the release in `dir`: `None` when it records no image
/// or says not to push it.
pub fn recorded(dir: &Path) -> Result<Option<Image>, Error> {
    let manifest = Manifest::read(&dir.join("manifest.json"))?;
    let Some(image) = manifest.images.into_iter().next() else {
        tracing::info!(
            "`{}` records no image ([image] in relkit.toml): nothing to push",
            dir.join("manifest.json").display()
        );
        return Ok(None);
    };
    if dir.join(NO_PUSH).exists() {
        tracing::info!(
            "relkit.toml's image.push is false: not pushing {}",
            image.repository
        );
        return Ok(None);
    }
    Ok(Some(image))
}

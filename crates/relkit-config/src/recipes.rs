//! `[homebrew]` and `[scoop]` in relkit.toml: package-manager recipes that
//! finalize writes from the release's archives (a Homebrew formula
//! `NAME.rb`, a Scoop manifest `NAME.json`). Both tables take the same
//! fields; what they leave out comes from `[package]`, then from the
//! GitHub repository.

use serde::Deserialize;

/// `[homebrew]` or `[scoop]`: the recipe's name and what it says about the
/// project. An empty table is enough when `[package]` has a description.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Recipe {
    /// Formula or app name, also the file name [default: the project name].
    pub name: Option<String>,
    /// One line saying what it is [default: `[package]`'s `description`].
    pub description: Option<String>,
    /// Project home page [default: `[package]`'s `homepage`, else
    /// `https://github.com/OWNER/REPO`].
    pub homepage: Option<String>,
    /// License as an SPDX identifier, or identifiers joined by ` OR ` or by
    /// ` AND ` [default: `[package]`'s `license`].
    pub license: Option<String>,
    /// Which of `binaries` the recipe installs [default: all of them].
    pub binaries: Option<Vec<String>>,
    /// The GitHub repository `OWNER/REPO` Scoop's `checkver` watches for new
    /// releases [default: `$GITHUB_REPOSITORY`, else the `origin` remote].
    pub repository: Option<String>,
}

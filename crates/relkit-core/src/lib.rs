//! Shared types and plumbing for the relkit helpers: targets, versions, the
//! release manifest, streaming hashing, atomic output, build time, GitHub
//! Actions I/O, the deterministic zip writer and the error conventions every
//! helper follows.
#![deny(missing_docs)]

pub mod atomic;
pub mod buildtime;
pub mod cleanup;
pub mod cli;
pub mod error;
pub mod gha;
pub mod hash;
pub mod input;
pub mod kind;
pub mod logging;
pub mod manifest;
pub mod names;
pub mod progress;
pub mod target;
pub mod version;
pub mod zip;

pub use error::{Error, Failure, HasFailure};

/// The name and version of relkit itself, recorded in every manifest.
pub const TOOL_NAME: &str = "relkit";
/// The version of relkit that wrote an output.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

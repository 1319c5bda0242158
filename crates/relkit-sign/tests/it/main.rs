//! Integration tests for relkit-sign: interop both ways with the real
//! minisign and gpg CLIs, every failure path, and the secrets guarantees.

// Scenario tests read best top to bottom: length is not the problem there.
#![allow(clippy::too_many_lines)]

mod cli;
mod common;
mod failures;
mod gpg;
mod minisign;
mod secrets;
mod terraform;

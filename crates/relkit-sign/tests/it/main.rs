//! Integration tests for relkit-sign: interop both ways with the real
//! minisign and gpg CLIs, every failure path, and the secrets guarantees.

mod cli;
mod common;
mod failures;
mod gpg;
mod minisign;
mod secrets;
mod terraform;

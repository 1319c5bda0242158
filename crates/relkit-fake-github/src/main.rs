//! The fake's binary. It stops on SIGINT and SIGTERM by itself (writing its
//! state file last, then exit 0), so unlike the helpers it does not arm
//! relkit-core's remove-and-exit-on-signal cleanup that `cli::main` arms.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    relkit_core::logging::init();
    match relkit_fake_github::Cli::try_parse() {
        Ok(cli) => relkit_core::error::finish(relkit_fake_github::run(cli)),
        Err(e) => relkit_core::cli::usage_exit(&e),
    }
}

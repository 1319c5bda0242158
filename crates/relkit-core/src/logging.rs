//! Logging to stderr through `tracing`, filtered by `RELKIT_LOG` (default
//! `info`). Log lines carry no timestamps, so output is stable in tests.

use tracing_subscriber::EnvFilter;

/// The environment variable that sets the log filter, e.g. `debug` or
/// `relkit_release_upload=trace`.
pub const LOG_ENV: &str = "RELKIT_LOG";

/// Install the stderr logger once; later calls are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

//! The `main` every helper binary shares: parse arguments, run, and turn the
//! outcome into relkit's exit codes (clap's own usage errors become exit 1
//! with one line, instead of clap's exit 2 and multi-line usage block).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::error::{HasFailure, finish};

/// Run a helper: initialise logging, arm the removal of temp files on
/// SIGINT, SIGTERM and SIGHUP ([`crate::cleanup`]), parse
/// `std::env::args`, call `run`.
pub fn main<C: Parser, E: HasFailure + 'static>(run: impl FnOnce(C) -> Result<(), E>) -> ExitCode {
    main_from(std::env::args_os(), run)
}

/// [`main`] with explicit arguments (the first one is the program name).
pub fn main_from<C, E, I, T>(args: I, run: impl FnOnce(C) -> Result<(), E>) -> ExitCode
where
    C: Parser,
    E: HasFailure + 'static,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    crate::logging::init();
    crate::cleanup::enable();
    match C::try_parse_from(args) {
        Ok(cli) => finish(run(cli)),
        Err(e) => usage_exit(&e),
    }
}

/// Print a clap error: help and version go to stdout with exit 0; a usage
/// error becomes one `error:` line on stderr and exit 1.
pub fn usage_exit(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    // clap's message is its first paragraph (some kinds list the missing
    // arguments on indented lines below it); the usage block follows.
    let rendered = e.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = paragraph.join(" ");
    let first = joined.strip_prefix("error: ").unwrap_or(&joined);
    let first = if first.is_empty() {
        "invalid arguments"
    } else {
        first
    };
    let bin = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "relkit".to_owned());
    let line = format!("{first} (see `{bin} --help`)");
    crate::gha::error_annotation(&line, None);
    ExitCode::from(crate::Failure::Input.code())
}

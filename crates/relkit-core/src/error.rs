//! The error type shared by the helpers and the exit-code convention:
//! 1 for bad input or usage, 2 for an internal fault, 3 for a remote service
//! that kept failing after retries.

use std::path::PathBuf;
use std::process::ExitCode;

/// What kind of failure ended a run; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Bad input or usage: exit 1.
    Input,
    /// A fault inside relkit or the machine (disk full, a bug): exit 2.
    Internal,
    /// A remote service that kept failing after retries: exit 3.
    Remote,
}

impl Failure {
    /// The process exit code for this kind of failure.
    pub fn code(self) -> u8 {
        match self {
            Failure::Input => 1,
            Failure::Internal => 2,
            Failure::Remote => 3,
        }
    }
}

/// Errors that know which kind of failure they are.
pub trait HasFailure: std::error::Error {
    /// The kind of failure, which decides the exit code.
    fn failure(&self) -> Failure;
}

/// Errors raised by relkit-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed. The message names the path.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An input file is missing.
    #[error("`{}`: no such file", .0.display())]
    Missing(PathBuf),
    /// A path that must be a regular file is something else.
    #[error("`{}`: {what}", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// A value given on the command line or in a file is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The flag, field or file that holds the value.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A JSON document could not be parsed.
    #[error("`{}`: {source}", path.display())]
    Json {
        /// The file being parsed.
        path: PathBuf,
        /// What the parser reported.
        #[source]
        source: serde_json::Error,
    },
    /// A small input (config, key, manifest, notes…) is over its size limit.
    #[error("`{}`: {}is over {limit}", path.display(), size_prefix(*.size))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size when known before reading (a file that grew has none).
        size: Option<u64>,
        /// The limit it broke.
        limit: crate::input::Limit,
    },
    /// A text input is not valid UTF-8.
    #[error("`{}`: is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first byte that is not UTF-8.
        offset: usize,
    },
    /// An output location cannot be written.
    #[error("`{}`: cannot write here: {source}", path.display())]
    Unwritable {
        /// The folder or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn size_prefix(size: Option<u64>) -> String {
    size.map(|n| format!("{n} bytes ")).unwrap_or_default()
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Io(e) if is_input_io(e) => Failure::Input,
            Error::Io(_) => Failure::Internal,
            _ => Failure::Input,
        }
    }
}

/// I/O errors that come from what the user gave us (a missing or unreadable
/// file, a folder where a file belongs) rather than from the machine.
pub fn is_input_io(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::NotFound
            | K::PermissionDenied
            | K::IsADirectory
            | K::NotADirectory
            | K::ReadOnlyFilesystem
            | K::InvalidInput
            | K::InvalidData
            | K::AlreadyExists
    )
}

/// Render an error and its causes on one line, skipping causes whose text
/// the outer message already contains.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace(['\n', '\r'], " ")
}

/// Finish a helper's `main`: print a failure as one line (and as an Actions
/// annotation when running in GitHub Actions) and map it to an exit code.
pub fn finish<E: HasFailure + 'static>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err, err.failure()),
    }
}

/// Print `err` as one line and return the exit code for `failure`.
pub fn report(err: &(dyn std::error::Error + 'static), failure: Failure) -> ExitCode {
    let line = one_line(err);
    if crate::gha::is_actions() {
        crate::gha::error_annotation(&line, None);
    } else {
        eprintln!("error: {line}");
    }
    ExitCode::from(failure.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer `x`: inner detail")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner detail")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("top")]
    struct Top(#[source] std::io::Error);

    #[test]
    fn one_line_skips_repeated_causes_and_newlines() {
        assert_eq!(one_line(&Outer(Inner)), "outer `x`: inner detail");
        let e = Top(std::io::Error::other("a\nb"));
        assert_eq!(one_line(&e), "top: a b");
    }

    #[test]
    fn exit_codes_follow_design() {
        assert_eq!(Failure::Input.code(), 1);
        assert_eq!(Failure::Internal.code(), 2);
        assert_eq!(Failure::Remote.code(), 3);
        let missing = Error::Io(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(missing.failure(), Failure::Input);
        let full = Error::Io(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert_eq!(full.failure(), Failure::Internal);
    }
}

//! Validation of names that end up in file names and archive paths.

use crate::Error;

/// Check that `value` can be used as one path component: non-empty, no
/// `/` or `\`, not `.` or `..`, no control characters, no leading `-`.
pub fn check_component(field: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let problem = if value == "." || value == ".." || value.contains("..") {
        Some("must not contain `..`")
    } else if value.contains('/') || value.contains('\\') {
        Some("must not contain `/` or `\\`")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if value.starts_with('-') {
        Some("must not start with `-`")
    } else if value.chars().any(char::is_whitespace) {
        Some("must not contain spaces")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(field, format!("`{value}` {p}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_tricks() {
        assert!(check_component("--name", "mytool").is_ok());
        assert!(check_component("--name", "my_tool-2.x").is_ok());
        assert_eq!(
            check_component("--name", "").unwrap_err().to_string(),
            "--name: must not be empty"
        );
        for bad in [
            ".", "..", "a/b", "a\\b", "../x", "a..b", "a\nb", "-x", "a b",
        ] {
            let e = check_component("--name", bad).unwrap_err().to_string();
            assert!(e.starts_with("--name: `"), "{e}");
        }
    }
}

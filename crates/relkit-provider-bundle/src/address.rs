//! Validation of the parts of a provider address `HOST/NAMESPACE/NAME` and
//! of the plugin protocol versions, with the rules Terraform applies, so a
//! bundle that builds is one Terraform can install.

use relkit_core::Error;

/// The default registry host.
pub const DEFAULT_HOSTNAME: &str = "registry.terraform.io";

/// Check a provider type (`NAME`) or namespace the way Terraform's address
/// parser does for ASCII: lower-case letters, digits and single dashes, no
/// leading or trailing dash. Terraform folds upper case to lower case, which
/// would make file names disagree with the address, so upper case is refused.
pub fn check_part(field: &str, value: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::invalid(field, format!("`{value}` {why}")));
    if value.is_empty() {
        return bad("must not be empty");
    }
    if field == "--name" && value.starts_with("terraform-provider-") {
        return bad(&format!(
            "must be the part after `terraform-provider-` (`{}`)",
            &value["terraform-provider-".len()..]
        ));
    }
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad(&format!(
            "must be lower case (Terraform reads it as `{}`)",
            value.to_ascii_lowercase()
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad(
            "may contain only lower-case letters, digits and dashes, as Terraform requires",
        );
    }
    if value.starts_with('-') || value.ends_with('-') {
        return bad("must not start or end with a dash");
    }
    if value.contains("--") {
        return bad("must not contain two dashes in a row");
    }
    Ok(())
}

/// Check and normalise a registry hostname, with an optional `:port`
/// (Terraform accepts `localhost:8443/ns/name` as a source address).
pub fn check_hostname(value: &str) -> Result<String, Error> {
    let field = "--hostname";
    let bad = |why: &str| Err(Error::invalid(field, format!("`{value}` {why}")));
    if value.contains("://") || value.contains('/') {
        return bad("must be a bare hostname, without scheme or path (e.g. registry.example.com)");
    }
    let lower = value.to_ascii_lowercase();
    let (host, port) = match lower.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (lower.as_str(), None),
    };
    if let Some(p) = port {
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().map_or(true, |n| n == 0)
        {
            return bad(
                "has an invalid port (expected HOST or HOST:PORT, e.g. registry.example.com:8443)",
            );
        }
    }
    if host.is_empty() || host.len() > 253 {
        return bad("is not a hostname (expected e.g. registry.terraform.io)");
    }
    for label in host.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("is not a hostname (expected e.g. registry.terraform.io)");
        }
    }
    Ok(lower)
}

/// Check a plugin protocol version such as `6.0` or `5.0`.
pub fn check_protocol(value: &str) -> Result<(), Error> {
    let ok = value
        .split_once('.')
        .is_some_and(|(a, b)| is_number(a) && is_number(b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--protocol",
            format!("`{value}` is not a plugin protocol version such as 5.0 or 6.0"),
        ))
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        for ok in ["aws", "my-provider", "a1", "x"] {
            check_part("--name", ok).unwrap();
        }
        let cases = [
            ("", "must not be empty"),
            ("My", "must be lower case (Terraform reads it as `my`)"),
            ("a_b", "may contain only"),
            ("a.b", "may contain only"),
            ("a/b", "may contain only"),
            ("-a", "must not start or end"),
            ("a-", "must not start or end"),
            ("a--b", "two dashes"),
            (
                "terraform-provider-aws",
                "part after `terraform-provider-` (`aws`)",
            ),
            ("ä", "may contain only"),
        ];
        for (bad, why) in cases {
            let e = check_part("--name", bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--name: `{bad}` ")) && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn hostnames() {
        assert_eq!(
            check_hostname("registry.terraform.io").unwrap(),
            "registry.terraform.io"
        );
        assert_eq!(check_hostname("LocalHost:8443").unwrap(), "localhost:8443");
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a b",
            "host:",
            "host:0",
            "host:99999",
            "a/b",
            "host:x",
        ] {
            let e = check_hostname(bad).unwrap_err().to_string();
            assert!(e.starts_with("--hostname: `"), "{bad}: {e}");
        }
    }

    #[test]
    fn protocols() {
        check_protocol("6.0").unwrap();
        check_protocol("5.2").unwrap();
        for bad in ["6", "v6.0", "6.0.0", ".0", "x.y", ""] {
            assert!(check_protocol(bad).is_err(), "{bad}");
        }
    }
}

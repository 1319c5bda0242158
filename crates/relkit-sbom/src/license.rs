//! License expressions and the license gate. Crates declare SPDX
//! expressions (older ones `MIT/Apache-2.0`); the `spdx` crate normalises
//! them and evaluates them against relkit.toml's `allow` / `deny` lists, so
//! `MIT OR GPL-3.0-only` passes a policy denying GPL-3.0-only (the MIT
//! choice is open) while `MIT AND GPL-3.0-only` fails.

use spdx::{Expression, LicenseReq};

use crate::{Component, Error, Scope};

/// The SPDX expression a declared license string means, normalised
/// (`MIT/Apache-2.0` → `MIT OR Apache-2.0`); `None` when it is not one.
pub fn normalize(raw: &str) -> Option<String> {
    let canonical = match Expression::canonicalize(raw) {
        Ok(Some(c)) => c,
        Ok(None) => raw.to_owned(),
        Err(_) => return None,
    };
    Expression::parse(&canonical).ok().map(|_| canonical)
}

/// A license policy (relkit.toml `[sbom.licenses]`).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Licenses no component may require (SPDX ids).
    pub deny: Vec<String>,
    /// When not empty: every component must be usable under these alone.
    pub allow: Vec<String>,
    /// Whether a component without a readable SPDX license passes an
    /// `allow` list (a `deny` list alone always lets it pass).
    pub allow_unknown: bool,
}

impl Policy {
    /// Check that every entry is an SPDX license id (or a `LicenseRef-`);
    /// `field` names the list in errors.
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        for (list, ids) in [("deny", &self.deny), ("allow", &self.allow)] {
            for id in ids {
                if spdx::license_id(id).is_none() && !id.starts_with("LicenseRef-") {
                    return Err(relkit_core::Error::invalid(
                        format!("{field}.{list}"),
                        format!("`{id}` is not an SPDX license identifier"),
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    fn listed(list: &[String], req: &LicenseReq) -> bool {
        let shown = req.license.to_string();
        list.iter().any(|entry| {
            *entry == shown || req.license.id().is_some_and(|id| id.name == entry.as_str())
        })
    }

    /// Every component that breaks the policy, as one line each naming the
    /// crate, its version and its license. Build-only components are
    /// checked too: their licenses bind what ships only loosely, but a
    /// denied license anywhere in the build is what policies forbid.
    pub fn violations(&self, components: &[Component]) -> Vec<String> {
        if self.deny.is_empty() && self.allow.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for c in components {
            let build = if c.scope == Scope::Excluded {
                " (build-time)"
            } else {
                ""
            };
            let who = format!("{} {}{build}", c.name, c.version);
            let Some(expr) = c.license.as_deref().and_then(normalize) else {
                if !self.allow.is_empty() && !self.allow_unknown {
                    let shown = c.license.as_deref().unwrap_or("none");
                    out.push(format!(
                        "{who}: license `{shown}` is not an SPDX expression the allow list can admit"
                    ));
                }
                continue;
            };
            let parsed = Expression::parse(&expr).expect("normalize parsed it");
            let ok = parsed.evaluate(|req| {
                !Self::listed(&self.deny, req)
                    && (self.allow.is_empty() || Self::listed(&self.allow, req))
            });
            if !ok {
                let why = if parsed.evaluate(|req| !Self::listed(&self.deny, req)) {
                    "is not in the allow list"
                } else {
                    "is denied"
                };
                out.push(format!("{who}: license `{expr}` {why}"));
            }
        }
        out
    }

    /// Fail with one line for the first violation (and how many more).
    pub fn check(&self, components: &[Component]) -> Result<(), Error> {
        let v = self.violations(components);
        match v.first() {
            None => Ok(()),
            Some(first) if v.len() == 1 => Err(Error::License(first.clone())),
            Some(first) => Err(Error::License(format!(
                "{first} (and {} more)",
                v.len() - 1
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ecosystem;

    fn crate_with(license: Option<&str>) -> Component {
        let mut c = Component::new(Ecosystem::Cargo, "c", "1.0.0");
        c.license = license.map(str::to_owned);
        c
    }

    #[test]
    fn normalizes_cargo_style_licenses() {
        assert_eq!(
            normalize("MIT/Apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(normalize("MIT").as_deref(), Some("MIT"));
        assert_eq!(normalize("not a license ((").as_deref(), None);
    }

    #[test]
    fn deny_understands_or_and_and() {
        let p = Policy {
            deny: vec!["GPL-3.0-only".into()],
            ..Policy::default()
        };
        assert!(
            p.violations(&[crate_with(Some("MIT OR GPL-3.0-only"))])
                .is_empty()
        );
        assert_eq!(
            p.violations(&[crate_with(Some("MIT AND GPL-3.0-only"))]),
            ["c 1.0.0: license `MIT AND GPL-3.0-only` is denied"]
        );
        assert_eq!(
            p.check(&[crate_with(Some("GPL-3.0-only"))])
                .unwrap_err()
                .to_string(),
            "license policy: c 1.0.0: license `GPL-3.0-only` is denied"
        );
        assert!(p.violations(&[crate_with(None)]).is_empty());
    }

    #[test]
    fn allow_lists_admit_only_what_they_list() {
        let mut p = Policy {
            allow: vec!["MIT".into(), "Apache-2.0".into()],
            ..Policy::default()
        };
        assert!(
            p.violations(&[crate_with(Some("MIT/Apache-2.0"))])
                .is_empty()
        );
        assert_eq!(
            p.violations(&[crate_with(Some("BSD-3-Clause"))]),
            ["c 1.0.0: license `BSD-3-Clause` is not in the allow list"]
        );
        assert_eq!(p.violations(&[crate_with(None)]).len(), 1);
        p.allow_unknown = true;
        assert!(p.violations(&[crate_with(None)]).is_empty());
        let two = [crate_with(Some("BSD-3-Clause")), crate_with(Some("ISC"))];
        assert!(
            p.check(&two)
                .unwrap_err()
                .to_string()
                .ends_with("(and 1 more)")
        );
    }

    #[test]
    fn policy_ids_are_checked() {
        let p = Policy {
            deny: vec!["GPL3".into()],
            ..Policy::default()
        };
        assert_eq!(
            p.validate("sbom.licenses").unwrap_err().to_string(),
            "sbom.licenses.deny: `GPL3` is not an SPDX license identifier"
        );
    }
}

//! Test-only crate: the tests in `tests/it` check relkit's `action.yml`,
//! `scripts/install.sh`, the workflows and the starter templates with the
//! tools users and GitHub rely on (actionlint, check-jsonschema, zizmor, act).

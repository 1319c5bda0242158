//! Test-only crate: `tests/it` drives every relkit helper binary through a
//! corpus of hostile inputs (issue 10, "The suite") and interrupts the
//! writing helpers with signals (issue 10.7). It has no code of its own.

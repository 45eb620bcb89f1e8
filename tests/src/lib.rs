//! Whole-system tests for zkattr live in `tests/` (`cargo test -p zkattr-tests`).
#![deny(missing_docs)]

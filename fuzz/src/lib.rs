//! strata's fuzz targets: the checks they run live in `checks` (shared with
//! `tests/fuzz_regressions.rs`); `fuzz_targets/` holds one libFuzzer entry point per check.

pub mod checks;

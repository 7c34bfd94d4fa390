#![no_main]
//! See `strata_fuzz::checks::json_patch` for the input format and the oracle.

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::checks::json_patch(data));

#![no_main]
//! See `strata_fuzz::checks::yaml_roundtrip` for the input format and the oracle.

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::checks::yaml_roundtrip(data));

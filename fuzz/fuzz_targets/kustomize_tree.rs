#![no_main]
//! See `strata_fuzz::checks::kustomize_tree` for the input format and the oracle.

libfuzzer_sys::fuzz_target!(|data: &[u8]| strata_fuzz::checks::kustomize_tree(data));

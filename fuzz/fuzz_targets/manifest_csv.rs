#![no_main]
//! Fuzz target: radose::fuzzing::manifest_and_csv (run: cargo +nightly fuzz run manifest_csv).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::manifest_and_csv(data));

#![no_main]
//! Fuzz target: radose::fuzzing::rtstruct (run: cargo +nightly fuzz run rtstruct).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::rtstruct(data));

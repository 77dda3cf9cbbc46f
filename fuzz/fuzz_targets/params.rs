#![no_main]
//! Fuzz target: radose::fuzzing::params (run: cargo +nightly fuzz run params).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::params(data));

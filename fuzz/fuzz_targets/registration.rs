#![no_main]
//! Fuzz target: radose::fuzzing::registration (run: cargo +nightly fuzz run registration).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::registration(data));

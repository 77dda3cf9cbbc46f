#![no_main]
//! Fuzz target: radose::fuzzing::nrrd (run: cargo +nightly fuzz run nrrd).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::nrrd(data));

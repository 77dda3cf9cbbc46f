#![no_main]
//! Fuzz target: radose::fuzzing::nifti (run: cargo +nightly fuzz run nifti).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::nifti(data));

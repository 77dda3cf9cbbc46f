#![no_main]
//! Fuzz target: radose::fuzzing::dicom (run: cargo +nightly fuzz run dicom).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::dicom(data));

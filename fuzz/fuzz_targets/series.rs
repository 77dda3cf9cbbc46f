#![no_main]
//! Fuzz target: radose::fuzzing::series (run: cargo +nightly fuzz run series).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::series(data));

#![no_main]
//! Fuzz target: radose::fuzzing::shell_line (run: cargo +nightly fuzz run shell_line).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::shell_line(data));

#![no_main]
//! Fuzz target: radose::fuzzing::where_expr (run: cargo +nightly fuzz run where_expr).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| radose::fuzzing::where_expr(data));

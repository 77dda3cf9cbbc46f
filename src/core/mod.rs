//! The pure, deterministic core: cohort typing and validation, summaries,
//! statistics. No I/O, no clock; any seed is passed in.

pub mod cohort;
pub mod describe;
pub mod dvh;
pub mod icc;
pub mod learn;
pub mod masks;
pub mod n4;
pub mod radiomics;
pub mod resample;
pub mod rng;
pub mod simulate;
pub mod stats;
pub mod table1;
pub mod volume;

//! How many threads radose's parallel work uses: the size of the rayon pool
//! it runs in — every core by default, `RAYON_NUM_THREADS` or `--threads N`
//! when given, or the pool a caller installs. One setting governs the
//! convolution, preprocessing, extraction, the simulator and dose loading,
//! so a cluster task can be held to the cores it was given. Results never
//! depend on it (`tests/threads.rs`).

/// The number of worker threads to use (at least 1).
pub fn count() -> usize {
    rayon::current_num_threads().max(1)
}

/// Sets the process-wide thread count (before any parallel work starts).
pub fn set_global(threads: usize) -> Result<(), String> {
    if threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().map_err(|e| e.to_string())
}

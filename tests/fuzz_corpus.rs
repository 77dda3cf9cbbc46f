//! Replays every fuzz seed and every crash the fuzzers found
//! (fuzz/corpus/TARGET, fuzz/regressions/TARGET) through the same entry
//! points the fuzz targets call: any panic fails the test. The fuzzers
//! themselves run with `cargo +nightly fuzz run TARGET` (see fuzz/README.md).

mod common;

#[test]
fn fuzz_corpora_and_regressions_replay_without_panics() {
    let mut replayed = 0;
    for (name, entry) in radose::fuzzing::TARGETS {
        for folder in ["corpus", "regressions"] {
            let dir = common::root().join("fuzz").join(folder).join(name);
            let Ok(files) = std::fs::read_dir(&dir) else { continue };
            for f in files {
                let path = f.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let result = std::panic::catch_unwind(|| entry(&data));
                assert!(result.is_ok(), "{name}: {} panicked", path.display());
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 20, "only {replayed} inputs replayed");
}

/// Inputs shaped like the classic failures: absurd dimensions, gzip bombs,
/// truncated headers, deep nesting.
#[test]
fn hostile_shapes_are_refused_cleanly() {
    // A NIfTI-1 header claiming 2^16 × 2^16 × 2^16 voxels.
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    h[40..42].copy_from_slice(&3i16.to_le_bytes());
    for d in [42, 44, 46] {
        h[d..d + 2].copy_from_slice(&i16::MAX.to_le_bytes());
    }
    h[70..72].copy_from_slice(&16i16.to_le_bytes());
    h[72..74].copy_from_slice(&32i16.to_le_bytes());
    h[344..348].copy_from_slice(b"n+1\0");
    radose::fuzzing::nifti(&h);
    // 50 MB of zeros compressed: inflated only up to what the header allows.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &vec![0u8; 50_000_000]).unwrap();
    let bomb = gz.finish().unwrap();
    radose::fuzzing::nifti(&bomb);
    let nrrd = [b"NRRD0004\ntype: short\ndimension: 3\nsizes: 4 4 4\nencoding: gzip\n\n".to_vec(), bomb].concat();
    radose::fuzzing::nrrd(&nrrd);
    radose::fuzzing::where_expr("(".repeat(5000).as_bytes());
    radose::fuzzing::params("a:\n".repeat(3000).as_bytes());
    radose::fuzzing::shell_line("\"".repeat(10_000).as_bytes());
}

/// A mutation fuzzer on the stable toolchain: every seed, mutated (bit
/// flips, byte changes, truncation, duplication, splices of other seeds)
/// and fed to its target, for `RADOSE_FUZZ_SECONDS` per target (default 2;
/// `RADOSE_FUZZ_TARGET` picks one target, `RADOSE_FUZZ_SEED` the mutations;
/// the long runs: `RADOSE_FUZZ_SECONDS=600 RADOSE_FUZZ_TARGET=nifti cargo test
/// --test fuzz_corpus mutated -- --nocapture`).
#[test]
fn mutated_seeds_never_panic() {
    let seconds: f64 = std::env::var("RADOSE_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let only = std::env::var("RADOSE_FUZZ_TARGET").ok();
    let mut rng = radose::core::rng::Rng::new(
        std::env::var("RADOSE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261126),
    );
    for (name, entry) in radose::fuzzing::TARGETS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let dir = common::root().join("fuzz/corpus").join(name);
        let seeds: Vec<Vec<u8>> =
            std::fs::read_dir(&dir).unwrap().map(|f| std::fs::read(f.unwrap().path()).unwrap()).collect();
        let started = std::time::Instant::now();
        let mut execs = 0u64;
        while started.elapsed().as_secs_f64() < seconds {
            let mut data = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(8) {
                let n = data.len();
                match rng.below(6) {
                    0 if n > 0 => {
                        let i = rng.below(n);
                        data[i] ^= 1 << rng.below(8);
                    }
                    1 if n > 0 => {
                        let i = rng.below(n);
                        data[i] = [0u8, 0xff, b'\n', b'(', b'"', b',', b'9', b'-'][rng.below(8)];
                    }
                    2 if n > 0 => data.truncate(rng.below(n)),
                    3 if n > 0 => {
                        let (a, b) = (rng.below(n), rng.below(n));
                        let (lo, hi) = (a.min(b), a.max(b));
                        let chunk = data[lo..hi].to_vec();
                        data.splice(hi..hi, chunk);
                    }
                    4 => {
                        let other = &seeds[rng.below(seeds.len())];
                        if !other.is_empty() {
                            let cut = rng.below(other.len());
                            let at = if n > 0 { rng.below(n) } else { 0 };
                            data.splice(at..at, other[cut..].iter().copied());
                        }
                    }
                    _ => {
                        let i = if n > 0 { rng.below(n) } else { 0 };
                        data.insert(i, rng.below(256) as u8);
                    }
                }
            }
            let keep = data.clone();
            if std::panic::catch_unwind(|| entry(&data)).is_err() {
                let out = std::env::temp_dir().join(format!("radose-fuzz-crash-{name}"));
                std::fs::write(&out, &keep).unwrap();
                panic!("{name}: a mutated input panicked (saved to {})", out.display());
            }
            execs += 1;
        }
        eprintln!("{name}: {execs} executions in {seconds} s, no panic");
    }
}

/// Found by the mutation fuzzer: a DICOM file whose value representation
/// was corrupted made the DICOM library allocate 1.5 GB before failing.
/// Such files are now refused by the length/VR pre-check, naming the element.
#[test]
fn corrupt_dicom_vr_is_refused_before_allocating() {
    for f in ["unknown_vr_huge_alloc_1.dcm", "unknown_vr_huge_alloc_2.dcm"] {
        let p = common::root().join("fuzz/regressions/dicom").join(f);
        let e = radose::imaging::read_image(&p).unwrap_err().to_string();
        assert!(e.contains("unknown value representation") && e.contains(f), "{f}: {e}");
    }
}

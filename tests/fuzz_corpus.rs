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
    for (i, d) in [42, 44, 46].iter().enumerate() {
        let _ = i;
        h[*d..*d + 2].copy_from_slice(&i16::MAX.to_le_bytes());
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

//! A real plan (dicompyler-core's example breast plan, tests/fixtures/dicompyler)
//! against dicompyler-core 0.5.6 (tests/fixtures/gen/dicompyler_fixtures.py):
//! each structure rasterised by radose onto the dose grid against the voxels
//! dicompyler-core counts (matplotlib's point-in-polygon, XOR per plane), and
//! `dvh`'s figures against `dvhcalc.get_dvh` with its defaults.
//!
//! Tolerances, and why: the masks must agree to a Dice ≥ 0.99 (structures of
//! ≥ 500 voxels) or ≥ 0.95 (smaller ones), volumes to 1% — they differ only at
//! voxel centres lying on a contour edge. Doses: dicompyler-core bins at
//! 0.01 Gy and reports bin centres for the mean (≤ 0.005 Gy high) and bin edges
//! for min/max, so those agree within 0.011 Gy + 0.5%; V metrics within 0.5
//! percentage points. D metrics differ by definition: radose reports the dose
//! that the hottest x% (x cm³) reaches (the bin's upper edge), dicompyler-core
//! the bin edge whose cumulative volume is nearest x — on a large structure
//! the two agree within 0.02 Gy or 2%; on a structure of a few dozen voxels
//! they can pick neighbouring voxels, so there the test accepts any dose
//! between the neighbouring voxels' doses around the asked volume.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures/dicompyler").join(name)
}

/// The gzipped fixture `name` unpacked into `dir`.
fn unpacked(dir: &Path, name: &str) -> PathBuf {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture(&format!("{name}.gz"))).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

/// The flat voxel indices of `[start, length]` runs.
fn from_runs(runs: &serde_json::Value) -> Vec<usize> {
    let mut out = Vec::new();
    for r in runs.as_array().unwrap() {
        let (s, n) = (r[0].as_u64().unwrap() as usize, r[1].as_u64().unwrap() as usize);
        out.extend(s..s + n);
    }
    out
}

#[test]
fn structures_rasterise_as_dicompyler_core_counts_them() {
    use radose::imaging::dicom::rtstruct::{rasterise, read_rtstruct};
    let dir = tempfile::tempdir().unwrap();
    let (rs, rd) = (unpacked(dir.path(), "rtss.dcm"), unpacked(dir.path(), "rtdose.dcm"));
    let want = expected();
    let dose = radose::imaging::read_image(&rd).unwrap();
    let grid: Vec<usize> = want["grid"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    assert_eq!(dose.volume.size.to_vec(), grid);
    let all = read_rtstruct(&rs).unwrap();
    let structures = want["structures"].as_object().unwrap();
    assert_eq!(structures.len(), 9, "every contoured structure of the plan");
    for (name, entry) in structures {
        let s = all.iter().find(|s| &s.name == name).unwrap_or_else(|| panic!("{name} not read"));
        let mask = rasterise(s, &dose.volume, dose.frame_of_reference.as_deref()).unwrap();
        let theirs = from_runs(&entry["mask"]);
        assert_eq!(theirs.len() as u64, entry["voxels"].as_u64().unwrap());
        let ours = mask.data.iter().filter(|v| **v > 0.5).count();
        let both = theirs.iter().filter(|&&i| mask.data[i] > 0.5).count();
        let dice = 2.0 * both as f64 / (ours + theirs.len()) as f64;
        eprintln!("{name}: Dice {dice:.5}, radose {ours} voxels, dicompyler-core {}", theirs.len());
        let floor = if theirs.len() >= 500 { 0.99 } else { 0.95 };
        assert!(dice >= floor, "{name}: Dice {dice:.4} (radose {ours} voxels, dicompyler-core {})", theirs.len());
        let rel = (ours as f64 - theirs.len() as f64).abs() / theirs.len() as f64;
        assert!(rel <= 0.01, "{name}: {ours} voxels vs {}", theirs.len());
    }
}

#[test]
fn dvh_figures_agree_with_dicompyler_core() {
    use radose::imaging::dicom::rtstruct::{rasterise, read_rtstruct};
    let dir = tempfile::tempdir().unwrap();
    let (rs, rd) = (unpacked(dir.path(), "rtss.dcm"), unpacked(dir.path(), "rtdose.dcm"));
    let out = dir.path().join("dvh.json");
    let mut s = common::session();
    let cmd = format!(
        "dvh --dose {} --structures {} --metrics D95,D50,D2cc,V5Gy,V10Gy --out {}",
        rd.display(),
        rs.display(),
        out.display()
    );
    let (_, err, outcome) = common::run(&mut s, &cmd, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let table: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let want = expected();
    let dose = radose::imaging::read_image(&rd).unwrap();
    let all = read_rtstruct(&rs).unwrap();
    let mut compared = 0;
    for (name, entry) in want["structures"].as_object().unwrap() {
        let row = table["rows"].as_array().unwrap().iter().find(|r| r["structure"] == name.as_str()).unwrap();
        let ours = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
        let theirs = |k: &str| entry["dvh"][k].as_f64();
        let close = |k: &str, abs: f64, rel: f64| {
            let (a, b) = (ours(k), theirs(k).unwrap());
            assert!((a - b).abs() <= abs + rel * b.abs(), "{name} {k}: radose {a}, dicompyler-core {b}");
        };
        close("volume_cc", 0.0, 0.01);
        close("mean_gy", 0.011, 0.005);
        close("min_gy", 0.011, 0.005);
        close("max_gy", 0.011, 0.005);
        close("V5Gy", 0.5, 0.0);
        close("V10Gy", 0.5, 0.0);
        // The structure's doses, hottest first, to bracket a small structure's D metrics.
        let st = all.iter().find(|s| &s.name == name).unwrap();
        let mask = rasterise(st, &dose.volume, None).unwrap();
        let mut doses: Vec<f64> =
            mask.data.iter().zip(&dose.volume.data).filter(|(m, _)| **m > 0.5).map(|(_, d)| f64::from(*d)).collect();
        doses.sort_by(|a, b| b.total_cmp(a));
        let voxel_cc = ours("volume_cc") / doses.len() as f64;
        for (k, want_voxels) in
            [("D95", 0.95 * doses.len() as f64), ("D50", 0.50 * doses.len() as f64), ("D2cc", 2.0 / voxel_cc)]
        {
            let Some(b) = theirs(k) else {
                assert!(ours(k).is_nan(), "{name} {k}: under 2 cm³, radose gives no D2cc");
                continue;
            };
            let a = ours(k);
            if doses.len() >= 50 {
                assert!((a - b).abs() <= 0.02_f64.max(0.02 * b), "{name} {k}: radose {a}, dicompyler-core {b}");
            } else {
                // Neighbouring voxels around the asked volume, with a bin either side.
                let r = (want_voxels.ceil() as usize).clamp(1, doses.len());
                let hi = doses[r.saturating_sub(2)] + 0.011;
                let lo = doses[(r).min(doses.len() - 1)] - 0.011;
                assert!(a >= lo && a <= hi && b >= lo && b <= hi, "{name} {k}: {a} and {b} outside [{lo}, {hi}]");
            }
            compared += 1;
        }
    }
    assert!(compared >= 20, "{compared} D metrics compared");
}

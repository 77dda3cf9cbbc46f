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

/// `extract COHORT --dvh METRICS`: every patient's dose figures in the ROI
/// as the feature frame `COHORT.DVH` (columns `dvh_…`), equal to the
/// figures of the doses read straight from that patient's images (the mask
/// carried onto the dose grid); the frame
/// is a feature frame like a sequence's; bad requests are refused.
#[test]
fn extract_dvh_gives_each_patients_figures_as_a_feature_frame() {
    use radose::core::dvh::{Metric, summarise};
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let out = dir.path().join("dvh");
    let mut s = common::session();
    let text = format!(
        "simulate --out {sim} --n-a 8 --n-b 6; load A {sim}/A; extract A --dvh D95,D2cc,V60Gy --roi rgtv --to {out} --out {out}/summary.csv",
        sim = sim.display(),
        out = out.display()
    );
    let (stdout, err, o) = common::run(&mut s, &text, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("missing where the ROI is smaller"), "{stdout}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.contains("DVH,8,7,0,A.DVH"), "{summary}");
    assert!(out.join("A.DVH.parquet").exists());
    let shown = dir.path().join("frame.csv");
    let (_, err, o) = common::run(&mut s, &format!("show A.DVH --rows 1-8 --out {}", shown.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let table = std::fs::read_to_string(&shown).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "patient_id",
            "nn",
            "dvh_volume_cc",
            "dvh_mean_gy",
            "dvh_min_gy",
            "dvh_max_gy",
            "dvh_D95",
            "dvh_D2cc",
            "dvh_V60Gy"
        ]
    );
    let metrics = [Metric::DosePercent(95.0), Metric::DoseCc(2.0), Metric::VolumeGy(60.0)];
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let images = sim.join("A/images").join(cells[0]);
        let dose = radose::imaging::nifti::read(&images.join("dose.nii.gz")).unwrap();
        let mask = radose::imaging::nifti::read(&images.join("rgtv.nii.gz")).unwrap();
        // The simulated dose has a grid of its own: the mask goes onto it by nearest neighbour.
        assert_ne!(dose.size, mask.size);
        use radose::core::resample::{Grid, Interpolator, resample};
        let mask = resample(&mask, &Grid::of(&dose), Interpolator::Nearest, 0.0);
        let doses: Vec<f64> =
            mask.data.iter().zip(&dose.data).filter(|(m, _)| **m > 0.5).map(|(_, d)| f64::from(*d)).collect();
        let voxel_cc = dose.spacing.iter().product::<f64>() / 1000.0;
        let want = summarise(&doses, voxel_cc, 0.01, &metrics).unwrap();
        let mut expect = vec![want.volume_cc, want.mean_gy, want.min_gy, want.max_gy];
        expect.extend(want.metrics);
        for (cell, w) in cells[2..].iter().zip(&expect) {
            if w.is_nan() {
                assert!(cell.is_empty(), "{}: {cell} for NaN", cells[0]);
            } else {
                let got: f64 = cell.parse().unwrap();
                assert!((got - w).abs() <= 1e-9 * w.abs().max(1.0), "{}: {got} vs {w}", cells[0]);
            }
        }
        rows += 1;
    }
    assert_eq!(rows, 8);
    // A feature frame like any other; a D2cc of a structure under 2 cm³ is missing, and says so.
    let (_, err, _) = common::run(&mut s, "select A.DVH --method mannwhitney --k 2", true);
    assert!(err.contains("feature `dvh_D2cc` of `A.DVH` is missing for patient"), "{err}");
    let (_, err, o) = common::run(&mut s, "extract A --dvh D95,D0.1cc,V60Gy --roi rgtv --as Ad", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let (stdout, err, o) = common::run(&mut s, "select Ad.DVH --method mannwhitney --k 2", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("dvh_"), "{stdout}");
    for (bad, says) in [
        ("extract A --dvh D95,Q5", "`Q5` is not a DVH metric"),
        ("extract A --dvh D95 --sequences T1", "--dvh extracts dose figures only"),
        ("extract A --dvh D95 --roi ptv", "has no `ptv` images"),
    ] {
        let (_, err, _) = common::run(&mut s, bad, true);
        assert!(err.contains(says), "{bad}: {err}");
    }
}

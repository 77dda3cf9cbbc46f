//! The simulated cohort: Table 1 counts and summaries, determinism, loading,
//! image geometry through an independent NIfTI reader (the `nifti` crate),
//! masks and dose, and the signal the generative model promises.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use nifti::{NiftiObject, ReaderOptions};
use radose::core::cohort::is_missing;
use radose::core::learn::metrics::auc;
use radose::data::csv_table::read_csv;
use radose::imaging::nifti::read;

fn simulate(dir: &Path, extra: &str) {
    let mut s = common::session();
    let (_, err, outcome) = common::run(&mut s, &format!("simulate --out {} {extra}", dir.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
}

/// Rows of a CSV as column → values.
fn columns(path: &Path) -> BTreeMap<String, Vec<String>> {
    let t = read_csv(path).unwrap();
    t.headers.iter().enumerate().map(|(c, h)| (h.clone(), t.rows.iter().map(|r| r[c].clone()).collect())).collect()
}

fn counts(values: &[String]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for v in values {
        *m.entry(v.as_str()).or_default() += 1;
    }
    m
}

fn numbers(values: &[String]) -> Vec<f64> {
    values.iter().filter(|v| !is_missing(v)).map(|v| v.parse().unwrap()).collect()
}

/// (mean, min, max) as printed in METHOD.md's cohort table.
fn summary(values: &[String]) -> (f64, f64, f64) {
    let x = numbers(values);
    (
        x.iter().sum::<f64>() / x.len() as f64,
        x.iter().copied().fold(f64::MAX, f64::min),
        x.iter().copied().fold(f64::MIN, f64::max),
    )
}

fn assert_printed(actual: (f64, f64, f64), mean: f64, decimals: i32, min: f64, max: f64, what: &str) {
    let tol = 0.5 * 10f64.powi(-decimals);
    assert!((actual.0 - mean).abs() < tol, "{what}: mean {} prints differently from {mean}", actual.0);
    assert_eq!((actual.1, actual.2), (min, max), "{what}: range");
}

fn dir_hash(root: &Path) -> String {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { files.push(p) }
        }
    }
    files.sort();
    let listing: String = files
        .iter()
        .map(|f| {
            format!("{} {}\n", f.strip_prefix(root).unwrap().display(), radose::provenance::sha256_file(f).unwrap())
        })
        .collect();
    radose::provenance::sha256_bytes(listing.as_bytes())
}

#[test]
fn cohorts_match_the_papers_table_1() {
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), "--seed 7");
    let a = columns(&dir.path().join("A/clinical.csv"));
    assert_eq!(a.keys().cloned().collect::<Vec<_>>().len(), 8);
    assert_eq!(a["patient_id"].len(), 97);
    assert_eq!(counts(&a["sex"]), BTreeMap::from([("male", 75), ("female", 22)]));
    assert_eq!(counts(&a["stage"]), BTreeMap::from([("I", 1), ("II", 9), ("III", 43), ("IV", 44)]));
    assert_eq!(counts(&a["chemo"]), BTreeMap::from([("no", 14), ("yes", 83)]));
    assert_eq!(counts(&a["nn"]), BTreeMap::from([("1", 32), ("0", 65)]));
    assert_printed(summary(&a["age"]), 47.0, 0, 24.0, 75.0, "A age");
    assert_printed(summary(&a["tumor_ml"]), 48.9, 1, 1.2, 170.2, "A tumour");
    assert_printed(summary(&a["eqd2_gy"]), 63.4, 1, 46.9, 71.1, "A EQD2");

    let b = columns(&dir.path().join("B/clinical.csv"));
    assert_eq!(b["patient_id"].len(), 20);
    assert_eq!(counts(&b["sex"]), BTreeMap::from([("male", 15), ("female", 5)]));
    assert_eq!(counts(&b["stage"]), BTreeMap::from([("II", 5), ("III", 9), ("IV", 6)]));
    assert_eq!(counts(&b["chemo"]), BTreeMap::from([("no", 3), ("yes", 17)]));
    assert_eq!(counts(&b["nn"]), BTreeMap::from([("1", 8), ("0", 12)]));
    assert_printed(summary(&b["age"]), 44.0, 0, 28.0, 62.0, "B age");
    assert_printed(summary(&b["tumor_ml"]), 39.4, 1, 1.8, 156.79, "B tumour");
    assert_printed(summary(&b["eqd2_gy"]), 62.3, 1, 50.0, 70.7, "B EQD2");

    // Both load (with their images), are marked simulated, and Table 1 runs.
    let mut s = common::session();
    let script = format!("load A {0}/A\nload B {0}/B\ntable1 A B", dir.path().display());
    let (out, err, outcome) = common::run(&mut s, &script, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("SIMULATED cohort"), "{out}");
    assert!(out.contains("47.0 (24.0–75.0)") && out.contains("63.4 (46.9–71.1)"), "{out}");
}

#[test]
fn same_seed_same_bytes_and_refuses_to_overwrite() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    simulate(one.path(), "--seed 11 --n-a 12 --n-b 6");
    simulate(two.path(), "--seed 11 --n-a 12 --n-b 6");
    assert_eq!(dir_hash(one.path()), dir_hash(two.path()));
    let other = tempfile::tempdir().unwrap();
    simulate(other.path(), "--seed 12 --n-a 12 --n-b 6");
    assert_ne!(dir_hash(one.path()), dir_hash(other.path()));
    // Scaled counts keep the proportions.
    let a = columns(&one.path().join("A/clinical.csv"));
    assert_eq!(counts(&a["nn"]), BTreeMap::from([("1", 4), ("0", 8)]));

    let mut s = common::session();
    let (_, err, outcome) = common::run(&mut s, &format!("simulate --out {} --seed 11", one.path().display()), false);
    assert_eq!(outcome.exit_code(), 1);
    assert!(err.contains("exists and is not empty") && err.contains("--force"), "{err}");
    let (_, err, outcome) = common::run(
        &mut s,
        &format!("simulate --out {} --seed 11 --n-a 12 --n-b 6 --force", one.path().display()),
        false,
    );
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert_eq!(dir_hash(one.path()), dir_hash(two.path()));
}

#[test]
fn images_have_geometry_masks_and_dose_where_they_should() {
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), "--seed 7");
    let clinical = columns(&dir.path().join("A/clinical.csv"));
    let mut v105_from_images = Vec::new();
    let mut labels = Vec::new();
    for (id, (nn, rx)) in clinical["patient_id"].iter().zip(clinical["nn"].iter().zip(&clinical["eqd2_gy"])) {
        let folder = dir.path().join("A/images").join(id);
        // Geometry through the nifti crate's header reader.
        for role in ["T1", "T1C", "T2", "rgtv", "dose"] {
            let path = folder.join(format!("{role}.nii.gz"));
            let obj = ReaderOptions::new().read_file(&path).unwrap();
            let h = obj.header();
            let ours = read(&path).unwrap();
            assert_eq!([h.dim[1] as usize, h.dim[2] as usize, h.dim[3] as usize], ours.size);
            for k in 0..3 {
                assert!((h.pixdim[k + 1] as f64 - ours.spacing[k]).abs() < 1e-6);
            }
            // RAS sform = LPS with the first two rows negated.
            assert!((h.srow_x[3] as f64 + ours.origin[0]).abs() < 1e-4);
            assert!((h.srow_y[3] as f64 + ours.origin[1]).abs() < 1e-4);
            assert!((h.srow_z[3] as f64 - ours.origin[2]).abs() < 1e-4);
            assert_eq!((h.srow_x[0], h.srow_y[1]), (-(ours.spacing[0] as f32), -(ours.spacing[1] as f32)));
            assert_eq!(obj.volume().raw_data().len(), ours.len() * (h.bitpix as usize / 8));
        }
        let mask = read(&folder.join("rgtv.nii.gz")).unwrap();
        let dose = read(&folder.join("dose.nii.gz")).unwrap();
        // The mask is non-empty and does not touch the image border.
        let [nx, ny, nz] = mask.size;
        let mut inside = 0;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    if mask.data[mask.index(i, j, k)] > 0.0 {
                        inside += 1;
                        assert!(
                            i > 0 && j > 0 && k > 0 && i + 1 < nx && j + 1 < ny && k + 1 < nz,
                            "{id}: mask on the border"
                        );
                    }
                }
            }
        }
        assert!(inside > 0, "{id}: empty mask");
        // Dose inside the rGTV (dose voxels whose nearest MR voxel is in the mask).
        let rx: f64 = rx.parse().unwrap();
        let (mut in_sum, mut in_n, mut out_sum, mut out_n, mut hot) = (0.0, 0, 0.0, 0, 0);
        for k in 0..dose.size[2] {
            for j in 0..dose.size[1] {
                for i in 0..dose.size[0] {
                    let p = dose.position(i, j, k);
                    let idx: Vec<isize> =
                        (0..3).map(|a| ((p[a] - mask.origin[a]) / mask.spacing[a]).round() as isize).collect();
                    let in_mask = (0..3).all(|a| idx[a] >= 0 && (idx[a] as usize) < mask.size[a])
                        && mask.data[mask.index(idx[0] as usize, idx[1] as usize, idx[2] as usize)] > 0.0;
                    let d = dose.data[dose.index(i, j, k)] as f64;
                    if in_mask {
                        in_sum += d;
                        in_n += 1;
                        hot += usize::from(d > 1.05 * rx);
                    } else {
                        out_sum += d;
                        out_n += 1;
                    }
                }
            }
        }
        if in_n > 0 {
            let (mean_in, mean_out) = (in_sum / in_n as f64, out_sum / out_n as f64);
            assert!(mean_in > 0.9 * rx && mean_in > 2.0 * mean_out, "{id}: dose in rGTV {mean_in}, outside {mean_out}");
            v105_from_images.push(hot as f64 / in_n as f64);
            labels.push(if nn == "1" { 1u8 } else { 0 });
        }
    }
    // A dose summary read from the images separates outcomes better than chance.
    let dose_auc = auc(&v105_from_images, &labels);
    assert!(dose_auc > 0.6, "V105 AUC {dose_auc}");
}

#[test]
fn true_risk_has_the_documented_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), "--seed 7");
    let text = std::fs::read_to_string(dir.path().join("A/truth.csv")).unwrap();
    assert!(text.starts_with("# SIMULATION GROUND TRUTH"));
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let t = radose::data::csv_table::parse_csv(Path::new("truth.csv"), body.as_bytes()).unwrap();
    let col = |name: &str| t.headers.iter().position(|h| h == name).unwrap();
    let risk: Vec<f64> = t.rows.iter().map(|r| r[col("risk")].parse().unwrap()).collect();
    let nn: Vec<u8> = t.rows.iter().map(|r| r[col("nn")].parse().unwrap()).collect();
    let texture_t1: Vec<f64> = t.rows.iter().map(|r| r[col("texture_T1")].parse().unwrap()).collect();
    let ceiling = auc(&risk, &nn);
    // docs/simulation.md: 0.85 expected over seeds; seed 7 gives 0.848.
    assert!((ceiling - 0.848).abs() < 0.005, "ceiling {ceiling}");
    let one_sequence = auc(&texture_t1, &nn);
    assert!(one_sequence > 0.5 && one_sequence < ceiling, "T1 texture AUC {one_sequence}");
}

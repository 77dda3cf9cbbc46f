//! N4 bias-field correction against SimpleITK 2.5.7 (ITK 5.4) with its
//! default parameters, on brain1 cast to float32 and shrunk 4 × 4 × 1
//! (../shared/reference/pyradiomics/preprocessing; parameters in
//! preprocessing_reference_params.json, key "n4").

mod common;

use radose::core::n4::{N4Params, n4, otsu_mask, shrink};
use radose::imaging::nrrd;

fn reference(rel: &str) -> std::path::PathBuf {
    let p = common::root().join("../shared/reference/pyradiomics/preprocessing").join(rel);
    assert!(p.exists(), "reference data {} is missing", p.display());
    p
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let mb = b.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn otsu_mask_matches_simpleitk() {
    let input = nrrd::read(&reference("brain1_n4_input_shrink441_float32.nrrd")).unwrap();
    let want = nrrd::read(&reference("brain1_n4_mask_otsu.nrrd")).unwrap();
    let got = otsu_mask(&input, 200).unwrap();
    let differ = got.iter().zip(&want.data).filter(|(g, w)| **g != (**w == 1.0)).count();
    assert_eq!(got.iter().filter(|&&m| m).count(), 49903);
    assert_eq!(differ, 0);
}

#[test]
fn shrink_matches_the_reference_input() {
    let full = nrrd::read(&common::root().join("../shared/reference/pyradiomics/data/brain1_image.nrrd")).unwrap();
    let want = nrrd::read(&reference("brain1_n4_input_shrink441_float32.nrrd")).unwrap();
    let got = shrink(&full, [4, 4, 1]);
    assert_eq!(got.size, want.size);
    for a in 0..3 {
        assert!((got.spacing[a] - want.spacing[a]).abs() < 1e-9);
        assert!((got.origin[a] - want.origin[a]).abs() < 1e-6, "origin {:?} vs {:?}", got.origin, want.origin);
    }
    assert_eq!(got.data, want.data);
}

#[test]
fn n4_matches_simpleitk_defaults() {
    let input = nrrd::read(&reference("brain1_n4_input_shrink441_float32.nrrd")).unwrap();
    let mask: Vec<bool> =
        nrrd::read(&reference("brain1_n4_mask_otsu.nrrd")).unwrap().data.iter().map(|&m| m == 1.0).collect();
    let want = nrrd::read(&reference("brain1_n4_corrected_defaults.nrrd")).unwrap();
    let want_bias = nrrd::read(&reference("brain1_n4_log_bias_field_defaults.nrrd")).unwrap();
    let t = std::time::Instant::now();
    let r = n4(&input, &mask, &N4Params::default(), &|| false).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let c = correlation(&r.corrected.data, &want.data);
    let cb = correlation(&r.log_bias.data, &want_bias.data);
    let max_bias = r.log_bias.data.iter().zip(&want_bias.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!(
        "N4: corrected r = {c:.6}, log bias r = {cb:.6}, max |Δ log bias| = {max_bias:.4}, iterations {:?}, final convergence {:.5}, {secs:.2} s",
        r.iterations, r.final_convergence
    );
    assert!(c >= 0.99, "corrected image correlation {c}");
    assert!(cb >= 0.98, "log bias field correlation {cb}");
}

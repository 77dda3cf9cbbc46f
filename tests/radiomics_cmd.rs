//! The `radiomics` and `extract` commands, and radiomics on bad or
//! degenerate ROIs: clear errors or PyRadiomics' defined values, never a
//! panic or a silent NaN.

mod common;

use radose::core::radiomics::{ParamFile, extract};
use radose::core::volume::Volume;
use radose::imaging::nifti::{self, StoredType};

fn cube(size: [usize; 3], f: impl Fn(usize, usize, usize) -> f32) -> Volume {
    let mut v = Volume::zeros(size, [1.0, 1.0, 2.0], [0.0; 3]);
    for k in 0..size[2] {
        for j in 0..size[1] {
            for i in 0..size[0] {
                let idx = v.index(i, j, k);
                v.data[idx] = f(i, j, k);
            }
        }
    }
    v
}

#[test]
fn degenerate_rois_are_explained_or_defined() {
    let image = cube([8, 8, 6], |i, j, k| (i * 7 + j * 3 + k * 11) as f32);
    let p = ParamFile::default();
    let err = |m: &Volume| extract(&image, true, m, &p, false).unwrap_err().to_string();
    // Empty mask.
    let e = err(&cube([8, 8, 6], |_, _, _| 0.0));
    assert!(e.contains("label 1 is not in the mask"), "{e}");
    // Wrong label: the mask uses 2.
    let e = err(&cube([8, 8, 6], |i, _, _| if i > 3 { 2.0 } else { 0.0 }));
    assert!(e.contains("labels present: [2]"), "{e}");
    // One voxel.
    let e = err(&cube([8, 8, 6], |i, j, k| if (i, j, k) == (3, 3, 3) { 1.0 } else { 0.0 }));
    assert!(e.contains("spans 0 dimension(s)"), "{e}");
    // Geometry mismatch.
    let e = err(&cube([8, 8, 5], |_, _, _| 1.0));
    assert!(e.contains("grid differs"), "{e}");
    // A flat ROI: every voxel one grey level → PyRadiomics' fall-back values.
    let flat = cube([8, 8, 6], |_, _, _| 100.0);
    let mask =
        cube(
            [8, 8, 6],
            |i, j, k| if (2..6).contains(&i) && (2..6).contains(&j) && (1..5).contains(&k) { 1.0 } else { 0.0 },
        );
    let x = extract(&flat, true, &mask, &p, false).unwrap();
    let get = |n: &str| x.features.iter().find(|(k, _)| k == n).map(|(_, v)| *v).unwrap();
    assert_eq!(get("original_ngtdm_Coarseness"), 1e6);
    assert_eq!(get("original_ngtdm_Busyness"), 0.0);
    assert_eq!(get("original_glcm_Correlation"), 1.0);
    assert_eq!(get("original_glcm_MCC"), 1.0);
    assert_eq!(get("original_glcm_Imc1"), 0.0);
    assert_eq!(get("original_firstorder_Skewness"), 0.0);
    for (name, v) in &x.features {
        assert!(v.is_finite(), "{name} = {v} on a flat ROI");
    }
}

#[test]
fn commands_extract_a_cohort_and_reuse_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let out = dir.path().join("feat");
    let mut s = common::session();
    let text = format!(
        "simulate --out {sim} --n-a 12 --n-b 6; load A {sim}/A; extract A --sequences T1,T2 --roi rgtv --to {out} --out {out}/first.csv",
        sim = sim.display(),
        out = out.display()
    );
    let (_, err, o) = common::run(&mut s, &text, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let first = std::fs::read_to_string(out.join("first.csv")).unwrap();
    assert!(first.contains("T1,12,107,0,0,A.T1"), "{first}");
    // The frames are feature frames the learning commands take.
    let (stdout, err, o) = common::run(&mut s, "select A.T1 --method mannwhitney --k 3", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("original_"), "{stdout}");
    assert!(out.join("A.T1.parquet").exists());
    // Again: every image comes from the cache.
    let (_, err, o) = common::run(
        &mut s,
        &format!("extract A --sequences T1,T2 --roi rgtv --to {0} --out {0}/second.csv", out.display()),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    let second = std::fs::read_to_string(out.join("second.csv")).unwrap();
    assert!(second.contains("T1,12,107,12,0,A.T1"), "{second}");
    // One case, with a parameter file.
    let params = dir.path().join("p.yaml");
    std::fs::write(&params, "featureClass:\n  firstorder: [Mean, Maximum]\nsetting:\n  binWidth: 10\n").unwrap();
    let case = sim.join("A/images/A001");
    let (_, err, o) = common::run(
        &mut s,
        &format!(
            "radiomics --image {0}/T1.nii.gz --mask {0}/rgtv.nii.gz --params {1} --out {2}",
            case.display(),
            params.display(),
            dir.path().join("one.csv").display()
        ),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    let one = std::fs::read_to_string(dir.path().join("one.csv")).unwrap();
    let header = one.lines().next().unwrap();
    assert!(header.ends_with("original_firstorder_Maximum,original_firstorder_Mean"), "{header}");
    assert!(!header.contains("original_glcm"), "only the named class: {header}");
    assert!(header.contains("diagnostics_Image-original_Hash"), "{header}");
    // Bad input: a mask on another grid names both files.
    let other = dir.path().join("other.nii");
    nifti::write(&other, &cube([5, 5, 5], |_, _, _| 1.0), StoredType::U8, "x").unwrap();
    let (_, err, _) = common::run(
        &mut s,
        &format!("radiomics --image {}/T1.nii.gz --mask {}", case.display(), other.display()),
        true,
    );
    assert!(err.contains("other.nii") && err.contains("T1.nii.gz") && err.contains("grid differs"), "{err}");
    let (_, err, _) = common::run(&mut s, "extract A --sequences T9", true);
    assert!(err.contains("T9"), "{err}");
}

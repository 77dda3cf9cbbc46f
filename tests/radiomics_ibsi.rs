//! Radiomics on the IBSI digital phantom (tests/fixtures/ibsi): in
//! default mode every value PyRadiomics 3.1.0 gives (3D, force2D, and both
//! with merged directions); in IBSI mode every IBSI reference value with a
//! PyRadiomics counterpart, within the IBSI tolerance after rounding to three
//! significant digits.

mod common;

use std::collections::BTreeMap;

use radose::core::radiomics::{ParamFile, extract};
use radose::imaging::read_image;

fn reference(rel: &str) -> std::path::PathBuf {
    common::fixture(&format!("ibsi/{rel}"))
}

/// The phantom's features in one mode (`3D`, `2D`, `3D_Combined`, `2D_Combined`).
fn features(mode: &str, ibsi: bool) -> BTreeMap<String, f64> {
    let image = read_image(&reference("digital_phantom/phantom.nii.gz")).unwrap();
    let mask = read_image(&reference("digital_phantom/mask.nii.gz")).unwrap().volume;
    let force2d = mode.starts_with("2D");
    let mut setting = serde_json::json!({"binWidth": 1, "voxelArrayShift": 0, "distances": [1], "gldm_a": 0, "force2D": force2d, "force2Ddimension": 0});
    if mode.ends_with("Combined") {
        setting["weightingNorm"] = "no_weighting".into();
    }
    // Every feature, deprecated ones included.
    let mut fc = serde_json::Map::new();
    for class in ["shape", "firstorder", "glcm", "gldm", "glrlm", "glszm", "ngtdm"] {
        fc.insert(class.into(), serde_json::Value::Null);
    }
    let params = ParamFile::from_value(&serde_json::json!({"setting": setting, "featureClass": fc})).unwrap();
    let mut out: BTreeMap<String, f64> =
        extract(&image.volume, true, &mask, &params, ibsi).unwrap().features.into_iter().collect();
    for extra in ["Compactness1", "Compactness2", "SphericalDisproportion"] {
        let params =
            ParamFile::from_value(&serde_json::json!({"setting": setting, "featureClass": {"shape": [extra]}}))
                .unwrap();
        out.extend(extract(&image.volume, true, &mask, &params, ibsi).unwrap().features);
    }
    out
}

#[test]
fn default_mode_equals_pyradiomics_on_the_phantom() {
    let mut by_mode: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut rdr = csv::Reader::from_path(reference("pyradiomics_3.1.0_digital_phantom_all_features.csv")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for row in rdr.records() {
        let row = row.unwrap();
        let (mode, name, want): (&str, &str, f64) = (&row[0], &row[2], row[3].parse().unwrap());
        let got = by_mode.entry(mode.to_string()).or_insert_with(|| features(mode, false));
        checked += 1;
        match got.get(name) {
            Some(g) if (g - want).abs() <= 1e-9 * want.abs().max(1e-9) => {}
            other => failures.push(format!("{mode} {name}: {other:?} vs {want}")),
        }
    }
    assert!(failures.is_empty(), "{} of {checked} differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, 262);
}

/// IBSI rounding: three significant digits.
fn round3(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let e = x.abs().log10().floor() as i32 - 2;
    let f = 10f64.powi(e);
    (x / f).round() * f
}

#[test]
fn ibsi_mode_is_within_ibsi_tolerance() {
    let mut by_mode: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    let mut rdr = csv::Reader::from_path(reference("ibsi1_reference_values_digital_phantom.csv")).unwrap();
    let (mut checked, mut rows) = (0, 0);
    let mut failures = Vec::new();
    for row in rdr.records() {
        let row = row.unwrap();
        rows += 1;
        let (feature, pyr, settings, value, tol) = (&row[1], &row[9], &row[10], &row[5], &row[6]);
        if pyr.is_empty() || value.is_empty() {
            continue;
        }
        let mode = match settings {
            s if s.contains("force2D=True") && s.contains("no_weighting") => "2D_Combined",
            s if s.contains("force2D=True") => "2D",
            s if s.contains("no_weighting") => "3D_Combined",
            _ => "3D",
        };
        let got = by_mode.entry(mode).or_insert_with(|| features(mode, true));
        let (value, tol): (f64, f64) = (value.parse().unwrap(), tol.parse().unwrap_or(0.0));
        checked += 1;
        match got.get(&format!("original_{pyr}")) {
            Some(g) if (round3(*g) - value).abs() <= tol + 1e-9 * value.abs().max(1.0) => {}
            other => failures.push(format!("{feature} ({mode}, {pyr}): {other:?} vs {value} ± {tol}")),
        }
    }
    eprintln!(
        "IBSI: {checked} of {rows} reference rows have a PyRadiomics counterpart; {} outside tolerance",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 267);
}

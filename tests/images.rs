//! Image readers on the public reference data: the PyRadiomics brain NRRDs
//! and the IBSI digital phantom (../shared/reference, beside the project),
//! with the geometry their READMEs state; and the `volume` command.

mod common;

use std::path::PathBuf;

use radose::imaging::read_image;

fn reference(rel: &str) -> PathBuf {
    let p = common::root().join("../shared/reference").join(rel);
    assert!(p.exists(), "reference data {} is missing (it lives in shared/ beside the project)", p.display());
    p
}

#[test]
fn brain_nrrds_have_their_stated_geometry() {
    let img = read_image(&reference("pyradiomics/data/brain1_image.nrrd")).unwrap();
    let v = &img.volume;
    assert_eq!(v.size, [256, 256, 25]);
    assert_eq!(img.dtype, "int16");
    for (got, want) in v.spacing.iter().zip([0.78125, 0.78125, 6.5]) {
        assert!((got - want).abs() < 1e-9, "{:?}", v.spacing);
    }
    assert_eq!(v.direction, [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0]);
    assert!((v.origin[0] + 99.609375).abs() < 1e-9 && (v.origin[1] - 99.609375).abs() < 1e-9);
    let label = read_image(&reference("pyradiomics/data/brain1_label.nrrd")).unwrap();
    assert_eq!(label.volume.data.iter().filter(|&&x| x == 1.0).count(), 4137);
    let label2 = read_image(&reference("pyradiomics/data/brain2_label.nrrd")).unwrap();
    assert_eq!(label2.volume.data.iter().filter(|&&x| x == 1.0).count(), 453);
}

#[test]
fn ibsi_phantom_matches_its_voxel_table() {
    let img = read_image(&reference("ibsi/digital_phantom/phantom.nii.gz")).unwrap();
    let mask = read_image(&reference("ibsi/digital_phantom/mask.nii.gz")).unwrap();
    let v = &img.volume;
    assert_eq!(v.size, [5, 4, 4]);
    assert_eq!(v.spacing, [2.0, 2.0, 2.0]);
    assert_eq!(img.dtype, "int16");
    let table = std::fs::read_to_string(reference("ibsi/digital_phantom/phantom_voxels.csv")).unwrap();
    let mut rows = 0;
    for line in table.lines().skip(1) {
        let f: Vec<f64> = line.split(',').map(|x| x.trim().parse().unwrap()).collect();
        let at = v.index(f[0] as usize, f[1] as usize, f[2] as usize);
        assert_eq!(f64::from(v.data[at]), f[3], "{line}");
        assert_eq!(f64::from(mask.volume.data[at]), f[4], "{line}");
        rows += 1;
    }
    assert_eq!(rows, 80);
    assert_eq!(mask.volume.data.iter().filter(|&&x| x == 1.0).count(), 74);
}

#[test]
fn volume_command_reports_json() {
    let mut s = common::session();
    let path = reference("pyradiomics/data/brain2_label.nrrd");
    let (out, err, outcome) = common::run(&mut s, &format!("volume {} --json", path.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["size"], serde_json::json!([256, 256, 23]));
    assert_eq!(doc["max"], 1.0);
    let (_, err, _) = common::run(&mut s, "volume tests/fixtures/cohort/clinical.csv", false);
    assert!(err.contains("unknown image format"), "{err}");
}

/// A NIfTI-2 file written by nibabel (tests/fixtures/gen/nifti2_fixture.py).
#[test]
fn nifti2_reads_like_nibabel() {
    let dir = common::root().join("tests/fixtures/images");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("small_nifti2.json")).unwrap()).unwrap();
    let img = read_image(&dir.join("small_nifti2.nii.gz")).unwrap();
    let v = &img.volume;
    assert_eq!(img.dtype, "int16");
    assert_eq!(serde_json::json!(v.size), doc["size"]);
    for k in 0..3 {
        assert!((v.spacing[k] - doc["spacing"][k].as_f64().unwrap()).abs() < 1e-12);
        assert!((v.origin[k] - doc["origin_lps"][k].as_f64().unwrap()).abs() < 1e-12);
    }
    let want: Vec<f64> = doc["values_x_fastest"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    let got: Vec<f64> = v.data.iter().map(|&x| f64::from(x)).collect();
    assert_eq!(got, want);
}

/// RT Dose files written by pydicom (tests/fixtures/gen/rtdose_fixtures.py)
/// in three transfer syntaxes read to the same geometry and dose; a
/// compressed one is refused by name; no patient identifier reaches runs.db.
#[test]
fn rtdose_in_every_native_transfer_syntax() {
    let dir = common::root().join("tests/fixtures/images");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rtdose.json")).unwrap()).unwrap();
    let want: Vec<f64> = doc["dose_gy"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    for file in ["rtdose_le_explicit_32.dcm", "rtdose_le_implicit_16.dcm", "rtdose_be_explicit_16.dcm"] {
        let img = read_image(&dir.join(file)).unwrap();
        let v = &img.volume;
        assert_eq!(serde_json::json!(v.size), doc["size"], "{file}");
        assert_eq!(img.units.as_deref(), Some("GY"), "{file}");
        for k in 0..3 {
            assert!((v.spacing[k] - doc["spacing"][k].as_f64().unwrap()).abs() < 1e-9, "{file}: {:?}", v.spacing);
            assert!((v.origin[k] - doc["origin"][k].as_f64().unwrap()).abs() < 1e-9, "{file}: {:?}", v.origin);
        }
        assert_eq!(v.direction, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], "{file}");
        for (i, (g, w)) in v.data.iter().zip(&want).enumerate() {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{file}[{i}]: {g} vs {w}");
        }
    }
    let e = read_image(&dir.join("rtdose_jpeg.dcm")).unwrap_err().to_string();
    assert!(e.contains("rtdose_jpeg.dcm") && e.contains("1.2.840.10008.1.2.4.50"), "{e}");

    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("runs.db");
    let mut s = radose::open_session(&db).unwrap();
    let (out, err, outcome) =
        common::run(&mut s, &format!("volume {} --json", dir.join("rtdose_le_explicit_32.dcm").display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("\"units\":\"GY\""), "{out}");
    drop(s);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("db-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    for identifier in ["Doe^Jane", "RADOSE-TEST-123", "19600101"] {
        assert!(!text.contains(identifier), "{identifier} leaked into runs.db");
    }
}

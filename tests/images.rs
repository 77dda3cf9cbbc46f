//! Image readers on the public reference data: the PyRadiomics brain NRRDs
//! and the IBSI digital phantom (tests/fixtures/pyradiomics and tests/fixtures/ibsi),
//! with the geometry their READMEs state; and the `volume` command.

mod common;

use radose::imaging::read_image;

#[test]
fn brain_nrrds_have_their_stated_geometry() {
    let img = read_image(&common::fixture("pyradiomics/data/brain1_image.nrrd")).unwrap();
    let v = &img.volume;
    assert_eq!(v.size, [256, 256, 25]);
    assert_eq!(img.dtype, "int16");
    for (got, want) in v.spacing.iter().zip([0.78125, 0.78125, 6.5]) {
        assert!((got - want).abs() < 1e-9, "{:?}", v.spacing);
    }
    assert_eq!(v.direction, [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0]);
    assert!((v.origin[0] + 99.609375).abs() < 1e-9 && (v.origin[1] - 99.609375).abs() < 1e-9);
    let label = read_image(&common::fixture("pyradiomics/data/brain1_label.nrrd")).unwrap();
    assert_eq!(label.volume.data.iter().filter(|&&x| x == 1.0).count(), 4137);
    let label2 = read_image(&common::fixture("pyradiomics/data/brain2_label.nrrd")).unwrap();
    assert_eq!(label2.volume.data.iter().filter(|&&x| x == 1.0).count(), 453);
}

#[test]
fn ibsi_phantom_matches_its_voxel_table() {
    let img = read_image(&common::fixture("ibsi/digital_phantom/phantom.nii.gz")).unwrap();
    let mask = read_image(&common::fixture("ibsi/digital_phantom/mask.nii.gz")).unwrap();
    let v = &img.volume;
    assert_eq!(v.size, [5, 4, 4]);
    assert_eq!(v.spacing, [2.0, 2.0, 2.0]);
    assert_eq!(img.dtype, "int16");
    let table = std::fs::read_to_string(common::fixture("ibsi/digital_phantom/phantom_voxels.csv")).unwrap();
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
    let path = common::fixture("pyradiomics/data/brain2_label.nrrd");
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
        assert_eq!(img.frame_of_reference.as_deref(), Some("1.2.826.0.1.3680043.10.1234.1"), "{file}");
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

/// Write → read gives the same voxels and geometry, for every format and
/// stored type radose writes (values representable in the type).
#[test]
fn writers_round_trip_every_stored_type() {
    use radose::core::volume::Volume;
    use radose::imaging::nifti::{self, StoredType};
    use radose::imaging::nrrd;
    let dir = tempfile::tempdir().unwrap();
    let mut v = Volume::zeros([5, 4, 3], [0.7, 1.1, 2.5], [-12.5, 30.25, -7.0]);
    // An oblique direction (rotation about z by 30°, then a flipped y axis).
    let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
    v.direction = [c, s, 0.0, s, -c, 0.0, 0.0, 0.0, 1.0];
    for (stored, values) in [
        (StoredType::U8, (0..60).map(|i| (i * 4 % 256) as f32).collect::<Vec<_>>()),
        (StoredType::I16, (0..60).map(|i| (i * 997 % 60000) as f32 - 30000.0).collect()),
        (StoredType::F32, (0..60).map(|i| i as f32 * 0.37 - 5.125).collect()),
    ] {
        v.data = values;
        for file in ["v.nii", "v.nii.gz", "v.nrrd"] {
            let path = dir.path().join(file);
            if file.ends_with(".nrrd") {
                nrrd::write_typed(&path, &v, stored).unwrap();
            } else {
                nifti::write(&path, &v, stored, "round trip").unwrap();
            }
            let back = read_image(&path).unwrap();
            let b = &back.volume;
            assert_eq!(b.size, v.size, "{file} {stored:?}");
            assert_eq!(b.data, v.data, "{file} {stored:?}");
            for k in 0..3 {
                assert!((b.spacing[k] - v.spacing[k]).abs() < 1e-5, "{file} {stored:?}: spacing {:?}", b.spacing);
                assert!((b.origin[k] - v.origin[k]).abs() < 1e-4, "{file} {stored:?}: origin {:?}", b.origin);
            }
            for k in 0..9 {
                assert!(
                    (b.direction[k] - v.direction[k]).abs() < 1e-5,
                    "{file} {stored:?}: direction {:?}",
                    b.direction
                );
            }
            let want_type = match stored {
                StoredType::U8 => "uint8",
                StoredType::I16 => "int16",
                StoredType::F32 => "float32",
            };
            assert_eq!(back.dtype, want_type, "{file}");
        }
    }
}

/// Truncated and wrong-magic files, for each reader, are errors naming the file.
#[test]
fn corrupt_files_are_refused_by_name() {
    use radose::core::volume::Volume;
    use radose::imaging::nifti::{self, StoredType};
    let dir = tempfile::tempdir().unwrap();
    let v = Volume::zeros([8, 8, 8], [1.0; 3], [0.0; 3]);
    let good = dir.path().join("good.nii");
    nifti::write(&good, &v, StoredType::F32, "x").unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.nii", bytes[..bytes.len() / 2].to_vec()),
        ("header_only.nii", bytes[..200].to_vec()),
        ("magic.nii", {
            let mut b = bytes.clone();
            b[344..348].copy_from_slice(b"xyz\0");
            b
        }),
        ("garbage.nii.gz", vec![0x1f, 0x8b, 1, 2, 3, 4]),
        ("empty.nrrd", Vec::new()),
        ("text.dcm", b"not dicom at all".to_vec()),
    ];
    for (name, content) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let e = read_image(&p).unwrap_err().to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
}

//! DICOM image series (a folder, one file per slice) read as SimpleITK's
//! `ImageSeriesReader` reads them: geometry (oblique direction, origin,
//! spacing) and voxels (each slice's Rescale Slope/Intercept) equal the
//! fixture SimpleITK 2.5.7 wrote (tests/fixtures/gen/dicom_series_fixtures.py);
//! slice order from positions, not file names or Instance Numbers; several
//! series, a missing slice and mixed orientations refused with the files named.

mod common;

use std::path::PathBuf;

use radose::imaging::dicom::series::{list_series, read_series};
use radose::imaging::read_image;

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures/dicom_series").join(name)
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn series_equal_simpleitks_image_series_reader() {
    let want = expected();
    for name in ["oblique", "ct"] {
        let w = &want[name];
        let img = read_image(&fixture(name)).unwrap();
        let v = &img.volume;
        let size: Vec<usize> = w["size"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        assert_eq!(v.size.to_vec(), size, "{name} size");
        for (what, got, want) in [
            ("spacing", v.spacing.to_vec(), floats(&w["spacing"])),
            ("origin", v.origin.to_vec(), floats(&w["origin"])),
            ("direction", v.direction.to_vec(), floats(&w["direction"])),
        ] {
            for (g, e) in got.iter().zip(&want) {
                assert!((g - e).abs() < 1e-6, "{name} {what}: {got:?} vs SimpleITK {want:?}");
            }
        }
        let voxels = floats(&w["voxels"]);
        assert_eq!(v.data.len(), voxels.len());
        for (i, (g, e)) in v.data.iter().zip(&voxels).enumerate() {
            assert_eq!(f64::from(*g), *e, "{name} voxel {i}");
        }
        assert!(img.frame_of_reference.is_some());
        // The slice order is SimpleITK's, which is neither name nor Instance Number order.
        let files: Vec<String> = read_series(&fixture(name), None)
            .unwrap()
            .files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let sitk: Vec<String> =
            w["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
        assert_eq!(files, sitk);
        let mut sorted = files.clone();
        sorted.sort();
        assert_ne!(files, sorted, "the fixture's file names do not give the slice order");
    }
}

#[test]
fn several_series_are_listed_and_one_can_be_named() {
    let dir = fixture("two_series");
    let err = read_image(&dir).unwrap_err().to_string();
    assert!(err.contains("2 image series"), "{err}");
    assert!(err.contains("\"T1\", 6 slices") && err.contains("\"T2\", 4 slices"), "{err}");
    let series = list_series(&dir).unwrap();
    let t2 = series.iter().find(|s| s.description == "T2").unwrap();
    assert_eq!((t2.modality.as_str(), t2.slices), ("MR", 4));
    let named = PathBuf::from(format!("{}#{}", dir.display(), t2.uid));
    assert_eq!(read_image(&named).unwrap().volume.size, [7, 5, 4]);
    let wrong = PathBuf::from(format!("{}#1.2.3", dir.display()));
    assert!(read_image(&wrong).unwrap_err().to_string().contains("no series 1.2.3"));
}

#[test]
fn a_missing_slice_and_mixed_orientations_are_refused_naming_files() {
    let err = read_image(&fixture("missing")).unwrap_err().to_string();
    assert!(err.contains("a slice is missing between IM") && err.contains(".dcm"), "{err}");
    let err = read_image(&fixture("mixed")).unwrap_err().to_string();
    assert!(err.contains("mixed orientations") && err.contains(".dcm"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    assert!(read_image(empty.path()).unwrap_err().to_string().contains("no DICOM files"));
}

#[test]
fn the_volume_command_reads_a_series_folder() {
    let mut s = common::session();
    let dir = fixture("ct");
    let (out, err, outcome) = common::run(&mut s, &format!("volume {} --json", dir.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["size"], serde_json::json!([6, 4, 5]));
    // The series' content hash is recorded as the run's dataset.
    let runs = s.store().query_runs(None, None, true, 1).unwrap();
    let detail = s.store().run_detail(runs[0].0.id).unwrap();
    assert_eq!(detail.datasets.len(), 1);
    assert_eq!(detail.datasets[0].sha256, radose::imaging::image_sha256(&dir).unwrap());
}

/// An RT Structure Set (written by the fixture script on the `ct` series'
/// frame): structures read by name and number, rasterised onto the series'
/// grid with the documented rule, and used as the tumour mask by
/// `preprocess` as `rtstruct_ct.dcm#GTV`.
#[test]
fn rtstruct_structures_rasterise_onto_the_series_and_serve_as_the_mask() {
    use radose::imaging::dicom::rtstruct::{rasterise, read_rtstruct, structure};
    let file = fixture("rtstruct_ct.dcm");
    let all = read_rtstruct(&file).unwrap();
    assert_eq!(
        all.iter().map(|s| (s.number, s.name.as_str(), s.contours.len())).collect::<Vec<_>>(),
        vec![(1, "GTV", 3), (2, "Ring", 2)]
    );
    let ct = read_image(&fixture("ct")).unwrap();
    assert_eq!(all[0].frame_of_reference, ct.frame_of_reference);
    let per_slice = |m: &radose::core::volume::Volume| {
        (0..m.size[2]).map(|k| (0..24).filter(|i| m.data[k * 24 + i] > 0.5).count()).collect::<Vec<_>>()
    };
    let gtv = rasterise(&all[0], &ct.volume, ct.frame_of_reference.as_deref()).unwrap();
    // 3 × 2 voxel centres inside the square on slices 1–3, nothing beyond the end contours.
    assert_eq!(per_slice(&gtv), vec![0, 6, 6, 6, 0]);
    // The ring: the outer square's 5 × 4 centres minus the 3 × 2 hole.
    let ring = rasterise(&all[1], &ct.volume, None).unwrap();
    assert_eq!(per_slice(&ring), vec![14, 0, 0, 0, 0]);
    assert!(rasterise(&all[0], &ct.volume, Some("1.2.3")).is_err());
    let err = structure(&file, "PTV").unwrap_err().to_string();
    assert!(err.contains("no structure `PTV`; it has: GTV, Ring"), "{err}");
    assert!(read_rtstruct(&fixture("ct/IM0000.dcm")).is_err(), "an image is not a structure set");

    // preprocess: the CT series as the image, the GTV structure as the mask.
    use radose::imaging::preprocess::{PatientInputs, PreprocessParams, hash_inputs, patient_key, run_patient};
    let dir = tempfile::tempdir().unwrap();
    let inputs = PatientInputs {
        id: "P1".into(),
        mr: vec![("T1".into(), fixture("ct"))],
        mask: ("rgtv".into(), std::path::PathBuf::from(format!("{}#GTV", file.display()))),
        dose: None,
        registration: None,
    };
    let params = PreprocessParams {
        resample: None,
        interpolator: "linear".into(),
        n4: false,
        n4_shrink: [1, 1, 1],
        margin_mm: 0.0,
        force_frame: false,
    };
    let hashes = hash_inputs(&inputs).unwrap();
    let key = patient_key(&params, &hashes);
    run_patient(&inputs, &params, &key, hashes, dir.path(), &|| false).unwrap();
    let rgtv = radose::imaging::nifti::read(&dir.path().join("rgtv.nii.gz")).unwrap();
    assert_eq!(per_slice(&rgtv), vec![0, 6, 6, 6, 0]);
}

/// A DICOM Spatial Registration (the fixture script's, the `ct` frame into
/// the `oblique` series' frame): its rigid matrix and the two frames.
#[test]
fn a_spatial_registration_gives_its_rigid_matrix_and_frames() {
    let r = radose::imaging::registration::read(&fixture("reg_ct_to_mr.dcm")).unwrap();
    assert_eq!(r.matrix, [0.0, -1.0, 0.0, 10.0, 1.0, 0.0, 0.0, -5.0, 0.0, 0.0, 1.0, 3.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(r.from_frame, read_image(&fixture("ct")).unwrap().frame_of_reference);
    assert_eq!(r.to_frame, read_image(&fixture("oblique")).unwrap().frame_of_reference);
    assert_eq!(r.apply([1.0, 0.0, 0.0]), [10.0, -4.0, 3.0]);
    // A structure set is not a registration.
    assert!(radose::imaging::registration::read(&fixture("rtstruct_ct.dcm")).is_err());
}

/// `dvh`: the fixture's RT Dose (0.1 Gy × (100k + 10j + i) on the `ct` grid)
/// in the GTV (voxels i 1–3, j 1–2, k 1–3): volume, mean/min/max and metrics
/// worked out by hand.
#[test]
fn dvh_figures_of_a_structure_on_the_dose_grid() {
    let mut s = common::session();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dvh.json");
    let cmd = format!(
        "dvh --dose {} --structures {} --roi gtv --metrics D50,V20Gy,D0.05cc,D100 --out {}",
        fixture("rtdose_ct.dcm").display(),
        fixture("rtstruct_ct.dcm").display(),
        out.display()
    );
    let (_, err, outcome) = common::run(&mut s, &cmd, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let row = &t["rows"][0];
    let f = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k}: {row}"));
    assert_eq!(row["structure"], "GTV");
    assert!((f("volume_cc") - 18.0 * 1.2 * 1.2 * 3.0 / 1000.0).abs() < 1e-9);
    assert!((f("mean_gy") - 21.7).abs() < 1e-4, "{row}");
    assert!((f("min_gy") - 11.1).abs() < 1e-4 && (f("max_gy") - 32.3).abs() < 1e-4, "{row}");
    // 12 of 18 voxels at ≥ 20 Gy.
    assert!((f("V20Gy") - 200.0 / 3.0).abs() < 1e-9, "{row}");
    // The hottest 9 voxels reach down to 22.1 Gy: its 0.01 Gy bin's upper edge.
    assert!((f("D50") - 22.11).abs() < 1e-6, "{row}");
    // 0.05 cm³ = 11.6 voxels → the hottest 12 reach 21.1 Gy.
    assert!((f("D0.05cc") - 21.11).abs() < 1e-6, "{row}");
    assert!((f("D100") - 11.11).abs() < 1e-6, "{row}");
    // Bad input: an unknown structure, a bad metric, no dose.
    for (bad, says) in [
        (
            format!(
                "dvh --dose {} --structures {} --roi PTV",
                fixture("rtdose_ct.dcm").display(),
                fixture("rtstruct_ct.dcm").display()
            ),
            "no structure `PTV`; it has: GTV, Ring",
        ),
        (
            format!(
                "dvh --dose {} --structures {} --metrics D200",
                fixture("rtdose_ct.dcm").display(),
                fixture("rtstruct_ct.dcm").display()
            ),
            "`D200` is not a DVH metric",
        ),
        (format!("dvh --structures {}", fixture("rtstruct_ct.dcm").display()), "dvh needs --dose FILE"),
    ] {
        let (_, err, _) = common::run(&mut s, &bad, true);
        assert!(err.contains(says), "{bad}: {err}");
    }
}

/// `preprocess` with a DICOM Spatial Registration: the fixture's smooth RT Dose
/// in the planning-CT frame, laid over the oblique MR series by a rotated
/// rigid registration, lands on the MR grid as SimpleITK's `Resample` puts it
/// there (linear, through the inverse of the registration's matrix) — to
/// 1e-4 Gy (float32 storage of doses near 25 Gy).
#[test]
fn a_registered_dose_equals_simpleitks_resampling_through_the_same_matrix() {
    use radose::imaging::nifti::{StoredType, read, write};
    use radose::imaging::preprocess::{PatientInputs, PreprocessParams, hash_inputs, patient_key, run_patient};
    let dir = tempfile::tempdir().unwrap();
    let mr = read_image(&fixture("oblique")).unwrap();
    // The whole MR grid as the mask (no margin), so the PTV needs the dose everywhere.
    let ones = radose::core::volume::Volume { data: vec![1.0; mr.volume.data.len()], ..mr.volume.clone() };
    let mask = dir.path().join("rgtv.nii");
    write(&mask, &ones, StoredType::U8, "test").unwrap();
    let mut inputs = PatientInputs {
        id: "P1".into(),
        mr: vec![("T1".into(), fixture("oblique"))],
        mask: ("rgtv".into(), mask),
        dose: Some(fixture("rtdose_wide.dcm")),
        registration: None,
    };
    let params = PreprocessParams {
        resample: None,
        interpolator: "linear".into(),
        n4: false,
        n4_shrink: [1, 1, 1],
        margin_mm: 0.0,
        force_frame: false,
    };
    let out = dir.path().join("out");
    // Without the registration the frames differ: refused.
    let hashes = hash_inputs(&inputs).unwrap();
    let err =
        run_patient(&inputs, &params, &patient_key(&params, &hashes), hashes, &out, &|| false).unwrap_err().to_string();
    assert!(err.contains("Frame of Reference UID") && err.contains("differs from"), "{err}");
    inputs.registration = Some(fixture("reg_wide_to_mr.dcm"));
    let hashes = hash_inputs(&inputs).unwrap();
    run_patient(&inputs, &params, &patient_key(&params, &hashes), hashes, &out, &|| false).unwrap();
    let got = read(&out.join("dose.nii.gz")).unwrap();
    let want = &expected()["rtdose_wide_on_oblique"];
    assert_eq!(want["size"], serde_json::json!(got.size.to_vec()));
    let want = floats(&want["voxels"]);
    assert_eq!(want.len(), got.data.len());
    let worst = got.data.iter().zip(&want).map(|(a, b)| (f64::from(*a) - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-4, "largest difference from SimpleITK {worst} Gy");
    assert!(want.iter().all(|v| *v > 20.0), "the dose covers the whole MR grid");
}

/// Contours drawn on the planning CT (`rtstruct_wide.dcm`, axial planes in
/// the CT frame, one plane with a hole) carried onto the oblique MR through
/// the registration: the voxels inside equal the fixture's, computed by the
/// documented rule independently (matplotlib's point-in-polygon on each MR
/// voxel centre mapped back into the CT frame); `preprocess` takes them as
/// `rtstruct_wide.dcm#CTV` with `--registration`, and refuses them without.
#[test]
fn ct_frame_contours_reach_the_mr_through_the_registration() {
    use radose::imaging::dicom::rtstruct::{rasterise_onto, structure};
    use radose::imaging::preprocess::{PatientInputs, PreprocessParams, hash_inputs, patient_key, run_patient};
    let mr = read_image(&fixture("oblique")).unwrap();
    let reg = radose::imaging::registration::read(&fixture("reg_wide_to_mr.dcm")).unwrap();
    let ctv = structure(&fixture("rtstruct_wide.dcm"), "CTV").unwrap();
    let frame = mr.frame_of_reference.as_deref();
    let mask = rasterise_onto(&ctv, &mr.volume, frame, Some(&reg)).unwrap();
    let ours: Vec<u64> = mask.data.iter().enumerate().filter(|(_, v)| **v > 0.5).map(|(i, _)| i as u64).collect();
    let want: Vec<u64> =
        expected()["rtstruct_wide_ctv_on_oblique"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(ours, want);
    let err = rasterise_onto(&ctv, &mr.volume, frame, None).unwrap_err().to_string();
    assert!(err.contains("is not the image's"), "{err}");
    // A registration between other frames is refused, naming them.
    let other = radose::imaging::registration::Rigid::new(
        reg.matrix,
        Some("9.9".into()),
        reg.to_frame.clone(),
        std::path::Path::new("x"),
    )
    .unwrap();
    let err = rasterise_onto(&ctv, &mr.volume, frame, Some(&other)).unwrap_err().to_string();
    assert!(err.contains("the registration maps 9.9 into"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let mut inputs = PatientInputs {
        id: "P1".into(),
        mr: vec![("T1".into(), fixture("oblique"))],
        mask: ("rgtv".into(), PathBuf::from(format!("{}#CTV", fixture("rtstruct_wide.dcm").display()))),
        dose: Some(fixture("rtdose_wide.dcm")),
        registration: None,
    };
    let params = PreprocessParams {
        resample: None,
        interpolator: "linear".into(),
        n4: false,
        n4_shrink: [1, 1, 1],
        margin_mm: 0.0,
        force_frame: false,
    };
    let out = dir.path().join("out");
    let hashes = hash_inputs(&inputs).unwrap();
    assert!(run_patient(&inputs, &params, &patient_key(&params, &hashes), hashes, &out, &|| false).is_err());
    inputs.registration = Some(fixture("reg_wide_to_mr.dcm"));
    let hashes = hash_inputs(&inputs).unwrap();
    run_patient(&inputs, &params, &patient_key(&params, &hashes), hashes, &out, &|| false).unwrap();
    let rgtv = radose::imaging::nifti::read(&out.join("rgtv.nii.gz")).unwrap();
    let written: Vec<u64> = rgtv.data.iter().enumerate().filter(|(_, v)| **v > 0.5).map(|(i, _)| i as u64).collect();
    assert_eq!(written, want);
}

/// `plot dvh`: one cumulative curve per structure with voxels on the dose
/// grid, recorded as a plot run with the two inputs' hashes, written as SVG.
#[test]
fn plot_dvh_draws_one_cumulative_curve_per_structure() {
    let mut s = common::session();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dvh.svg");
    let cmd = format!(
        "plot dvh --dose {} --structures {} --out {}",
        fixture("rtdose_ct.dcm").display(),
        fixture("rtstruct_ct.dcm").display(),
        out.display()
    );
    let (_, err, outcome) = common::run(&mut s, &cmd, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let svg = std::fs::read_to_string(&out).unwrap();
    common::well_formed(&svg).unwrap();
    for label in ["GTV", "Ring", "dose (Gy)", "volume (%)"] {
        assert!(svg.contains(&format!(">\n{label}\n</text>")), "{label} missing");
    }
    let runs = s.store().list_runs(100).unwrap();
    let plot = runs.iter().find(|r| r.kind == radose::store::RunKind::Plot).expect("a plot run");
    let detail = s.store().run_detail(plot.id).unwrap();
    assert_eq!(detail.datasets.len(), 2, "the dose and the structure set, hashed");
    let (_, err, _) = common::run(&mut s, &format!("plot dvh --dose {}", fixture("rtdose_ct.dcm").display()), true);
    assert!(err.contains("plot dvh needs --structures FILE"), "{err}");
}

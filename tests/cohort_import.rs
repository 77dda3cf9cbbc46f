//! `cohort import`: a DICOM export (written by `simulate --dicom`: MR series,
//! RT Dose and RT Structure Set in a planning frame, a Spatial Registration
//! into the MR frame) becomes a cohort whose images equal the simulated
//! cohort's — MR voxels and geometry exactly, the rasterised structure the
//! original mask voxel for voxel, the dose carried back into the MR frame —
//! and which `load` reads; a patient with a missing series, no registration
//! or no clinical row is listed with the reason and left out; ids become
//! keyed pseudonyms on request; a leftover half-written patient is removed.
//! (One test: it sets the pseudonymisation key in the environment.)

mod common;

use std::path::Path;

use radose::imaging::nifti::read;

fn same_image(a: &Path, b: &Path) {
    let (x, y) = (read(a).unwrap(), read(b).unwrap());
    assert_eq!(x.size, y.size, "{}", a.display());
    for i in 0..3 {
        assert!((x.spacing[i] - y.spacing[i]).abs() < 1e-9, "{}", a.display());
        assert!((x.origin[i] - y.origin[i]).abs() < 1e-6, "{}: origin {:?} vs {:?}", a.display(), x.origin, y.origin);
    }
    for (p, q) in x.direction.iter().zip(&y.direction) {
        assert!((p - q).abs() < 1e-9, "{}", a.display());
    }
    let worst = x.data.iter().zip(&y.data).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4 * x.data.iter().fold(1.0f32, |m, v| m.max(v.abs())), "{}: {worst}", a.display());
}

#[test]
fn a_dicom_export_becomes_the_cohort_it_was_made_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut s = common::session();
    s.width = 220;
    let (_, err, o) =
        common::run(&mut s, &format!("simulate --out {}/sim --n-a 8 --n-b 6 --dicom", d.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let export = d.join("sim/dicom/A");
    assert!(export.join("A001/MR_T1/IM0001.dcm").exists() && export.join("A001/REG.dcm").exists());

    // The whole export: every image equals the simulated cohort's.
    let cmd = format!("cohort import {0}/sim/dicom/A --to {0}/imp/A --clinical {0}/sim/A/clinical.csv", d.display());
    let (stdout, err, o) = common::run(&mut s, &cmd, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("8 of 8 patients imported"), "{stdout}");
    for id in ["A001", "A004", "A008"] {
        for role in ["T1", "T1C", "T2", "rgtv", "dose"] {
            let name = format!("{role}.nii.gz");
            same_image(&d.join("imp/A/images").join(id).join(&name), &d.join("sim/A/images").join(id).join(&name));
        }
    }
    assert_eq!(
        std::fs::read_to_string(d.join("imp/A/clinical.csv")).unwrap(),
        std::fs::read_to_string(d.join("sim/A/clinical.csv")).unwrap()
    );
    let toml = std::fs::read_to_string(d.join("imp/A/cohort.toml")).unwrap();
    assert!(
        toml.contains("simulated = true") && toml.contains("categorical = [\"sex\", \"stage\", \"chemo\"]"),
        "{toml}"
    );
    let (stdout, err, o) = common::run(&mut s, &format!("load I {}/imp/A", d.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("images: T1, T1C, T2, dose, rgtv"), "{stdout}");
    // Importing over a cohort needs --force.
    let (_, err, _) = common::run(&mut s, &cmd, true);
    assert!(err.contains("already holds a cohort"), "{err}");

    // A damaged export: A002 without its T2, A004 without the registration,
    // A005 without a clinical row; a half-written patient left from before.
    let broken = d.join("broken");
    copy_tree(&export, &broken);
    std::fs::remove_dir_all(broken.join("A002/MR_T2")).unwrap();
    std::fs::remove_file(broken.join("A004/REG.dcm")).unwrap();
    // A006's T1 has lost a slice in the middle: the series cannot be read.
    std::fs::remove_file(broken.join("A006/MR_T1/IM0012.dcm")).unwrap();
    std::fs::write(broken.join("A001/notes.txt"), "not DICOM").unwrap();
    // A link back up the tree is not followed (it would never end).
    std::os::unix::fs::symlink(&broken, broken.join("A001/loop")).unwrap();
    let clinical = std::fs::read_to_string(d.join("sim/A/clinical.csv")).unwrap();
    let without: String = clinical.lines().filter(|l| !l.starts_with("A005,")).map(|l| format!("{l}\n")).collect();
    std::fs::write(d.join("clinical.csv"), without).unwrap();
    std::fs::create_dir_all(d.join("imp2/images/.partial-A003")).unwrap();
    std::fs::write(d.join("imp2/images/.partial-A003/T1.nii.gz"), "half").unwrap();
    let (stdout, err, o) = common::run(
        &mut s,
        &format!("cohort import {0}/broken --to {0}/imp2 --clinical {0}/clinical.csv", d.display()),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("4 of 8 patients imported"), "{stdout}");
    for says in [
        "left out: no MR series for T2 (*T2*)",
        "left out: no registration from the planning frame",
        "left out: no row in the clinical table",
        "IM0011.dcm",
    ] {
        assert!(stdout.contains(says), "{says}: {stdout}");
    }
    let folders: Vec<String> = std::fs::read_dir(d.join("imp2/images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), 4, "{folders:?}");
    assert!(!folders.iter().any(|f| f.starts_with(".partial")), "{folders:?}");
    let rows = std::fs::read_to_string(d.join("imp2/clinical.csv")).unwrap();
    assert_eq!(rows.lines().count(), 5, "{rows}");
    for gone in ["A002,", "A004,", "A005,", "A006,"] {
        assert!(!rows.contains(gone), "{rows}");
    }

    // A map that cannot tell T1 from T1C is refused per patient, saying which series.
    let (_, err, _) = common::run(
        &mut s,
        &format!(
            "cohort import {0}/sim/dicom/A --to {0}/imp3 --clinical {0}/sim/A/clinical.csv --map 'T1=*T1 SE*,T2=*T2*'",
            d.display()
        ),
        true,
    );
    assert!(err.contains("T1 (*T1 SE*) matches 2 series: `AX T1 SE`, `AX T1 SE +C`"), "{err}");

    // Without a clinical table: the patients listed with an empty outcome, which `load` then asks for.
    let (stdout, err, o) =
        common::run(&mut s, &format!("cohort import {0}/sim/dicom/A --to {0}/bare", d.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("no --clinical") && stdout.contains("8 of 8 patients imported"), "{stdout}");
    assert!(std::fs::read_to_string(d.join("bare/clinical.csv")).unwrap().starts_with("patient_id,nn\nA001,\n"));
    let (_, err, _) = common::run(&mut s, &format!("load Z {}/bare", d.display()), true);
    assert!(err.contains("outcome must be 0 or 1"), "{err}");

    // Pseudonyms: folders and the clinical table carry HMAC ids, never the DICOM Patient IDs.
    let key = "a-key-the-hospital-keeps";
    // SAFETY: this test binary has this one test; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("RADOSE_PSEUDONYM_KEY", key) };
    let (stdout, err, o) = common::run(
        &mut s,
        &format!(
            "cohort import {0}/sim/dicom/A --to {0}/pseudo --clinical {0}/sim/A/clinical.csv --pseudonymise",
            d.display()
        ),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("pseudonyms under the user's key") && !stdout.contains("A001"), "{stdout}");
    let rows = std::fs::read_to_string(d.join("pseudo/clinical.csv")).unwrap();
    let p1 = radose::provenance::pseudonym(key, "A001");
    assert!(rows.contains(&format!("{p1},")) && !rows.contains("A00"), "{rows}");
    same_image(&d.join("pseudo/images").join(&p1).join("T1.nii.gz"), &d.join("sim/A/images/A001/T1.nii.gz"));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
